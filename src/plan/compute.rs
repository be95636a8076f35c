//! Graph + live state -> plan. Pure: the live state was read before (`read.rs`), so every
//! rule here is testable without Azure.

use super::diff::diff_owning;
use super::types::*;
use crate::graph::refs::{self, Ref};
use crate::graph::{Graph, Kind, OWNER_TAG, OWNER_VALUE, Resource};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct LiveResource {
    pub id: String,
    pub body: Value,
    pub etag: Option<String>,
}

/// A live resource gw created (tagged or marked) that the spec no longer has.
#[derive(Clone, Debug, PartialEq)]
pub struct Orphan {
    pub address: String,
    pub kind: Kind,
    pub id: String,
}

/// Everything the plan read, keyed by lower-cased ARM id.
#[derive(Clone, Debug, Default)]
pub struct LiveState {
    pub resources: BTreeMap<String, LiveResource>,
    /// Soft-deleted accounts and APIM services by lower-cased name: (deleted id, location).
    pub soft_deleted: BTreeMap<String, (String, String)>,
    pub orphans: Vec<Orphan>,
    /// Role assignments gw wants that already exist under another name (granted by the labs'
    /// Bicep or a person): lower-cased desired id -> the existing assignment's id. Azure
    /// refuses a second assignment of the same principal, role and scope, so gw adopts it.
    pub adopted: BTreeMap<String, String>,
}

impl LiveState {
    pub fn get(&self, id: &str) -> Option<&LiveResource> {
        self.resources.get(&id.to_lowercase())
    }
    pub fn insert(&mut self, r: LiveResource) {
        self.resources.insert(r.id.to_lowercase(), r);
    }
    /// The existing assignment that stands in for the desired one `id`, if adopted.
    pub fn adopted(&self, id: &str) -> Option<&str> {
        self.adopted.get(&id.to_lowercase()).map(String::as_str)
    }
}

/// `provisioningState` values after which a resource exists but does not work. Azure leaves
/// a resource in them when its operation fails; a re-run that sees no diff would otherwise
/// call it converged.
pub fn failed_state(live: &Value) -> Option<&str> {
    live.pointer("/properties/provisioningState")
        .and_then(Value::as_str)
        .filter(|s| {
            ["Failed", "Canceled", "Cancelled"]
                .iter()
                .any(|f| s.eq_ignore_ascii_case(f))
        })
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Purge soft-deleted records that hold a name instead of restoring them.
    pub purge_soft_deleted: bool,
}

/// The body gw will send for `r`, given what is live: references resolved, and tags merged
/// with the live ones (a PUT replaces every tag; others' tags are theirs to keep). A resource
/// group that existed before gw is not claimed: it gets no owner tag, so destroy never
/// deletes it whole.
pub fn desired_body(graph: &Graph, live: &LiveState, r: &Resource) -> Value {
    let mut body = resolve_refs(graph, live, &r.body);
    let live_body = live.get(&r.id).map(|l| &l.body);
    if let (Some(lb), Some(ours)) = (
        live_body,
        body.get("tags").and_then(Value::as_object).cloned(),
    ) {
        let mut tags = lb
            .get("tags")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let owned = tags.get(OWNER_TAG).and_then(Value::as_str) == Some(OWNER_VALUE);
        for (k, v) in ours {
            if k == OWNER_TAG && r.kind == Kind::ResourceGroup && !owned {
                continue;
            }
            tags.insert(k, v);
        }
        // No tags live and none to add: absent and empty are the same, so say nothing.
        if tags.is_empty() && lb.get("tags").is_none() {
            if let Some(b) = body.as_object_mut() {
                b.remove("tags");
            }
        } else {
            body["tags"] = Value::Object(tags);
        }
    }
    if let Some(lb) = live_body {
        keep_live_labels(r.kind, &mut body, lb);
    }
    body
}

