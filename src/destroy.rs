//! Destroy: delete what the spec manages, and nothing that is not gw's. A resource group gw
//! created goes whole (one DELETE) when everything in it is gw's; when someone else added a
//! resource there, only gw's resources go and the group stays with theirs, unless the user
//! asks for the group whole (`--include-foreign`). In a group gw did not create, only gw's
//! resources go: role assignments first (they would outlive their scope), then the accounts
//! and the APIM service, which take their children with them. `purge` then frees the names
//! held by soft-deleted records.

use crate::apply::{Failure, Outcome, Status};
use crate::arm::ArmClient;
use crate::graph::{Graph, Kind, OWNER_TAG, OWNER_VALUE};
use crate::plan::{Action, LiveState};
use crate::report::{Event, Reporter};
use futures::future::join_all;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Instant;

/// The api-version of ARM's "resources in a group" list.
const GROUP_LIST_API: &str = "2021-04-01";

#[derive(Clone, Debug, Serialize)]
pub struct Target {
    pub address: String,
    pub id: String,
    pub kind: Kind,
}

/// A resource in the group that gw did not create.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Foreign {
    pub id: String,
    #[serde(rename = "type")]
    pub arm_type: String,
    pub name: String,
}

/// Deletes in rounds: every target of one round may go in parallel.
#[derive(Clone, Debug, Serialize)]
pub struct DestroyPlan {
    pub whole_group: bool,
    /// gw created the group (it carries gw's tag).
    pub group_is_gws: bool,
    pub rounds: Vec<Vec<Target>>,
    /// Resources in the group that are not gw's: they go with the group when `whole_group`
    /// (only with `--include-foreign` if gw created it), and stay otherwise.
    pub foreign: Vec<Foreign>,
    /// gw's resources in the group that the spec no longer declares (they go too).
    pub undeclared: Vec<Foreign>,
}

impl DestroyPlan {
    pub fn is_empty(&self) -> bool {
        self.rounds.iter().all(Vec::is_empty)
    }
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.rounds.iter().flatten()
    }
}

/// Everything ARM lists in the spec's resource group (top-level resources; their children
/// go with them), or nothing when the group does not exist.
pub async fn group_contents(
    client: &ArmClient,
    graph: &Graph,
    live: &LiveState,
) -> Result<Vec<Value>, crate::arm::ArmError> {
    match graph.get("resource_group") {
        Some(rg) if live.get(&rg.id).is_some() => {
            client
                .list(&format!("{}/resources", rg.id), GROUP_LIST_API)
                .await
        }
        _ => Ok(Vec::new()),
    }
}

fn tagged_gws(v: &Value) -> bool {
    v.pointer(&format!("/tags/{OWNER_TAG}"))
        .and_then(Value::as_str)
        == Some(OWNER_VALUE)
}

