//! What the deployed policy decides before anything is forwarded, as pure functions: which
//! API operation a path is, which model a request asks for, and whether it is denied,
//! unknown, or sent to a target. Mirrors `templates/policy.xml.j2` line for line.

use crate::model::surface::{ModelIn, apim_path, match_template, operations};
use crate::model::{Api, Model, Routing, Target, glob_match};
use axum::http::Method;

/// A request matched to an API operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matched {
    /// Index into `model.apis`.
    pub api: usize,
    pub operation: &'static str,
    /// Where the operation names its model.
    pub model_in: ModelIn,
    /// `deployment-id`, when the operation's URL has one.
    pub deployment_id: Option<String>,
    /// The path after the API's path: appended to the backend URL, as APIM forwards it.
    pub rest: String,
}

/// The gateway's URL prefix for each API (`/inference/openai`), longest first so that an
/// API whose path extends another's is matched first.
pub fn prefixes(model: &Model) -> Vec<(usize, String)> {
    let mut v: Vec<(usize, String)> = model
        .apis
        .iter()
        .enumerate()
        .map(|(i, a)| (i, format!("/{}", apim_path(a).trim_matches('/'))))
        .collect();
    v.sort_by_key(|(_, p)| std::cmp::Reverse(p.len()));
    v
}

/// The API operation `method path` is, if any.
pub fn match_request(
    model: &Model,
    prefixes: &[(usize, String)],
    method: &Method,
    path: &str,
) -> Option<Matched> {
    for (i, prefix) in prefixes {
        let Some(rest) = path.strip_prefix(prefix.as_str()) else {
            continue;
        };
        if !rest.starts_with('/') {
            continue;
        }
        let api = &model.apis[*i];
        for op in operations(&api.api_type) {
            if op.method != method.as_str() {
                continue;
            }
            if let Some(params) = match_template(op.url, rest) {
                // An API that declares its own operations answers only those (APIM: 404).
                if let Some(declared) = &api.declared_operations
                    && !declared.iter().any(|d| {
                        d.method == method.as_str() && match_template(&d.url, rest).is_some()
                    })
                {
                    continue;
                }
                let deployment_id = params
                    .into_iter()
                    .find(|(k, _)| k == "deployment-id")
                    .map(|(_, v)| percent_decode(&v));
                return Some(Matched {
                    api: *i,
                    operation: op.name,
                    model_in: op.model,
                    deployment_id,
                    rest: rest.to_string(),
                });
            }
        }
    }
    None
}

/// Decodes `%XX` escapes in a path segment (a deployment id is compared decoded, as APIM's
/// MatchedParameters are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Refuses a path that could reach another path on the backend once forwarded: a `.` or
/// `..` segment (raw or percent-encoded in any case, e.g. `%2e%2e`, `.%2E`, double-encoded
/// `%252e`), or a segment holding an encoded `/` or `\` (`%2f`, `%5c`). The URL library that
/// builds the forwarded URL resolves dot segments, so `deployments/%2e%2e/...` would
/// otherwise reach a path the API does not expose, with the gateway's credentials.
pub fn check_path(path: &str) -> Result<(), String> {
    for raw in path.split('/') {
        // Decode until stable (a few rounds): a proxy or backend may decode again.
        let mut seg = raw.to_string();
        for _ in 0..3 {
            let next = percent_decode(&seg);
            if next == seg {
                break;
            }
            seg = next;
        }
        if seg == "." || seg == ".." {
            return Err(format!(
                "the path segment `{raw}` is a relative reference (`{seg}`); paths may not contain `.` or `..` segments"
            ));
        }
        if seg.contains('/') || seg.contains('\\') {
            return Err(format!(
                "the path segment `{raw}` holds an encoded `/` or `\\`; paths may not contain encoded slashes"
            ));
        }
    }
    Ok(())
}

/// The model a request asks for, lower-cased, as the policy finds it: the URL's deployment
/// id, else the JSON body's `model`, else a multipart form's `model` field, else empty.
pub fn requested_model(deployment_id: Option<&str>, content_type: &str, body: &[u8]) -> String {
    if let Some(id) = deployment_id {
        return id.to_lowercase();
    }
    if let Some(m) = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("model")
                .and_then(|m| m.as_str())
                .map(str::to_lowercase)
        })
    {
        return m;
    }
    form_model(content_type, body).unwrap_or_default()
}

