//! What happens to accounts, model deployments and APIM services around their long-running
//! operations (catalogue §3): operations that end `Failed` and leave the resource `Failed`,
//! a Failed deployment that must be deleted before it is re-created, an account that heals
//! itself, an account that bounces back to `Accepted` after `Succeeded`, and an APIM service
//! whose delete is still running after its GET answers 404.

use serde_json::{Value, json};

use super::ids;
use super::rules;
use super::store::{Reply, State};

/// The error an operation made to fail by `set_lro_failure_every` ends with.
pub fn lro_failure(ty: &str) -> Value {
    if ty == rules::ACCOUNTS {
        // microsoft-foundry-for-vscode #116, foundry-samples #255 ("transient (but highly common)").
        json!({"code": "BadRequest", "message": "Parent account does not provision correctly, please retry creating the account."})
    } else {
        json!({"code": "InternalServerError", "message": "The operation failed inside the resource provider (emulated failure); please retry."})
    }
}

/// Long-running PUTs `set_lro_failure_every` counts.
pub fn counts_for_failure(ty: &str) -> bool {
    matches!(ty, rules::ACCOUNTS | rules::DEPLOYMENTS | rules::APIM)
}

pub fn provisioning_state(body: &Value) -> Option<&str> {
    body.pointer("/properties/provisioningState")
        .and_then(Value::as_str)
}

pub fn set_provisioning_state(body: &mut Value, state: &str) {
    if let Some(props) = body.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("provisioningState".into(), json!(state));
        if state != "Failed" {
            props.remove("error");
        }
    }
}

impl State {
    /// A PUT refused because of the state of the resource or its account.
    pub(super) fn lifecycle_refusal(&self, ty: &str, path: &str) -> Option<Reply> {
        let key = path.to_ascii_lowercase();
        if ty == rules::DEPLOYMENTS
            && let Some(existing) = self.resources.get(&key)
            && provisioning_state(&existing.body) == Some("Failed")
        {
            // microsoft-foundry-for-vscode #554: only DELETE then PUT repairs it.
            return Some(Reply::error(
                400,
                "BadRequest",
                &format!(
                    "The deployment '{}' is in 'Failed' state, please delete it before creating a new one.",
                    ids::name(path)
                ),
            ));
        }
        // A re-PUT of a Failed account or APIM service runs a normal operation.
        // unconfirmed: no public report shows Azure's answer to it; we accept it.
        if ty == rules::DEPLOYMENTS || ty == rules::ROLE_ASSIGNMENTS {
            let parent = ids::parent(path)?.to_ascii_lowercase();
            if self.bouncing.get(&parent).is_some_and(|n| *n > 0) {
                let account = self.resources.get(&parent)?;
                return Some(Reply::json(
                    400,
                    json!({"error": {
                        "code": "AccountProvisioningStateInvalid",
                        "message": format!(
                            "Call to Microsoft.CognitiveServices/accounts failed. Error message: Account {} in state Accepted",
                            account.id
                        ),
                        "details": [],
                    }}),
                ));
            }
        }
        if ty == rules::APIM && self.service_delete_running(path) {
            return Some(delete_in_progress(path));
        }
        None
    }

    /// An APIM service of this name (in this subscription) is being deleted: its operation
    /// has not been polled to completion.
    pub(super) fn service_delete_running(&self, path: &str) -> bool {
        let name = ids::name(path);
        let sub = ids::subscription(path);
        self.ops.values().any(|op| {
            !op.done
                && op.delete
                && op.ty == rules::APIM
                && ids::name(&op.path).eq_ignore_ascii_case(name)
                && ids::subscription(&op.path).eq_ignore_ascii_case(sub)
        })
    }

    /// A long-running write to an account completed `Succeeded`: it may bounce to `Accepted`.
    pub(super) fn account_settled(&mut self, key: &str) {
        let n = self.settings.account_bounce;
        if n == 0 {
            return;
        }
        if let Some(stored) = self.resources.get_mut(key) {
            set_provisioning_state(&mut stored.body, "Accepted");
            self.bouncing.insert(key.to_string(), n);
        }
    }

    /// A GET of a resource: an account may be bouncing, or healing from `Failed`.
    pub(super) fn before_read(&mut self, ty: &str, key: &str) {
        if ty != rules::ACCOUNTS {
            return;
        }
        if let Some(n) = self.bouncing.get_mut(key) {
            // This read shows Accepted; after the last one the account is Succeeded again.
            *n = n.saturating_sub(1);
            return;
        }
        let failed = self
            .resources
            .get(key)
            .is_some_and(|s| provisioning_state(&s.body) == Some("Failed"));
        if !self.settings.account_self_heal || !failed {
            return;
        }
        // azure-rest-api-specs #20335: a Failed account may later become Succeeded. Here
        // the first read after the failure shows Failed, the second Succeeded.
        let reads = self.heal_reads.entry(key.to_string()).or_insert(0);
        *reads += 1;
        if *reads >= 2 {
            self.heal_reads.remove(key);
            if let Some(stored) = self.resources.get_mut(key) {
                set_provisioning_state(&mut stored.body, "Succeeded");
            }
        }
    }

    /// After a GET: a bounce that has shown all its reads ends.
    pub(super) fn after_read(&mut self, key: &str) {
        if self.bouncing.get(key) == Some(&0) {
            self.bouncing.remove(key);
            if let Some(stored) = self.resources.get_mut(key) {
                set_provisioning_state(&mut stored.body, "Succeeded");
            }
        }
    }
}

/// unconfirmed: what APIM answers a create (or a purge) while the delete of a service of
/// that name still runs; we answer 409 with an emulator code.
pub fn delete_in_progress(path: &str) -> Reply {
    Reply::error(
        409,
        "EmulatorServiceDeleteInProgress",
        &format!(
            "The API Management service '{}' is still being deleted; wait for its delete operation to complete.",
            ids::name(path)
        ),
    )
}

impl State {
    /// Deletes and purges every APIM service named `name` behind the client's back, with
    /// everything under it; the next service of that name is a new incarnation.
    pub fn purge_service(&mut self, name: &str) -> bool {
        let is_it =
            |ty: &str, id: &str| ty == rules::APIM && ids::name(id).eq_ignore_ascii_case(name);
        let roots: Vec<String> = self
            .resources
            .iter()
            .filter(|(_, s)| is_it(&s.ty, &s.id))
            .map(|(k, _)| k.clone())
            .chain(
                self.deleted
                    .values()
                    .filter(|d| is_it(&d.ty, &d.original_key))
                    .map(|d| d.original_key.clone()),
            )
            .collect();
        for root in &roots {
            let under = format!("{root}/");
            self.resources
                .retain(|k, _| k != root && !k.starts_with(&under));
            *self.incarnations.entry(root.clone()).or_insert(0) += 1;
        }
        self.deleted.retain(|_, d| !is_it(&d.ty, &d.original_key));
        for op in self.ops.values_mut() {
            if op.ty == rules::APIM && ids::name(&op.path).eq_ignore_ascii_case(name) {
                op.done = true;
            }
        }
        !roots.is_empty()
    }
}
