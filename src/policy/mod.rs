//! Model -> APIM policy XML for one API (template `templates/policy.xml.j2`), and the check
//! every policy passes before gw sends it.

pub mod tokens;

use crate::markup::escape::cs_string;
use crate::markup::templates::{code, env};
use crate::model::surface::{ModelIn, may_stream, operations};
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

/// Escapes .NET regex metacharacters. Only ASCII punctuation and whitespace get a backslash:
/// .NET rejects a backslash before a letter or digit it does not know (`\é`), and treats one
/// before any other non-word character as that character.
fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_ascii_punctuation() || c.is_ascii_whitespace() {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

/// How a by-model policy routes a call that names no model (the operations the surface
/// table marks `ModelIn::None`): by the affinity cookie of a pool it sends to, else to the
/// first route's target. Mirrors `serve::route::{cookie_target, default_target}`.
struct NoModelRouting {
    /// C#: the requested model is empty and the operation is one that names none.
    condition: String,
    cookie_routes: Vec<minijinja::Value>,
}

fn no_model_routing(model: &Model, api: &Api) -> NoModelRouting {
    // By the name APIM gives each such operation on this API (the spec may declare its own).
    let ops: Vec<String> = operations(&api.api_type)
        .iter()
        .filter(|o| o.model == ModelIn::None)
        .filter_map(|o| api.operation_name_for(o))
        .map(|name| format!("context.Operation.Id == {}", cs_string(&name)))
        .collect();
    let ops = if ops.is_empty() {
        "false".to_string()
    } else {
        ops.join(" || ")
    };
    let condition = format!("string.IsNullOrEmpty({MODEL_VAR}) && ({ops})");
    let cookie_routes = model
        .api_targets(api)
        .into_iter()
        .filter_map(|t| {
            let crate::model::Target::Pool(p) = t else {
                return None;
            };
            let cookie = model.pool(p)?.affinity.as_ref()?;
            let needle = cs_string(&format!("{cookie}="));
            Some(context! {
                backend_id => t.backend_id(),
                condition => code(format!(
                    "context.Request.Headers.GetValueOrDefault(\"Cookie\", \"\").Contains({needle})"
                )),
            })
        })
        .collect();
    NoModelRouting {
        condition,
        cookie_routes,
    }
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
            backend_path => &model.apim.backend_path,
            backend_rest => model.apim.path_on_backend(&api.api_type),
            streams => may_stream(&api.api_type),
            routing => "single",
            backend_id => t.backend_id(),
            retry_count => api.retry.count,
            retry_condition => code(&retry_condition),
            retry_on,
            exhausted_retry_after => exhausted,
            tokens => tokens::context(api),
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
                    context! { backend_id => backend, condition => code(condition) }
                })
                .collect();
            let deny_ctx: Vec<_> = deny
                .iter()
                .map(|p| context! { pattern => p, condition => code(model_condition(p)) })
                .collect();
            let known: Vec<&str> = routes
                .iter()
                .map(|r| r.model.as_str())
                .filter(|m| !deny.iter().any(|p| glob_match(p, m)))
                .collect();
            let surface = no_model_routing(model, api);
            context! {
                api => &api.name,
                backend_path => &model.apim.backend_path,
            backend_rest => model.apim.path_on_backend(&api.api_type),
                streams => may_stream(&api.api_type),
                no_model => code(surface.condition),
                cookie_routes => surface.cookie_routes,
                default_backend => routes.first().map(|r| r.target.backend_id()),
                routing => "by-model",
                routes => routes_ctx,
                deny => deny_ctx,
                known_models => known.join(", "),
                retry_count => api.retry.count,
                retry_condition => code(&retry_condition),
                retry_on,
                exhausted_retry_after => exhausted,
                tokens => tokens::context(api),
            }
        }
    };
    env()
        .get_template("policy.xml")
        .and_then(|t| t.render(ctx))
        .expect("the policy template renders with a complete context")
}

/// One policy document as APIM will read it (rawxml: expressions masked, then XML):
/// well-formed, and no `{{` that APIM would replace with a named value.
pub fn check(xml: &str) -> Result<(), String> {
    crate::markup::xml::check_well_formed(xml).map_err(|e| format!("not well-formed XML ({e})"))?;
    if let Some(at) = xml.find("{{") {
        let line = xml[..at].lines().count().max(1);
        return Err(format!(
            "line {line} holds `{{{{`, which APIM would replace with a named value"
        ));
    }
    Ok(())
}
