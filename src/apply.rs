//! Apply: make Azure match the plan. Walks the graph in dependency order, in parallel where
//! independent (the ARM client bounds requests in flight), one at a time where Azure demands
//! it (model deployments on one account are chained in the graph). When a resource fails,
//! what depends on it is skipped, everything else finishes, and the result says exactly
//! what happened to each resource.
//!
//! What real Azure does that apply is built around (`docs/azure-behaviours.md`):
//! - APIM locks an API while a write to it settles: an API and its operations are one write
//!   (an OpenAPI import), its policy waits for it, and 409 `PessimisticConcurrencyConflict`
//!   is retried by the client.
//! - A resource whose operation failed stays `Failed`: the plan says "repair"; accounts and the
//!   APIM service are written again in full, a model deployment is deleted and created again.
//! - A Foundry account can read `Succeeded`, then `Accepted` again: its children wait until it
//!   reads `Succeeded` (and `AccountProvisioningStateInvalid` is retried).
//! - A role assignment keeps its principal for life, and one (principal, role, scope) has one
//!   assignment: a changed principal is a replacement, an existing grant is adopted.
//! - APIM child entities are written and deleted with the ETag just read (`If-Match`).

use crate::arm::{ArmClient, ArmError, Live};
use crate::graph::refs::{self};
use crate::graph::{Graph, Kind, Resource};
use crate::plan::{Action, Change, LiveResource, LiveState, Plan, SoftDeleteAction, desired_body};
use crate::report::{Event, Reporter};
use futures::stream::{FuturesUnordered, StreamExt};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Options {
    /// How long to keep retrying a role assignment whose new principal has not replicated.
    pub principal_wait: Duration,
    /// Cap on any single wait (the same setting as the ARM client's).
    pub max_retry_wait: Duration,
    /// How long a Foundry account may take to read `Succeeded` after its write completed.
    pub settle_wait: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Created,
    Updated,
    Deleted,
    Restored,
    Purged,
    /// Deleted and created again (a Failed deployment, a role assignment's new principal).
    Replaced,
    /// A Failed or Canceled resource written again.
    Repaired,
    /// Marked Failed by the plan, read `Succeeded` on a second look: nothing written.
    Healed,
    /// The grant existed under another name; gw took it as its own.
    Adopted,
    Failed,
    Skipped,
}

