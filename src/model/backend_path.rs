//! `apim.backend_path`: where APIM's backends point on each Foundry account. gw's default is
//! the account root, each API's policy adding its type's path (`/openai`, `/models`); the
//! AI-Gateway labs point them at `/openai` and forward operation URLs as they are. Both reach
//! the same Foundry URLs; this module says which part of the path the backend holds and which
//! the policy adds, for the model check, the graph, the policy and import alike.

use super::diags::Diags;
use super::text::printable;
use super::types::{Api, ApiType, Apim};
use crate::spec::ApimSpec;

/// The account root, the default.
pub const ROOT: &str = "/";

/// Characters a backend path segment may hold: RFC 3986's unreserved set. Anything else would
/// need escaping somewhere (URL, Bicep string, policy) or changes what the URL means
/// (`?`, `#`, `%`, `{` of a URL template).
fn unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-')
}

/// `raw` as gw writes it: a leading `/` and no trailing one except the root
/// (`openai/` -> `/openai`, `""` -> `/`); or why it is refused.
pub fn normalise(raw: &str) -> Result<String, String> {
    if raw.is_empty() || raw == ROOT {
        return Ok(ROOT.to_string());
    }
    let body = raw.strip_prefix('/').unwrap_or(raw);
    let body = body.strip_suffix('/').unwrap_or(body);
    if let Some(c) = body.chars().find(|c| *c != '/' && !unreserved(*c)) {
        let shown = printable(&c.to_string());
        return Err(format!("`{}` contains `{shown}`", printable(raw)));
    }
    if body.split('/').any(str::is_empty) {
        return Err(format!("`{raw}` has an empty segment (`//`)"));
    }
    if body.split('/').any(|s| s == "." || s == "..") {
        return Err(format!("`{raw}` has a `.` or `..` segment"));
    }
    Ok(format!("/{body}"))
}

/// What is left of `foundry_path` (an API type's path on the account) after a backend at
/// `backend_path`: the path the policy adds (`/openai` after `/`, `` after `/openai`), or
/// None when the backend is not on the way to it (`/models` after `/openai`). Segment-wise:
/// `/open` is not on the way to `/openai`.
pub fn remaining(foundry_path: &'static str, backend_path: &str) -> Option<&'static str> {
    if backend_path == ROOT {
        return Some(foundry_path);
    }
    foundry_path
        .strip_prefix(backend_path)
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
}

const HINT: &str = "a backend path is `/`-separated segments of letters, digits, `.`, `_`, `~` and `-`, e.g. `/openai`; leave it out for the account root";

/// The normalised `apim.backend_path`; the root when absent or refused (the refusal is
/// reported at the value).
pub(super) fn backend_path(d: &mut Diags, a: &ApimSpec) -> String {
    let Some(raw) = &a.backend_path else {
        return ROOT.to_string();
    };
    normalise(&raw.value).unwrap_or_else(|why| {
        d.err_hint(raw.loc, "apim.backend_path", why, Some(HINT.into()));
        ROOT.to_string()
    })
}

/// Every API's type path must run through the backends: an API whose type path is not under
/// `backend_path` could never be reached through them.
pub(super) fn check_apis(d: &mut Diags, a: &ApimSpec, backend_path: &str, apis: &[Api]) {
    let Some(raw) = &a.backend_path else {
        return;
    };
    for api in apis {
        let path = api.api_type.foundry_path();
        if remaining(path, backend_path).is_none() {
            d.err_hint(
                raw.loc,
                "apim.backend_path",
                format!(
                    "API `{}` ({}) calls {path} on the account: its requests could not reach {path} through backends at {backend_path}",
                    api.name,
                    api.api_type.as_str()
                ),
                Some(format!(
                    "use `backend_path: {ROOT}` (or remove it): backends at the account root reach every API type, each API's policy adding its type's path"
                )),
            );
        }
    }
}

/// The API types a backend at `backend_path` serves: every type whose path runs through it.
pub fn serves(backend_path: &str, t: &ApiType) -> bool {
    remaining(t.foundry_path(), backend_path).is_some()
}

impl Apim {
    /// What an API of type `t` adds to the backend URL: its type's path minus
    /// `backend_path` (`/openai` on the root, `` on a backend at `/openai`). The policy's
    /// `rewrite-uri` prefixes the operation's URL with it.
    pub fn path_on_backend(&self, t: &ApiType) -> &'static str {
        remaining(t.foundry_path(), &self.backend_path)
            .expect("a validated model's backend_path runs through every API's type path")
    }

    /// `backend_path` as appended to an account endpoint, which ends in `/` (`` or `openai`).
    pub fn endpoint_suffix(&self) -> &str {
        self.backend_path.trim_start_matches('/')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_to_a_leading_slash_and_no_trailing_one() {
        for (raw, want) in [
            ("", "/"),
            ("/", "/"),
            ("openai", "/openai"),
            ("/openai/", "/openai"),
            ("/a/b.c_d~e-f", "/a/b.c_d~e-f"),
        ] {
            assert_eq!(normalise(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn anything_but_plain_segments_is_refused_and_shown_safely() {
        for (raw, why) in [
            ("/open ai", "contains ` `"),
            ("/openai?x=1", "contains `?`"),
            ("/openai#x", "contains `#`"),
            ("/{deployment}", "contains `{`"),
            ("/a%2Fb", "contains `%`"),
            ("/a\u{1b}[31m", "contains `<U+001B>`"),
            ("//", "empty segment"),
            ("/a//b", "empty segment"),
            ("/a/../b", "`..` segment"),
            ("/./a", "`..` segment"),
        ] {
            let e = normalise(raw).expect_err(raw);
            assert!(e.contains(why), "{raw}: {e}");
            assert!(!e.contains('\u{1b}'), "{e}");
        }
    }

    #[test]
    fn the_remaining_path_is_the_type_path_minus_the_backend_path_segment_wise() {
        assert_eq!(remaining("/openai", "/"), Some("/openai"));
        assert_eq!(remaining("/openai", "/openai"), Some(""));
        assert_eq!(remaining("/models", "/openai"), None);
        assert_eq!(remaining("/openai", "/open"), None);
        assert_eq!(remaining("/openai", "/openai/v1"), None);
        assert!(serves("/openai", &ApiType::OpenAi));
        assert!(!serves("/openai", &ApiType::AzureAi));
    }
}