/// Labels gw writes when it creates a resource but does not fight afterwards: an API's
/// display name and a backend's circuit-breaker rule names. They change no behaviour, and an
/// estate gw adopts (the labs' "Inference API", "openAIBreakerRule") keeps its own.
fn keep_live_labels(kind: Kind, desired: &mut Value, live: &Value) {
    let labels: &[&str] = match kind {
        Kind::Api => &["/properties/displayName"],
        Kind::Backend => &["/properties/circuitBreaker/rules/0/name"],
        _ => &[],
    };
    for pointer in labels {
        if let (Some(Value::String(l)), Some(d)) =
            (live.pointer(pointer), desired.pointer_mut(pointer))
            && !l.is_empty()
        {
            *d = Value::String(l.clone());
        }
    }
}

/// Replaces references in `body` with what live state says (None where the referenced
/// resource does not exist yet: "known after apply").
pub fn resolve_refs(graph: &Graph, live: &LiveState, body: &Value) -> Value {
    refs::resolve(body, &|r| match r {
        Ref::Id { of } => graph.get(of).map(|t| Value::String(t.id.clone())),
        Ref::Output { of, path, append } => {
            let target = graph.get(of)?;
            let v = refs::get_path(&live.get(&target.id)?.body, path)?.as_str()?;
            Some(Value::String(format!("{v}{append}")))
        }
    })
}