#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    pub code: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl Failure {
    pub fn from(e: &ArmError) -> Self {
        Failure {
            code: e.code().map(str::to_string),
            message: e.to_string(),
            hint: e.hint(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub address: String,
    pub id: String,
    pub action: Action,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
    /// Why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped_because: Option<String>,
    /// What a user should know about how it was done (the id of an adopted assignment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub seconds: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Applied {
    pub outcomes: Vec<Outcome>,
    /// The live state after apply (what was read, plus what was written).
    #[serde(skip)]
    pub live: LiveState,
}

impl Applied {
    pub fn ok(&self) -> bool {
        self.outcomes
            .iter()
            .all(|o| !matches!(o.status, Status::Failed | Status::Skipped))
    }
    pub fn count(&self, s: Status) -> usize {
        self.outcomes.iter().filter(|o| o.status == s).count()
    }
}

fn verb(c: &Change) -> &'static str {
    match (c.action, c.soft_deleted.as_ref().map(|s| s.action)) {
        (Action::Create, Some(SoftDeleteAction::Restore)) => "restoring",
        (Action::Create, Some(SoftDeleteAction::Purge)) => "purging and creating",
        (Action::Create, None) => "creating",
        (Action::Update, _) if is_repair(c) => "repairing",
        (Action::Update, _) => "updating",
        (Action::Replace, _) => "replacing",
        (Action::Delete, _) => "deleting",
        (Action::NoOp, _) => "checking",
    }
}

fn is_repair(c: &Change) -> bool {
    c.reason
        .as_deref()
        .is_some_and(|r| r.starts_with("repair:"))
}

/// APIM child entities take `If-Match` on writes and deletes (the REST specs make it required
/// on DELETE of backends, APIs and operations).
fn apim_child(k: Kind) -> bool {
    matches!(
        k,
        Kind::Backend
            | Kind::Pool
            | Kind::Api
            | Kind::Operation
            | Kind::Policy
            | Kind::Subscription
            | Kind::Logger
            | Kind::Diagnostic
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Pending,
    InFlight,
    Done,
    Failed,
    Skipped,
}

/// Runs the plan's writes and deletes.
pub async fn apply(
    client: &ArmClient,
    graph: &Graph,
    plan: &Plan,
    mut live: LiveState,
    reporter: &dyn Reporter,
    opts: &Options,
) -> Applied {
    let changes: BTreeMap<&str, &Change> = plan
        .changes
        .iter()
        .map(|c| (c.address.as_str(), c))
        .collect();
    let mut state: BTreeMap<&str, State> = BTreeMap::new();
    for r in &graph.resources {
        let write = changes
            .get(r.address.as_str())
            .is_some_and(|c| c.action.writes());
        state.insert(&r.address, if write { State::Pending } else { State::Done });
    }
    let mut outcomes = Vec::new();
    // Conditional writes need the ETag of what the plan read; APIM's lists carry none.
    for (address, e) in refresh_etags(client, plan, &mut live).await {
        if let Some(c) = changes.get(address.as_str()) {
            reporter.event(Event::Finished {
                address: address.clone(),
                verb: verb(c),
                elapsed: Duration::ZERO,
                ok: false,
            });
            outcomes.push(Outcome {
                address: address.clone(),
                id: c.id.clone(),
                action: c.action,
                status: Status::Failed,
                error: Some(Failure::from(&e)),
                skipped_because: None,
                note: None,
                seconds: 0.0,
            });
        }
        if let Some(st) = state.get_mut(address.as_str()) {
            *st = State::Failed;
        }
    }
    let mut running = FuturesUnordered::new();
    loop {
        // Skip what depends on a failure (cascading), start what has all it needs.
        let mut changed = true;
        while changed {
            changed = false;
            for r in &graph.resources {
                if state[r.address.as_str()] != State::Pending {
                    continue;
                }
                let c = changes[r.address.as_str()];
                if let Some(b) = r
                    .depends_on
                    .iter()
                    .find(|d| matches!(state.get(d.as_str()), Some(State::Failed | State::Skipped)))
                {
                    let because = format!("{b} did not succeed");
                    reporter.event(Event::Skipped {
                        address: r.address.clone(),
                        because: because.clone(),
                    });
                    outcomes.push(Outcome {
                        address: r.address.clone(),
                        id: r.id.clone(),
                        action: c.action,
                        status: Status::Skipped,
                        error: None,
                        skipped_because: Some(because),
                        note: None,
                        seconds: 0.0,
                    });
                    state.insert(&r.address, State::Skipped);
                    changed = true;
                } else if r
                    .depends_on
                    .iter()
                    .all(|d| state.get(d.as_str()).is_none_or(|s| *s == State::Done))
                    && let Some(by) = &r.written_by
                {
                    // Written by its parent's write, which has just succeeded.
                    outcomes.push(Outcome {
                        address: r.address.clone(),
                        id: r.id.clone(),
                        action: c.action,
                        status: if c.action == Action::Create {
                            Status::Created
                        } else {
                            Status::Updated
                        },
                        error: None,
                        skipped_because: None,
                        note: Some(format!("written by {by}")),
                        seconds: 0.0,
                    });
                    state.insert(&r.address, State::Done);
                    changed = true;
                } else if r
                    .depends_on
                    .iter()
                    .all(|d| state.get(d.as_str()).is_none_or(|s| *s == State::Done))
                {
                    let body = desired_body(graph, &live, r);
                    let etag = live.get(&r.id).and_then(|l| l.etag.clone());
                    state.insert(&r.address, State::InFlight);
                    running.push(run_one(client, r, c, body, etag, reporter, opts));
                }
            }
        }
        let Some((r, c, result, elapsed)) = running.next().await else {
            break;
        };
        let (status, error, note) = match result {
            Ok(w) => {
                if let Some(id) = &w.adopted {
                    live.adopted.insert(r.id.to_lowercase(), id.clone());
                }
                live.insert(LiveResource {
                    id: r.id.clone(),
                    body: w.live.body,
                    etag: w.live.etag,
                });
                state.insert(&r.address, State::Done);
                let status = match (c.action, c.soft_deleted.as_ref().map(|s| s.action)) {
                    _ if w.adopted.is_some() => Status::Adopted,
                    _ if w.healed => Status::Healed,
                    (Action::Create, Some(SoftDeleteAction::Restore)) => Status::Restored,
                    (Action::Create, _) => Status::Created,
                    (Action::Replace, _) => Status::Replaced,
                    _ if is_repair(c) => Status::Repaired,
                    _ => Status::Updated,
                };
                let note = w
                    .adopted
                    .map(|id| format!("this grant already existed as {id}; gw adopted it"));
                (status, None, note)
            }
            Err(e) => {
                state.insert(&r.address, State::Failed);
                (Status::Failed, Some(Failure::from(&e)), None)
            }
        };
        reporter.event(Event::Finished {
            address: r.address.clone(),
            verb: verb(c),
            elapsed,
            ok: error.is_none(),
        });
        outcomes.push(Outcome {
            address: r.address.clone(),
            id: r.id.clone(),
            action: c.action,
            status,
            error,
            skipped_because: None,
            note,
            seconds: elapsed.as_secs_f64(),
        });
    }
    // Deletes last, in the plan's order (children first), after the updates that stop
    // referring to them (a pool drops a member before the member's backend goes).
    for c in plan.changes.iter().filter(|c| c.action == Action::Delete) {
        let start = Instant::now();
        reporter.event(Event::Started {
            address: c.address.clone(),
            verb: "deleting",
        });
        let api = c.kind.map(Kind::api_version).unwrap_or("2024-05-01");
        let etag = live.get(&c.id).and_then(|l| l.etag.clone());
        let if_match = etag.as_deref().filter(|_| c.kind.is_some_and(apim_child));
        let result = client.delete(&c.id, api, if_match).await;
        let elapsed = start.elapsed();
        reporter.event(Event::Finished {
            address: c.address.clone(),
            verb: "deleting",
            elapsed,
            ok: result.is_ok(),
        });
        let (status, error) = match &result {
            Ok(()) => (Status::Deleted, None),
            Err(e) => (Status::Failed, Some(Failure::from(e))),
        };
        outcomes.push(Outcome {
            address: c.address.clone(),
            id: c.id.clone(),
            action: Action::Delete,
            status,
            error,
            skipped_because: None,
            note: None,
            seconds: elapsed.as_secs_f64(),
        });
    }
    Applied { outcomes, live }
}

/// What one write did.
struct Written {
    live: Live,
    /// The existing assignment adopted instead of creating a second one.
    adopted: Option<String>,
    /// A Failed resource that read Succeeded on a second look.
    healed: bool,
}

impl From<Live> for Written {
    fn from(live: Live) -> Self {
        Written {
            live,
            adopted: None,
            healed: false,
        }
    }
}

type Done<'a> = (
    &'a Resource,
    &'a Change,
    Result<Written, ArmError>,
    Duration,
);

/// Reads, in parallel, the ETag of every APIM child entity apply will update or delete whose
/// ETag the plan's list reads did not give. An entity whose body changed since the plan read
/// it is refused here (as a 412 would be), before anything is written.
async fn refresh_etags(
    client: &ArmClient,
    plan: &Plan,
    live: &mut LiveState,
) -> Vec<(String, ArmError)> {
    let wanted: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Update | Action::Delete | Action::Replace))
        .filter(|c| c.kind.is_some_and(apim_child))
        .filter(|c| live.get(&c.id).is_none_or(|l| l.etag.is_none()))
        .collect();
    let reads = wanted.iter().map(|c| {
        let api = c.kind.map(Kind::api_version).unwrap_or("2024-05-01");
        let query: &[(&str, &str)] = if c.kind == Some(Kind::Policy) {
            &[("format", "rawxml")]
        } else {
            &[]
        };
        client.get_with_query(&c.id, api, query)
    });
    let answers = futures::future::join_all(reads).await;
    let mut refused = Vec::new();
    for (c, answer) in wanted.into_iter().zip(answers) {
        match answer {
            Ok(Some(now)) => {
                let before = live.get(&c.id).map(|l| &l.body);
                if c.action != Action::Delete
                    && before.is_some_and(|b| {
                        crate::plan::body_digest(b) != crate::plan::body_digest(&now.body)
                    })
                {
                    refused.push((
                        c.address.clone(),
                        ArmError::InvalidResponse {
                            method: "GET".into(),
                            url: c.id.clone(),
                            message: "it changed since the plan read it; run `gw plan` again"
                                .into(),
                        },
                    ));
                    continue;
                }
                live.insert(LiveResource {
                    id: c.id.clone(),
                    body: now.body,
                    etag: now.etag,
                });
            }
            // Gone already: a delete has nothing to do, a write creates it.
            Ok(None) => {}
            Err(e) => refused.push((c.address.clone(), e)),
        }
    }
    refused
}

