//! Reads routing out of a live API policy: the way gw writes it (`requested-model` compared
//! in a `choose`, or one `set-backend-service`) and the way the AI-Gateway labs write it (the
//! model-routing lab's `choose` on `MatchedParameters["deployment-id"]`, the load-balancing
//! lab's `set-backend-service` plus `retry`); token governance is `tokens.rs`'s. What it finds
//! is a guess that `import` then checks by rendering gw's policy for it and comparing.

use super::tokens::Tokens;
use crate::markup::xml::mask_expressions;

/// The routing a policy expresses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recognised {
    /// Every request goes to this backend id.
    pub backend: Option<String>,
    /// Model (deployment) name -> backend id, in policy order.
    pub routes: Vec<(String, String)>,
    /// Where a model the `choose` does not name goes (the lab's `otherwise`).
    pub fallback: Option<String>,
    /// Model patterns answered with 403.
    pub deny: Vec<String>,
    /// `retry count` and the status codes it retries on.
    pub retry: Option<(u32, Vec<u16>)>,
    /// What a spec cannot say about this policy, one sentence each.
    pub unexpressed: Vec<String>,
    /// The models in the order gw's policy lists them ("Known models: ..."), which is the
    /// spec's order: the order its conditions are written in.
    pub model_order: Vec<String>,
    /// Its token limit and token metrics.
    pub tokens: Tokens,
}

/// What the policy routes, or None when it is not XML at all.
pub fn recognise(xml: &str) -> Option<Recognised> {
    let (masked, exprs) = mask_expressions(xml).ok()?;
    let doc = roxmltree::Document::parse(&masked).ok()?;
    let expr = |s: &str| -> String {
        let restored = s
            .trim()
            .strip_prefix("@(EXPR")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|i| i.parse::<usize>().ok())
            .and_then(|i| exprs.get(i).cloned())
            .unwrap_or_else(|| s.to_string());
        // `@(expr)` as written: the expression alone.
        let t = restored.trim();
        t.strip_prefix("@(")
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or(t)
            .to_string()
    };
    let mut out = Recognised::default();
    if let Some((_, rest)) = xml.split_once("Known models: ")
        && let Some((names, _)) = rest.split_once(".\"")
    {
        out.model_order = names.split(", ").map(str::to_string).collect();
    }
    let root = doc.root_element();
    let section = |name: &str| root.children().find(|n| n.has_tag_name(name));
    let backend_of = |n: roxmltree::Node| {
        n.children()
            .find(|c| c.has_tag_name("set-backend-service"))
            .and_then(|c| c.attribute("backend-id"))
            .map(str::to_string)
    };
    if let Some(inbound) = section("inbound") {
        out.tokens = super::tokens::recognise(inbound, &expr, &mut out.unexpressed);
        out.backend = backend_of(inbound);
        for choose in inbound.children().filter(|n| n.has_tag_name("choose")) {
            for branch in choose.children().filter(|n| n.is_element()) {
                let target = backend_of(branch);
                if branch.has_tag_name("otherwise") {
                    out.fallback = target;
                    continue;
                }
                let cond = expr(branch.attribute("condition").unwrap_or_default());
                let denies = branch
                    .descendants()
                    .any(|n| n.has_tag_name("set-status") && n.attribute("code") == Some("403"));
                let models = models_in(&cond);
                if models.is_empty() {
                    out.unexpressed.push(format!(
                        "a `when` on `{}` that names no model",
                        cond.split_whitespace().collect::<Vec<_>>().join(" ")
                    ));
                } else if denies {
                    out.deny.extend(models);
                } else if let Some(t) = target {
                    out.routes
                        .extend(models.into_iter().map(|m| (m, t.clone())));
                }
            }
        }
    }
    if let Some(retry) =
        section("backend").and_then(|b| b.children().find(|n| n.has_tag_name("retry")))
    {
        let count = retry.attribute("count").and_then(|c| c.parse().ok());
        let cond = expr(retry.attribute("condition").unwrap_or_default());
        let codes: Vec<u16> = cond
            .split("StatusCode")
            .skip(1)
            .filter_map(|s| {
                let s = s.trim_start().strip_prefix("==")?.trim_start();
                s.get(..3)?.parse().ok()
            })
            .collect();
        if let Some(count) = count {
            out.retry = Some((count, codes));
        }
    }
    Some(out)
}

/// The models a condition compares the requested model (or deployment id) with: `== "x"`
/// is `x`, `.StartsWith("x")` is `x*`. Lower-cased, as gw compares them.
fn models_in(cond: &str) -> Vec<String> {
    let names_model = cond.contains("requested-model") || cond.contains("deployment-id");
    if !names_model {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (marker, star) in [("== \"", ""), ("StartsWith(\"", "*")] {
        for part in cond.split(marker).skip(1) {
            if let Some((lit, _)) = part.split_once('"') {
                out.push(format!("{}{star}", lit.to_lowercase()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_routing_labs_choose_is_routes_and_a_fallback() {
        let xml = r#"<policies><inbound><base />
            <choose>
              <when condition="@(context.Request.MatchedParameters["deployment-id"] == "gpt-4o")"><set-backend-service backend-id="pool-1" /></when>
              <when condition="@(context.Request.MatchedParameters["deployment-id"] == "gpt-4o-mini")"><set-backend-service backend-id="foundry3" /></when>
              <otherwise><set-backend-service backend-id="pool-1" /></otherwise>
            </choose></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>"#;
        let r = recognise(xml).unwrap();
        assert_eq!(
            r.routes,
            vec![
                ("gpt-4o".into(), "pool-1".into()),
                ("gpt-4o-mini".into(), "foundry3".into())
            ]
        );
        assert_eq!(r.fallback.as_deref(), Some("pool-1"));
        assert_eq!(r.backend, None);
    }

    #[test]
    fn the_load_balancing_labs_backend_and_retry() {
        let xml = r#"<policies><inbound><base /><set-backend-service backend-id="openai-backend-pool" /></inbound>
            <backend><retry count="2" interval="0" first-fast-retry="true" condition="@(context.Response.StatusCode == 429 || context.Response.StatusCode == 503)">
            <set-backend-service backend-id="openai-backend-pool" /><forward-request buffer-request-body="true" /></retry></backend>
            <outbound><base /></outbound><on-error><base /></on-error></policies>"#;
        let r = recognise(xml).unwrap();
        assert_eq!(r.backend.as_deref(), Some("openai-backend-pool"));
        assert_eq!(r.retry, Some((2, vec![429, 503])));
    }

    #[test]
    fn gw_denies_and_prefixes() {
        let cond = r#"((string)context.Variables["requested-model"]).StartsWith("gpt-4o")"#;
        assert_eq!(models_in(cond), vec!["gpt-4o*".to_string()]);
        assert!(recognise("not xml <").is_none());
    }
}
