//! Reads the live state a plan needs, in two rounds of parallel requests, using list calls
//! where one read covers many resources: the resource group, the accounts (one list) and the
//! APIM service first; then each existing parent's children (one list per account for its
//! deployments, one list each for backends, APIs and subscriptions, one read per policy and
//! per operations list), the role assignments at each account (one list per account, which also
//! finds a grant that exists under another name), and the soft-deleted records when a name is
//! free.

use super::compute::{LiveResource, LiveState, Orphan};
use super::types::{ReadStamp, body_digest};
use crate::arm::{ArmClient, ArmError};
use crate::graph::{Graph, Kind, OWNER_DESCRIPTION, OWNER_TAG, OWNER_VALUE, Resource};
use crate::report::{Event, Reporter};
use futures::future::join_all;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A read: one GET or one list, and what to do with its answer.
enum Read<'a> {
    Get {
        r: &'a Resource,
        query: &'static [(&'static str, &'static str)],
    },
    List {
        path: String,
        api: &'static str,
        kind: ListOf,
        query: &'static [(&'static str, &'static str)],
    },
}

#[derive(Clone, Copy)]
enum ListOf {
    Accounts,
    Deployments,
    Backends,
    Apis,
    Operations,
    Subscriptions,
    RoleAssignments,
    DeletedAccounts,
    DeletedServices,
}

enum Answer {
    One(Option<crate::arm::Live>),
    Many(Vec<Value>),
}

struct Progress<'a> {
    done: AtomicUsize,
    total: AtomicUsize,
    reporter: &'a dyn Reporter,
}

impl Progress<'_> {
    fn add(&self, n: usize) {
        self.total.fetch_add(n, Ordering::SeqCst);
    }
    fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        self.reporter.event(Event::Read {
            done,
            total: self.total.load(Ordering::SeqCst),
        });
    }
}

async fn run(client: &ArmClient, read: &Read<'_>, p: &Progress<'_>) -> Result<Answer, ArmError> {
    let out = match read {
        Read::Get { r, query } => {
            Answer::One(client.get_with_query(&r.id, r.api_version(), query).await?)
        }
        Read::List {
            path, api, query, ..
        } => match client.list_with_query(path, api, query).await {
            Ok(v) => Answer::Many(v),
            // The parent is gone: nothing under it.
            Err(e) if e.status() == Some(404) => Answer::Many(Vec::new()),
            Err(e) => return Err(e),
        },
    };
    p.tick();
    Ok(out)
}

fn owned_by_tag(v: &Value) -> bool {
    v.get("tags")
        .and_then(|t| t.get(OWNER_TAG))
        .and_then(Value::as_str)
        == Some(OWNER_VALUE)
}

fn owned_by_description(v: &Value) -> bool {
    v.pointer("/properties/description")
        .and_then(Value::as_str)
        .is_some_and(|d| d.starts_with(OWNER_DESCRIPTION))
}

fn id_of(v: &Value) -> Option<String> {
    v.get("id").and_then(Value::as_str).map(str::to_string)
}

