//! Names that become the same Azure or APIM id must differ, ignoring case (APIM ids are
//! case-insensitive: two entities whose ids differ only in case are one, and apply would
//! overwrite one with the other forever). Foundries, pools and the pools gw derives for
//! models share one namespace, the service's backends; derived names are included, so two
//! models whose names differ only by punctuation (`gpt-4.1`, `gpt-4-1`) cannot share a pool.
//! APIs, subscriptions and model deployments are checked in their own sections with
//! `Diags::duplicate`.

use super::diags::Diags;
use super::types::Pool;
use crate::spec::{Loc, Spec};
use std::collections::BTreeMap;

enum Kind<'a> {
    Foundry,
    Pool,
    /// A pool gw derives for this model.
    Derived(&'a str),
}

struct Id<'a> {
    name: &'a str,
    loc: Loc,
    path: String,
    kind: Kind<'a>,
}

impl Id<'_> {
    fn what(&self) -> String {
        match self.kind {
            Kind::Foundry => format!("foundry `{}`", self.name),
            Kind::Pool => format!("pool `{}`", self.name),
            Kind::Derived(m) => format!("the pool `{}` derived for model `{m}`", self.name),
        }
    }
    /// What the note under the error points at.
    fn place(&self) -> String {
        match self.kind {
            Kind::Derived(m) => format!("model `{m}`, which derives `{}`, is here", self.name),
            _ => format!("{} is here", self.what()),
        }
    }
}

