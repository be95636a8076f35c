//! An API's live operations in the spec's terms: nothing when they are the ones gw declares
//! for the API's type, else the list `operations:` keeps, else why the spec cannot keep them.

use super::text;
use crate::model::operations::{METHODS, renamed_parameter, url_template};
use crate::model::surface::api_operations;
use crate::model::{ApiOperation, ApiType, names};
use serde_json::Value;

/// What the spec says about an API's live operations.
pub enum Kept {
    /// They are gw's for the type: the spec says nothing.
    Gws,
    /// The spec lists them, by URL template then method.
    Listed(Vec<ApiOperation>),
    /// The spec cannot list them (the reason); the first apply imports gw's in their place.
    Replaced(String),
}

pub fn kept(api_type: &ApiType, live: &[Value]) -> Kept {
    let by_route = |ops: &mut Vec<ApiOperation>| {
        ops.sort_by(|a, b| (&a.url, &a.method, &a.name).cmp(&(&b.url, &b.method, &b.name)))
    };
    let mut ops: Vec<ApiOperation> = live
        .iter()
        .map(|o| ApiOperation {
            name: text(o, "/name").to_string(),
            display: text(o, "/properties/displayName").to_string(),
            method: text(o, "/properties/method").to_ascii_uppercase(),
            url: text(o, "/properties/urlTemplate").to_string(),
        })
        .collect();
    by_route(&mut ops);
    let mut table = api_operations(api_type);
    by_route(&mut table);
    if ops == table {
        return Kept::Gws;
    }
    if ops.is_empty() {
        return Kept::Replaced("it has no operations".into());
    }
    for op in &ops {
        if let Some(why) = unkeepable(api_type, op) {
            return Kept::Replaced(format!("its operation `{}` {why}", op.name));
        }
    }
    Kept::Listed(ops)
}

/// Why the spec cannot declare `op` (the rules `model::operations` enforces), if it cannot.
fn unkeepable(api_type: &ApiType, op: &ApiOperation) -> Option<String> {
    if names::entity("operation", &op.name, 80).is_err() {
        return Some("has a name gw cannot declare".into());
    }
    if !METHODS.contains(&op.method.as_str()) {
        return Some(format!("has the method `{}`", op.method));
    }
    if let Err((why, _)) = url_template(&op.url) {
        return Some(format!("has a URL template gw cannot match: {why}"));
    }
    if let Some((p, _)) = renamed_parameter(api_type, &op.method, &op.url) {
        return Some(format!(
            "names the parameter gw's policy reads as `{{{p}}}` otherwise"
        ));
    }
    (op.display.chars().count() > 300 || !crate::model::holdable(&op.display))
        .then(|| "has a display name a spec cannot hold".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(name: &str, method: &str, url: &str) -> Value {
        json!({ "name": name, "properties": { "displayName": name, "method": method, "urlTemplate": url } })
    }

    #[test]
    fn gws_own_operations_need_no_list() {
        let t = ApiType::AzureOpenAi;
        let ops: Vec<Value> = crate::model::surface::operations(&t)
            .iter()
            .map(|o| json!({ "name": o.name, "properties": { "displayName": o.display, "method": o.method, "urlTemplate": o.url } }))
            .collect();
        assert!(matches!(kept(&t, &ops), Kept::Gws));
        // One missing, and they are the lab's own.
        assert!(matches!(kept(&t, &ops[1..]), Kept::Listed(l) if l.len() == ops.len() - 1));
    }

    #[test]
    fn what_a_spec_cannot_hold_is_replaced_with_the_reason() {
        let t = ApiType::AzureOpenAi;
        let chat = "/deployments/{deployment-id}/chat/completions";
        assert!(matches!(
            kept(&t, &[live("ChatCompletions_Create", "post", chat)]),
            Kept::Listed(_)
        ));
        for (op, why) in [
            (live("a b", "POST", chat), "name"),
            (live("x", "POST", "/a/pre{id}"), "URL template"),
            (
                live("x", "POST", "/deployments/{deploymentId}/chat/completions"),
                "{deployment-id}",
            ),
            (live("x", "CONNECT", "/a"), "method"),
        ] {
            match kept(&t, &[op]) {
                Kept::Replaced(r) => assert!(r.contains(why), "{r}"),
                _ => panic!("{why}: kept"),
            }
        }
        assert!(matches!(kept(&t, &[]), Kept::Replaced(_)));
    }
}
