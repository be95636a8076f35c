//! Spec -> Model: the validated form of gw.yaml. Everything downstream (render, graph,
//! plan, apply, serve) reads a `Model`, never the raw spec.

mod apis;
mod breaker;
mod build;
mod diags;
pub mod duration;
pub mod names;
mod pools;
pub mod regions;
mod routing;
mod text;
mod types;

pub use build::{Context, PLACEHOLDER_SUBSCRIPTION, auto_suffix, build};
pub use pools::MAX_POOL_MEMBERS;
pub use routing::derived_pool_name;
pub use types::*;

use crate::diag::{Diagnostic, Source};

/// Reads, parses and validates a spec in one step.
pub fn load(source: &Source, ctx: &Context) -> Result<Model, Vec<Diagnostic>> {
    let spec = crate::spec::parse(source).map_err(|d| vec![d])?;
    build(&spec, ctx)
}
