//! References inside desired bodies to values that belong to another resource.
//!
//! Encoded as small JSON objects so bodies stay plain `serde_json::Value`s:
//! `{"$gw": "id", "of": ADDRESS}` (that resource's ARM id) and
//! `{"$gw": "output", "of": ADDRESS, "path": "identity.principalId", "append": "openai"}`
//! (a read-only value Azure assigns, optionally with text appended).

use serde_json::{Value, json};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ref {
    Id {
        of: String,
    },
    Output {
        of: String,
        path: String,
        append: String,
    },
}

pub fn id_of(address: &str) -> Value {
    json!({ "$gw": "id", "of": address })
}

pub fn output_of(address: &str, path: &str, append: &str) -> Value {
    json!({ "$gw": "output", "of": address, "path": path, "append": append })
}

/// Reads a reference marker, if `v` is one.
pub fn parse(v: &Value) -> Option<Ref> {
    let o = v.as_object()?;
    let of = o.get("of")?.as_str()?.to_string();
    match o.get("$gw")?.as_str()? {
        "id" => Some(Ref::Id { of }),
        "output" => Some(Ref::Output {
            of,
            path: o.get("path")?.as_str()?.to_string(),
            append: o
                .get("append")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        }),
        _ => None,
    }
}

/// Replaces every reference with `f(ref)`; where `f` gives None the marker stays, meaning
/// "known after apply".
pub fn resolve(v: &Value, f: &dyn Fn(&Ref) -> Option<Value>) -> Value {
    if let Some(r) = parse(v) {
        return f(&r).unwrap_or_else(|| v.clone());
    }
    match v {
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), resolve(v, f))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| resolve(v, f)).collect()),
        _ => v.clone(),
    }
}

/// Every reference in a body, in document order.
pub fn collect(v: &Value, out: &mut Vec<Ref>) {
    if let Some(r) = parse(v) {
        out.push(r);
        return;
    }
    match v {
        Value::Object(o) => o.values().for_each(|v| collect(v, out)),
        Value::Array(a) => a.iter().for_each(|v| collect(v, out)),
        _ => {}
    }
}

/// Reads a dotted path (`identity.principalId`) from a live body.
pub fn get_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}
