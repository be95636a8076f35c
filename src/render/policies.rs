//! Every policy in the graph checked before anything is written or sent: `render`, `plan`
//! and `apply` call `check_all`.

use crate::graph::{Graph, Kind};

/// A generated policy gw will not send.
#[derive(Debug, thiserror::Error)]
#[error("the policy gw generated for API `{api}` is not safe to send: {reason}")]
pub struct PolicyError {
    pub api: String,
    pub reason: String,
}

/// Checks every policy in the graph as APIM will read it (rawxml: expressions masked, then
/// XML): well-formed, and no `{{` that APIM would replace with a named value. `render`, `plan`
/// and `apply` call it before anything is written or sent.
pub fn check_all(graph: &Graph) -> Result<(), PolicyError> {
    for r in graph.resources.iter().filter(|r| r.kind == Kind::Policy) {
        let api = r
            .address
            .trim_start_matches("apis.")
            .trim_end_matches(".policy")
            .to_string();
        let xml = r.body["properties"]["value"].as_str().unwrap_or_default();
        crate::policy::check(xml).map_err(|reason| PolicyError {
            api: api.clone(),
            reason,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Resource;
    use serde_json::json;

    fn graph_with_policy(xml: &str) -> Graph {
        let mut g = Graph::default();
        g.resources.push(Resource {
            address: "apis.inference.policy".into(),
            kind: Kind::Policy,
            id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/a/apis/inference/policies/policy".into(),
            name: "policy".into(),
            body: json!({ "properties": { "format": "rawxml", "value": xml } }),
            depends_on: Vec::new(),
            written_by: None,
        });
        g
    }

    #[test]
    fn a_broken_policy_is_refused_naming_its_api() {
        let ok = "<policies><inbound>@(\"a<b\")</inbound></policies>";
        assert!(check_all(&graph_with_policy(ok)).is_ok());
        let e = check_all(&graph_with_policy("<policies><!-- a--b --></policies>")).unwrap_err();
        assert_eq!(e.api, "inference");
        assert!(e.to_string().contains("API `inference`"), "{e}");
        assert!(e.reason.contains("not well-formed"), "{e}");
        let e = check_all(&graph_with_policy(
            "<policies>\n<a>{{secret}}</a></policies>",
        ))
        .unwrap_err();
        assert!(
            e.reason.contains("line 2") && e.reason.contains("named value"),
            "{e}"
        );
    }
}