/// Whether a live assignment grants what `desired` asks: same principal and role.
pub fn same_grant(live: &Value, desired: &Value) -> bool {
    let field = |v: &Value, k: &str| {
        v.pointer(&format!("/properties/{k}"))
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    let role = |v: &Value| {
        field(v, "roleDefinitionId").map(|r| r.rsplit('/').next().unwrap_or_default().to_string())
    };
    field(live, "principalId").is_some()
        && field(live, "principalId") == field(desired, "principalId")
        && role(live) == role(desired)
}

/// A live resource against its desired body: no-op, update, repair or replacement.
fn compare(graph: &Graph, r: &Resource, desired: &Value, l: &LiveResource) -> Change {
    let mut desired = desired.clone();
    for path in r.kind.write_only_fields() {
        if let Some(props) = desired.get_mut("properties").and_then(Value::as_object_mut) {
            props.remove(path.trim_start_matches("properties."));
        }
    }
    let d = diff_owning(&desired, &l.body, r.kind.owned_optional_fields());
    let mut c = change(
        r,
        if d.is_empty() {
            Action::NoOp
        } else {
            Action::Update
        },
    );
    c.diff = d;
    if let Some(state) = failed_state(&l.body) {
        // A Failed model deployment cannot be written over: Azure answers 400 "please delete
        // it before creating a new one". Accounts and the APIM service are written again.
        if r.kind == Kind::Deployment {
            c.action = Action::Replace;
            c.reason = Some(format!(
                "repair: provisioningState {state}; a {state} model deployment can only be deleted and created again"
            ));
        } else {
            c.action = Action::Update;
            c.reason = Some(format!("repair: provisioningState {state}"));
        }
    }
    if r.kind == Kind::RoleAssignment
        && let Some(why) = principal_change(graph, r, &desired, &l.body)
    {
        // Azure refuses to change an assignment's principal (400
        // RoleAssignmentUpdateNotPermitted): the old one goes, the new one comes.
        c.action = Action::Replace;
        c.reason = Some(why);
    }
    c
}

/// Why a live role assignment no longer grants what the spec wants, if it does not: the APIM
/// service was re-created (a new identity), or will be in this run.
fn principal_change(graph: &Graph, r: &Resource, desired: &Value, live: &Value) -> Option<String> {
    let want = desired.pointer("/properties/principalId");
    let have = live
        .pointer("/properties/principalId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match want {
        Some(Value::String(w)) if w.eq_ignore_ascii_case(have) => None,
        Some(Value::String(w)) => Some(format!(
            "the APIM service's identity is now {w}; this assignment grants {have}, and Azure does not let a principal change in place"
        )),
        // Known after apply: the service (and so its identity) is to be created.
        _ => {
            let of = r
                .depends_on
                .iter()
                .find(|d| graph.get(d).is_some_and(|x| x.kind == Kind::Apim))?;
            Some(format!(
                "{of} will be created with a new identity; this assignment grants {have}"
            ))
        }
    }
}

/// An API's operations are written by the API's OpenAPI import: when one must be created or
/// changed, the API is written again (and takes its operations with it).
fn reimport_changed_operations(graph: &Graph, out: &mut [Change]) {
    let writers: Vec<String> = out
        .iter()
        .filter(|c| c.action.writes())
        .filter_map(|c| graph.get(&c.address)?.written_by.clone())
        .collect();
    for c in out.iter_mut() {
        if c.action == Action::NoOp && writers.contains(&c.address) {
            c.action = Action::Update;
            c.reason = Some("its operations differ: the API imports them again".into());
        }
    }
    for c in out.iter_mut() {
        if let Some(by) = graph.get(&c.address).and_then(|r| r.written_by.as_ref())
            && c.action.writes()
        {
            c.reason = Some(format!("written by {by}'s OpenAPI import"));
        }
    }
}

fn change(r: &Resource, action: Action) -> Change {
    Change {
        address: r.address.clone(),
        arm_type: r.arm_type().to_string(),
        id: r.id.clone(),
        action,
        diff: Vec::new(),
        soft_deleted: None,
        reason: None,
        kind: Some(r.kind),
    }
}

pub fn compute(graph: &Graph, live: &LiveState, opts: Options) -> Vec<Change> {
    let mut out = Vec::new();
    for r in &graph.resources {
        let desired = desired_body(graph, live, r);
        match live.get(&r.id) {
            None if live.adopted(&r.id).is_some() => {
                let mut c = change(r, Action::NoOp);
                c.reason = live
                    .adopted(&r.id)
                    .map(|id| format!("granted already, as {id} (adopted)"));
                out.push(c);
            }
            None => {
                let mut c = change(r, Action::Create);
                c.diff = creation_fields(&desired);
                if matches!(r.kind, Kind::Account | Kind::Apim)
                    && let Some((deleted_id, location)) =
                        live.soft_deleted.get(&r.name.to_lowercase())
                {
                    c.soft_deleted = Some(SoftDeleted {
                        action: if opts.purge_soft_deleted {
                            SoftDeleteAction::Purge
                        } else {
                            SoftDeleteAction::Restore
                        },
                        deleted_id: deleted_id.clone(),
                        location: location.clone(),
                    });
                }
                out.push(c);
            }
            Some(l) => out.push(compare(graph, r, &desired, l)),
        }
    }
    reimport_changed_operations(graph, &mut out);
    // Deletes in reverse dependency order: children before parents, pools before backends.
    let mut orphans = live.orphans.clone();
    orphans.sort_by_key(|o| (std::cmp::Reverse(delete_rank(o.kind)), o.address.clone()));
    for o in orphans {
        out.push(Change {
            address: o.address,
            arm_type: o.kind.arm_type().to_string(),
            id: o.id,
            action: Action::Delete,
            diff: Vec::new(),
            soft_deleted: None,
            reason: Some(
                if o.kind == Kind::Operation {
                    "its API's OpenAPI import does not have it (the API is gw's)"
                } else {
                    "gw created it and the spec no longer has it"
                }
                .into(),
            ),
            kind: Some(o.kind),
        });
    }
    out
}

/// Every field a create sets, as `absent -> value` (values Azure assigns read
/// "(known after apply)"), as Terraform shows a create.
fn creation_fields(desired: &Value) -> Vec<super::diff::FieldDiff> {
    fn walk(path: &str, v: &Value, out: &mut Vec<super::diff::FieldDiff>) {
        let field = |after: Value| super::diff::FieldDiff {
            path: path.to_string(),
            before: None,
            after: Some(after),
        };
        if refs::parse(v).is_some() {
            out.push(field(Value::String("(known after apply)".into())));
            return;
        }
        match v {
            Value::Object(o) if !o.is_empty() => {
                for (k, x) in o {
                    walk(
                        &if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        },
                        x,
                        out,
                    );
                }
            }
            Value::Array(a) if !a.is_empty() => {
                for (i, x) in a.iter().enumerate() {
                    walk(&format!("{path}[{i}]"), x, out);
                }
            }
            _ => out.push(field(v.clone())),
        }
    }
    let mut out = Vec::new();
    walk("", desired, &mut out);
    out
}

