//! Apply: make Azure match the plan. Walks the graph in dependency order, in parallel where
//! independent (the ARM client bounds requests in flight), one at a time where Azure demands
//! it (model deployments on one account are chained in the graph). When a resource fails,
//! what depends on it is skipped, everything else finishes, and the result says exactly
//! what happened to each resource.

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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Created,
    Updated,
    Deleted,
    Restored,
    Purged,
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
        (Action::Update, _) => "updating",
        (Action::Delete, _) => "deleting",
        (Action::NoOp, _) => "checking",
    }
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
            .is_some_and(|c| matches!(c.action, Action::Create | Action::Update));
        state.insert(&r.address, if write { State::Pending } else { State::Done });
    }
    let mut outcomes = Vec::new();
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
                        seconds: 0.0,
                    });
                    state.insert(&r.address, State::Skipped);
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
        let (status, error) = match result {
            Ok(l) => {
                live.insert(LiveResource {
                    id: r.id.clone(),
                    body: l.body,
                    etag: l.etag,
                });
                state.insert(&r.address, State::Done);
                let status = match (c.action, c.soft_deleted.as_ref().map(|s| s.action)) {
                    (Action::Create, Some(SoftDeleteAction::Restore)) => Status::Restored,
                    (Action::Create, _) => Status::Created,
                    _ => Status::Updated,
                };
                (status, None)
            }
            Err(e) => {
                state.insert(&r.address, State::Failed);
                (Status::Failed, Some(Failure::from(&e)))
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
        let result = client.delete(&c.id, api, None).await;
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
            seconds: elapsed.as_secs_f64(),
        });
    }
    Applied { outcomes, live }
}

type Done<'a> = (&'a Resource, &'a Change, Result<Live, ArmError>, Duration);

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
) -> Result<Live, ArmError> {
    if let Some(e) = unknown_value(r, &body) {
        return Err(e);
    }
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
    let apim_child = matches!(
        r.kind,
        Kind::Backend
            | Kind::Pool
            | Kind::Api
            | Kind::Operation
            | Kind::Policy
            | Kind::Subscription
    );
    let if_match = if c.action == Action::Update && apim_child {
        etag.as_deref()
    } else {
        None
    };
    // Top-level resources may carry settings made elsewhere (a VNet, custom domains, network
    // rules) that a PUT of gw's fields alone would reset: an update changes only what gw
    // declares. Location and kind cannot change in place, so they are not sent.
    if c.action == Action::Update
        && matches!(r.kind, Kind::ResourceGroup | Kind::Account | Kind::Apim)
    {
        let mut patch = body;
        if let Some(o) = patch.as_object_mut() {
            o.remove("location");
            o.remove("kind");
        }
        return client.patch(&r.id, api, &patch, None).await;
    }
    match r.kind {
        Kind::Policy => {
            client
                .put_with_read_query(&r.id, api, &body, if_match, &[("format", "rawxml")])
                .await
        }
        Kind::RoleAssignment => {
            // A new identity takes a while to reach Entra ID's replicas.
            let start = Instant::now();
            let mut wait = Duration::from_secs(5);
            loop {
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
            }
        }
        _ => client.put(&r.id, api, &body, if_match).await,
    }
}
