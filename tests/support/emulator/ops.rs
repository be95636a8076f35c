//! Long-running operations: started by PUTs and DELETEs, advanced by polls (and by GETs of
//! the resource: Azure runs them whether or not anyone polls), and what completing one does
//! to the resource, the API lock and a bouncing account.

use serde_json::{Value, json};

use super::apim_lock::api_of;
use super::ids;
use super::lifecycle;
use super::rules;
use super::store::{Reply, State};

#[derive(Debug, Clone)]
pub(super) struct Op {
    pub(super) remaining: u32,
    pub(super) error: Option<Value>,
    /// The written resource (lower-cased id), for PUTs.
    pub(super) resource: Option<String>,
    /// The account whose deployments are locked while this runs.
    pub(super) lock: Option<String>,
    pub(super) done: bool,
    /// The lower-cased type and path written, and whether it is a DELETE.
    pub(super) ty: String,
    pub(super) path: String,
    pub(super) delete: bool,
    /// The APIM API (see `apim_lock`) this operation holds.
    pub(super) api: Option<String>,
}

/// How an operation is started: what it writes and how it is polled.
pub(super) struct OpStart<'a> {
    pub(super) path: &'a str,
    pub(super) ty: &'a str,
    pub(super) resource: Option<String>,
    pub(super) lock: Option<String>,
    pub(super) location: bool,
    pub(super) delete: bool,
}

impl State {
    pub(super) fn start_op(&mut self, start: OpStart<'_>) -> String {
        self.next_op += 1;
        let opid = format!("op-{:04}", self.next_op);
        let lower = start.path.to_ascii_lowercase();
        let mut error = self
            .lro_failures
            .iter()
            .position(|(needle, _)| lower.contains(needle))
            .map(|i| self.lro_failures.remove(i).1);
        if !start.delete
            && lifecycle::counts_for_failure(start.ty)
            && let Some(n) = self.settings.lro_failure_every.filter(|n| *n > 0)
        {
            self.failure_count += 1;
            if self.failure_count.is_multiple_of(n) && error.is_none() {
                error = Some(lifecycle::lro_failure(start.ty));
            }
        }
        let api = api_of(start.path);
        if let Some(api) = &api {
            self.api_locks.started(api);
        }
        self.ops.insert(
            opid.clone(),
            Op {
                remaining: self.settings.lro_polls,
                error,
                resource: start.resource,
                lock: start.lock,
                done: false,
                ty: start.ty.to_string(),
                path: lower,
                delete: start.delete,
                api,
            },
        );
        let kind = if start.location {
            "operationResults"
        } else {
            "operationStatuses"
        };
        format!(
            "{}/subscriptions/{}/providers/Microsoft.Emulator/{kind}/{opid}?api-version=2025-01-01",
            self.base_url,
            ids::subscription(start.path)
        )
    }

    pub(super) fn pending_op_for(&self, key: &str) -> Option<String> {
        self.ops
            .iter()
            .find(|(_, op)| !op.done && op.resource.as_deref() == Some(key))
            .map(|(id, _)| id.clone())
    }

    /// One step of an operation: `true` while it is still running. Completing it settles the
    /// resource's provisioningState.
    pub(super) fn advance(&mut self, opid: &str) -> bool {
        let Some(op) = self.ops.get_mut(opid) else {
            return false;
        };
        if op.done {
            return false;
        }
        if op.remaining > 0 {
            op.remaining -= 1;
            return true;
        }
        op.done = true;
        let final_state = if op.error.is_some() {
            "Failed"
        } else {
            "Succeeded"
        };
        let error = op.error.clone();
        let settled_account = (op.ty == rules::ACCOUNTS && !op.delete && error.is_none())
            .then(|| op.resource.clone())
            .flatten();
        if let Some(api) = op.api.clone() {
            self.api_locks.finished(&api);
        }
        if let Some(stored) = op.resource.clone().and_then(|k| self.resources.get_mut(&k))
            && let Some(props) = stored
                .body
                .get_mut("properties")
                .and_then(Value::as_object_mut)
        {
            props.insert("provisioningState".into(), json!(final_state));
            if let Some(e) = error {
                props.insert("error".into(), e);
            }
        }
        if let Some(key) = settled_account {
            self.account_settled(&key);
        }
        false
    }

    pub(super) fn poll(&mut self, path: &str) -> Reply {
        let opid = ids::name(path).to_string();
        let location = path.to_ascii_lowercase().contains("/operationresults/");
        if !self.ops.contains_key(&opid) {
            return Reply::error(404, "OperationNotFound", "no such operation");
        }
        if self.advance(&opid) {
            let reply = if location {
                Reply::empty(202).header(
                    "Location",
                    format!("{}{path}?api-version=2025-01-01", self.base_url),
                )
            } else {
                Reply::json(200, json!({"name": opid, "status": "InProgress"}))
            };
            return reply.header("Retry-After", self.settings.retry_after.to_string());
        }
        let Some(op) = self.ops.get(&opid).cloned() else {
            return Reply::error(404, "OperationNotFound", "no such operation");
        };
        let final_body = op
            .resource
            .as_ref()
            .and_then(|k| self.resources.get(k))
            .map(|stored| rules::read_view(&stored.ty, &stored.body, ""));
        match (&op.error, location) {
            (Some(error), false) => Reply::json(
                200,
                json!({"name": opid, "status": "Failed", "error": error}),
            ),
            (Some(error), true) => Reply::json(400, json!({"error": error})),
            (None, false) => Reply::json(200, json!({"name": opid, "status": "Succeeded"})),
            (None, true) => match final_body {
                Some(body) => Reply::json(200, body),
                None => Reply::empty(204),
            },
        }
    }
}
