//! Where the live backends point on their accounts, in the spec's terms: nothing (the root),
//! `apim.backend_path` (one path every backend shares, as the labs' `.../openai`), or, when one
//! path cannot say it, the root with a `rewrite-uri` added to each kept policy so that it keeps
//! reaching the URLs it reached before.

use super::estate::View;
use crate::model::ApiType;
use crate::model::backend_path::{ROOT, normalise, serves};

pub enum BackendPath {
    /// Every backend at its account's root (gw's default): nothing to write.
    Root,
    /// Every backend at this path, one that every API's type path runs through.
    Shared(String),
    /// No single `backend_path` describes the backends: gw points them at the root. `note`
    /// says why, for the YAML.
    MovedToRoot { note: String },
}

const MOVED: &str = "gw points every backend at the account root instead, and each kept policy gets a `rewrite-uri` to its API type's path, so it reaches the same URLs.";

impl BackendPath {
    pub fn of(v: &View) -> BackendPath {
        let apis: Vec<(&str, &str)> = v
            .apis
            .iter()
            .map(|a| (a.name.as_str(), a.api_type.as_str()))
            .collect();
        decide(&v.backend_paths, &apis)
    }

    /// The policy of an API of `api_type` kept verbatim, with the line it needs when gw moves
    /// the backends to the root; None when it needs none (the backends stay where they are,
    /// or the policy rewrites the URI itself: its author decides the path).
    pub fn fit(&self, api_type: &str, xml: &str) -> Option<String> {
        let BackendPath::MovedToRoot { .. } = self else {
            return None;
        };
        let path = ApiType::parse(api_type)?.foundry_path();
        fit_to_root_backends(xml, path)
    }
}

/// Backends (name, URL path on the account) and APIs (name, type) -> how the spec says it.
fn decide(backend_paths: &[(String, String)], apis: &[(&str, &str)]) -> BackendPath {
    let mut paths = Vec::new();
    for (backend, raw) in backend_paths {
        match normalise(raw) {
            Ok(p) => paths.push((backend, p)),
            Err(why) => {
                return BackendPath::MovedToRoot {
                    note: format!(
                        "Backend `{backend}`'s path on its account is not one `backend_path` can hold ({why}). {MOVED}"
                    ),
                };
            }
        }
    }
    let Some((_, first)) = paths.first() else {
        return BackendPath::Root;
    };
    if paths.iter().any(|(_, p)| p != first) {
        let each: Vec<String> = paths.iter().map(|(b, p)| format!("{b}: {p}")).collect();
        return BackendPath::MovedToRoot {
            note: format!(
                "The backends point at different paths on their accounts ({}), and `backend_path` is one path for every backend. {MOVED}",
                each.join(", ")
            ),
        };
    }
    if first == ROOT {
        return BackendPath::Root;
    }
    let unserved = apis.iter().find_map(|(name, t)| {
        ApiType::parse(t)
            .filter(|t| !serves(first, t))
            .map(|t| (name, t))
    });
    match unserved {
        Some((name, t)) => BackendPath::MovedToRoot {
            note: format!(
                "The backends point at {first} on their accounts, but API `{name}` ({}) calls {} there, which `backend_path: {first}` could not reach. {MOVED}",
                t.as_str(),
                t.foundry_path(),
            ),
        },
        None => BackendPath::Shared(first.clone()),
    }
}

/// The line gw adds to a kept policy whose backends it moves to the account root.
const ROOT_REWRITE_NOTE: &str = "Added by gw import: gw's backends point at the account root, so this forwards to the API type's path on it, as the old backend URL did.";

/// A kept policy, made to work against backends at the account root: without this line every
/// call would reach the wrong path after the first apply.
fn fit_to_root_backends(xml: &str, path: &str) -> Option<String> {
    if xml.contains("<rewrite-uri") {
        return None;
    }
    let at = xml.find("<inbound>")?;
    let after_open = at + "<inbound>".len();
    let insert_at = match xml[after_open..].find("<base />") {
        Some(b) if xml[after_open..after_open + b].trim().is_empty() => {
            after_open + b + "<base />".len()
        }
        _ => after_open,
    };
    let line = format!(
        "\n        <!-- {ROOT_REWRITE_NOTE} -->\n        <rewrite-uri template=\"@(\"{path}\" + context.Operation.UrlTemplate)\" />"
    );
    Some(format!("{}{line}{}", &xml[..insert_at], &xml[insert_at..]))
}

#[cfg(test)]
mod tests {
    use super::{BackendPath, decide, fit_to_root_backends};

    fn backends(paths: &[&str]) -> Vec<(String, String)> {
        paths
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("foundry{}", i + 1), p.to_string()))
            .collect()
    }

    #[test]
    fn one_shared_path_is_the_backend_path_and_the_root_is_written_as_nothing() {
        let openai = [("inference", "azure-openai"), ("v1", "openai")];
        let shared = decide(&backends(&["/openai", "/openai/"]), &openai);
        assert!(matches!(shared, BackendPath::Shared(p) if p == "/openai"));
        assert!(matches!(
            decide(&backends(&["/", "/"]), &openai),
            BackendPath::Root
        ));
        assert!(matches!(decide(&[], &openai), BackendPath::Root));
    }

    #[test]
    fn a_path_one_spec_cannot_say_moves_the_backends_to_the_root_and_says_why() {
        let note = |b: &[&str], apis: &[(&str, &str)]| match decide(&backends(b), apis) {
            BackendPath::MovedToRoot { note } => note,
            _ => panic!("{b:?} moves to the root"),
        };
        let openai = [("inference", "azure-openai")];
        let n = note(&["/openai", "/"], &openai);
        assert!(
            n.contains("different paths on their accounts (foundry1: /openai, foundry2: /)"),
            "{n}"
        );
        let n = note(
            &["/openai"],
            &[("inference", "azure-openai"), ("ai", "azure-ai")],
        );
        assert!(n.contains("API `ai` (azure-ai) calls /models there"), "{n}");
        let n = note(&["/open%20ai"], &openai);
        assert!(
            n.contains("Backend `foundry1`'s path") && n.contains("`%`"),
            "{n}"
        );
        // The kept policy then gets its type's path; with a shared path it is left as it is.
        let xml = "<policies><inbound><base /></inbound></policies>";
        let moved = decide(&backends(&["/openai", "/"]), &openai);
        assert!(
            moved
                .fit("azure-openai", xml)
                .is_some_and(|x| x.contains("\"/openai\""))
        );
        let shared = decide(&backends(&["/openai"]), &openai);
        assert_eq!(shared.fit("azure-openai", xml), None);
    }

    #[test]
    fn a_kept_policy_forwards_to_the_type_path_on_root_backends() {
        let xml = "<policies>\n    <inbound>\n        <base />\n        <set-backend-service backend-id=\"pool\" />\n    </inbound>\n</policies>";
        let fitted = fit_to_root_backends(xml, "/openai").expect("a line is added");
        let base = fitted.find("<base />").unwrap();
        let rewrite = fitted.find("<rewrite-uri").unwrap();
        assert!(base < rewrite, "{fitted}");
        assert!(
            fitted.contains(r#"template="@("/openai" + context.Operation.UrlTemplate)""#),
            "{fitted}"
        );
        assert!(crate::policy::check(&fitted).is_ok(), "{fitted}");
        // A policy that rewrites the path itself is its author's.
        let own = xml.replace("<base />", "<base />\n<rewrite-uri template=\"/x\" />");
        assert_eq!(fit_to_root_backends(&own, "/openai"), None);
    }
}