/// The `model` field of a `multipart/form-data` body (an audio upload), lower-cased. Found
/// as the policy finds it: the part whose headers name it `model`, up to the next line end.
pub fn form_model(content_type: &str, body: &[u8]) -> Option<String> {
    if !content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return None;
    }
    let text = String::from_utf8_lossy(body);
    let at = text.to_ascii_lowercase().find("name=\"model\"")?;
    let after = &text[at..];
    // The part's headers end at the first blank line; its value runs to the line's end.
    let (skip, start) = [("\r\n\r\n", 4), ("\n\n", 2)]
        .iter()
        .filter_map(|(sep, n)| after.find(sep).map(|i| (i, *n)))
        .min()?;
    let value = &after[skip + start..];
    let end = value.find(['\r', '\n']).unwrap_or(value.len());
    Some(value[..end].trim().to_lowercase())
}

/// The pool whose affinity cookie the request carries, among an API's targets: a call that
/// names no model (GET of a stored response) follows it to the backend that stored it.
pub fn cookie_target<'a>(
    model: &Model,
    api: &'a Api,
    headers: &axum::http::HeaderMap,
) -> Option<&'a Target> {
    model.api_targets(api).into_iter().find(|t| match t {
        Target::Pool(p) => model
            .pool(p)
            .and_then(|p| p.affinity.as_ref())
            .is_some_and(|name| super::affinity::cookie_value(headers, name).is_some()),
        Target::Foundry(_) => false,
    })
}

/// Where a by-model API sends a call that names no model and carries no affinity cookie:
/// its first route's target (the policy's default branch).
pub fn default_target(api: &Api) -> Option<&Target> {
    match &api.routing {
        Routing::Single(t) => Some(t),
        Routing::ByModel { routes, .. } => routes.first().map(|r| &r.target),
    }
}

/// What the inbound policy does with a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision<'a> {
    /// 403 `model_denied`.
    Denied {
        model: String,
        pattern: &'a str,
    },
    /// 400 `unknown_model`.
    Unknown {
        model: String,
        known: Vec<&'a str>,
    },
    Send(&'a Target),
}

/// `no_model_target`: where a call of an operation that names no model goes (the cookie's
/// pool, else the default target); None for operations that name one.
pub fn decide<'a>(
    api: &'a Api,
    model: String,
    no_model_target: Option<&'a Target>,
) -> Decision<'a> {
    match &api.routing {
        Routing::Single(t) => Decision::Send(t),
        Routing::ByModel { routes, deny } => {
            if model.is_empty()
                && let Some(t) = no_model_target
            {
                return Decision::Send(t);
            }
            if let Some(pattern) = deny.iter().find(|p| glob_match(p, &model)) {
                return Decision::Denied { model, pattern };
            }
            if let Some(r) = routes.iter().find(|r| r.model.eq_ignore_ascii_case(&model)) {
                return Decision::Send(&r.target);
            }
            let known = routes
                .iter()
                .map(|r| r.model.as_str())
                .filter(|m| !deny.iter().any(|p| glob_match(p, m)))
                .collect();
            Decision::Unknown { model, known }
        }
    }
}

/// The JSON error bodies of the policy's `return-response` answers.
pub fn error_body(code: &str, message: &str) -> String {
    serde_json::json!({ "error": { "code": code, "message": message } }).to_string()
}

pub fn denied_message(model: &str, pattern: &str) -> String {
    format!("The model '{model}' is not allowed through this gateway (deny pattern {pattern}).")
}