/// One resource's write, reporting "still waiting" while a long-running operation runs.
async fn run_one<'a>(
    client: &ArmClient,
    r: &'a Resource,
    c: &'a Change,
    body: Value,
    etag: Option<String>,
    reporter: &dyn Reporter,
    opts: &Options,
) -> Done<'a> {
    let start = Instant::now();
    reporter.event(Event::Started {
        address: r.address.clone(),
        verb: verb(c),
    });
    let work = write(client, r, c, body, etag, reporter, opts);
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    let result = loop {
        tokio::select! {
            res = &mut work => break res,
            _ = tick.tick() => reporter.event(Event::Waiting { address: r.address.clone(), verb: verb(c), elapsed: start.elapsed() }),
        }
    };
    (r, c, result, start.elapsed())
}

fn unknown_value(r: &Resource, body: &Value) -> Option<ArmError> {
    let mut left = Vec::new();
    refs::collect(body, &mut left);
    left.first().map(|x| {
        let of = match x {
            refs::Ref::Id { of } | refs::Ref::Output { of, .. } => of.clone(),
        };
        ArmError::InvalidResponse {
            method: "PUT".into(),
            url: r.id.clone(),
            message: format!("a value it needs from {of} is not known (was {of} created?)"),
        }
    })
}

async fn write(
    client: &ArmClient,
    r: &Resource,
    c: &Change,
    body: Value,
    etag: Option<String>,
    reporter: &dyn Reporter,
    opts: &Options,
) -> Result<Written, ArmError> {
    if let Some(e) = unknown_value(r, &body) {
        return Err(e);
    }
    let api = r.api_version();
    if is_repair(c) && r.kind == Kind::Account {
        // An account reported Failed may turn Succeeded on its own (azure-behaviours §3):
        // look once more before writing it again.
        if let Some(now) = client.get(&r.id, api).await?
            && crate::plan::compute::failed_state(&now.body).is_none()
        {
            let now = wait_succeeded(client, r, now, reporter, opts).await?;
            return Ok(Written {
                live: now,
                adopted: None,
                healed: true,
            });
        }
    }
    if c.action == Action::Replace {
        let if_match = etag.as_deref().filter(|_| apim_child(r.kind));
        client.delete(&r.id, api, if_match).await?;
    }
    let written = put_or_patch(client, r, c, body, etag, reporter, opts).await?;
    if r.kind == Kind::Account {
        let live = wait_succeeded(client, r, written.live, reporter, opts).await?;
        return Ok(Written { live, ..written });
    }
    Ok(written)
}