/// Reads everything `graph` describes, and the resources gw owns that it no longer does.
pub async fn read(
    client: &ArmClient,
    graph: &Graph,
    reporter: &dyn Reporter,
) -> Result<LiveState, ArmError> {
    let p = Progress {
        done: AtomicUsize::new(0),
        total: AtomicUsize::new(0),
        reporter,
    };
    let mut live = LiveState::default();
    let in_graph: BTreeSet<String> = graph
        .resources
        .iter()
        .map(|r| r.id.to_lowercase())
        .collect();
    let by_kind = |k: Kind| graph.resources.iter().filter(move |r| r.kind == k);
    let rg = graph
        .get("resource_group")
        .expect("a graph has its resource group");
    let apim = graph.get("apim").expect("a graph has its APIM service");
    let sub = rg.id.split('/').nth(2).unwrap_or_default().to_string();

    // Round 1: the resource group, every account in it, the APIM service.
    let round1 = vec![
        Read::Get { r: rg, query: &[] },
        Read::List {
            path: format!("{}/providers/Microsoft.CognitiveServices/accounts", rg.id),
            api: Kind::Account.api_version(),
            kind: ListOf::Accounts,
            query: &[],
        },
        Read::Get {
            r: apim,
            query: &[],
        },
    ];
    // The workspace and component gw creates (additive: an existing workspace named by id is
    // not gw's to read or compare).
    let mut round1 = round1;
    for r in by_kind(Kind::Workspace).chain(by_kind(Kind::Component)) {
        round1.push(Read::Get { r, query: &[] });
    }
    p.add(round1.len());
    let answers = join_all(round1.iter().map(|r| run(client, r, &p))).await;
    absorb(&mut live, &round1, answers, &in_graph, graph)?;

    // Round 2: children of what exists.
    let mut round2 = Vec::new();
    let account_exists = |r: &Resource| live.get(&r.id).is_some();
    for a in by_kind(Kind::Account).filter(|a| account_exists(a)) {
        round2.push(Read::List {
            path: format!("{}/deployments", a.id),
            api: Kind::Deployment.api_version(),
            kind: ListOf::Deployments,
            query: &[],
        });
        if by_kind(Kind::RoleAssignment).any(|ra| ra.id.starts_with(&format!("{}/", a.id))) {
            round2.push(Read::List {
                path: format!("{}/providers/Microsoft.Authorization/roleAssignments", a.id),
                api: Kind::RoleAssignment.api_version(),
                kind: ListOf::RoleAssignments,
                query: &[("$filter", "atScope()")],
            });
        }
    }
    if live.get(&apim.id).is_some() {
        round2.push(Read::List {
            path: format!("{}/backends", apim.id),
            api: Kind::Backend.api_version(),
            kind: ListOf::Backends,
            query: &[],
        });
        round2.push(Read::List {
            path: format!("{}/apis", apim.id),
            api: Kind::Api.api_version(),
            kind: ListOf::Apis,
            query: &[],
        });
        round2.push(Read::List {
            path: format!("{}/subscriptions", apim.id),
            api: Kind::Subscription.api_version(),
            kind: ListOf::Subscriptions,
            query: &[],
        });
        for api in by_kind(Kind::Api) {
            round2.push(Read::List {
                path: format!("{}/operations", api.id),
                api: Kind::Operation.api_version(),
                kind: ListOf::Operations,
                query: &[],
            });
        }
        for pol in by_kind(Kind::Policy) {
            round2.push(Read::Get {
                r: pol,
                query: Kind::Policy.read_query(),
            });
        }
    }
    // The role assignment on the component: one list at its scope, which also finds the
    // grant under another name.
    for c in by_kind(Kind::Component).filter(|c| live.get(&c.id).is_some()) {
        if by_kind(Kind::RoleAssignment).any(|ra| ra.id.starts_with(&format!("{}/", c.id))) {
            round2.push(Read::List {
                path: format!("{}/providers/Microsoft.Authorization/roleAssignments", c.id),
                api: Kind::RoleAssignment.api_version(),
                kind: ListOf::RoleAssignments,
                query: &[("$filter", "atScope()")],
            });
        }
    }
    if live.get(&apim.id).is_some() {
        for r in by_kind(Kind::Logger)
            .chain(by_kind(Kind::Diagnostic))
            .chain(by_kind(Kind::DiagnosticSetting))
        {
            round2.push(Read::Get { r, query: &[] });
        }
    }
    let missing_account = by_kind(Kind::Account).any(|a| !account_exists(a));
    if missing_account {
        round2.push(Read::List {
            path: format!(
                "/subscriptions/{sub}/providers/Microsoft.CognitiveServices/deletedAccounts"
            ),
            api: Kind::Account.api_version(),
            kind: ListOf::DeletedAccounts,
            query: &[],
        });
    }
    if live.get(&apim.id).is_none() {
        round2.push(Read::List {
            path: format!("/subscriptions/{sub}/providers/Microsoft.ApiManagement/deletedservices"),
            api: Kind::Apim.api_version(),
            kind: ListOf::DeletedServices,
            query: &[],
        });
    }
    p.add(round2.len());
    let answers = join_all(round2.iter().map(|r| run(client, r, &p))).await;
    let others = absorb(&mut live, &round2, answers, &in_graph, graph)?;
    adopt_existing_grants(graph, &mut live, &others);
    reporter.event(Event::ReadFinished {
        total: p.total.load(Ordering::SeqCst),
    });
    Ok(live)
}

/// Takes the answers into the live state; returns the role assignments listed that are not
/// gw's by name (candidates for adoption).
fn absorb(
    live: &mut LiveState,
    reads: &[Read],
    answers: Vec<Result<Answer, ArmError>>,
    in_graph: &BTreeSet<String>,
    graph: &Graph,
) -> Result<Vec<Value>, ArmError> {
    let mut others = Vec::new();
    for (read, answer) in reads.iter().zip(answers) {
        match (read, answer?) {
            (Read::Get { r, .. }, Answer::One(Some(l))) => live.insert(LiveResource {
                id: r.id.clone(),
                body: l.body,
                etag: l.etag,
            }),
            (Read::Get { .. }, Answer::One(None)) => {}
            (
                Read::List {
                    kind: ListOf::RoleAssignments,
                    ..
                },
                Answer::Many(items),
            ) => {
                for item in items {
                    match id_of(&item) {
                        Some(id) if in_graph.contains(&id.to_lowercase()) => {
                            live.insert(LiveResource {
                                id,
                                body: item,
                                etag: None,
                            })
                        }
                        _ => others.push(item),
                    }
                }
            }
            (Read::List { kind, path, .. }, Answer::Many(items)) => {
                for item in items {
                    take_listed(live, *kind, path, item, in_graph, graph);
                }
            }
            _ => {}
        }
    }
    Ok(others)
}

