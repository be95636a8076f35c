//! APIs, the operations they import, and their policies.

use super::backends::target_address;
use super::builder::{Builder, Ids};
use super::{Kind, OWNER_DESCRIPTION};
use crate::model::surface::{apim_path, template_params};
use crate::model::{ApiOperation, Model};
use serde_json::{Map, Value, json};

pub(super) fn build(b: &mut Builder, model: &Model, ids: &Ids) {
    // APIs, their operations and policies. The operations travel inside the API's write as an
    // OpenAPI document (as the labs import them): APIM locks an API while any write to it is
    // settling (409 PessimisticConcurrencyConflict), so one write for the API and its
    // operations, then the policy, is the shortest conflict-free chain.
    for api in &model.apis {
        let addr = format!("apis.{}", api.name);
        let id = format!("{}/apis/{}", ids.apim, api.name);
        let description = format!("{OWNER_DESCRIPTION}: {} API", api.api_type.as_str());
        let ops = api.operations();
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
            let params: Vec<Value> = template_params(&op.url)
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
            None => crate::policy::render(model, api),
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
}

/// The OpenAPI 3 document an API imports: one path item per operation, named by
/// `operationId` (APIM names the operation after it), with its path parameters.
pub fn openapi_document(title: &str, description: &str, ops: &[ApiOperation]) -> Value {
    let mut paths = Map::new();
    for op in ops {
        let parameters: Vec<Value> = template_params(&op.url)
            .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let item = paths.entry(op.url.clone()).or_insert_with(|| json!({}));
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

#[cfg(test)]
mod tests {
    use crate::diag::Source;
    use crate::model::{Context, load};
    use serde_json::Value;

    /// The model-routing example with its API's operations declared: chat completions, and
    /// the stored-response read under a name of its own.
    fn declared() -> crate::model::Model {
        let path = format!(
            "{}/examples/model-routing/gw.yaml",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path).unwrap().replace(
            "    routing: by-model\n",
            "    routing: by-model\n    operations:\n      - { name: ChatCompletions_Create, method: POST, url: \"/deployments/{deployment-id}/chat/completions\" }\n      - { name: Responses_Get, method: get, url: \"/responses/{id}\", display_name: Get a response }\n",
        );
        load(&Source::new("gw.yaml", text), &Context::default()).expect("valid")
    }

    #[test]
    fn declared_operations_are_what_the_api_imports_and_what_its_policy_names() {
        let m = declared();
        let g = super::super::build(&m);
        let ops: Vec<_> = g
            .resources
            .iter()
            .filter(|r| r.address.starts_with("apis.inference.operations."))
            .map(|r| {
                (
                    r.name.as_str(),
                    r.body["properties"]["method"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            ops,
            [("ChatCompletions_Create", "POST"), ("Responses_Get", "GET")]
        );
        let api = g.get("apis.inference").unwrap();
        let doc: Value =
            serde_json::from_str(api.body["properties"]["value"].as_str().unwrap()).unwrap();
        let paths: Vec<_> = doc["paths"].as_object().unwrap().keys().collect();
        assert_eq!(
            paths,
            [
                "/deployments/{deployment-id}/chat/completions",
                "/responses/{id}"
            ]
        );
        assert_eq!(
            doc["paths"]["/responses/{id}"]["get"]["summary"],
            "Get a response"
        );
        // gw's policy sends a stored-response read (it names no model) by the cookie or to
        // the default target: it must know the operation by the name this API gives it.
        let xml = crate::policy::render(&m, &m.apis[0]);
        assert!(
            xml.contains("context.Operation.Id == \"Responses_Get\""),
            "{xml}"
        );
        assert!(!xml.contains("\"get-response\""), "{xml}");
    }
}
