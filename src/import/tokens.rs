//! Reads token governance out of a live API policy: `llm-token-limit` (or the older
//! `azure-openai-token-limit`) and `llm-emit-token-metric` (or `azure-openai-emit-token-metric`)
//! in the inbound section, as `templates/tokens.xml.j2` writes them and as the labs do
//! (`counter-key="@(context.Subscription.Id)"`). What a spec cannot say is a sentence for the
//! YAML; whether gw's rendering is exactly the live policy is `import`'s forward check.

use super::yaml::{Yaml, list};
use crate::model::{
    DIMENSIONS, Dimension, MAX_DIMENSIONS, holdable, is_header_name, is_metric_namespace,
};
use crate::policy::tokens::dimension_in_policy;
use roxmltree::Node;

const LIMITS: &[&str] = &["llm-token-limit", "azure-openai-token-limit"];
const METRICS: &[&str] = &["llm-emit-token-metric", "azure-openai-emit-token-metric"];
/// `llm-emit-token-metric`'s namespace when the attribute is left out.
const APIM_NAMESPACE: &str = "API Management";
/// The spec's namespace when `token_metrics.namespace` is left out.
const SPEC_NAMESPACE: &str = "gw";

/// `token_limit:` as the spec writes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limit {
    /// `subscription`, `ip` or `header:NAME`.
    pub per: String,
    pub tokens_per_minute: Option<u64>,
    /// Tokens and the period, lower-cased as the spec writes it.
    pub quota: Option<(u64, String)>,
    pub estimate_prompt_tokens: bool,
    pub remaining_tokens_header: Option<String>,
    pub remaining_quota_header: Option<String>,
}

/// `token_metrics:` as the spec writes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    pub namespace: String,
    pub dimensions: Vec<Dimension>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tokens {
    pub limit: Option<Limit>,
    pub metrics: Option<Metrics>,
}

/// The token policies of `inbound`: the first of each kind among its children (one nested
/// deeper, or a second one, is a note). `expr` turns an attribute value into its expression
/// text (`@(x)` -> `x`); what a spec cannot hold goes to `unexpressed`, phrased to follow
/// "Its policy has".
pub fn recognise(
    inbound: Node,
    expr: &dyn Fn(&str) -> String,
    unexpressed: &mut Vec<String>,
) -> Tokens {
    let mut out = Tokens::default();
    let (mut seen_limit, mut seen_metric) = (false, false);
    for n in inbound.descendants().filter(|n| n.is_element()) {
        let tag = n.tag_name().name();
        let (is_limit, is_metric) = (LIMITS.contains(&tag), METRICS.contains(&tag));
        if !is_limit && !is_metric {
            continue;
        }
        if n.parent() != Some(inbound) {
            unexpressed.push(format!(
                "a `{tag}` inside `{}` (a spec's token policies apply to every request of the API)",
                n.parent_element().map_or("", |p| p.tag_name().name())
            ));
        } else if is_limit && !seen_limit {
            seen_limit = true;
            out.limit = limit(n, expr, unexpressed);
        } else if is_metric && !seen_metric {
            seen_metric = true;
            out.metrics = metrics(n, expr, unexpressed);
        } else {
            unexpressed.push(format!("a second `{tag}` (a spec has one per API)"));
        }
    }
    out
}