/// A role assignment gw wants whose grant (this principal, this role, this scope) exists under
/// another name: Azure refuses a second one (409 RoleAssignmentExists), so gw counts that one
/// as in place.
fn adopt_existing_grants(graph: &Graph, live: &mut LiveState, others: &[Value]) {
    for ra in graph
        .resources
        .iter()
        .filter(|r| r.kind == Kind::RoleAssignment)
    {
        if live.get(&ra.id).is_some() {
            continue;
        }
        let desired = super::compute::resolve_refs(graph, live, &ra.body);
        let scope = ra
            .id
            .split("/providers/Microsoft.Authorization/")
            .next()
            .unwrap_or_default()
            .to_lowercase();
        let found = others.iter().find(|a| {
            let at_scope = a
                .pointer("/properties/scope")
                .and_then(Value::as_str)
                .is_none_or(|s| s.eq_ignore_ascii_case(&scope));
            at_scope && super::compute::same_grant(a, &desired)
        });
        if let Some(id) = found.and_then(id_of) {
            live.adopted.insert(ra.id.to_lowercase(), id);
        }
    }
}

fn take_listed(
    live: &mut LiveState,
    kind: ListOf,
    path: &str,
    item: Value,
    in_graph: &BTreeSet<String>,
    graph: &Graph,
) {
    let name = item
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    match kind {
        ListOf::DeletedAccounts | ListOf::DeletedServices => {
            let Some(id) = id_of(&item) else { return };
            let location = item
                .get("location")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            live.soft_deleted
                .insert(name.to_lowercase(), (id, location));
            return;
        }
        _ => {}
    }
    let Some(id) = id_of(&item) else { return };
    let known = in_graph.contains(&id.to_lowercase());
    let orphan_kind = match kind {
        ListOf::Accounts if owned_by_tag(&item) => Some(Kind::Account),
        ListOf::Deployments if owned_by_tag(&item) => Some(Kind::Deployment),
        ListOf::Backends if owned_by_description(&item) => Some(
            if item.pointer("/properties/type").and_then(Value::as_str) == Some("Pool") {
                Kind::Pool
            } else {
                Kind::Backend
            },
        ),
        ListOf::Apis if owned_by_description(&item) => Some(Kind::Api),
        // An API gw owns has only gw's operations.
        ListOf::Operations => Some(Kind::Operation),
        _ => None,
    };
    if known {
        let etag = item.get("etag").and_then(Value::as_str).map(str::to_string);
        live.insert(LiveResource {
            id,
            body: item,
            etag,
        });
    } else if let Some(k) = orphan_kind {
        live.orphans.push(Orphan {
            address: orphan_address(graph, k, path, &name),
            kind: k,
            id,
        });
    }
}

/// An address for a resource the spec no longer has, in the spec's terms where possible.
fn orphan_address(graph: &Graph, kind: Kind, list_path: &str, name: &str) -> String {
    let parent = |depth: usize| {
        list_path
            .rsplit('/')
            .nth(depth)
            .unwrap_or_default()
            .to_string()
    };
    match kind {
        Kind::Account => format!("foundries.{}", graph.spec_name(name)),
        Kind::Deployment => format!(
            "foundries.{}.deployments.{name}",
            graph.spec_name(&parent(1))
        ),
        Kind::Backend => format!("backends.{name}"),
        Kind::Pool => format!("pools.{name}"),
        Kind::Api => format!("apis.{name}"),
        Kind::Operation => format!("apis.{}.operations.{name}", parent(1)),
        _ => name.to_string(),
    }
}

/// Stamps of what was read for every graph resource: ETag, else a body digest, else absent.
pub fn stamps(graph: &Graph, live: &LiveState) -> Vec<ReadStamp> {
    graph
        .resources
        .iter()
        .map(|r| ReadStamp {
            id: r.id.clone(),
            stamp: match live.get(&r.id) {
                None => "absent".into(),
                Some(l) => match &l.etag {
                    Some(e) => format!("etag:{e}"),
                    None => body_digest(&l.body),
                },
            },
        })
        .collect()
}

