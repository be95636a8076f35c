//! Unknown and missing fields. The typed parse ignores the first and defaults the second
//! (see `Req`), so these are found here instead, on a plain tree of the same YAML checked
//! against the JSON Schema the spec types derive: one source of truth for which fields
//! exist, and every such problem located and reported together with the semantic ones.

use super::spanned::{Loc, Sp};
use crate::diag::{Diagnostic, did_you_mean};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::fmt;

/// The YAML as a tree, with the location of every key and value.
pub(super) enum Node {
    Map(Vec<(Sp<String>, Sp<Node>)>),
    Seq(Vec<Sp<Node>>),
    Null,
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Sp<String>>()? {
                    entries.push((key, map.next_value::<Sp<Node>>()?));
                }
                Ok(Node::Map(entries))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Sp<Node>>()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
        }
        d.deserialize_any(V)
    }
}

/// Every unknown field, missing required field and required field without a value.
pub(super) fn check(schema: &Value, node: &Sp<Node>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    walk(schema, schema, node, node.loc, "", &mut out);
    out
}

/// `at` is where a field missing from `node` is reported: the key that `node` is the value
/// of (`apim:`), or the list item itself.
fn walk(
    root: &Value,
    schema: &Value,
    node: &Sp<Node>,
    at: Loc,
    path: &str,
    out: &mut Vec<Diagnostic>,
) {
    let Some(schema) = resolve(root, schema, &node.value) else {
        return; // a type mismatch: the typed parse reports it
    };
    match &node.value {
        Node::Map(entries) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                fields(root, schema, props, entries, at, path, out);
            } else if let Some(values) =
                schema.get("additionalProperties").filter(|v| v.is_object())
            {
                // A mapping of user-chosen names (pools, APIs, routes).
                for (k, v) in entries {
                    walk(root, values, v, k.loc, &join(path, &k.value), out);
                }
            }
        }
        Node::Seq(items) => {
            if let Some(item) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    walk(root, item, v, v.loc, &format!("{path}[{i}]"), out);
                }
            }
        }
        Node::Null | Node::Scalar => {}
    }
}

fn fields(
    root: &Value,
    schema: &Value,
    props: &serde_json::Map<String, Value>,
    entries: &[(Sp<String>, Sp<Node>)],
    loc: Loc,
    path: &str,
    out: &mut Vec<Diagnostic>,
) {
    let names: Vec<&str> = props.keys().map(String::as_str).collect();
    for (k, v) in entries {
        let kpath = join(path, &k.value);
        match props.get(&k.value) {
            Some(s) => walk(root, s, v, k.loc, &kpath, out),
            None => {
                let hint = did_you_mean(&k.value, names.iter().copied()).unwrap_or_else(|| {
                    format!("remove it; the fields here are {}", names.join(", "))
                });
                out.push(
                    Diagnostic::new(k.loc, kpath, format!("unknown field `{}`", k.value))
                        .hint(hint),
                );
            }
        }
    }
    let required = schema.get("required").and_then(Value::as_array);
    for name in required.into_iter().flatten().filter_map(Value::as_str) {
        let about = props
            .get(name)
            .map(|s| resolve_ref(root, s))
            .and_then(|s| s.get("description"))
            .and_then(Value::as_str)
            .map(|d| format!(" ({})", d.trim_end_matches('.')))
            .unwrap_or_default();
        match entries.iter().find(|(k, _)| k.value == name) {
            None => out.push(
                Diagnostic::new(loc, join(path, name), format!("missing field `{name}`"))
                    .hint(format!("add `{name}:` here{about}")),
            ),
            Some((k, v)) if matches!(v.value, Node::Null) => out.push(
                Diagnostic::new(k.loc, join(path, name), format!("`{name}` has no value"))
                    .hint(format!("write a value after `{name}:`{about}")),
            ),
            Some(_) => {}
        }
    }
}

/// The schema that applies to `node`: follows `$ref`, and of `anyOf` branches (an
/// `Option`, or `session_affinity`'s bool-or-mapping, nested as written) picks the one of
/// the node's kind.
fn resolve<'a>(root: &'a Value, schema: &'a Value, node: &Node) -> Option<&'a Value> {
    let schema = resolve_ref(root, schema);
    let Some(branches) = schema.get("anyOf").or_else(|| schema.get("oneOf")) else {
        return Some(schema);
    };
    branches
        .as_array()?
        .iter()
        .filter_map(|b| resolve(root, b, node))
        .find(|b| match node {
            Node::Map(_) => b.get("properties").is_some() || is_type(b, "object"),
            Node::Seq(_) => is_type(b, "array"),
            Node::Null | Node::Scalar => false,
        })
}

fn resolve_ref<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix("#/")
            .map(|p| format!("/{p}"))
            .and_then(|p| root.pointer(&p))
            .unwrap_or(schema),
        None => schema,
    }
}

fn is_type(schema: &Value, t: &str) -> bool {
    match schema.get("type") {
        Some(Value::String(s)) => s == t,
        Some(Value::Array(a)) => a.iter().any(|x| x == t),
        _ => false,
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}
