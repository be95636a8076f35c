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

use crate::arm::{ArmClient, ArmError};
use crate::graph::{Graph, Kind, Resource};
use crate::plan::{Action, Change, LiveResource, LiveState, Plan, SoftDeleteAction, desired_body};
use crate::report::{Event, Reporter};
use futures::stream::{FuturesUnordered, StreamExt};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

mod adopt;
mod etags;
mod write;
mod written;

use etags::refresh_etags;
use write::{Run, write};
use written::Written;

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

impl Outcome {
    /// What happened to one resource; the optional parts (error, why skipped, a note, how
    /// long) are added by the caller where they apply.
    pub fn new(address: &str, id: &str, action: Action, status: Status) -> Self {
        Outcome {
            address: address.to_string(),
            id: id.to_string(),
            action,
            status,
            error: None,
            skipped_because: None,
            note: None,
            seconds: 0.0,
        }
    }
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

/// Whether writing `r` must carry its OpenAPI import: it is created, or some operation it
/// writes is created or changed. An import replaces every operation of the API with the
/// document's (and drops what the document does not carry, such as an adopted API's request
/// schemas), so an API whose operations are as the plan wants them is written without one.
fn reimports(
    graph: &Graph,
    changes: &BTreeMap<&str, &Change>,
    r: &crate::graph::Resource,
    live: &LiveState,
) -> bool {
    if r.kind != Kind::Api || live.get(&r.id).is_none() {
        return true;
    }
    graph
        .resources
        .iter()
        .filter(|w| w.written_by.as_deref() == Some(r.address.as_str()))
        .any(|w| {
            changes
                .get(w.address.as_str())
                .is_some_and(|c| c.action.writes())
        })
}

/// The API's body without its import: the API's own properties only.
fn without_import(body: &mut serde_json::Value) {
    if let Some(props) = body
        .get_mut("properties")
        .and_then(serde_json::Value::as_object_mut)
    {
        props.remove("format");
        props.remove("value");
    }
}

pub(crate) fn is_repair(c: &Change) -> bool {
    c.reason
        .as_deref()
        .is_some_and(|r| r.starts_with("repair:"))
}

/// APIM child entities take `If-Match` on writes and deletes (the REST specs make it required
/// on DELETE of backends, APIs and operations).
pub(crate) fn apim_child(k: Kind) -> bool {
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
                error: Some(Failure::from(&e)),
                ..Outcome::new(&address, &c.id, c.action, Status::Failed)
            });
        }
        if let Some(st) = state.get_mut(address.as_str()) {
            *st = State::Failed;
        }
    }
    let run = Run {
        client,
        reporter,
        opts,
    };
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
                        skipped_because: Some(because),
                        ..Outcome::new(&r.address, &r.id, c.action, Status::Skipped)
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
                    let status = if c.action == Action::Create {
                        Status::Created
                    } else {
                        Status::Updated
                    };
                    outcomes.push(Outcome {
                        note: Some(format!("written by {by}")),
                        ..Outcome::new(&r.address, &r.id, c.action, status)
                    });
                    state.insert(&r.address, State::Done);
                    changed = true;
                } else if r
                    .depends_on
                    .iter()
                    .all(|d| state.get(d.as_str()).is_none_or(|s| *s == State::Done))
                {
                    let mut body = desired_body(graph, &live, r);
                    if !reimports(graph, &changes, r, &live) {
                        without_import(&mut body);
                    }
                    let etag = live.get(&r.id).and_then(|l| l.etag.clone());
                    state.insert(&r.address, State::InFlight);
                    running.push(run_one(&run, r, c, body, etag));
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
            error,
            note,
            seconds: elapsed.as_secs_f64(),
            ..Outcome::new(&r.address, &r.id, c.action, status)
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
            error,
            seconds: elapsed.as_secs_f64(),
            ..Outcome::new(&c.address, &c.id, Action::Delete, status)
        });
    }
    Applied { outcomes, live }
}

type Done<'a> = (
    &'a Resource,
    &'a Change,
    Result<Written, ArmError>,
    Duration,
);

/// One resource's write, reporting "still waiting" while a long-running operation runs.
async fn run_one<'a>(
    run: &Run<'_>,
    r: &'a Resource,
    c: &'a Change,
    body: Value,
    etag: Option<String>,
) -> Done<'a> {
    let reporter = run.reporter;
    let start = Instant::now();
    reporter.event(Event::Started {
        address: r.address.clone(),
        verb: verb(c),
    });
    let work = write(run, r, c, body, etag);
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
