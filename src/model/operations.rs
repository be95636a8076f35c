//! An API's `operations:`: the operations APIM imports for it when the spec declares its own
//! instead of the ones gw declares for the API's type (the inference surface table).

use super::diags::Diags;
use super::names;
use super::surface::{operations, route_shape, same_route, template_params};
use super::types::{ApiOperation, ApiType};
use crate::spec::{OperationSpec, Sp};
use std::collections::BTreeMap;

/// The methods an OpenAPI path item can hold (APIM imports nothing else).
pub const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE",
];

/// The spec's operations for the API at `path`, validated; None when it declares none.
/// `gw_policy`: gw writes the API's policy, which reads the table's parameter names.
pub(super) fn declared(
    d: &mut Diags,
    path: &str,
    ops: Option<&Sp<Vec<OperationSpec>>>,
    api_type: &ApiType,
    gw_policy: bool,
) -> Option<Vec<ApiOperation>> {
    let ops = ops?;
    let path = format!("{path}.operations");
    if ops.is_empty() {
        d.err_hint(
            ops.loc,
            &path,
            "no operations: APIM would answer every request to this API with 404",
            Some(
                "declare at least one, or remove `operations:` to use the ones gw declares for the API's type".into(),
            ),
        );
        return None;
    }
    let mut seen_names = BTreeMap::new();
    let mut seen_routes: BTreeMap<String, crate::spec::Loc> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let at = format!("{path}[{i}]");
        d.name(
            op.name.loc,
            format!("{at}.name"),
            names::entity("operation", &op.name, 80),
        );
        d.duplicate(
            &mut seen_names,
            &op.name,
            &format!("{at}.name"),
            "operation name",
        );
        let method = op.method.to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            d.err_hint(
                op.method.loc,
                format!("{at}.method"),
                format!("`{}` is not an HTTP method APIM imports", op.method.value),
                Some(format!("use one of {}", METHODS.join(", "))),
            );
        }
        if let Err(why) = url_template(&op.url) {
            d.err_hint(op.url.loc, format!("{at}.url"), why.0, Some(why.1.into()));
        } else {
            // APIM refuses two operations with one method and template (parameter names
            // aside): a request could not tell them apart.
            let route = format!("{method} {}", route_shape(&op.url));
            match seen_routes.get(&route.to_lowercase()) {
                Some(first) => d.collision(
                    op.url.loc,
                    format!("{at}.url"),
                    format!(
                        "`{method} {}` is already an operation of this API",
                        op.url.value
                    ),
                    *first,
                    "the first is here",
                    "each method and URL template may appear once: remove one of them",
                ),
                None => {
                    seen_routes.insert(route.to_lowercase(), op.url.loc);
                }
            }
            if gw_policy && let Some((want, got)) = renamed_parameter(api_type, &method, &op.url) {
                d.err_hint(
                    op.url.loc,
                    format!("{at}.url"),
                    format!(
                        "gw's policy reads this route's parameter as `{{{want}}}`; here it is `{{{got}}}`"
                    ),
                    Some(format!(
                        "name the parameter `{{{want}}}`, or keep a policy of your own (`policy:`)"
                    )),
                );
            }
        }
        let display = op
            .display_name
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_else(|| op.name.value.clone());
        if display.chars().count() > 300 {
            let loc = op.display_name.as_ref().map_or(op.name.loc, |s| s.loc);
            d.err_hint(
                loc,
                format!("{at}.display_name"),
                "is longer than 300 characters",
                Some("shorten it".into()),
            );
        }
        out.push(ApiOperation {
            name: op.name.value.clone(),
            display,
            method,
            url: op.url.value.clone(),
        });
    }
    Some(out)
}

/// Why a URL template cannot be an operation's, with the fix. A template is `/` followed by
/// segments; a parameter (`{name}`) is a whole segment, so the gateway and `gw serve` match a
/// request the same way.
pub fn url_template(url: &str) -> Result<(), (String, &'static str)> {
    const FIX: &str = "write it as `/segment/{parameter}/segment`: letters, digits and `-._~` in segments, a parameter a whole segment";
    if !url.starts_with('/') {
        return Err((format!("`{url}` does not start with `/`"), FIX));
    }
    if url.len() > 1000 {
        return Err(("is longer than 1000 characters".into(), "shorten it"));
    }
    if url == "/" {
        return Ok(());
    }
    for seg in url[1..].split('/') {
        let ok = match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(p) => {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            }
            None => {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._~:@".contains(c))
            }
        };
        if !ok {
            return Err((
                format!("`{url}` has a segment gw cannot match: `{seg}`"),
                FIX,
            ));
        }
    }
    Ok(())
}

/// The parameter gw's policies read by name (`MatchedParameters["deployment-id"]`).
const READ_BY_NAME: &str = "deployment-id";

/// A parameter gw's policy reads by name that `url` names otherwise than the table's same
/// route does: the table's name, then `url`'s.
pub fn renamed_parameter(api_type: &ApiType, method: &str, url: &str) -> Option<(String, String)> {
    let op = operations(api_type)
        .iter()
        .find(|o| o.method == method && same_route(o.url, url))?;
    template_params(op.url)
        .zip(template_params(url))
        .find(|(want, got)| *want == READ_BY_NAME && want != got)
        .map(|(want, got)| (want.to_string(), got.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_segments_with_whole_segment_parameters() {
        for ok in [
            "/",
            "/deployments/{deployment-id}/chat/completions",
            "/v1/models/{model}",
            "/responses/{response_id}/input_items",
        ] {
            assert!(url_template(ok).is_ok(), "{ok}");
        }
        for bad in [
            "deployments/x",
            "/a//b",
            "/a/../b",
            "/a/{}",
            "/a/x{id}",
            "/a?b=c",
            "/a#b",
            "/a b",
            "/a/{x}/",
        ] {
            assert!(url_template(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parameter_names_do_not_make_two_routes() {
        assert_eq!(route_shape("/a/{x}/b"), route_shape("/a/{y}/b"));
        assert_ne!(route_shape("/a/{x}/b"), route_shape("/a/{x}/c"));
    }
}