/// What to delete, given the live state and the group's contents (`group_contents`).
/// A listed resource is gw's when it carries gw's tag or the spec declares it.
pub fn plan(
    graph: &Graph,
    live: &LiveState,
    contents: &[Value],
    include_foreign: bool,
) -> DestroyPlan {
    let target = |r: &crate::graph::Resource| Target {
        address: r.address.clone(),
        id: r.id.clone(),
        kind: r.kind,
    };
    let declared: BTreeSet<String> = graph
        .resources
        .iter()
        .map(|r| r.id.to_lowercase())
        .collect();
    let str_of = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (gws, foreign): (Vec<&Value>, Vec<&Value>) = contents
        .iter()
        .partition(|v| tagged_gws(v) || declared.contains(&str_of(v, "id").to_lowercase()));
    let listed = |v: &&Value| Foreign {
        id: str_of(v, "id"),
        arm_type: str_of(v, "type"),
        name: str_of(v, "name"),
    };
    let foreign: Vec<Foreign> = foreign.iter().map(listed).collect();
    let undeclared: Vec<Foreign> = gws
        .iter()
        .filter(|v| !declared.contains(&str_of(v, "id").to_lowercase()))
        .map(listed)
        .collect();
    let rg = graph.get("resource_group");
    let group_is_gws = rg
        .and_then(|r| live.get(&r.id))
        .is_some_and(|l| tagged_gws(&l.body));
    if let Some(rg) = rg
        && group_is_gws
        && (foreign.is_empty() || include_foreign)
    {
        return DestroyPlan {
            whole_group: true,
            group_is_gws,
            rounds: vec![vec![target(rg)]],
            foreign,
            undeclared,
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
    // The workspace and component gw created (one named by id is not in the graph).
    tops.extend(exists(Kind::Workspace));
    tops.extend(exists(Kind::Component));
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
    // gw-tagged services the spec no longer names (a renamed APIM service) are gw's too.
    for v in gws {
        let id = str_of(v, "id");
        let kind = [Kind::Account, Kind::Apim]
            .into_iter()
            .find(|k| k.arm_type().eq_ignore_ascii_case(&str_of(v, "type")));
        if let Some(kind) = kind
            && !tops.iter().any(|t| t.id.eq_ignore_ascii_case(&id))
        {
            tops.push(Target {
                address: format!("{} {}", kind.label(), str_of(v, "name")),
                id,
                kind,
            });
        }
    }
    DestroyPlan {
        whole_group: false,
        group_is_gws,
        rounds: vec![exists(Kind::RoleAssignment), tops],
        foreign,
        undeclared,
    }
}

fn outcome(t: &Target, result: Result<(), crate::arm::ArmError>, start: Instant) -> Outcome {
    let status = if result.is_ok() {
        Status::Deleted
    } else {
        Status::Failed
    };
    Outcome {
        error: result.as_ref().err().map(Failure::from),
        seconds: start.elapsed().as_secs_f64(),
        ..Outcome::new(&t.address, &t.id, Action::Delete, status)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::LiveResource;
    use serde_json::json;

    fn graph() -> Graph {
        crate::graph::example("session-affinity")
    }

    /// Everything the spec declares is live, in a group gw created; `contents` lists the
    /// group as ARM would.
    fn deployed(g: &Graph) -> (LiveState, Vec<Value>) {
        let mut live = LiveState::default();
        let mut contents = Vec::new();
        for r in &g.resources {
            live.insert(LiveResource {
                id: r.id.clone(),
                body: json!({ "tags": { OWNER_TAG: OWNER_VALUE } }),
                etag: None,
            });
            if matches!(r.kind, Kind::Account | Kind::Apim) {
                contents.push(json!({ "id": r.id, "type": r.kind.arm_type(), "name": r.name }));
            }
        }
        (live, contents)
    }

    fn rg_id(g: &Graph) -> String {
        g.get("resource_group").unwrap().id.clone()
    }

    #[test]
    fn a_group_of_only_gws_resources_goes_whole() {
        let g = graph();
        let (live, contents) = deployed(&g);
        let p = plan(&g, &live, &contents, false);
        assert!(p.whole_group && p.foreign.is_empty());
        let ids: Vec<&str> = p.targets().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, [rg_id(&g)]);
    }

    #[test]
    fn a_foreign_resource_keeps_the_group_unless_included() {
        let g = graph();
        let (live, mut contents) = deployed(&g);
        let theirs = format!(
            "{}/providers/Microsoft.Storage/storageAccounts/data",
            rg_id(&g)
        );
        contents.push(json!({ "id": theirs, "type": "Microsoft.Storage/storageAccounts", "name": "data", "tags": { "managed-by": "terraform" } }));
        let p = plan(&g, &live, &contents, false);
        assert!(!p.whole_group);
        assert_eq!(p.foreign.len(), 1);
        assert_eq!(p.foreign[0].id, theirs);
        assert!(
            p.targets()
                .all(|t| t.kind != Kind::ResourceGroup && t.id != theirs)
        );
        assert!(p.targets().any(|t| t.kind == Kind::Apim));
        let p = plan(&g, &live, &contents, true);
        assert!(p.whole_group);
    }

    #[test]
    fn a_gw_tagged_service_the_spec_no_longer_names_goes_too() {
        let g = graph();
        let (live, mut contents) = deployed(&g);
        let old = format!(
            "{}/providers/Microsoft.ApiManagement/service/apim-old",
            rg_id(&g)
        );
        contents.push(json!({ "id": old, "type": "Microsoft.ApiManagement/service", "name": "apim-old", "tags": { OWNER_TAG: OWNER_VALUE } }));
        // A foreign neighbour makes destroy go resource by resource.
        contents.push(json!({ "id": "/x/theirs", "type": "Microsoft.Storage/storageAccounts", "name": "theirs" }));
        let p = plan(&g, &live, &contents, false);
        assert!(!p.whole_group);
        assert!(p.targets().any(|t| t.id == old && t.kind == Kind::Apim));
        assert_eq!(p.foreign.len(), 1);
        // Going whole, the group takes it too, and the listing names it.
        let p = plan(&g, &live, &contents, true);
        assert!(p.whole_group);
        assert_eq!(p.undeclared.len(), 1);
        assert_eq!(p.undeclared[0].id, old);
    }
}
