//! Desired vs live, field by field, ignoring what the server owns.
//!
//! Only fields gw declares are compared: ids, etags, provisioningState, systemData,
//! read-only outputs and every default Azure adds are absent from the desired body, so they
//! never show as changes. What remains is normalised the way ARM treats it: ARM ids,
//! locations and enum-like strings compare case-insensitively, numbers by value, tags as a
//! subset (tags someone else added are theirs), and policy XML by meaning (see `policy_equal`).

use crate::graph::refs;
use crate::markup::xml;
use serde_json::Value;

pub use super::types::FieldDiff;

/// Keys whose values ARM treats as case-insensitive.
fn case_insensitive(key: &str) -> bool {
    matches!(
        key,
        "id" | "location"
            | "roleDefinitionId"
            | "principalId"
            | "principalType"
            | "type"
            | "source"
            | "protocol"
            | "format"
            | "state"
            | "name"
    )
}

/// Compares `desired` against `live` and lists the differences.
pub fn diff(desired: &Value, live: &Value) -> Vec<FieldDiff> {
    diff_owning(desired, live, &[])
}

/// Like `diff`, and a field at one of `owned` paths that gw leaves out on purpose (session
/// affinity off, no circuit breaker) must be absent live too: there, absence is a setting.
pub fn diff_owning(desired: &Value, live: &Value, owned: &[&str]) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    walk("", "", desired, live, &mut out);
    out.retain(|d| !super::unset::same_meaning(d));
    // Pool shares gw leaves out have a meaning live values can contradict.
    out.extend(super::unset::changes(desired, live));
    for path in owned {
        let pointer = format!("/{}", path.replace('.', "/"));
        if desired.pointer(&pointer).is_none()
            && let Some(v) = live.pointer(&pointer).filter(|v| !v.is_null())
        {
            out.push(FieldDiff {
                path: path.to_string(),
                before: Some(v.clone()),
                after: None,
            });
        }
    }
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(path: &str, key: &str, desired: &Value, live: &Value, out: &mut Vec<FieldDiff>) {
    // A value only Azure knows yet ("known after apply") cannot be compared.
    if refs::parse(desired).is_some() {
        return;
    }
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => {
            for (k, dv) in d {
                let p = join(path, k);
                match l.get(k) {
                    Some(lv) if !lv.is_null() => {
                        if k == "tags" {
                            tags(&p, dv, lv, out);
                        } else if k == "value"
                            && path.ends_with("properties")
                            && dv.as_str().is_some_and(|s| s.contains("<policies"))
                        {
                            if !policy_equal(dv.as_str().unwrap_or(""), lv.as_str().unwrap_or("")) {
                                out.push(FieldDiff {
                                    path: p,
                                    before: Some(lv.clone()),
                                    after: Some(dv.clone()),
                                });
                            }
                        } else {
                            walk(&p, k, dv, lv, out);
                        }
                    }
                    _ => {
                        if !dv.is_null() {
                            out.push(FieldDiff {
                                path: p,
                                before: None,
                                after: Some(dv.clone()),
                            });
                        }
                    }
                }
            }
        }
        (Value::Array(d), Value::Array(l)) => {
            for i in 0..d.len().max(l.len()) {
                let p = format!("{path}[{i}]");
                match (d.get(i), l.get(i)) {
                    (Some(dv), Some(lv)) => walk(&p, key, dv, lv, out),
                    (Some(dv), None) => out.push(FieldDiff {
                        path: p,
                        before: None,
                        after: Some(dv.clone()),
                    }),
                    (None, Some(lv)) => out.push(FieldDiff {
                        path: p,
                        before: Some(lv.clone()),
                        after: None,
                    }),
                    (None, None) => {}
                }
            }
        }
        (d, l) => {
            if !scalar_equal(key, d, l) {
                out.push(FieldDiff {
                    path: path.to_string(),
                    before: Some(l.clone()),
                    after: Some(d.clone()),
                });
            }
        }
    }
}

fn scalar_equal(key: &str, d: &Value, l: &Value) -> bool {
    match (d, l) {
        // APIM answers a subscription's scope as a full id ending in what was sent (`/apis`).
        (Value::String(a), Value::String(b)) if key == "scope" => {
            b.to_lowercase().ends_with(&a.to_lowercase())
        }
        // A pool member named relative to its service (`/backends/x`, as the labs' Bicep
        // writes it) is the same backend as its full id: APIM resolves it there.
        (Value::String(a), Value::String(b))
            if key == "id" && (a.starts_with("/backends/") || b.starts_with("/backends/")) =>
        {
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            a == b || a.ends_with(&b) || b.ends_with(&a)
        }
        // Durations may come back in another notation (`PT1M`, `PT60S`, `00:01:00`).
        (Value::String(a), Value::String(b)) if matches!(key, "interval" | "tripDuration") => {
            a == b || seconds(a).is_some_and(|x| Some(x) == seconds(b))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), Value::String(b)) if key == "location" => {
            norm_location(a) == norm_location(b)
        }
        (Value::String(a), Value::String(b)) if case_insensitive(key) => a.eq_ignore_ascii_case(b),
        // A number Azure returns as a string, or the reverse ("capacity": "1").
        (Value::String(a), Value::Number(b)) | (Value::Number(b), Value::String(a)) => {
            a.parse::<f64>().ok() == b.as_f64()
        }
        _ => d == l,
    }
}

