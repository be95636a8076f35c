//! APIM's API-level lock: a write to an API, anything under it, or a product/tag link to it is
//! refused with 409 while another write to that API is in flight or has just finished
//! (catalogue §1: Azure/apiops-cli #252, Azure/apiops #141/#379/PR #787/#799, devops resource
//! kit #340). Different APIs never block each other.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;

use super::store::Reply;

/// The message both spellings of the refusal carry.
pub const LOCKED_MESSAGE: &str = "Operation on the API is in progress";

#[derive(Debug, Default)]
struct ApiState {
    /// Long-running writes on the API not yet polled to completion.
    in_flight: usize,
    /// When the last write to the API completed.
    last_done: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct ApiLocks {
    /// `None`: the lock is off (the default).
    // unconfirmed: how long the lock outlives a write ("seconds", no published figure); the
    // test chooses.
    pub settle: Option<Duration>,
    apis: HashMap<String, ApiState>,
    pub refusals: usize,
}

impl ApiLocks {
    /// The 409 a write to `path` gets now, if its API is locked.
    pub fn check(&mut self, method: &str, path: &str) -> Option<Reply> {
        let settle = self.settle?;
        if !matches!(method, "PUT" | "PATCH" | "DELETE") {
            return None;
        }
        let api = api_of(path)?;
        let state = self.apis.get(&api)?;
        let settling = state.last_done.is_some_and(|t| t.elapsed() < settle);
        if state.in_flight == 0 && !settling {
            return None;
        }
        self.refusals += 1;
        // Azure answers with both codes for the same condition (apiops PR #787 and #799).
        let code = if self.refusals.is_multiple_of(3) {
            "Conflict"
        } else {
            "PessimisticConcurrencyConflict"
        };
        Some(Reply::json(
            409,
            json!({"error": {"code": code, "message": LOCKED_MESSAGE, "details": null}}),
        ))
    }

    /// A write to `path` was answered at once (no operation to follow).
    pub fn wrote(&mut self, path: &str) {
        if let Some(api) = api_of(path) {
            self.apis.entry(api).or_default().last_done = Some(Instant::now());
        }
    }

    /// A long-running write to `api` started.
    pub fn started(&mut self, api: &str) {
        self.apis.entry(api.to_string()).or_default().in_flight += 1;
    }

    /// A long-running write to `api` completed (it was polled to its end).
    pub fn finished(&mut self, api: &str) {
        let state = self.apis.entry(api.to_string()).or_default();
        state.in_flight = state.in_flight.saturating_sub(1);
        state.last_done = Some(Instant::now());
    }
}

/// The API a path writes to (lower-cased `.../service/{s}/apis/{a}`), for the API itself,
/// anything under it, and the `products/{p}/apis/{a}` and `tags/{t}/apis/{a}` links. A
/// revision (`{a};rev=2`) is the same API.
pub fn api_of(path: &str) -> Option<String> {
    let lower = path.to_ascii_lowercase();
    let marker = "/providers/microsoft.apimanagement/service/";
    let at = lower.find(marker)? + marker.len();
    let (service, rest) = lower[at..].split_once('/')?;
    let segs: Vec<&str> = rest.split('/').collect();
    let api = match segs.as_slice() {
        ["apis", api, ..] => *api,
        ["products" | "tags", _, "apis", api, ..] => *api,
        _ => return None,
    };
    let api = api.split(';').next().unwrap_or(api);
    Some(format!("{}{service}/apis/{api}", &lower[..at]))
}

#[cfg(test)]
mod tests {
    use super::api_of;

    #[test]
    fn links_operations_and_revisions_lock_their_api() {
        let svc = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/x";
        let api = api_of(&format!("{svc}/apis/Chat")).unwrap();
        assert!(api.ends_with("/service/x/apis/chat"));
        for p in [
            "/apis/chat;rev=2",
            "/apis/chat/operations/o",
            "/apis/chat/policies/policy",
            "/products/p/apis/chat",
            "/tags/t/apis/chat",
        ] {
            assert_eq!(api_of(&format!("{svc}{p}")).as_deref(), Some(api.as_str()));
        }
        assert_eq!(api_of(&format!("{svc}/backends/b")), None);
        assert_eq!(api_of(&format!("{svc}/products/p")), None);
    }
}
