//! The ARM requests apply sends to an empty resource group, as JSONL
//! (`{"method","url","request_body","status","response_body"}` per line): for auditing, and
//! for checking bodies against Microsoft's REST specs. Values only Azure can assign (the
//! APIM identity's principal id, an account's endpoint) are shown as placeholders.

use crate::graph::refs::{self, Ref};
use crate::graph::{Graph, Kind};
use serde_json::{Value, json};

/// The value Azure will assign, predicted where it is predictable (an account's endpoint
/// follows from its subdomain) and a zero GUID where it is not.
pub fn placeholder(graph: &Graph, r: &Ref) -> Value {
    match r {
        Ref::Id { of } => json!(graph.get(of).map(|x| x.id.clone()).unwrap_or_default()),
        Ref::Output { of, path, append } => {
            let target = graph.get(of);
            let v = match (target.map(|t| t.kind), path.as_str()) {
                (Some(Kind::Account), "properties.endpoint") => format!(
                    "https://{}.cognitiveservices.azure.com/",
                    target.map(|t| t.name.as_str()).unwrap_or_default()
                ),
                (Some(Kind::Apim), "properties.gatewayUrl") => format!(
                    "https://{}.azure-api.net",
                    target.map(|t| t.name.as_str()).unwrap_or_default()
                ),
                _ => "00000000-0000-0000-0000-000000000000".to_string(),
            };
            json!(format!("{v}{append}"))
        }
    }
}

pub fn jsonl(graph: &Graph) -> String {
    let mut out = String::new();
    for r in graph.written() {
        let body = refs::resolve(&r.body, &|x| Some(placeholder(graph, x)));
        let line = json!({
            "name": r.address,
            "method": "PUT",
            "url": format!("{}?api-version={}", r.id, r.api_version()),
            "request_body": body,
            "status": if r.kind == Kind::ResourceGroup { 201 } else { 200 },
            "response_body": null,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}
