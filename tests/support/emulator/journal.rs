//! The request journal: what the client sent and what it got, secrets redacted on the way in
//! (the Authorization header is never stored; key fields become `***`), and without the
//! emulator's origin, so a journal is the same on every run.

use std::time::Instant;

use serde_json::{Value, json};

use super::rules::SECRET_FIELDS;

/// One request as the emulator saw it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub method: String,
    /// Path and query, without scheme and host (ports differ between runs).
    pub url: String,
    pub request_body: Option<Value>,
    /// The `If-Match` header sent, if any (conditional writes).
    pub if_match: Option<String>,
    /// 0 when the connection was dropped on purpose.
    pub status: u16,
    pub response_body: Option<Value>,
    pub started: Instant,
    pub ended: Instant,
}

impl Entry {
    pub fn path(&self) -> &str {
        self.url.split('?').next().unwrap_or_default()
    }

    pub fn is_write(&self) -> bool {
        // Pre-flight's name checks are POSTs that only read.
        let check = self.path().to_ascii_lowercase().ends_with("availability");
        matches!(self.method.as_str(), "PUT" | "PATCH" | "DELETE" | "POST") && !check
    }

    pub fn to_json(&self) -> Value {
        json!({
            "method": self.method,
            "url": self.url,
            "request_body": self.request_body,
            "status": self.status,
            "response_body": self.response_body,
        })
    }
}

/// Replaces the values of secret fields, at any depth.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if SECRET_FIELDS.contains(&k.as_str()) && v.is_string() {
                    *v = json!("***");
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Drops the emulator's origin from links (`nextLink`), whose port differs between runs.
pub fn strip_origin(value: &mut Value, origin: &str) {
    match value {
        Value::String(s) => {
            if let Some(rest) = s.strip_prefix(origin) {
                *s = rest.to_string();
            }
        }
        Value::Object(map) => map.values_mut().for_each(|v| strip_origin(v, origin)),
        Value::Array(items) => items.iter_mut().for_each(|v| strip_origin(v, origin)),
        _ => {}
    }
}
