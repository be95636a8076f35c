//! `routing: by-model`: which backend or pool serves each model.

use super::backends::Backends;
use super::diags::{Diags, choices};
use super::types::*;
use crate::diag::did_you_mean;
use crate::spec::{NamedMap, Sp};
use std::collections::BTreeMap;

/// Resolves `routing: by-model`: deny patterns, explicit routes (checked to host the model
/// on every member), single-host models, and pools derived for multi-host models.
#[allow(clippy::too_many_arguments)]
pub(super) fn by_model(
    d: &mut Diags,
    path: &str,
    routes: &NamedMap<Sp<String>>,
    deny: &[Sp<String>],
    deployments: &[Deployment],
    pools: &[Pool],
    derived: &mut Vec<Pool>,
    backends: &Backends,
) -> Routing {
    let model_names: Vec<&str> = deployments.iter().map(|m| m.name.as_str()).collect();
    for (i, p) in deny.iter().enumerate() {
        if p.trim().is_empty() || p.contains(['"', '\\']) {
            d.err_hint(
                p.loc,
                format!("{path}.deny[{i}]"),
                format!("`{}` is not a model pattern", p.value),
                Some("use a model name, optionally with `*` wildcards, e.g. `gpt-4o*`".into()),
            );
        }
    }
    let mut explicit: BTreeMap<&str, Target> = BTreeMap::new();
    for (model, target) in routes.iter() {
        let rpath = format!("{path}.routes.{}", model.value);
        let Some(dep) = deployments.iter().find(|m| m.name == model.value) else {
            let hint = did_you_mean(model, model_names.iter().copied()).unwrap_or_else(|| {
                choices(
                    "declared models",
                    &model_names,
                    "declare the model under `models:` first",
                )
            });
            d.err_hint(
                model.loc,
                rpath,
                format!("unknown model `{}`", model.value),
                Some(hint),
            );
            continue;
        };
        let Some(t) = backends.resolve(d, target, &rpath) else {
            continue;
        };
        let members: Vec<String> = match &t {
            Target::Foundry(f) => vec![f.clone()],
            Target::Pool(p) => pools
                .iter()
                .find(|x| &x.name == p)
                .map(|x| x.members.iter().map(|m| m.foundry.clone()).collect())
                .unwrap_or_default(),
        };
        let missing: Vec<&String> = members
            .iter()
            .filter(|m| !dep.foundries.contains(m))
            .collect();
        if !missing.is_empty() {
            d.err_hint(
                target.loc,
                rpath,
                format!("`{}` does not host model `{}` on {}", target.value, dep.name, missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")),
                Some(format!("`{}` is deployed on {}; route it to a backend or pool made of those, or add them to the model's `foundries`", dep.name, dep.foundries.join(", "))),
            );
            continue;
        }
        explicit.insert(model.value.as_str(), t);
    }
    let mut out = Vec::new();
    for dep in deployments {
        if deny.iter().any(|p| glob_match(p, &dep.name)) {
            continue; // denied models are answered 403 before any route is looked at
        }
        let target = if let Some(t) = explicit.get(dep.name.as_str()) {
            t.clone()
        } else if dep.foundries.len() == 1 {
            Target::Foundry(dep.foundries[0].clone())
        } else if dep.foundries.is_empty() {
            continue;
        } else {
            let name = derived_pool_name(&dep.name);
            // One pool per model, shared by every API that routes it. Two models may derive
            // the same name (`gpt-4.1`, `gpt-4-1`): each still gets its own pool here, and
            // `namespaces` rejects the clash, so neither is ever sent to the other's hosts.
            if !derived
                .iter()
                .any(|p| p.derived_for.as_deref() == Some(dep.name.as_str()))
            {
                derived.push(Pool {
                    name: name.clone(),
                    members: dep
                        .foundries
                        .iter()
                        .map(|f| Member {
                            foundry: f.clone(),
                            // Equal priority and weight: nothing to write.
                            priority: None,
                            weight: None,
                        })
                        .collect(),
                    breaker: None,
                    affinity: None,
                    derived_for: Some(dep.name.clone()),
                });
            }
            Target::Pool(name)
        };
        out.push(Route {
            model: dep.name.clone(),
            target,
        });
    }
    Routing::ByModel {
        routes: out,
        deny: deny.iter().map(|p| p.value.clone()).collect(),
    }
}

/// `gpt-4.1` -> `gpt-4-1-pool`: backend ids stay to letters, digits and hyphens.
pub fn derived_pool_name(model: &str) -> String {
    let mut s: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    format!("{}-pool", s.trim_matches('-'))
}
