//! Builds the resource graph from a model.

use super::kind::Kind;
use super::refs::{id_of, output_of};
use super::*;
use crate::model::surface::{Operation, apim_path, operations, template_params};
use crate::model::{Model, duration};
use serde_json::{Map, Value, json};

/// A role assignment's name must be a GUID the caller picks. Derived from the scope and the
/// APIM service (not its principal id, which is unknown until the service exists), so every
/// run, and the Bicep render, use the same name and re-runs are idempotent.
pub fn role_assignment_name(account_id: &str, apim_id: &str, role: &str) -> String {
    let ns = uuid::Uuid::NAMESPACE_URL;
    let key = format!(
        "gw:{}|{}|{}",
        account_id.to_lowercase(),
        apim_id.to_lowercase(),
        role
    );
    uuid::Uuid::new_v5(&ns, key.as_bytes()).to_string()
}

pub(super) struct Builder {
    pub(super) out: Vec<Resource>,
}

impl Builder {
    pub(super) fn add(
        &mut self,
        address: String,
        kind: Kind,
        id: String,
        body: Value,
        depends_on: Vec<String>,
    ) {
        let name = id.rsplit('/').next().unwrap_or_default().to_string();
        self.out.push(Resource {
            address,
            kind,
            id,
            name,
            body,
            depends_on,
            written_by: None,
        });
    }
}

pub(super) fn tags(model: &Model) -> Value {
    let mut m: Map<String, Value> = model
        .resource_group
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    m.insert(OWNER_TAG.into(), json!(OWNER_VALUE));
    Value::Object(m)
}

