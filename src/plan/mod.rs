//! Plan: diff the desired resources against what is live, and say exactly what apply will
//! do. `compute` is pure; `read` gathers the live state through ARM.

pub mod compute;
pub mod diff;
pub mod preflight;
pub mod read;
pub mod types;
mod unset;
pub mod view;

pub use compute::{LiveResource, LiveState, Options, Orphan, compute, desired_body, resolve_refs};
pub use types::*;

use crate::graph::Graph;
use crate::model::Model;

/// Assembles a plan from computed changes.
pub fn assemble(
    model: &Model,
    graph: &Graph,
    spec_text: &str,
    live: &LiveState,
    opts: Options,
) -> Plan {
    let changes = compute(graph, live, opts);
    let summary = Plan::summarise(&changes);
    Plan {
        format_version: 1,
        spec_digest: spec_digest(spec_text),
        subscription: model.subscription.clone(),
        resource_group: model.resource_group.name.clone(),
        changes,
        summary,
        read: Vec::new(),
        preflight: Vec::new(),
        preflight_skipped: None,
    }
}