pub fn unknown_message(model: &str, known: &[&str]) -> String {
    format!(
        "The model '{model}' is not served by this gateway. Known models: {}.",
        known.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Source;
    use crate::model::Context;

    fn example(name: &str) -> Model {
        let path = format!("{}/examples/{name}/gw.yaml", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("example exists");
        crate::model::load(&Source::new(path, text), &Context { subscription: None })
            .expect("example is valid")
    }

    #[test]
    fn matches_the_operations_of_an_azure_openai_api() {
        let m = example("model-routing");
        let p = prefixes(&m);
        let hit = match_request(
            &m,
            &p,
            &Method::POST,
            "/inference/openai/deployments/gpt-4.1/chat/completions",
        )
        .expect("matched");
        assert_eq!(hit.operation, "chat-completions");
        assert_eq!(hit.deployment_id.as_deref(), Some("gpt-4.1"));
        assert_eq!(hit.rest, "/deployments/gpt-4.1/chat/completions");
        let get = match_request(&m, &p, &Method::GET, "/inference/openai/responses/resp_1");
        assert_eq!(get.map(|h| h.operation), Some("get-response"));
        assert_eq!(
            match_request(&m, &p, &Method::GET, "/inference/openai/responses"),
            None
        );
        assert_eq!(
            match_request(&m, &p, &Method::POST, "/other/openai/responses"),
            None
        );
        assert_eq!(
            match_request(&m, &p, &Method::POST, "/inference/openaix/responses"),
            None
        );
    }

    #[test]
    fn dot_segments_and_encoded_slashes_are_refused_in_any_spelling() {
        for bad in [
            "/inference/openai/deployments/../chat/completions",
            "/inference/openai/deployments/./chat/completions",
            "/inference/openai/deployments/%2e%2e/chat/completions",
            "/inference/openai/deployments/%2E%2E/chat/completions",
            "/inference/openai/deployments/.%2e/chat/completions",
            "/inference/openai/deployments/%2e./chat/completions",
            "/inference/openai/deployments/%2e/chat/completions",
            "/inference/openai/deployments/%252e%252e/chat/completions",
            "/inference/openai/deployments/a%2fb/chat/completions",
            "/inference/openai/deployments/a%2Fb/chat/completions",
            "/inference/openai/deployments/a%5Cb/chat/completions",
            "/inference/openai/deployments/a%252fb/chat/completions",
            "/inference/openai/deployments/a\\..\\b/chat/completions",
            "/inference/openai/..",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        for good in [
            "/inference/openai/deployments/gpt-4.1/chat/completions",
            "/inference/openai/deployments/a..b/chat/completions",
            "/inference/openai/deployments/.hidden/chat/completions",
            "/inference/openai/deployments/my%20model/chat/completions",
            "/",
        ] {
            assert_eq!(check_path(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn model_from_url_else_body_lower_cased() {
        let json = "application/json";
        assert_eq!(
            requested_model(Some("GPT-4.1"), json, b"{\"model\":\"x\"}"),
            "gpt-4.1"
        );
        assert_eq!(
            requested_model(None, json, b"{\"model\":\"O4-Mini\"}"),
            "o4-mini"
        );
        assert_eq!(requested_model(None, json, b"not json"), "");
        assert_eq!(requested_model(None, json, b"{\"model\":3}"), "");
        // An audio upload names its model in a form field.
        let form = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\n--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nWhisper\r\n--b--\r\n";
        assert_eq!(
            requested_model(None, "multipart/form-data; boundary=b", form.as_bytes()),
            "whisper"
        );
        assert_eq!(requested_model(None, json, form.as_bytes()), "");
    }

    #[test]
    fn deny_first_then_routes_then_unknown() {
        let m = example("model-routing");
        let api = &m.apis[0];
        assert!(matches!(
            decide(api, "gpt-4o-mini".into(), None),
            Decision::Denied {
                pattern: "gpt-4o*",
                ..
            }
        ));
        assert!(
            matches!(decide(api, "gpt-4.1".into(), None), Decision::Send(Target::Pool(p)) if p == "gpt41-pool")
        );
        assert!(
            matches!(decide(api, "deepseek-r1".into(), None), Decision::Send(Target::Foundry(f)) if f == "foundry3")
        );
        // A call that names no model goes where it is sent, not to the 400.
        let t = Target::Pool("gpt41-pool".into());
        assert_eq!(decide(api, String::new(), Some(&t)), Decision::Send(&t));
        match decide(api, "llama".into(), None) {
            Decision::Unknown { known, .. } => assert!(known.contains(&"o4-mini")),
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn calls_that_name_no_model_go_where_the_rendered_policy_sends_them() {
        for name in ["model-routing", "azure-ai", "session-affinity"] {
            let m = example(name);
            for api in &m.apis {
                let xml = crate::policy::render(&m, api);
                let Routing::ByModel { .. } = api.routing else {
                    continue;
                };
                // Every operation the table marks as naming no model is in the branch...
                for op in operations(&api.api_type) {
                    let named = xml.contains(&format!("context.Operation.Id == \"{}\"", op.name));
                    assert_eq!(named, op.model == ModelIn::None, "{name}: {}", op.name);
                }
                // ...whose backend is serve's default target.
                let branch = xml
                    .split("context.Operation.Id")
                    .last()
                    .and_then(|rest| rest.split("backend-id=\"").nth(1))
                    .and_then(|rest| rest.split('"').next());
                assert_eq!(
                    branch,
                    default_target(api).map(Target::backend_id),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn exhausted_retry_after_agrees_with_the_rendered_policy() {
        for name in ["load-balancing", "model-routing", "session-affinity"] {
            let m = example(name);
            for api in &m.apis {
                let xml = crate::policy::render(&m, api);
                match m.exhausted_retry_after(api) {
                    Some(secs) => assert!(
                        xml.contains(&format!("Retry after {secs} seconds.")),
                        "{name}: {secs}"
                    ),
                    None => assert!(!xml.contains("backends_busy"), "{name}"),
                }
            }
        }
    }
}