/// Every APIM backend id (foundries, user pools, derived pools) is unique ignoring case.
/// `pools` is the user pools followed by the derived ones.
pub(super) fn backend_ids(d: &mut Diags, spec: &Spec, pools: &[Pool]) {
    let mut ids = Vec::new();
    for (i, f) in spec.foundries.iter().enumerate() {
        ids.push(Id {
            name: &f.name.value,
            loc: f.name.loc,
            path: format!("foundries[{i}].name"),
            kind: Kind::Foundry,
        });
    }
    for (key, _) in spec.pools.iter() {
        ids.push(Id {
            name: &key.value,
            loc: key.loc,
            path: format!("pools.{}", key.value),
            kind: Kind::Pool,
        });
    }
    for p in pools {
        let Some(model) = p.derived_for.as_deref() else {
            continue;
        };
        // A derived pool is located at the model it is derived from.
        let (i, m) = spec
            .models
            .iter()
            .enumerate()
            .find(|(_, m)| m.name.value == model)
            .expect("pools are derived only for declared models");
        ids.push(Id {
            name: &p.name,
            loc: m.name.loc,
            path: format!("models[{i}].name"),
            kind: Kind::Derived(model),
        });
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (n, id) in ids.iter().enumerate() {
        match seen.get(&id.name.to_lowercase()) {
            Some(&first) => clash(d, &ids[first], id),
            None => {
                seen.insert(id.name.to_lowercase(), n);
            }
        }
    }
}

/// Reports `later`, which takes the backend id of `first`.
fn clash(d: &mut Diags, first: &Id, later: &Id) {
    let (msg, hint) = match (&first.kind, &later.kind) {
        (Kind::Foundry, Kind::Foundry) => (
            format!("duplicate foundry `{}`", later.name),
            "a foundry's name is its APIM backend id, and those ignore case: rename one of them"
                .to_string(),
        ),
        (Kind::Pool, Kind::Pool) => (
            format!(
                "{} has the APIM backend id of {}",
                later.what(),
                first.what()
            ),
            "APIM backend ids ignore case: rename one of the pools".to_string(),
        ),
        (_, Kind::Foundry) | (_, Kind::Pool) => (
            format!(
                "{} has the APIM backend id of {}",
                later.what(),
                first.what()
            ),
            "foundries and pools share APIM's backend ids, which ignore case: rename the pool"
                .to_string(),
        ),
        (Kind::Pool, Kind::Derived(model)) => (
            format!(
                "model `{model}` derives the pool `{}`, already the backend id of {}",
                later.name,
                first.what()
            ),
            format!(
                "route the model to that pool explicitly (`routes: {{ {model}: {} }}`) if every member hosts it, or rename the pool",
                first.name
            ),
        ),
        (_, Kind::Derived(model)) => (
            format!(
                "model `{model}` derives the pool `{}`, already the backend id of {}",
                later.name,
                first.what()
            ),
            format!(
                "declare a pool for `{model}` under `pools:` and route the model to it (`routes: {{ {model}: POOL }}`), or rename one of the models"
            ),
        ),
    };
    d.collision(later.loc, &later.path, msg, first.loc, first.place(), hint);
}

#[cfg(test)]
mod tests {
    use crate::diag::Source;
    use crate::model::{Context, Model, Routing, Target, load};

    /// Three foundries (one named like a derived pool), two models on two hosts each, and
    /// a routing API; `extra` is appended under the API.
    fn spec(a: &str, b: &str, extra: &str) -> String {
        format!(
            r#"version: 1
resource_group: {{ name: rg, location: eastus }}
foundries:
  - {{ name: foundry1, location: eastus }}
  - {{ name: foundry2, location: westus }}
  - {{ name: gpt-4-pool, location: uksouth }}
models:
  - {{ name: "{a}", publisher: OpenAI, version: "1", sku: GlobalStandard, capacity: 1, foundries: [foundry1, foundry2] }}
  - {{ name: "{b}", publisher: OpenAI, version: "1", sku: GlobalStandard, capacity: 1, foundries: [foundry2, gpt-4-pool] }}
apim: {{ name: apim, sku: BasicV2, publisher_email: a@b.c, publisher_name: P }}
pools:
  both:
    members: [{{ foundry: foundry2 }}]
apis:
  inference:
    path: inference
    routing: by-model
{extra}"#
        )
    }

    fn load_spec(text: &str) -> Result<Model, Vec<crate::diag::Diagnostic>> {
        load(&Source::new("gw.yaml", text), &Context::default())
    }

    /// Every route of a valid model goes only to foundries that host its model.
    fn assert_routes_to_hosts(m: &Model) {
        for api in &m.apis {
            let Routing::ByModel { routes, .. } = &api.routing else {
                continue;
            };
            for r in routes {
                let dep = m.deployments.iter().find(|d| d.name == r.model).unwrap();
                let targets = m.target_foundries(&r.target);
                assert!(!targets.is_empty(), "{}: no members", r.model);
                for f in targets {
                    assert!(
                        dep.foundries.iter().any(|h| h == f),
                        "{} sent to {f}",
                        r.model
                    );
                }
            }
        }
    }

    /// The same through the resources gw writes: each route's pool resource lists only
    /// hosts of its model, and no two backend resources have ids that differ only in case.
    fn assert_graph_routes_to_hosts(m: &Model) {
        let g = crate::graph::build(m);
        let mut ids: Vec<String> = g
            .resources
            .iter()
            .filter(|r| r.address.starts_with("backends.") || r.address.starts_with("pools."))
            .map(|r| r.id.to_lowercase())
            .collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "backend ids collide: {ids:?}");
        for api in &m.apis {
            let Routing::ByModel { routes, .. } = &api.routing else {
                continue;
            };
            for r in routes {
                let dep = m.deployments.iter().find(|d| d.name == r.model).unwrap();
                let members: Vec<String> = match &r.target {
                    Target::Foundry(f) => vec![f.clone()],
                    Target::Pool(p) => {
                        let res = g.get(&format!("pools.{p}")).expect("the pool is written");
                        res.body["properties"]["pool"]["services"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|s| {
                                s["id"]["of"]
                                    .as_str()
                                    .unwrap()
                                    .trim_start_matches("backends.")
                                    .to_string()
                            })
                            .collect()
                    }
                };
                assert!(!members.is_empty());
                for f in members {
                    assert!(
                        g.get(&format!("backends.{f}")).is_some(),
                        "{f} has a backend"
                    );
                    assert!(dep.foundries.contains(&f), "{}: pool sends to {f}", r.model);
                }
            }
        }
    }

    #[test]
    fn derived_pool_names_never_collide_in_a_valid_model() {
        let names = [
            "gpt-4.1",
            "gpt-4-1",
            "GPT-4.1",
            "gpt_4_1",
            "gpt-4-1-pool",
            "gpt-4",
            "both",
            "foundry1",
            "o4-mini",
        ];
        let mut valid = 0;
        let mut rejected = 0;
        for a in names {
            for b in names {
                let Ok(m) = load_spec(&spec(a, b, "")) else {
                    rejected += 1;
                    continue;
                };
                valid += 1;
                let mut ids: Vec<String> =
                    m.foundries.iter().map(|f| f.name.to_lowercase()).collect();
                ids.extend(m.pools.iter().map(|p| p.name.to_lowercase()));
                let n = ids.len();
                ids.sort();
                ids.dedup();
                assert_eq!(ids.len(), n, "{a} + {b}: backend ids collide: {ids:?}");
                assert_routes_to_hosts(&m);
                assert_graph_routes_to_hosts(&m);
            }
        }
        // Both outcomes occur, so the loop checks something either way.
        assert!(
            valid > 20 && rejected > 10,
            "{valid} valid, {rejected} rejected"
        );
    }

    #[test]
    fn the_two_model_clash_is_rejected_and_each_fix_routes_correctly() {
        let clash = load_spec(&spec("gpt-4.1", "gpt-4-1", "")).unwrap_err();
        assert_eq!(clash.len(), 1, "{clash:?}");
        assert_eq!(clash[0].path, "models[1].name");
        assert_eq!(clash[0].note.as_ref().unwrap().loc.line, 8);
        // Fix 1: rename the second model.
        let m = load_spec(&spec("gpt-4.1", "gpt-41", "")).unwrap();
        assert_routes_to_hosts(&m);
        assert_graph_routes_to_hosts(&m);
        // Fix 2: route the second model to a declared pool of its hosts' subset.
        let m = load_spec(&spec(
            "gpt-4.1",
            "gpt-4-1",
            "    routes: { gpt-4-1: both }\n",
        ))
        .unwrap();
        assert_routes_to_hosts(&m);
        assert_graph_routes_to_hosts(&m);
        let derived: Vec<_> = m
            .pools
            .iter()
            .filter_map(|p| p.derived_for.as_deref())
            .collect();
        assert_eq!(derived, ["gpt-4.1"]);
        // Fix 3: route the first one, so the second keeps the derived name.
        let m = load_spec(&spec(
            "gpt-4.1",
            "gpt-4-1",
            "    routes: { gpt-4.1: both }\n",
        ))
        .unwrap();
        assert_routes_to_hosts(&m);
        assert_graph_routes_to_hosts(&m);
        let p = m.pool("gpt-4-1-pool").unwrap();
        assert_eq!(p.derived_for.as_deref(), Some("gpt-4-1"));
        let members: Vec<_> = p.members.iter().map(|m| m.foundry.as_str()).collect();
        assert_eq!(members, ["foundry2", "gpt-4-pool"]);
    }
}
