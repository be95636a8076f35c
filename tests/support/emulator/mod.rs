//! An in-process ARM emulator for tests: stateful, long-running operations, ETags, soft
//! delete, paging, throttling, scripted faults and a request journal.
//!
//! ```ignore
//! let emu = Emulator::start();
//! // the product: GW_ARM_ENDPOINT = emu.url(), with the fake `az` first on PATH
//! emu.add_fault(Fault::new("PUT", "/backends/").error(500, "InternalServerError", "boom"));
//! assert_eq!(emu.count("PUT", "/backends/"), 2);
//! ```
//!
//! It runs on its own thread and tokio runtime, so tests can use it from sync code, from
//! their own runtime, or from a spawned `gw` process alike.

#![allow(dead_code)] // Each test uses a different part of it.

mod apim_lock;
mod catalog;
mod faults;
mod ids;
mod import;
mod insights;
mod journal;
mod lifecycle;
mod monitor;
mod ops;
mod rbac;
mod refusals;
mod rules;
mod server;
mod store;
mod throttle;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

pub use apim_lock::LOCKED_MESSAGE;
pub use catalog::model as offered_model;
pub use faults::Fault;
pub use insights::LogAnswer;
pub use journal::Entry;
pub use rbac::CALLER_OID;
pub use rules::ApimLroHeader;
use server::{Shared, lock};
use store::{Settings, State};
pub use throttle::RateLimits;

use super::fake_az::FAKE_TOKEN;

