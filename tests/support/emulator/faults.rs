//! Scripted faults: a matcher (method, path substring, nth occurrence) and what to answer.

use serde_json::Value;
use std::sync::Arc;

/// A change made to the emulator's state just before a request is handled: another client
/// writing between gw's read and its write.
#[derive(Clone)]
pub struct Meddle(pub Arc<dyn Fn(&mut super::store::State) + Send + Sync>);

impl std::fmt::Debug for Meddle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Meddle")
    }
}

/// What a matching request gets instead of the normal answer.
#[derive(Debug, Clone)]
pub enum FaultAction {
    /// Change the state, then answer normally.
    Before(Meddle),
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Option<Value>,
    },
    /// Close the connection without answering.
    Drop,
}

/// A fault: `Fault::new("PUT", "/backends/").nth(2).respond(500, body)`.
#[derive(Debug, Clone)]
pub struct Fault {
    method: Option<String>,
    path_contains: String,
    nth: u32,
    times: u32,
    action: FaultAction,
    seen: u32,
    fired: u32,
}

impl Fault {
    /// Matches `method` (`"*"` for any) on paths containing `path_contains` (case-insensitive).
    /// By default it fires once, on the first match, answering 500.
    pub fn new(method: &str, path_contains: &str) -> Self {
        Fault {
            method: (method != "*").then(|| method.to_ascii_uppercase()),
            path_contains: path_contains.to_ascii_lowercase(),
            nth: 1,
            times: 1,
            action: FaultAction::Respond {
                status: 500,
                headers: vec![],
                body: Some(
                    serde_json::json!({"error": {"code": "InternalServerError", "message": "injected"}}),
                ),
            },
            seen: 0,
            fired: 0,
        }
    }

    /// Fire from the `n`th matching request on (1-based).
    pub fn nth(mut self, n: u32) -> Self {
        self.nth = n.max(1);
        self
    }

    /// Fire this many times in a row (default 1).
    pub fn times(mut self, n: u32) -> Self {
        self.times = n;
        self
    }

    pub fn respond(mut self, status: u16, body: Option<Value>) -> Self {
        self.action = FaultAction::Respond {
            status,
            headers: vec![],
            body,
        };
        self
    }

    /// Adds a header to the canned answer.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let FaultAction::Respond { headers, .. } = &mut self.action {
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }

    /// An ARM error answer: `{"error": {"code", "message"}}`.
    pub fn error(self, status: u16, code: &str, message: &str) -> Self {
        self.respond(
            status,
            Some(serde_json::json!({"error": {"code": code, "message": message}})),
        )
    }

    /// Runs `f` on the state first (a concurrent change), then answers as usual.
    pub fn before(mut self, f: impl Fn(&mut super::store::State) + Send + Sync + 'static) -> Self {
        self.action = FaultAction::Before(Meddle(Arc::new(f)));
        self
    }

    pub fn drop_connection(mut self) -> Self {
        self.action = FaultAction::Drop;
        self
    }

    /// Counts a request and says what to do if this fault fires for it.
    pub fn check(&mut self, method: &str, path: &str) -> Option<FaultAction> {
        if self.method.as_deref().is_some_and(|m| m != method)
            || !path.to_ascii_lowercase().contains(&self.path_contains)
        {
            return None;
        }
        self.seen += 1;
        if self.seen >= self.nth && self.fired < self.times {
            self.fired += 1;
            return Some(self.action.clone());
        }
        None
    }
}