pub fn build(model: &Model) -> Graph {
    let mut b = Builder { out: Vec::new() };
    let sub = &model.subscription;
    let rg_id = format!(
        "/subscriptions/{sub}/resourceGroups/{}",
        model.resource_group.name
    );
    b.add(
        "resource_group".into(),
        Kind::ResourceGroup,
        rg_id.clone(),
        json!({ "location": model.resource_group.location, "tags": tags(model) }),
        vec![],
    );

    // Foundry accounts and their model deployments (one at a time per account: each
    // deployment depends on the one before it).
    for f in &model.foundries {
        let addr = format!("foundries.{}", f.name);
        let id = format!(
            "{rg_id}/providers/Microsoft.CognitiveServices/accounts/{}",
            f.account
        );
        let body = json!({
            "location": f.location,
            "kind": "AIServices",
            "sku": { "name": "S0" },
            "identity": { "type": "SystemAssigned" },
            "tags": tags(model),
            "properties": {
                "customSubDomainName": f.account,
                "publicNetworkAccess": "Enabled",
                "disableLocalAuth": f.disable_local_auth,
            }
        });
        b.add(
            addr.clone(),
            Kind::Account,
            id.clone(),
            body,
            vec!["resource_group".into()],
        );
        let mut prev: Option<String> = None;
        for d in model
            .deployments
            .iter()
            .filter(|d| d.foundries.contains(&f.name))
        {
            let daddr = format!("{addr}.deployments.{}", d.name);
            let body = json!({
                "tags": tags(model),
                "sku": { "name": d.sku, "capacity": d.capacity },
                "properties": { "model": { "format": d.publisher, "name": d.model, "version": d.version } }
            });
            let mut deps = vec![addr.clone()];
            deps.extend(prev.take());
            b.add(
                daddr.clone(),
                Kind::Deployment,
                format!("{id}/deployments/{}", d.name),
                body,
                deps,
            );
            prev = Some(daddr);
        }
    }

    // The APIM service.
    let a = &model.apim;
    let apim_id = format!(
        "{rg_id}/providers/Microsoft.ApiManagement/service/{}",
        a.service
    );
    b.add(
        "apim".into(),
        Kind::Apim,
        apim_id.clone(),
        json!({
            "location": a.location,
            "sku": { "name": a.sku, "capacity": a.capacity },
            "identity": { "type": "SystemAssigned" },
            "tags": tags(model),
            "properties": { "publisherEmail": a.publisher_email, "publisherName": a.publisher_name }
        }),
        vec!["resource_group".into()],
    );

    // The APIM identity may call the models of every foundry.
    for f in &model.foundries {
        let faddr = format!("foundries.{}", f.name);
        let account_id = format!(
            "{rg_id}/providers/Microsoft.CognitiveServices/accounts/{}",
            f.account
        );
        let name = role_assignment_name(&account_id, &apim_id, COGNITIVE_SERVICES_USER);
        b.add(
            format!("role_assignments.{}", f.name),
            Kind::RoleAssignment,
            format!("{account_id}/providers/Microsoft.Authorization/roleAssignments/{name}"),
            json!({
                "properties": {
                    "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{COGNITIVE_SERVICES_USER}"),
                    "principalId": output_of("apim", "identity.principalId", ""),
                    "principalType": "ServicePrincipal",
                }
            }),
            vec![faddr, "apim".into()],
        );
    }

    // One backend per foundry that some API can reach.
    let used = used_foundries(model);
    for f in model.foundries.iter().filter(|f| used.contains(&f.name)) {
        let faddr = format!("foundries.{}", f.name);
        let mut props = json!({
            "description": format!("{OWNER_DESCRIPTION}: Foundry {} ({})", f.name, f.location),
            // The account root: each API's policy adds its type's path (`/openai`, `/models`),
            // so APIs of every type can share the foundry's backend and pools.
            "url": output_of(&faddr, "properties.endpoint", ""),
            "protocol": "http",
        });
        if let Some(br) = &f.breaker {
            props["circuitBreaker"] = json!({ "rules": [{
                "name": "breaker",
                "failureCondition": {
                    "count": br.failures,
                    "interval": duration::to_iso(br.interval_secs),
                    "statusCodeRanges": br.status_codes.iter().map(|(lo, hi)| json!({ "min": lo, "max": hi })).collect::<Vec<_>>(),
                },
                "tripDuration": duration::to_iso(br.trip_secs),
                "acceptRetryAfter": br.accept_retry_after,
            }]});
        }
        b.add(
            format!("backends.{}", f.name),
            Kind::Backend,
            format!("{apim_id}/backends/{}", f.name),
            json!({ "properties": props }),
            vec!["apim".into(), faddr],
        );
    }

    // Pools that some API uses.
    for p in model
        .pools
        .iter()
        .filter(|p| used_pools(model).contains(&p.name))
    {
        let services: Vec<Value> = p
            .members
            .iter()
            .map(|m| json!({ "id": id_of(&format!("backends.{}", m.foundry)), "priority": m.priority, "weight": m.weight }))
            .collect();
        let mut pool = json!({ "services": services });
        if let Some(cookie) = &p.affinity {
            pool["sessionAffinity"] =
                json!({ "sessionId": { "source": "cookie", "name": cookie } });
        }
        let what = match &p.derived_for {
            Some(m) => format!("pool derived for model {m}"),
            None => format!("pool {}", p.name),
        };
        let mut deps = vec!["apim".to_string()];
        deps.extend(p.members.iter().map(|m| format!("backends.{}", m.foundry)));
        b.add(
            format!("pools.{}", p.name),
            Kind::Pool,
            format!("{apim_id}/backends/{}", p.name),
            json!({ "properties": { "description": format!("{OWNER_DESCRIPTION}: {what}"), "type": "Pool", "pool": pool } }),
            deps,
        );
    }

    // APIs, their operations and policies. The operations travel inside the API's write as an
    // OpenAPI document (as the labs import them): APIM locks an API while any write to it is
    // settling (409 PessimisticConcurrencyConflict), so one write for the API and its
    // operations, then the policy, is the shortest conflict-free chain.
    for api in &model.apis {
        let addr = format!("apis.{}", api.name);
        let id = format!("{apim_id}/apis/{}", api.name);
        let description = format!("{OWNER_DESCRIPTION}: {} API", api.api_type.as_str());
        let ops = operations(&api.api_type);
        b.add(
            addr.clone(),
            Kind::Api,
            id.clone(),
            json!({ "properties": {
                "displayName": api.name,
                "description": description,
                "path": apim_path(api),
                "protocols": ["https"],
                "subscriptionRequired": api.subscription_required,
                "subscriptionKeyParameterNames": { "header": "api-key", "query": "api-key" },
                "format": "openapi+json",
                "value": openapi_document(&api.name, &description, &ops).to_string(),
            }}),
            vec!["apim".into()],
        );
        for op in &ops {
            let params: Vec<Value> = template_params(op.url)
                .map(|p| json!({ "name": p, "type": "string", "required": true }))
                .collect();
            b.add(
                format!("{addr}.operations.{}", op.name),
                Kind::Operation,
                format!("{id}/operations/{}", op.name),
                json!({ "properties": { "displayName": op.display, "method": op.method, "urlTemplate": op.url, "templateParameters": params } }),
                vec![addr.clone()],
            );
            if let Some(last) = b.out.last_mut() {
                last.written_by = Some(addr.clone());
            }
        }
        let xml = match &api.custom_policy {
            Some(p) => p.xml.clone(),
            None => crate::render::policy::render(model, api),
        };
        let mut deps = vec![addr.clone()];
        deps.extend(model.api_targets(api).iter().map(|t| target_address(t)));
        b.add(
            format!("{addr}.policy"),
            Kind::Policy,
            format!("{id}/policies/policy"),
            json!({ "properties": { "format": "rawxml", "value": xml } }),
            deps,
        );
    }

    for s in &a.subscriptions {
        let (scope, deps) = match &s.api {
            Some(one) => (
                format!("/apis/{one}"),
                vec!["apim".to_string(), format!("apis.{one}")],
            ),
            None => ("/apis".to_string(), vec!["apim".to_string()]),
        };
        b.add(
            format!("apim.subscriptions.{}", s.name),
            Kind::Subscription,
            format!("{apim_id}/subscriptions/{}", s.name),
            json!({ "properties": { "displayName": s.display_name, "scope": scope, "state": "active" } }),
            deps,
        );
    }
    super::observability::build(&mut b, model, &rg_id, &apim_id);
    Graph {
        resources: b.out,
        suffix: model.suffix.clone(),
    }
}

