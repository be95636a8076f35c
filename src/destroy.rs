//! Destroy: delete what the spec manages. A resource group gw created goes whole (one
//! DELETE); in a group gw did not create, only gw's resources go: role assignments first
//! (they would outlive their scope), then the accounts and the APIM service, which take their
//! children with them. `purge` then frees the names held by soft-deleted records.

use crate::apply::{Failure, Outcome, Status};
use crate::arm::ArmClient;
use crate::graph::{Graph, Kind, OWNER_TAG, OWNER_VALUE};
use crate::plan::{Action, LiveState};
use crate::report::{Event, Reporter};
use futures::future::join_all;
use serde::Serialize;
use serde_json::Value;
use std::time::Instant;

#[derive(Clone, Debug, Serialize)]
pub struct Target {
    pub address: String,
    pub id: String,
    pub kind: Kind,
}

/// Deletes in rounds: every target of one round may go in parallel.
#[derive(Clone, Debug, Serialize)]
pub struct DestroyPlan {
    pub whole_group: bool,
    pub rounds: Vec<Vec<Target>>,
}

impl DestroyPlan {
    pub fn is_empty(&self) -> bool {
        self.rounds.iter().all(Vec::is_empty)
    }
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.rounds.iter().flatten()
    }
}

pub fn plan(graph: &Graph, live: &LiveState) -> DestroyPlan {
    let target = |r: &crate::graph::Resource| Target {
        address: r.address.clone(),
        id: r.id.clone(),
        kind: r.kind,
    };
    let rg = graph.get("resource_group");
    let rg_live = rg.and_then(|r| live.get(&r.id));
    if let (Some(rg), Some(l)) = (rg, rg_live)
        && l.body
            .pointer(&format!("/tags/{OWNER_TAG}"))
            .and_then(Value::as_str)
            == Some(OWNER_VALUE)
    {
        return DestroyPlan {
            whole_group: true,
            rounds: vec![vec![target(rg)]],
        };
    }
    let exists = |k: Kind| {
        graph
            .resources
            .iter()
            .filter(move |r| r.kind == k)
            .filter(|r| live.get(&r.id).is_some())
            .map(target)
            .collect::<Vec<_>>()
    };
    let mut tops = exists(Kind::Account);
    tops.extend(exists(Kind::Apim));
    tops.extend(
        live.orphans
            .iter()
            .filter(|o| o.kind == Kind::Account)
            .map(|o| Target {
                address: o.address.clone(),
                id: o.id.clone(),
                kind: o.kind,
            }),
    );
    DestroyPlan {
        whole_group: false,
        rounds: vec![exists(Kind::RoleAssignment), tops],
    }
}

fn outcome(t: &Target, result: Result<(), crate::arm::ArmError>, start: Instant) -> Outcome {
    Outcome {
        address: t.address.clone(),
        id: t.id.clone(),
        action: Action::Delete,
        status: if result.is_ok() {
            Status::Deleted
        } else {
            Status::Failed
        },
        error: result.as_ref().err().map(Failure::from),
        skipped_because: None,
        note: None,
        seconds: start.elapsed().as_secs_f64(),
    }
}

async fn delete_one(
    client: &ArmClient,
    t: &Target,
    verb: &'static str,
    reporter: &dyn Reporter,
) -> Outcome {
    let start = Instant::now();
    reporter.event(Event::Started {
        address: t.address.clone(),
        verb,
    });
    let result = client.delete(&t.id, t.kind.api_version(), None).await;
    reporter.event(Event::Finished {
        address: t.address.clone(),
        verb,
        elapsed: start.elapsed(),
        ok: result.is_ok(),
    });
    outcome(t, result, start)
}

pub async fn destroy(
    client: &ArmClient,
    plan: &DestroyPlan,
    reporter: &dyn Reporter,
) -> Vec<Outcome> {
    let mut out = Vec::new();
    for round in &plan.rounds {
        out.extend(
            join_all(
                round
                    .iter()
                    .map(|t| delete_one(client, t, "deleting", reporter)),
            )
            .await,
        );
    }
    out
}

/// Purges the soft-deleted accounts and APIM service that carry the spec's names.
pub async fn purge(
    client: &ArmClient,
    graph: &Graph,
    reporter: &dyn Reporter,
) -> Result<Vec<Outcome>, crate::arm::ArmError> {
    let sub = graph
        .get("resource_group")
        .and_then(|r| r.id.split('/').nth(2))
        .unwrap_or_default()
        .to_string();
    let names: Vec<(String, Kind, String)> = graph
        .resources
        .iter()
        .filter(|r| matches!(r.kind, Kind::Account | Kind::Apim))
        .map(|r| (r.name.to_lowercase(), r.kind, r.address.clone()))
        .collect();
    let deleted_accounts =
        format!("/subscriptions/{sub}/providers/Microsoft.CognitiveServices/deletedAccounts");
    let deleted_services =
        format!("/subscriptions/{sub}/providers/Microsoft.ApiManagement/deletedservices");
    let (accounts, services) = futures::join!(
        client.list(&deleted_accounts, Kind::Account.api_version()),
        client.list(&deleted_services, Kind::Apim.api_version()),
    );
    let mut targets = Vec::new();
    for (items, kind) in [(accounts?, Kind::Account), (services?, Kind::Apim)] {
        for item in items {
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_lowercase();
            let id = item
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if let Some((_, _, address)) = names.iter().find(|(n, k, _)| *n == name && *k == kind) {
                targets.push(Target {
                    address: address.clone(),
                    id,
                    kind,
                });
            }
        }
    }
    Ok(join_all(
        targets
            .iter()
            .map(|t| delete_one(client, t, "purging", reporter)),
    )
    .await
    .into_iter()
    .map(|mut o| {
        if o.status == Status::Deleted {
            o.status = Status::Purged;
        }
        o
    })
    .collect())
}
