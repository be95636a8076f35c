//! Spec -> Model: the validated form of gw.yaml. Everything downstream (render, graph,
//! plan, apply, serve) reads a `Model`, never the raw spec.

mod apim;
mod apis;
pub mod backend_path;
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
mod observability;
pub mod operations;
mod pools;
pub mod regions;
mod routing;
mod scope;
pub mod surface;
mod text;
mod tokens;
mod types;

pub use build::build;
pub use failover::default_breaker;
pub use pools::MAX_POOL_MEMBERS;
pub use routing::derived_pool_name;
pub use scope::{Context, PLACEHOLDER_SUBSCRIPTION, auto_suffix};
pub use text::holdable;
pub use types::*;

use crate::diag::{Diagnostic, Source};

/// Reads, parses and validates a spec in one step, reporting every problem at once: the
/// fields that are unknown or missing, and what the rules find in the rest.
pub fn load(source: &Source, ctx: &Context) -> Result<Model, Vec<Diagnostic>> {
    let (spec, mut problems) = crate::spec::parse(source)?;
    let semantic = match build(&spec, ctx) {
        Ok(mut model) if problems.is_empty() => {
            return read_policies(&mut model, source).map(|()| model);
        }
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

/// Reads the policy files the spec names, relative to the spec's folder. A missing file or
/// one that is not XML is an error at the `policy:` line.
fn read_policies(model: &mut Model, source: &Source) -> Result<(), Vec<Diagnostic>> {
    let dir = std::path::Path::new(&source.name)
        .parent()
        .unwrap_or(std::path::Path::new(""))
        .to_path_buf();
    let mut problems = Vec::new();
    for api in &mut model.apis {
        let Some(p) = api.custom_policy.as_mut() else {
            continue;
        };
        let file = dir.join(&p.path);
        let problem = match std::fs::read_to_string(&file) {
            Ok(xml)
                if roxmltree::Document::parse(
                    &crate::markup::xml::mask_expressions(&xml)
                        .map(|m| m.0)
                        .unwrap_or_default(),
                )
                .is_ok() =>
            {
                p.xml = xml;
                continue;
            }
            Ok(_) => (
                format!("{} is not a well-formed policy document", file.display()),
                "fix the XML, or remove `policy:` to let gw generate the policy",
            ),
            Err(e) => (
                format!("cannot read {}: {e}", file.display()),
                "the path is relative to the spec file; remove `policy:` to let gw generate the policy",
            ),
        };
        problems.push(Diagnostic {
            loc: p.loc,
            path: format!("apis.{}.policy", api.name),
            message: problem.0,
            hint: Some(problem.1.into()),
            note: None,
        });
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