pub fn target_address(t: &crate::model::Target) -> String {
    match t {
        crate::model::Target::Foundry(f) => format!("backends.{f}"),
        crate::model::Target::Pool(p) => format!("pools.{p}"),
    }
}

/// The OpenAPI 3 document an API imports: one path item per operation, named by
/// `operationId` (APIM names the operation after it), with its path parameters.
pub fn openapi_document(title: &str, description: &str, ops: &[Operation]) -> Value {
    let mut paths = Map::new();
    for op in ops {
        let parameters: Vec<Value> = template_params(op.url)
            .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let item = paths.entry(op.url.to_string()).or_insert_with(|| json!({}));
        item[op.method.to_ascii_lowercase()] = json!({
            "operationId": op.name,
            "summary": op.display,
            "parameters": parameters,
            "responses": { "200": { "description": "OK" } },
        });
    }
    json!({
        "openapi": "3.0.1",
        "info": { "title": title, "description": description, "version": "1.0" },
        "paths": paths,
    })
}

fn used_pools(model: &Model) -> Vec<String> {
    let mut v: Vec<String> = model
        .apis
        .iter()
        .flat_map(|a| model.api_targets(a))
        .filter_map(|t| match t {
            crate::model::Target::Pool(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

fn used_foundries(model: &Model) -> Vec<String> {
    let mut v: Vec<String> = model
        .apis
        .iter()
        .flat_map(|a| model.api_targets(a))
        .flat_map(|t| model.target_foundries(t).into_iter().map(str::to_string))
        .collect();
    v.sort();
    v.dedup();
    v
}
