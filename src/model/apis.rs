//! The `apis:` section: each API's type, where it sends requests, and its retry.

use super::backends::Backends;
use super::diags::{Diags, listing};
use super::names;
use super::routing::by_model;
use super::types::*;
use crate::diag::did_you_mean;
use crate::spec::{ApiSpec, NamedMap, Sp};
use std::collections::BTreeMap;

/// The APIs, and the pools derived for models that several foundries host.
pub(super) fn apis(
    d: &mut Diags,
    spec_apis: &Sp<NamedMap<ApiSpec>>,
    backends: &Backends,
    deployments: &[Deployment],
    pools: &[Pool],
) -> (Vec<Api>, Vec<Pool>) {
    let mut apis = Vec::new();
    let mut seen_paths = BTreeMap::new();
    let mut seen_names = BTreeMap::new();
    if spec_apis.is_empty() {
        d.err_hint(
            spec_apis.loc,
            "apis",
            "no APIs",
            Some("declare at least one API under `apis:`".into()),
        );
    }
    let mut derived: Vec<Pool> = Vec::new();
    for (key, api) in spec_apis.iter() {
        let path = format!("apis.{}", key.value);
        d.name(key.loc, &path, names::entity("API", &key.value, 80));
        // APIM's API ids ignore case: `inference` and `INFERENCE` would be one API.
        d.duplicate(&mut seen_names, key, &path, "API");
        d.name(
            api.path.loc,
            format!("{path}.path"),
            names::api_path(&api.path),
        );
        d.duplicate(
            &mut seen_paths,
            &api.path,
            &format!("{path}.path"),
            "API path",
        );
        let api_type = match &api.api_type {
            None => ApiType::AzureOpenAi,
            Some(t) => ApiType::parse(&t.value).unwrap_or_else(|| {
                let names = ApiType::ALL.map(|t| t.as_str());
                let hint = did_you_mean(&t.value, names.iter().copied())
                    .or_else(|| Some(format!("use one of {}", listing(&names))));
                d.err_hint(
                    t.loc,
                    format!("{path}.type"),
                    format!("unknown API type `{}`", t.value),
                    hint,
                );
                ApiType::AzureOpenAi
            }),
        };
        let routing = match (&api.backend, &api.routing) {
            (Some(b), None) => {
                if !api.routes.is_empty() || !api.deny.is_empty() {
                    let loc = if api.routes.is_empty() {
                        api.deny[0].loc
                    } else {
                        api.routes.first_loc()
                    };
                    d.err_hint(
                        loc,
                        &path,
                        "`routes` and `deny` only apply with `routing: by-model`",
                        Some("add `routing: by-model` instead of `backend`, or remove them".into()),
                    );
                }
                backends
                    .resolve(d, b, &format!("{path}.backend"))
                    .map(Routing::Single)
            }
            (None, Some(r)) if r.value == "by-model" => {
                if deployments.is_empty() {
                    d.err_hint(
                        r.loc,
                        format!("{path}.routing"),
                        "`routing: by-model` but no models are declared",
                        Some("declare the models under `models:`".into()),
                    );
                }
                Some(by_model(
                    d,
                    &path,
                    &api.routes,
                    &api.deny,
                    deployments,
                    pools,
                    &mut derived,
                    backends,
                ))
            }
            (None, Some(r)) => {
                d.err_hint(
                    r.loc,
                    format!("{path}.routing"),
                    format!("unknown routing `{}`", r.value),
                    Some("the only routing is `by-model`".into()),
                );
                None
            }
            (Some(b), Some(_)) => {
                d.err_hint(
                    b.loc,
                    &path,
                    "an API has either `backend` or `routing`, not both",
                    Some("remove one of them".into()),
                );
                None
            }
            (None, None) => {
                d.err_hint(
                    key.loc,
                    &path,
                    "an API needs `backend` or `routing: by-model`",
                    Some("add `backend: POOL_OR_FOUNDRY`".into()),
                );
                None
            }
        };
        let Some(routing) = routing else { continue };
        let members_of = |t: &Target| match t {
            Target::Foundry(_) => 1,
            Target::Pool(p) => pools
                .iter()
                .chain(derived.iter())
                .find(|x| &x.name == p)
                .map_or(1, |x| x.members.len()),
        };
        let default_count = match &routing {
            Routing::Single(t) => members_of(t).saturating_sub(1),
            Routing::ByModel { routes, .. } => routes
                .iter()
                .map(|r| members_of(&r.target).saturating_sub(1))
                .max()
                .unwrap_or(0),
        } as u32;
        let retry = match &api.retry {
            None => Retry {
                count: default_count,
                on: vec![429, 503],
            },
            Some(r) => {
                let count = r
                    .count
                    .as_ref()
                    .map_or(Some(default_count), |c| {
                        d.range(c, &format!("{path}.retry.count"), 0, 50)
                    })
                    .unwrap_or(0);
                let on = match &r.on {
                    None => vec![429, 503],
                    Some(list) => list
                        .iter()
                        .enumerate()
                        .filter_map(|(i, c)| {
                            d.range(c, &format!("{path}.retry.on[{i}]"), 400, 599)
                                .map(|v| v as u16)
                        })
                        .collect(),
                };
                if on.is_empty() && count > 0 {
                    d.err_hint(
                        r.loc,
                        format!("{path}.retry.on"),
                        "no status codes to retry on",
                        Some("e.g. `on: [429, 503]`".into()),
                    );
                }
                Retry { count, on }
            }
        };
        let declared_operations = super::operations::declared(
            d,
            &path,
            api.operations.as_ref(),
            &api_type,
            api.policy.is_none(),
        );
        apis.push(Api {
            name: key.value.clone(),
            path: api.path.value.clone(),
            api_type,
            routing,
            retry,
            subscription_required: api.subscription_required.unwrap_or(true),
            custom_policy: api.policy.as_ref().map(|p| CustomPolicy {
                path: p.value.clone(),
                loc: p.loc,
                xml: String::new(),
            }),
            declared_operations,
            // Set by `build` from `tokens::tokens`, which reads them from the same spec.
            token_limit: None,
            token_metrics: None,
        });
    }
    (apis, derived)
}