/// Everything in a resource group that a spec could describe, read without a spec (for
/// `gw import`): the group, its accounts and their deployments, its APIM services, its
/// workspaces and components, and for the chosen service its backends, APIs (with their
/// policies, as raw XML), subscriptions, loggers, diagnostics and diagnostic settings.
#[derive(Clone, Debug, Default)]
pub struct Estate {
    pub group: Option<Value>,
    pub accounts: Vec<Value>,
    /// Deployments per account, in the order of `accounts`.
    pub deployments: Vec<Vec<Value>>,
    pub services: Vec<Value>,
    /// The service whose children were read.
    pub apim: Option<Value>,
    pub backends: Vec<Value>,
    pub apis: Vec<Value>,
    /// Each API's policy XML (None: the API has none), in the order of `apis`.
    pub policies: Vec<Option<String>>,
    /// Each API's operations, in the order of `apis`.
    pub operations: Vec<Vec<Value>>,
    pub subscriptions: Vec<Value>,
    /// The group's Log Analytics workspaces and Application Insights components.
    pub workspaces: Vec<Value>,
    pub components: Vec<Value>,
    /// The chosen service's loggers, All-APIs diagnostics and diagnostic settings.
    pub loggers: Vec<Value>,
    pub diagnostics: Vec<Value>,
    pub diagnostic_settings: Vec<Value>,
}

/// Reads an estate in three rounds of parallel requests (the monitoring lists ride in the
/// first two); `pick` chooses the APIM service among those in the group (by name), and may
/// return None to read no service's children.
pub async fn read_estate(
    client: &ArmClient,
    rg_id: &str,
    pick: impl FnOnce(&[Value]) -> Option<Value>,
) -> Result<Estate, ArmError> {
    let list = |path: String, api: &'static str| async move {
        match client.list(&path, api).await {
            Err(e) if e.status() == Some(404) => Ok(Vec::new()),
            r => r,
        }
    };
    let accounts_path = format!("{rg_id}/providers/Microsoft.CognitiveServices/accounts");
    let services_path = format!("{rg_id}/providers/Microsoft.ApiManagement/service");
    let in_group = |ty: &Kind| format!("{rg_id}/providers/{}", ty.arm_type());
    let (group, accounts, services, workspaces, components) = futures::join!(
        client.get(rg_id, Kind::ResourceGroup.api_version()),
        list(accounts_path, Kind::Account.api_version()),
        list(services_path, Kind::Apim.api_version()),
        list(in_group(&Kind::Workspace), Kind::Workspace.api_version()),
        list(in_group(&Kind::Component), Kind::Component.api_version()),
    );
    let mut estate = Estate {
        group: group?.map(|l| l.body),
        accounts: accounts?,
        services: services?,
        workspaces: workspaces?,
        components: components?,
        ..Estate::default()
    };
    estate.apim = pick(&estate.services);
    let apim_id = estate.apim.as_ref().and_then(id_of);
    let deployments = join_all(
        estate
            .accounts
            .iter()
            .filter_map(id_of)
            .map(|id| list(format!("{id}/deployments"), Kind::Deployment.api_version())),
    );
    let children = async {
        let Some(id) = &apim_id else {
            return Ok(Default::default());
        };
        let (b, a, s, l, d, ds) = futures::join!(
            list(format!("{id}/backends"), Kind::Backend.api_version()),
            list(format!("{id}/apis"), Kind::Api.api_version()),
            list(
                format!("{id}/subscriptions"),
                Kind::Subscription.api_version()
            ),
            list(format!("{id}/loggers"), Kind::Logger.api_version()),
            list(format!("{id}/diagnostics"), Kind::Diagnostic.api_version()),
            list(
                format!("{id}/providers/{}", Kind::DiagnosticSetting.arm_type()),
                Kind::DiagnosticSetting.api_version()
            ),
        );
        Ok::<_, ArmError>(((b?, a?, s?), (l?, d?, ds?)))
    };
    let (deployments, children) = futures::join!(deployments, children);
    estate.deployments = deployments.into_iter().collect::<Result<_, _>>()?;
    let (service, monitoring) = children?;
    (estate.backends, estate.apis, estate.subscriptions) = service;
    (
        estate.loggers,
        estate.diagnostics,
        estate.diagnostic_settings,
    ) = monitoring;
    let operations = join_all(
        estate
            .apis
            .iter()
            .filter_map(id_of)
            .map(|id| list(format!("{id}/operations"), Kind::Operation.api_version())),
    );
    let policies = join_all(estate.apis.iter().filter_map(id_of).map(|id| async move {
        let policy = format!("{id}/policies/policy");
        let live = client
            .get_with_query(
                &policy,
                Kind::Policy.api_version(),
                Kind::Policy.read_query(),
            )
            .await?;
        Ok::<_, ArmError>(live.and_then(|l| {
            l.body
                .pointer("/properties/value")
                .and_then(Value::as_str)
                .map(str::to_string)
        }))
    }));
    let (operations, policies) = futures::join!(operations, policies);
    estate.operations = operations.into_iter().collect::<Result<_, _>>()?;
    estate.policies = policies.into_iter().collect::<Result<_, _>>()?;
    Ok(estate)
}