/// A running emulator; stops when dropped.
pub struct Emulator {
    url: String,
    shared: Arc<Mutex<Shared>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Emulator {
    /// Starts on 127.0.0.1 on a free port, with pages of 2 items, one in-progress poll per
    /// operation and `Retry-After: 0`.
    pub fn start() -> Self {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind the emulator to 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let settings = Settings {
            page_size: 2,
            lro_polls: 1,
            retry_after: 0,
            apim_lro: ApimLroHeader::Location,
            token: FAKE_TOKEN.to_string(),
            throttle_every: None,
            principal_not_found: 0,
            latency: Duration::ZERO,
            lro_failure_every: None,
            account_self_heal: false,
            account_bounce: 0,
            deny_role_writes: false,
        };
        let shared = Arc::new(Mutex::new(Shared::new(State::new(url.clone(), settings))));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name("arm-emulator".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("emulator runtime");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    server::serve(listener, serving, rx).await;
                });
            })
            .expect("spawn the emulator thread");
        Emulator {
            url,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, for `GW_ARM_ENDPOINT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn settings(&self, change: impl FnOnce(&mut Settings)) {
        change(&mut lock(&self.shared).state.settings);
    }

    pub fn set_page_size(&self, n: usize) {
        self.settings(|s| s.page_size = n);
    }

    /// Polls answered "in progress" before each operation completes.
    pub fn set_lro_polls(&self, n: u32) {
        self.settings(|s| s.lro_polls = n);
    }

    pub fn set_retry_after(&self, secs: u64) {
        self.settings(|s| s.retry_after = secs);
    }

    pub fn set_apim_lro_header(&self, header: ApimLroHeader) {
        self.settings(|s| s.apim_lro = header);
    }

    /// APIM's API lock: a write to an API (or under it, or a product/tag link to it) is
    /// refused with 409 `PessimisticConcurrencyConflict` (every third refusal: `Conflict`)
    /// while another write to that API is in flight or completed less than `settle` ago.
    /// `None` (the default) turns it off.
    pub fn set_api_lock(&self, settle: Option<Duration>) {
        lock(&self.shared).state.api_locks.settle = settle;
    }

    /// Writes the API lock has refused so far.
    pub fn api_lock_refusals(&self) -> usize {
        lock(&self.shared).state.api_locks.refusals
    }

    /// Every `n`th long-running PUT of an account, model deployment or APIM service (counted
    /// together) ends `Failed`, and the resource stays `provisioningState: Failed`.
    pub fn set_lro_failure_every(&self, n: Option<u32>) {
        self.settings(|s| s.lro_failure_every = n);
    }

    /// A Failed account reads `Succeeded` from the second GET after the failure on.
    pub fn set_account_self_heal(&self, on: bool) {
        self.settings(|s| s.account_self_heal = on);
    }

    /// After an account's write completes `Succeeded`, its next `n` GETs read `Accepted`;
    /// meanwhile PUTs of its deployments and role assignments get 400
    /// `AccountProvisioningStateInvalid`.
    pub fn set_account_bounce(&self, n: u32) {
        self.settings(|s| s.account_bounce = n);
    }

    /// Role-assignment PUTs and DELETEs answer 403 `AuthorizationFailed` (a caller that is
    /// only Contributor).
    pub fn set_deny_role_writes(&self, on: bool) {
        self.settings(|s| s.deny_role_writes = on);
    }

    /// Marks a custom subdomain as held by someone else in Azure: account PUTs asking for it
    /// get 409 `CustomDomainInUse`.
    pub fn take_subdomain(&self, name: &str) {
        lock(&self.shared)
            .state
            .taken_subdomains
            .push(name.to_ascii_lowercase());
    }

    /// Replaces the models `region` offers (`Models_List`); build entries with
    /// [`offered_model`] and edit them (deprecation, lifecycle) as JSON.
    pub fn set_region_models(&self, region: &str, models: Vec<Value>) {
        lock(&self.shared).catalog.set_models(region, models);
    }

    /// A quota in `region`: its limit, and what others (not the emulator's deployments)
    /// already use of it. `usage` is the usage name, e.g. `OpenAI.GlobalStandard.gpt-4o`.
    pub fn set_quota(&self, region: &str, usage: &str, limit: f64, used_by_others: f64) {
        lock(&self.shared)
            .catalog
            .set_quota(region, usage, limit, used_by_others);
    }

    /// Marks an APIM service name as held elsewhere in Azure: `checkNameAvailability` answers
    /// `AlreadyExists`.
    pub fn take_apim_name(&self, name: &str) {
        lock(&self.shared).catalog.take_apim_name(name);
    }

    /// The caller's permissions (`PermissionGetResult.value`); `None` for the default
    /// (Owner, or Contributor with `set_deny_role_writes`).
    pub fn set_permissions(&self, permissions: Option<Vec<Value>>) {
        lock(&self.shared).catalog.set_permissions(permissions);
    }

    /// ARM's token buckets: every answer carries `x-ms-ratelimit-remaining-subscription-*`
    /// and an empty bucket answers 429 `SubscriptionRequestsThrottled` with `Retry-After`.
    /// `None` (the default) goes back to the old model's counters, which never run out.
    pub fn set_rate_limits(&self, limits: Option<RateLimits>) {
        lock(&self.shared).rate = limits.map(throttle::Buckets::new);
    }

    /// Deletes and purges the APIM service(s) named `name` behind the client's back (someone
    /// deleted the gateway); a service created under that name afterwards has a new
    /// managed identity. `false` when there was none.
    pub fn purge_apim(&self, name: &str) -> bool {
        lock(&self.shared).state.purge_service(name)
    }

    /// Every `n`th request is answered 429 with `Retry-After: 0`.
    pub fn set_throttle_every(&self, n: Option<u64>) {
        self.settings(|s| s.throttle_every = n);
    }

    /// The next `n` role-assignment PUTs answer 400 PrincipalNotFound.
    pub fn set_principal_not_found(&self, n: u32) {
        self.settings(|s| s.principal_not_found = n);
    }

    /// Delay added to every answer (benchmarks).
    pub fn set_latency(&self, latency: Duration) {
        self.settings(|s| s.latency = latency);
    }

    pub fn set_token(&self, token: &str) {
        self.settings(|s| s.token = token.to_string());
    }

    pub fn add_fault(&self, fault: Fault) {
        lock(&self.shared).faults.push(fault);
    }

    /// The next operation started on a path containing `path_contains` ends Failed.
    pub fn fail_next_lro(&self, path_contains: &str, code: &str, message: &str) {
        lock(&self.shared)
            .state
            .fail_next_lro(path_contains, code, message);
    }

    pub fn journal(&self) -> Vec<Entry> {
        lock(&self.shared).journal.clone()
    }

    /// PUT, PATCH, DELETE and POST requests, in order.
    pub fn writes(&self) -> Vec<Entry> {
        self.journal().into_iter().filter(Entry::is_write).collect()
    }

    /// Requests with this method (`"*"` for any) whose path contains `path_contains`
    /// (case-insensitive).
    pub fn count(&self, method: &str, path_contains: &str) -> usize {
        let needle = path_contains.to_ascii_lowercase();
        self.journal()
            .iter()
            .filter(|e| method == "*" || e.method == method)
            .filter(|e| e.path().to_ascii_lowercase().contains(&needle))
            .count()
    }

    pub fn clear_journal(&self) {
        lock(&self.shared).journal.clear();
    }

    /// The journal as JSON lines `{"method","url","request_body","status","response_body"}`.
    pub fn jsonl(&self) -> String {
        self.journal()
            .iter()
            .map(|e| format!("{}\n", e.to_json()))
            .collect()
    }

    /// A stored resource (or soft-deleted one) as the server holds it.
    pub fn get_resource(&self, id: &str) -> Option<Value> {
        lock(&self.shared).state.get(id)
    }

    /// Replaces a resource behind the client's back (drift); gets a new ETag.
    pub fn set_resource(&self, id: &str, body: Value) {
        lock(&self.shared).state.set(id, body);
    }

    pub fn remove_resource(&self, id: &str) -> Option<Value> {
        lock(&self.shared).state.remove(id)
    }

    /// Ids of the stored (not soft-deleted) resources under `prefix`.
    pub fn list_ids(&self, prefix: &str) -> Vec<String> {
        lock(&self.shared).state.ids_under(prefix)
    }

    /// The keys `listSecrets` hands out for an APIM subscription.
    pub fn secrets_of(&self, subscription_id: &str) -> Option<Vec<String>> {
        let v = rules::action(
            "microsoft.apimanagement/service/subscriptions",
            subscription_id,
            "listSecrets",
        )?;
        Some(
            ["primaryKey", "secondaryKey"]
                .iter()
                .filter_map(|k| v.get(*k)?.as_str().map(str::to_string))
                .collect(),
        )
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