/// Waits until an account reads `Succeeded`: ARM can report its operation done while the
/// account is still `Accepted`, and its children are refused until it settles (400
/// AccountProvisioningStateInvalid). A Failed account is an error.
async fn wait_succeeded(
    client: &ArmClient,
    r: &Resource,
    mut now: Live,
    reporter: &dyn Reporter,
    opts: &Options,
) -> Result<Live, ArmError> {
    let start = Instant::now();
    loop {
        let state = now
            .body
            .pointer("/properties/provisioningState")
            .and_then(Value::as_str)
            .unwrap_or("Succeeded")
            .to_string();
        if state.eq_ignore_ascii_case("Succeeded") {
            return Ok(now);
        }
        if crate::plan::compute::failed_state(&now.body).is_some()
            || start.elapsed() > opts.settle_wait
        {
            return Err(ArmError::InvalidResponse {
                method: "GET".into(),
                url: r.id.clone(),
                message: format!(
                    "the account reads provisioningState {state} after its write completed"
                ),
            });
        }
        reporter.event(Event::Retrying {
            address: r.address.clone(),
            why: format!("the account reads {state}; waiting for Succeeded"),
        });
        tokio::time::sleep(Duration::from_secs(5).min(opts.max_retry_wait)).await;
        now =
            client
                .get(&r.id, r.api_version())
                .await?
                .ok_or_else(|| ArmError::InvalidResponse {
                    method: "GET".into(),
                    url: r.id.clone(),
                    message: "the account disappeared while gw waited for it".into(),
                })?;
    }
}

