//! Spec -> Model: each section checks and builds itself in its own module; `build` only
//! calls them in order and collects every problem rather than stopping at the first.

use super::apim::{CONSUMPTION, apim};
use super::apis::apis;
use super::backends::Backends;
use super::deployments::deployments;
use super::diags::Diags;
use super::failover::breakers;
use super::foundries::foundries;
use super::namespaces::backend_ids;
use super::pools::pools;
use super::scope::{Context, scope};
use super::types::*;
use crate::diag::Diagnostic;
use crate::spec;

/// Builds the model, or returns every problem found (sorted by position in the file).
pub fn build(spec: &spec::Spec, ctx: &Context) -> Result<Model, Vec<Diagnostic>> {
    let mut d = Diags::default();
    super::text::check(spec, &mut d);
    let scope = scope(&mut d, spec, ctx);
    let mut foundries = foundries(&mut d, &spec.foundries, &scope);
    let foundry_names: Vec<&str> = foundries.iter().map(|f| f.name.as_str()).collect();
    let deployments = deployments(&mut d, &spec.models, &foundry_names);
    let api_names: Vec<&str> = spec.apis.keys().collect();
    let apim = apim(&mut d, &spec.apim, &scope, &api_names);
    let consumption = apim.sku == CONSUMPTION;
    let mut pools = pools(&mut d, &spec.pools, &foundry_names, consumption);
    let pool_names: Vec<&str> = spec.pools.keys().collect();
    let backends = Backends {
        pools: &pool_names,
        foundries: &foundry_names,
    };
    let (mut apis, derived) = apis(&mut d, &spec.apis, &backends, &deployments, &pools);
    pools.extend(derived);
    super::backend_path::check_apis(&mut d, &spec.apim, &apim.backend_path, &apis);
    let observability = super::observability::observability(&mut d, spec);
    for (name, (limit, metrics)) in super::tokens::tokens(&mut d, spec, &observability, consumption)
    {
        if let Some(api) = apis.iter_mut().find(|a| a.name == name) {
            api.token_limit = limit;
            api.token_metrics = metrics;
        }
    }
    backend_ids(&mut d, spec, &pools);
    breakers(&mut foundries, &pools, &apis, consumption);
    d.finish()?;
    Ok(Model {
        subscription: scope.subscription,
        subscription_known: scope.subscription_known,
        resource_group: scope.resource_group,
        suffix: scope.suffix,
        foundries,
        deployments,
        apim,
        pools,
        apis,
        observability,
    })
}