fn limit(n: Node, expr: &dyn Fn(&str) -> String, unexpressed: &mut Vec<String>) -> Option<Limit> {
    let tag = n.tag_name().name();
    let known = [
        "counter-key",
        "tokens-per-minute",
        "token-quota",
        "token-quota-period",
        "estimate-prompt-tokens",
        "remaining-tokens-header-name",
        "remaining-quota-tokens-header-name",
    ];
    for a in n.attributes().filter(|a| !known.contains(&a.name())) {
        unexpressed.push(format!("a `{tag}` attribute `{}`", a.name()));
    }
    let key = expr(n.attribute("counter-key").unwrap_or_default());
    let Some(per) = counter(&key) else {
        unexpressed.push(format!(
            "a `{tag}` counted by `{key}` (a spec counts per subscription, ip or header)"
        ));
        return None;
    };
    // Literal numbers only: an expression is not a number a spec can hold.
    let mut positive = |name: &str| -> Option<u64> {
        let raw = n.attribute(name)?;
        let v = raw.trim().parse::<u64>().ok().filter(|v| *v >= 1);
        if v.is_none() {
            unexpressed.push(format!("a `{tag}` {name} of `{}`", expr(raw)));
        }
        v
    };
    let tokens_per_minute = positive("tokens-per-minute");
    let quota = positive("token-quota");
    let period = n.attribute("token-quota-period").map(|p| {
        let lower = p.trim().to_ascii_lowercase();
        let ok = ["hourly", "daily", "weekly", "monthly", "yearly"].contains(&lower.as_str());
        (ok, lower, p)
    });
    let quota = match (quota, period) {
        (Some(q), Some((true, p, _))) => Some((q, p)),
        (None, None) => None,
        (_, Some((false, _, raw))) => {
            unexpressed.push(format!("a `{tag}` token-quota-period of `{raw}`"));
            None
        }
        (Some(_), None) => {
            unexpressed.push(format!("a `{tag}` token-quota without a period"));
            None
        }
        (None, Some(_)) => None,
    };
    if tokens_per_minute.is_none() && quota.is_none() {
        unexpressed.push(format!(
            "a `{tag}` without a rate or a quota a spec can hold"
        ));
        return None;
    }
    let estimate_prompt_tokens = match n.attribute("estimate-prompt-tokens") {
        None => true,
        Some(v) if v.trim().eq_ignore_ascii_case("true") => true,
        Some(v) if v.trim().eq_ignore_ascii_case("false") => false,
        Some(v) => {
            unexpressed.push(format!("a `{tag}` estimate-prompt-tokens of `{v}`"));
            true
        }
    };
    let mut header = |name: &str| -> Option<String> {
        let h = n.attribute(name)?;
        if is_header_name(h) {
            Some(h.to_string())
        } else {
            unexpressed.push(format!("a `{tag}` {name} of `{h}`"));
            None
        }
    };
    let remaining_tokens_header = header("remaining-tokens-header-name");
    let mut remaining_quota_header = header("remaining-quota-tokens-header-name");
    if remaining_quota_header.is_some() && quota.is_none() {
        remaining_quota_header = None;
        unexpressed.push(format!(
            "a `{tag}` remaining-quota-tokens-header-name without a quota"
        ));
    }
    Some(Limit {
        per,
        tokens_per_minute,
        quota,
        estimate_prompt_tokens,
        remaining_tokens_header,
        remaining_quota_header,
    })
}

/// The spec's `per` for a counter key: gw's (`"API:" + who`) or the labs' (`who` alone).
fn counter(key: &str) -> Option<String> {
    let key = key.trim();
    // gw puts the API's name in front, so each API counts on its own.
    let who = match key.strip_prefix('"') {
        Some(rest) => {
            let (_, after) = cs_literal(rest)?;
            after.trim_start().strip_prefix('+')?
        }
        None => key,
    };
    match compact(who).as_str() {
        "context.Subscription?.Id" | "context.Subscription.Id" => Some("subscription".into()),
        "context.Request.IpAddress" => Some("ip".into()),
        who => {
            let args = who
                .strip_prefix("context.Request.Headers.GetValueOrDefault(\"")?
                .strip_suffix(')')?;
            let (name, rest) = cs_literal(args)?;
            let default_ok = rest.is_empty() || rest == ",\"\"";
            (default_ok && is_header_name(&name)).then(|| format!("header:{name}"))
        }
    }
}