async fn put_or_patch(
    client: &ArmClient,
    r: &Resource,
    c: &Change,
    body: Value,
    etag: Option<String>,
    reporter: &dyn Reporter,
    opts: &Options,
) -> Result<Written, ArmError> {
    let api = r.api_version();
    if let Some(sd) = &c.soft_deleted {
        match sd.action {
            // Frees the name now rather than in 48 hours.
            SoftDeleteAction::Purge => client.delete(&sd.deleted_id, api, None).await?,
            SoftDeleteAction::Restore => {
                let mut restore = body.clone();
                restore["properties"]["restore"] = json!(true);
                client.put(&r.id, api, &restore, None).await?;
            }
        }
    }
    // APIM child entities take If-Match: an update then fails with 412 rather than
    // overwrite a change made since the plan read it.
    let if_match = if c.action == Action::Update && apim_child(r.kind) {
        etag.as_deref()
    } else {
        None
    };
    // Top-level resources may carry settings made elsewhere (a VNet, custom domains, network
    // rules) that a PUT of gw's fields alone would reset: an update changes only what gw
    // declares. Location and kind cannot change in place, so they are not sent. A repair is
    // a full PUT: the operation that failed must run again.
    if c.action == Action::Update
        && !is_repair(c)
        && matches!(r.kind, Kind::ResourceGroup | Kind::Account | Kind::Apim)
    {
        let mut patch = body;
        if let Some(o) = patch.as_object_mut() {
            o.remove("location");
            o.remove("kind");
        }
        return Ok(client.patch(&r.id, api, &patch, None).await?.into());
    }
    match r.kind {
        Kind::Policy => Ok(client
            .put_with_read_query(&r.id, api, &body, if_match, &[("format", "rawxml")])
            .await?
            .into()),
        Kind::RoleAssignment => {
            // A new identity takes a while to reach Entra ID's replicas.
            let start = Instant::now();
            let mut wait = Duration::from_secs(5);
            let result = loop {
                match client.put(&r.id, api, &body, None).await {
                    Err(e)
                        if e.code() == Some("PrincipalNotFound")
                            && start.elapsed() < opts.principal_wait =>
                    {
                        reporter.event(Event::Retrying {
                            address: r.address.clone(),
                            why: "the APIM identity has not replicated yet".into(),
                        });
                        tokio::time::sleep(wait.min(opts.max_retry_wait)).await;
                        wait = (wait * 2).min(Duration::from_secs(30));
                    }
                    other => break other,
                }
            };
            match result {
                Ok(l) => Ok(l.into()),
                Err(e) if e.code() == Some("RoleAssignmentExists") => {
                    adopt(client, r, &body, &e).await
                }
                Err(e) => Err(e),
            }
        }
        _ => Ok(client.put(&r.id, api, &body, if_match).await?.into()),
    }
}

/// The same principal already holds the role on this scope under another name (409
/// RoleAssignmentExists): that assignment is the grant gw wants, so gw takes it. Its id comes
/// from the message when Azure names it, else from a list at the scope.
async fn adopt(
    client: &ArmClient,
    r: &Resource,
    body: &Value,
    e: &ArmError,
) -> Result<Written, ArmError> {
    let scope =
        r.id.split("/providers/Microsoft.Authorization/")
            .next()
            .unwrap_or_default();
    let api = r.api_version();
    let named = match e {
        ArmError::Api(a) => existing_assignment_guid(&a.message),
        _ => None,
    };
    let found = match named {
        Some(guid) => {
            let id = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}");
            client.get(&id, api).await?.map(|l| (id, l))
        }
        None => None,
    };
    let found = match found {
        Some(f) => Some(f),
        None => client
            .list(
                &format!("{scope}/providers/Microsoft.Authorization/roleAssignments"),
                api,
            )
            .await?
            .into_iter()
            .find(|a| crate::plan::compute::same_grant(a, body))
            .and_then(|a| {
                let id = a.get("id")?.as_str()?.to_string();
                Some((
                    id,
                    Live {
                        body: a,
                        etag: None,
                    },
                ))
            }),
    };
    match found {
        Some((id, live)) => Ok(Written {
            live,
            adopted: Some(id),
            healed: false,
        }),
        None => Err(ArmError::InvalidResponse {
            method: "PUT".into(),
            url: r.id.clone(),
            message: format!(
                "{e}, but no assignment of that role to that principal was found at the scope"
            ),
        }),
    }
}

/// The GUID in "The ID of the existing role assignment is <32 hex>." (dashes restored).
fn existing_assignment_guid(message: &str) -> Option<String> {
    let tail = message.split("existing role assignment is").nth(1)?;
    let hex: String = tail
        .trim_start()
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    if hex.len() != 32 {
        return None;
    }
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_existing_assignment_id_from_azures_message() {
        let m = "The role assignment already exists. The ID of the existing role assignment is 0123456789abcdef0123456789abcdef.";
        assert_eq!(
            existing_assignment_guid(m).as_deref(),
            Some("01234567-89ab-cdef-0123-456789abcdef")
        );
        assert_eq!(
            existing_assignment_guid("The role assignment already exists."),
            None
        );
    }
}