/// Seconds in an ISO 8601 duration or a .NET TimeSpan (`[d.]hh:mm:ss`).
fn seconds(s: &str) -> Option<u64> {
    if let Ok(v) = crate::model::duration::parse(s) {
        return Some(v);
    }
    let (days, rest) = match s.split_once('.') {
        Some((d, r)) if r.contains(':') => (d.parse::<u64>().ok()?, r),
        _ => (0, s),
    };
    let parts: Vec<u64> = rest
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    match parts[..] {
        [h, m, sec] => Some(days * 86_400 + h * 3600 + m * 60 + sec),
        _ => None,
    }
}

/// `East US` and `eastus` are the same region.
fn norm_location(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase()
}

/// Tags gw declares must be there with its values; other tags are left alone.
fn tags(path: &str, desired: &Value, live: &Value, out: &mut Vec<FieldDiff>) {
    let Some(d) = desired.as_object() else { return };
    for (k, v) in d {
        let lv = live.get(k);
        if lv != Some(v) {
            out.push(FieldDiff {
                path: format!("{path}.{k}"),
                before: lv.cloned(),
                after: Some(v.clone()),
            });
        }
    }
}

/// Two policy documents mean the same when their elements, attributes and text agree after
/// APIM's reformatting: whitespace between elements, attribute order and quoting, escaped vs
/// raw characters, comments. Expressions compare with whitespace runs collapsed.
pub fn policy_equal(a: &str, b: &str) -> bool {
    match (canonical_policy(a), canonical_policy(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

/// A canonical text form of a policy document (None when it does not parse).
pub fn canonical_policy(text: &str) -> Option<String> {
    let (masked, exprs) = xml::mask_expressions(text).ok()?;
    let doc = roxmltree::Document::parse(&masked).ok()?;
    let mut out = String::new();
    let norm = |s: &str| -> String {
        let s = s.trim();
        let s = s
            .strip_prefix("@(EXPR")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|i| i.parse::<usize>().ok())
            .and_then(|i| exprs.get(i).cloned())
            .unwrap_or_else(|| s.to_string());
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    fn node(n: roxmltree::Node, out: &mut String, norm: &dyn Fn(&str) -> String) {
        if n.is_element() {
            out.push('<');
            out.push_str(n.tag_name().name());
            let mut attrs: Vec<(String, String)> = n
                .attributes()
                .map(|a| (a.name().to_string(), norm(a.value())))
                .collect();
            attrs.sort();
            for (k, v) in attrs {
                out.push_str(&format!(" {k}={v:?}"));
            }
            out.push('>');
            for c in n.children() {
                node(c, out, norm);
            }
            out.push_str("</>");
        } else if n.is_text() {
            let t = norm(n.text().unwrap_or(""));
            if !t.is_empty() {
                out.push_str(&t);
            }
        }
    }
    node(doc.root_element(), &mut out, &norm);
    Some(out)
}

/// A unified line diff of two policy documents, for the plan's text view.
pub fn policy_line_diff(before: &str, after: &str) -> String {
    let d = similar::TextDiff::from_lines(before, after);
    d.unified_diff().context_radius(2).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_member_ids_relative_to_the_service_are_the_same_backend() {
        let full = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/a/backends/foundry1";
        let desired = json!({ "properties": { "pool": { "services": [ { "id": full } ] } } });
        let same =
            json!({ "properties": { "pool": { "services": [ { "id": "/backends/FOUNDRY1" } ] } } });
        assert_eq!(diff(&desired, &same), vec![]);
        let other =
            json!({ "properties": { "pool": { "services": [ { "id": "/backends/foundry2" } ] } } });
        assert_eq!(diff(&desired, &other).len(), 1);
    }
    use serde_json::json;

    #[test]
    fn server_owned_and_default_fields_are_ignored() {
        let desired = json!({ "properties": { "url": "https://a/openai", "protocol": "http" } });
        let live = json!({ "id": "/x", "etag": "\"1\"", "systemData": {}, "properties": { "url": "https://a/openai", "protocol": "http", "provisioningState": "Succeeded", "tls": { "validateCertificateChain": true } } });
        assert!(diff(&desired, &live).is_empty());
    }

    #[test]
    fn changed_array_element_is_one_field() {
        let desired = json!({ "properties": { "pool": { "services": [ { "id": "/A", "priority": 1, "weight": 50 }, { "id": "/b", "priority": 2, "weight": 50 } ] } } });
        // (A relative member id is its service's backend: see `pool_member_ids_relative_to_the_service`.)
        let live = json!({ "properties": { "pool": { "services": [ { "id": "/a", "priority": 1, "weight": 50 }, { "id": "/b", "priority": 2, "weight": 30 } ] } } });
        assert_eq!(
            diff(&desired, &live),
            vec![FieldDiff {
                path: "properties.pool.services[1].weight".into(),
                before: Some(json!(30)),
                after: Some(json!(50))
            }]
        );
    }

    #[test]
    fn missing_and_extra_elements() {
        let d = diff(&json!({ "a": [1, 2] }), &json!({ "a": [1, 2, 3] }));
        assert_eq!(
            d,
            vec![FieldDiff {
                path: "a[2]".into(),
                before: Some(json!(3)),
                after: None
            }]
        );
        let d = diff(&json!({ "a": { "b": true } }), &json!({ "a": {} }));
        assert_eq!(
            d,
            vec![FieldDiff {
                path: "a.b".into(),
                before: None,
                after: Some(json!(true))
            }]
        );
    }

    #[test]
    fn azure_normalisations() {
        assert!(
            diff(
                &json!({ "location": "eastus" }),
                &json!({ "location": "East US" })
            )
            .is_empty()
        );
        assert!(
            diff(
                &json!({ "sku": { "capacity": 1 } }),
                &json!({ "sku": { "capacity": 1.0 } })
            )
            .is_empty()
        );
        assert!(
            diff(
                &json!({ "tags": { "managed-by": "gw" } }),
                &json!({ "tags": { "managed-by": "gw", "cost": "x" } })
            )
            .is_empty()
        );
        assert_eq!(
            diff(&json!({ "tags": { "owner": "a" } }), &json!({ "tags": {} })).len(),
            1
        );
        assert_eq!(
            diff(
                &json!({ "disableLocalAuth": true }),
                &json!({ "disableLocalAuth": false })
            )
            .len(),
            1
        );
    }

    #[test]
    fn apim_notations_are_equal() {
        let sub =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a/apis";
        assert!(
            diff(
                &json!({ "properties": { "scope": "/apis" } }),
                &json!({ "properties": { "scope": sub } })
            )
            .is_empty()
        );
        assert_eq!(
            diff(
                &json!({ "properties": { "scope": "/apis/x" } }),
                &json!({ "properties": { "scope": sub } })
            )
            .len(),
            1
        );
        for live in ["PT1M", "PT60S", "00:01:00"] {
            assert!(
                diff(
                    &json!({ "tripDuration": "PT1M" }),
                    &json!({ "tripDuration": live })
                )
                .is_empty(),
                "{live}"
            );
        }
        assert_eq!(
            diff(
                &json!({ "interval": "PT1M" }),
                &json!({ "interval": "00:02:00" })
            )
            .len(),
            1
        );
    }

    #[test]
    fn owned_absence_is_a_change() {
        let desired = json!({ "properties": { "pool": { "services": [] } } });
        let live = json!({ "properties": { "pool": { "services": [], "sessionAffinity": { "sessionId": { "source": "cookie", "name": "c" } } } } });
        assert!(diff(&desired, &live).is_empty());
        let d = diff_owning(&desired, &live, &["properties.pool.sessionAffinity"]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "properties.pool.sessionAffinity");
        assert_eq!(d[0].after, None);
    }

    #[test]
    fn unresolved_references_are_not_changes() {
        let desired = json!({ "properties": { "principalId": { "$gw": "output", "of": "apim", "path": "identity.principalId", "append": "" } } });
        assert!(diff(&desired, &json!({ "properties": { "principalId": "abc" } })).is_empty());
    }

    #[test]
    fn policies_compare_by_meaning() {
        let a = "<policies>\n  <inbound>\n    <base />\n    <set-header name=\"x\" exists-action=\"override\"><value>@(context.Request.Url.Host)</value></set-header>\n  </inbound>\n</policies>";
        let b = "<policies><inbound><base /><!-- c --><set-header exists-action='override' name='x'>\n<value>@(context.Request.Url.Host)</value></set-header></inbound></policies>";
        assert!(policy_equal(a, b));
        assert!(!policy_equal(a, &a.replace("name=\"x\"", "name=\"y\"")));
        let d = diff(
            &json!({ "properties": { "format": "rawxml", "value": a } }),
            &json!({ "properties": { "format": "rawxml", "value": a.replace("\"x\"", "\"y\"") } }),
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "properties.value");
    }
}
