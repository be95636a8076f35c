//! Model -> APIM policy XML for one API (template `templates/policy.xml.j2`).

use crate::model::{Api, Model, Routing, glob_match};
use minijinja::{Environment, context, syntax::SyntaxConfig};
use std::collections::BTreeMap;

const TEMPLATE: &str = include_str!("../../templates/policy.xml.j2");

/// The variable the routing policy stores the (lower-cased) requested model in.
const MODEL_VAR: &str = r#"(string)context.Variables["requested-model"]"#;

/// Built once: parsing the template is most of the cost of rendering a policy.
fn env() -> &'static Environment<'static> {
    static ENV: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    ENV.get_or_init(build_env)
}

fn build_env() -> Environment<'static> {
    let mut env = Environment::new();
    // APIM's {{named-value}} and C#'s braces must stay literal: use other delimiters.
    let syntax = SyntaxConfig::builder()
        .block_delimiters("[%", "%]")
        .variable_delimiters("[[", "]]")
        .comment_delimiters("[#", "#]")
        .build()
        .expect("static delimiters are valid");
    env.set_syntax(syntax);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // Values are names validated by the model (letters, digits, '-', '_', '.'), numbers and
    // C# built here; nothing is caller input. No HTML escaping: it would turn '/' into '&#x2f;'.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_keep_trailing_newline(true);
    env.add_template("policy.xml", TEMPLATE)
        .expect("the policy template parses");
    env
}

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
