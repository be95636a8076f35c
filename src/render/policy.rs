//! Model -> APIM policy XML for one API (template `templates/policy.xml.j2`).

use super::templates::env;
use crate::model::{Api, Model, Routing, glob_match};
use minijinja::context;
use std::collections::BTreeMap;

/// The variable the routing policy stores the (lower-cased) requested model in.
const MODEL_VAR: &str = r#"(string)context.Variables["requested-model"]"#;

/// A C# condition on the requested model for a glob pattern: `==` for a name, StartsWith
/// for `prefix*`, a Regex otherwise. The model variable is lower-cased, so is the pattern.
pub fn model_condition(pattern: &str) -> String {
    let p = pattern.to_lowercase();
    let stars = p.matches('*').count();
    if stars == 0 {
        format!("{MODEL_VAR} == {}", cs_string(&p))
    } else if stars == 1 && p.ends_with('*') {
        format!("({MODEL_VAR}).StartsWith({})", cs_string(&p[..p.len() - 1]))
    } else {
        let re: String = p
            .split('*')
            .map(regex_escape)
            .collect::<Vec<_>>()
            .join(".*");
        format!(
            "Regex.IsMatch({MODEL_VAR}, {})",
            cs_string(&format!("^{re}$"))
        )
    }
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

/// A C# string literal.
fn cs_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

pub fn render(model: &Model, api: &Api) -> String {
    let retry_condition = api
        .retry
        .on
        .iter()
        .map(|c| format!("context.Response.StatusCode == {c}"))
        .collect::<Vec<_>>()
        .join(" || ");
    let retry_on = api
        .retry
        .on
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    // Retry-After for an exhausted pool: the earliest every member can be back.
    let exhausted = model.exhausted_retry_after(api);
    let ctx = match &api.routing {
        Routing::Single(t) => context! {
            api => &api.name,
            foundry_path => api.api_type.foundry_path(),
            routing => "single",
            backend_id => t.backend_id(),
            retry_backend => t.backend_id(),
            retry_count => api.retry.count,
            retry_condition,
            retry_on,
            exhausted_retry_after => exhausted,
        },
        Routing::ByModel { routes, deny } => {
            // One `when` per target, naming every model it serves.
            let mut by_target: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for r in routes {
                by_target
                    .entry(r.target.backend_id())
                    .or_default()
                    .push(&r.model);
            }
            let routes_ctx: Vec<_> = by_target
                .iter()
                .map(|(backend, models)| {
                    let condition = models
                        .iter()
                        .map(|m| model_condition(m))
                        .collect::<Vec<_>>()
                        .join(" || ");
                    context! { backend_id => backend, condition }
                })
                .collect();
            let deny_ctx: Vec<_> = deny
                .iter()
                .map(|p| context! { pattern => p, condition => model_condition(p) })
                .collect();
            let known: Vec<&str> = routes
                .iter()
                .map(|r| r.model.as_str())
                .filter(|m| !deny.iter().any(|p| glob_match(p, m)))
                .collect();
            context! {
                api => &api.name,
                foundry_path => api.api_type.foundry_path(),
                routing => "by-model",
                routes => routes_ctx,
                deny => deny_ctx,
                known_models => known.join(", "),
                retry_backend => r#"@((string)context.Variables["backend-id"])"#,
                retry_count => api.retry.count,
                retry_condition,
                retry_on,
                exhausted_retry_after => exhausted,
            }
        }
    };
    env()
        .get_template("policy.xml")
        .and_then(|t| t.render(ctx))
        .expect("the policy template renders with a complete context")
}