/// An expression without its whitespace, to compare with gw's.
fn compact(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A C# string literal's text, `s` starting after its opening quote; and what follows it.
/// Only the escapes gw writes (`cs_string`) are read.
fn cs_literal(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                u @ ('u' | 'U') => {
                    let len = if u == 'u' { 4 } else { 8 };
                    let hex: String = (0..len).filter_map(|_| chars.next().map(|c| c.1)).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
    None
}

fn metrics(
    n: Node,
    expr: &dyn Fn(&str) -> String,
    unexpressed: &mut Vec<String>,
) -> Option<Metrics> {
    let tag = n.tag_name().name();
    for a in n.attributes().filter(|a| a.name() != "namespace") {
        unexpressed.push(format!("a `{tag}` attribute `{}`", a.name()));
    }
    let namespace = match n.attribute("namespace") {
        None => APIM_NAMESPACE.to_string(),
        Some(ns) if is_metric_namespace(ns) && holdable(ns) => ns.to_string(),
        Some(ns) => {
            unexpressed.push(format!("a `{tag}` namespace `{ns}`"));
            SPEC_NAMESPACE.to_string()
        }
    };
    let mut dimensions = Vec::new();
    for d in n.children().filter(|c| c.has_tag_name("dimension")) {
        let name = d.attribute("name").unwrap_or_default();
        let value = d.attribute("value").map(|v| compact(&expr(v)));
        let found = DIMENSIONS.iter().map(|(_, dim)| *dim).find(|dim| {
            let (policy_name, policy_value) = dimension_in_policy(*dim);
            let policy_value = policy_value.map(|v| compact(&expr(v)));
            // The model's expression is gw's own; the forward check compares it.
            let value_fits = *dim == Dimension::Model || value == policy_value;
            policy_name == name && value_fits
        });
        match found {
            Some(dim) if dimensions.contains(&dim) => {}
            Some(dim) if dimensions.len() == MAX_DIMENSIONS => unexpressed.push(format!(
                "a token metric dimension `{}` past the {MAX_DIMENSIONS} a spec holds",
                dim.as_str()
            )),
            Some(dim) => dimensions.push(dim),
            None => unexpressed.push(format!(
                "a token metric dimension `{name}`{} that a spec does not name",
                value.map(|v| format!(" = `{v}`")).unwrap_or_default()
            )),
        }
    }
    if dimensions.is_empty() {
        unexpressed.push(format!("a `{tag}` without a dimension a spec names"));
        return None;
    }
    Some(Metrics {
        namespace,
        dimensions,
    })
}

impl Tokens {
    /// Drops what the rest of the spec would refuse, saying why in `notes`: a limit per
    /// subscription on an API without keys, any limit on Consumption, metrics without
    /// Application Insights.
    pub fn settle(
        &mut self,
        subscription_required: bool,
        consumption: bool,
        app_insights: bool,
        notes: &mut Vec<String>,
    ) {
        if self.limit.is_some() && consumption {
            self.limit = None;
            notes.push("Its policy limits tokens, which the Consumption tier does not do: left out of the spec.".into());
        }
        if self
            .limit
            .as_ref()
            .is_some_and(|l| l.per == "subscription" && !subscription_required)
        {
            self.limit = None;
            notes.push("Its policy limits tokens per subscription, but the API takes no subscription key: left out of the spec (a spec counts such an API per `ip` or `header:NAME`).".into());
        }
        if self.metrics.is_some() && !app_insights {
            self.metrics = None;
            notes.push("Its policy emits token metrics, but no Application Insights logger in the service reaches a component of this group: left out of the spec (`token_metrics` need `observability.app_insights`).".into());
        }
    }

    /// `token_limit:` and `token_metrics:` of an API, at `indent`.
    pub fn write(&self, y: &mut Yaml, indent: usize) {
        if let Some(l) = &self.limit {
            y.open(indent, "token_limit");
            let i = indent + 2;
            if l.per != "subscription" {
                y.field(i, "per", &l.per);
            }
            if let Some(t) = l.tokens_per_minute {
                y.raw(i, "tokens_per_minute", t);
            }
            if let Some((q, p)) = &l.quota {
                y.raw(i, "quota", q);
                y.field(i, "quota_period", p);
            }
            if !l.estimate_prompt_tokens {
                y.raw(i, "estimate_prompt_tokens", false);
            }
            if let Some(h) = &l.remaining_tokens_header {
                y.field(i, "remaining_tokens_header", h);
            }
            if let Some(h) = &l.remaining_quota_header {
                y.field(i, "remaining_quota_header", h);
            }
        }
        if let Some(m) = &self.metrics {
            y.open(indent, "token_metrics");
            let dims: Vec<&str> = m.dimensions.iter().map(|d| d.as_str()).collect();
            y.raw(indent + 2, "dimensions", list(&dims));
            if m.namespace != SPEC_NAMESPACE {
                y.field(indent + 2, "namespace", &m.namespace);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Counter;
    use crate::policy::tokens::counter_key;

    fn read(inbound: &str) -> (Tokens, Vec<String>) {
        let xml = format!(
            "<policies><inbound><base />{inbound}</inbound><backend><forward-request /></backend></policies>"
        );
        let r = super::super::policy::recognise(&xml).expect("XML");
        (r.tokens, r.unexpressed)
    }

    #[test]
    fn every_counter_key_gw_writes_reads_back_as_its_per() {
        for (c, per) in [
            (Counter::Subscription, "subscription"),
            (Counter::Ip, "ip"),
            (Counter::Header("x-team".into()), "header:x-team"),
            // gw escapes `&` in C# strings; the header name is read back unescaped.
            (Counter::Header("x&team".into()), "header:x&team"),
        ] {
            let key = counter_key("inference", &c);
            assert_eq!(counter(&key).as_deref(), Some(per), "{key}");
        }
        // The labs' key, without gw's API prefix.
        assert_eq!(
            counter("context.Subscription.Id").as_deref(),
            Some("subscription")
        );
        assert_eq!(counter("context.Product.Id"), None);
        assert_eq!(counter(r#""a:" + context.Request.Headers["x"]"#), None);
        assert_eq!(
            counter(r#""unterminated + context.Request.IpAddress"#),
            None
        );
    }

    #[test]
    fn the_token_rate_limiting_labs_limit_is_read_and_what_a_spec_lacks_is_said() {
        let (t, notes) = read(
            r#"<set-backend-service backend-id="openai-backend-pool" />
            <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="100" estimate-prompt-tokens="false" remaining-tokens-variable-name="remainingTokens" />"#,
        );
        assert_eq!(
            t.limit,
            Some(Limit {
                per: "subscription".into(),
                tokens_per_minute: Some(100),
                estimate_prompt_tokens: false,
                ..Limit::default()
            })
        );
        assert_eq!(
            notes,
            vec!["a `llm-token-limit` attribute `remaining-tokens-variable-name`".to_string()]
        );
        // The older name reads the same.
        let (t, _) = read(
            r#"<azure-openai-token-limit counter-key="@(context.Subscription.Id)" token-quota="5000" token-quota-period="Weekly" estimate-prompt-tokens="true" />"#,
        );
        let l = t.limit.unwrap();
        assert_eq!(l.quota, Some((5000, "weekly".into())));
        assert!(l.estimate_prompt_tokens);
    }

    #[test]
    fn the_token_metrics_labs_dimensions_map_where_a_spec_has_them() {
        let (t, notes) = read(
            r#"<azure-openai-emit-token-metric namespace="openai">
                <dimension name="Subscription ID" />
                <dimension name="Client IP" value="@(context.Request.IpAddress)" />
                <dimension name="API ID" />
                <dimension name="User ID" value="@(context.Request.Headers.GetValueOrDefault("x-user-id", "N/A"))" />
            </azure-openai-emit-token-metric>"#,
        );
        let m = t.metrics.unwrap();
        assert_eq!(m.namespace, "openai");
        assert_eq!(
            m.dimensions,
            vec![Dimension::Subscription, Dimension::ClientIp, Dimension::Api]
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].starts_with("a token metric dimension `User ID` = `context.Request.Headers"),
            "{notes:?}"
        );
        // Without a namespace, APIM's default, which a spec must then name.
        let (t, _) =
            read(r#"<llm-emit-token-metric><dimension name="Location" /></llm-emit-token-metric>"#);
        assert_eq!(t.metrics.unwrap().namespace, "API Management");
    }

    #[test]
    fn limits_a_spec_cannot_hold_are_notes_not_guesses() {
        // finops: one limit per product, inside a `choose`.
        let (t, notes) = read(
            r#"<choose><when condition="@((string)context.Product?.Id == &quot;gold&quot;)">
                <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="10" estimate-prompt-tokens="false" />
            </when></choose>"#,
        );
        assert_eq!(t.limit, None);
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with("a `llm-token-limit` inside `when`")),
            "{notes:?}"
        );
        // Numbers as expressions, a quota without a period, odd values: no limit, no panic.
        let (t, notes) = read(
            r#"<llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="@(10 * 2)" token-quota="500" estimate-prompt-tokens="maybe" remaining-tokens-header-name="bad header" />"#,
        );
        assert_eq!(t.limit, None);
        assert!(
            notes.contains(&"a `llm-token-limit` tokens-per-minute of `10 * 2`".to_string()),
            "{notes:?}"
        );
        assert!(
            notes.contains(&"a `llm-token-limit` token-quota without a period".to_string()),
            "{notes:?}"
        );
        let (t, notes) = read(
            r#"<llm-token-limit counter-key="@(context.Request.IpAddress)" tokens-per-minute="7" token-quota-period="Fortnightly" />
               <llm-token-limit counter-key="@(context.Request.IpAddress)" tokens-per-minute="8" />"#,
        );
        assert_eq!(
            t.limit.map(|l| (l.per, l.tokens_per_minute)),
            Some(("ip".into(), Some(7)))
        );
        assert!(
            notes.contains(&"a `llm-token-limit` token-quota-period of `Fortnightly`".to_string()),
            "{notes:?}"
        );
        assert!(
            notes.contains(&"a second `llm-token-limit` (a spec has one per API)".to_string()),
            "{notes:?}"
        );
    }

    #[test]
    fn what_the_rest_of_the_spec_refuses_is_dropped_with_a_note() {
        let mut t = Tokens {
            limit: Some(Limit {
                per: "subscription".into(),
                tokens_per_minute: Some(1),
                ..Limit::default()
            }),
            metrics: Some(Metrics {
                namespace: "gw".into(),
                dimensions: vec![Dimension::Api],
            }),
        };
        let mut notes = Vec::new();
        t.settle(false, false, false, &mut notes);
        assert_eq!(t, Tokens::default());
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("takes no subscription key"));
        assert!(notes[1].contains("`token_metrics` need `observability.app_insights`"));
    }
}
