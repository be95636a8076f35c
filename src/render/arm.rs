//! Graph -> ARM deployment template (`main.json`), built from serde values, not text.
//! Resource-group scope: `az deployment group create` deploys it into an existing group.

use super::portable;
use crate::graph::refs::{self, Ref};
use crate::graph::{Graph, Kind, Resource};
use crate::markup::escape::arm_literal;
use serde_json::{Map, Value, json};

/// `[resourceId(...)]` without brackets, for the resource at `address`.
fn resource_id_expr(graph: &Graph, address: &str) -> String {
    let Some(r) = graph.get(address) else {
        return format!("'{address}'");
    };
    resource_id_of(graph, r)
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The segments of a nested name after the provider: `service/x/backends/y` -> [x, y].
fn name_segments(r: &Resource) -> Vec<String> {
    let path =
        r.id.rsplit_once("/providers/")
            .map(|(_, p)| p)
            .unwrap_or(&r.id);
    // provider namespace, then alternating type/name
    path.split('/')
        .skip(1)
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// `{type}/{name}` of the resource an extension resource is scoped to (an account, a
/// component, the APIM service), as ARM's `scope` property takes it.
fn scope_ref(graph: &Graph, r: &Resource) -> Option<(String, String)> {
    let s = graph.scope_of(r)?;
    Some((s.arm_type().to_string(), name_segments(s).join("/")))
}

fn resource_id_of(graph: &Graph, r: &Resource) -> String {
    let args: Vec<String> = name_segments(r).iter().map(|s| quote(s)).collect();
    if let Some((ty, name)) = scope_ref(graph, r) {
        return format!(
            "extensionResourceId(resourceId({}, {}), {}, {})",
            quote(&ty),
            quote(&name),
            quote(r.arm_type()),
            quote(&r.name)
        );
    }
    format!("resourceId({}, {})", quote(r.arm_type()), args.join(", "))
}

/// Literal strings shaped like expressions (`[...]`) would be evaluated, property names
/// included (a tag name `[deployment().name]`): see [`arm_literal`].
fn literal(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(arm_literal(s)),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (arm_literal(k), literal(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(literal).collect()),
        _ => v.clone(),
    }
}

fn with_refs(graph: &Graph, body: &Value) -> Value {
    let escaped = literal(body);
    refs::resolve(&escaped, &|r| {
        Some(Value::String(match r {
            Ref::Id { of } => format!("[{}]", resource_id_expr(graph, of)),
            Ref::Output { of, path, append } => {
                let api = graph.get(of).map(|r| r.api_version()).unwrap_or_default();
                let expr = format!(
                    "reference({}, '{api}', 'full').{path}",
                    resource_id_expr(graph, of)
                );
                if append.is_empty() {
                    format!("[{expr}]")
                } else {
                    format!("[concat({expr}, {})]", quote(append))
                }
            }
        }))
    })
}

/// `properties.roleDefinitionId` as `[subscriptionResourceId(...)]`: the template then works in
/// whichever subscription it is deployed to.
fn portable_role_definition(body: &mut Value) {
    if let Some(v) = body.pointer_mut("/properties/roleDefinitionId")
        && let Some(guid) = v.as_str().and_then(portable::role_definition_guid)
    {
        *v = json!(format!("[{}]", portable::role_definition(guid, quote)));
    }
}

pub fn render(graph: &Graph, header: &str) -> Value {
    let mut resources = Vec::new();
    for r in graph.written().filter(|r| r.kind != Kind::ResourceGroup) {
        let mut o = Map::new();
        o.insert("type".into(), json!(r.arm_type()));
        o.insert("apiVersion".into(), json!(r.api_version()));
        if let Some((ty, name)) = scope_ref(graph, r) {
            o.insert("scope".into(), json!(arm_literal(&format!("{ty}/{name}"))));
            o.insert("name".into(), json!(arm_literal(&r.name)));
        } else {
            o.insert(
                "name".into(),
                json!(arm_literal(&name_segments(r).join("/"))),
            );
        }
        let mut body = with_refs(graph, &r.body);
        if r.kind == Kind::RoleAssignment {
            portable_role_definition(&mut body);
        }
        if let Value::Object(body) = body {
            for (k, v) in body {
                o.insert(k, v);
            }
        }
        let deps: Vec<Value> = r
            .depends_on
            .iter()
            .filter(|d| *d != "resource_group")
            .map(|d| json!(format!("[{}]", resource_id_expr(graph, d))))
            .collect();
        if !deps.is_empty() {
            o.insert("dependsOn".into(), Value::Array(deps));
        }
        resources.push(Value::Object(o));
    }
    json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "metadata": { "_generator": { "name": "gw", "version": env!("CARGO_PKG_VERSION") }, "description": arm_literal(header) },
        "resources": resources,
    })
}
