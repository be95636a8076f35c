//! Spec -> Model: the validated form of gw.yaml. Everything downstream (render, graph,
//! plan, apply, serve) reads a `Model`, never the raw spec.

mod apim;
mod apis;
mod backends;
mod breaker;
mod build;
mod deployments;
mod diags;
pub mod duration;
mod failover;
mod foundries;
pub mod names;
mod namespaces;
mod pools;
pub mod regions;
mod routing;
mod scope;
pub mod surface;
mod text;
mod types;

pub use build::build;
pub use failover::default_breaker;
pub use pools::MAX_POOL_MEMBERS;
pub use routing::derived_pool_name;
pub use scope::{Context, PLACEHOLDER_SUBSCRIPTION, auto_suffix};
pub use types::*;

use crate::diag::{Diagnostic, Source};

/// Reads, parses and validates a spec in one step, reporting every problem at once: the
/// fields that are unknown or missing, and what the rules find in the rest.
pub fn load(source: &Source, ctx: &Context) -> Result<Model, Vec<Diagnostic>> {
    let (spec, mut problems) = crate::spec::parse(source)?;
    let semantic = match build(&spec, ctx) {
        Ok(model) if problems.is_empty() => return Ok(model),
        Ok(_) => Vec::new(),
        Err(v) => v,
    };
    // A missing field reads as a default with no location; what a rule says about that
    // default only repeats the missing-field problem already reported.
    let missing = !problems.is_empty();
    problems.extend(
        semantic
            .into_iter()
            .filter(|d| !missing || d.loc.is_known()),
    );
    problems.sort_by_key(|d| (d.loc, d.path.clone()));
    Err(problems)
}
