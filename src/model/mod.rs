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
mod types;

pub use build::build;
pub use failover::default_breaker;
pub use pools::MAX_POOL_MEMBERS;
pub use routing::derived_pool_name;
pub use scope::{Context, PLACEHOLDER_SUBSCRIPTION, auto_suffix};
pub use types::*;

use crate::diag::{Diagnostic, Source};

/// Reads, parses and validates a spec in one step.
pub fn load(source: &Source, ctx: &Context) -> Result<Model, Vec<Diagnostic>> {
    let spec = crate::spec::parse(source).map_err(|d| vec![d])?;
    build(&spec, ctx)
}
