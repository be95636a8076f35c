//! Model -> files: `main.bicep`, `main.json` (ARM template) and `policies/<api>.xml`.
//! Pure and deterministic: the same spec gives byte-identical files on every run.

pub mod arm;
pub mod bicep;
pub mod policies;
pub mod portable;
pub mod requests;

use crate::graph::{Graph, Kind};
use crate::model::Model;
use std::collections::BTreeMap;

/// Rendered files by relative path.
pub type Files = BTreeMap<String, String>;

pub fn render(model: &Model, graph: &Graph, spec_name: &str) -> Files {
    let header = if model.subscription_known {
        format!(
            "Subscription {}, resource group {}.",
            model.subscription, model.resource_group.name
        )
    } else {
        format!(
            "No subscription was given: names use the suffix of a placeholder subscription. Pass --subscription for the real names. Resource group {}.",
            model.resource_group.name
        )
    };
    let mut files = Files::new();
    for r in graph.resources.iter().filter(|r| r.kind == Kind::Policy) {
        let api = r
            .address
            .trim_start_matches("apis.")
            .trim_end_matches(".policy");
        let xml = r.body["properties"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        files.insert(format!("policies/{api}.xml"), xml);
    }
    files.insert(
        "main.bicep".into(),
        bicep::render(graph, spec_name, &header),
    );
    let json = arm::render(graph, &header);
    files.insert(
        "main.json".into(),
        format!(
            "{}\n",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        ),
    );
    files
}