/// Deeper resources are deleted first.
fn delete_rank(k: Kind) -> u8 {
    match k {
        Kind::ResourceGroup => 0,
        Kind::Account | Kind::Apim | Kind::Workspace | Kind::Component => 1,
        Kind::Deployment | Kind::Backend | Kind::Subscription | Kind::Logger => 2,
        Kind::RoleAssignment | Kind::Api | Kind::Diagnostic | Kind::DiagnosticSetting => 3,
        Kind::Pool => 4,
        Kind::Operation | Kind::Policy => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn graph() -> Graph {
        crate::graph::example("session-affinity")
    }

    /// Live state exactly as the spec says, with what Azure adds.
    fn live_as_spec(g: &Graph) -> LiveState {
        let mut live = LiveState::default();
        // Outputs first, so references resolve.
        for r in &g.resources {
            let mut body = r.body.clone();
            body["id"] = json!(r.id);
            body["systemData"] = json!({ "createdBy": "x" });
            if r.kind == Kind::Apim {
                body["identity"]["principalId"] = json!("p-1");
            }
            if r.kind == Kind::Account {
                body["properties"]["endpoint"] =
                    json!(format!("https://{}.cognitiveservices.azure.com/", r.name));
            }
            live.insert(LiveResource {
                id: r.id.clone(),
                body,
                etag: Some("\"1\"".into()),
            });
        }
        let snapshot = live.clone();
        for r in &g.resources {
            let resolved = resolve_refs(g, &snapshot, &live.get(&r.id).unwrap().body.clone());
            live.insert(LiveResource {
                id: r.id.clone(),
                body: resolved,
                etag: None,
            });
        }
        live
    }

    #[test]
    fn a_grant_is_the_same_principal_and_role_whatever_the_subscription_spelling() {
        let desired = json!({"properties": {"principalId": "P", "roleDefinitionId": "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/R"}});
        let live = json!({"properties": {"principalId": "p", "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/r"}});
        assert!(same_grant(&live, &desired));
        let other = json!({"properties": {"principalId": "q", "roleDefinitionId": "/x/r"}});
        assert!(!same_grant(&other, &desired));
    }

    #[test]
    fn a_live_display_name_and_breaker_rule_name_are_kept() {
        let g = graph();
        let mut live = live_as_spec(&g);
        let api = g.get("apis.inference").unwrap();
        let mut body = live.get(&api.id).unwrap().body.clone();
        body["properties"]["displayName"] = json!("Inference API");
        live.insert(LiveResource {
            id: api.id.clone(),
            body,
            etag: None,
        });
        let c = compute(&g, &live, Options::default());
        let changed: Vec<_> = c.iter().filter(|c| c.action != Action::NoOp).collect();
        assert!(changed.is_empty(), "{changed:#?}");
        // A wrong path or subscription setting on the same API is still a change.
        let mut body = live.get(&api.id).unwrap().body.clone();
        body["properties"]["path"] = json!("elsewhere");
        live.insert(LiveResource {
            id: api.id.clone(),
            body,
            etag: None,
        });
        let c = compute(&g, &live, Options::default());
        assert_eq!(c.iter().filter(|c| c.action != Action::NoOp).count(), 1);
    }

    #[test]
    fn a_group_gw_did_not_create_and_that_has_no_tags_is_left_as_it_is() {
        let g = graph();
        let mut live = live_as_spec(&g);
        let rg = g.get("resource_group").unwrap();
        let mut body = live.get(&rg.id).unwrap().body.clone();
        body.as_object_mut().unwrap().remove("tags");
        live.insert(LiveResource {
            id: rg.id.clone(),
            body,
            etag: None,
        });
        let c = compute(&g, &live, Options::default());
        let changed: Vec<_> = c.iter().filter(|c| c.action != Action::NoOp).collect();
        assert!(changed.is_empty(), "{changed:#?}");
    }

    #[test]
    fn nothing_live_is_all_creates() {
        let g = graph();
        let c = compute(&g, &LiveState::default(), Options::default());
        assert_eq!(c.len(), g.resources.len());
        assert!(c.iter().all(|c| c.action == Action::Create));
    }

    #[test]
    fn live_as_spec_is_no_changes() {
        let g = graph();
        let c = compute(&g, &live_as_spec(&g), Options::default());
        let changed: Vec<_> = c.iter().filter(|c| c.action != Action::NoOp).collect();
        assert!(changed.is_empty(), "{changed:#?}");
    }

    #[test]
    fn drifted_weight_is_exactly_that_change() {
        let g = graph();
        let mut live = live_as_spec(&g);
        let pool = g.get("pools.inference-backend-pool").unwrap();
        let mut body = live.get(&pool.id).unwrap().body.clone();
        body["properties"]["pool"]["services"][1]["weight"] = json!(30);
        live.insert(LiveResource {
            id: pool.id.clone(),
            body,
            etag: None,
        });
        let c: Vec<_> = compute(&g, &live, Options::default())
            .into_iter()
            .filter(|c| c.action != Action::NoOp)
            .collect();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].address, "pools.inference-backend-pool");
        assert_eq!(c[0].diff.len(), 1);
        assert_eq!(c[0].diff[0].path, "properties.pool.services[1].weight");
        assert_eq!(
            (c[0].diff[0].before.clone(), c[0].diff[0].after.clone()),
            (Some(json!(30)), Some(json!(50)))
        );
    }

    #[test]
    fn soft_deleted_names_are_restored_or_purged() {
        let g = graph();
        let apim = g.get("apim").unwrap();
        let mut live = LiveState::default();
        live.soft_deleted.insert(
            apim.name.clone(),
            ("/deleted/apim".into(), "swedencentral".into()),
        );
        let c = compute(&g, &live, Options::default());
        let a = c.iter().find(|c| c.address == "apim").unwrap();
        assert_eq!(
            a.soft_deleted.as_ref().unwrap().action,
            SoftDeleteAction::Restore
        );
        let c = compute(
            &g,
            &live,
            Options {
                purge_soft_deleted: true,
            },
        );
        let a = c.iter().find(|c| c.address == "apim").unwrap();
        assert_eq!(
            a.soft_deleted.as_ref().unwrap().action,
            SoftDeleteAction::Purge
        );
    }

    #[test]
    fn orphans_are_deleted_children_first() {
        let g = graph();
        let mut live = live_as_spec(&g);
        live.orphans.push(Orphan {
            address: "backends.old".into(),
            kind: Kind::Backend,
            id: "/b/old".into(),
        });
        live.orphans.push(Orphan {
            address: "pools.old".into(),
            kind: Kind::Pool,
            id: "/b/oldpool".into(),
        });
        let c: Vec<_> = compute(&g, &live, Options::default())
            .into_iter()
            .filter(|c| c.action == Action::Delete)
            .collect();
        let order: Vec<&str> = c.iter().map(|c| c.address.as_str()).collect();
        assert_eq!(order, ["pools.old", "backends.old"]);
    }
}
