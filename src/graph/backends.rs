//! One backend per foundry that some API can reach, and the pools APIs use.

use super::builder::{Builder, Ids};
use super::refs::{id_of, output_of};
use super::{Kind, OWNER_DESCRIPTION};
use crate::model::{Model, duration};
use serde_json::{Value, json};

pub(super) fn build(b: &mut Builder, model: &Model, ids: &Ids) {
    // One backend per foundry that some API can reach.
    let used = used_foundries(model);
    for f in model.foundries.iter().filter(|f| used.contains(&f.name)) {
        let faddr = format!("foundries.{}", f.name);
        let mut props = json!({
            "description": format!("{OWNER_DESCRIPTION}: Foundry {} ({})", f.name, f.location),
            // The account endpoint plus `apim.backend_path`: by default the root, each API's
            // policy adding its type's path (`/openai`, `/models`), so APIs of every type can
            // share the foundry's backend and pools; `/openai` as the labs write it.
            "url": output_of(&faddr, "properties.endpoint", model.apim.endpoint_suffix()),
            "protocol": "http",
        });
        if let Some(br) = &f.breaker {
            let mut rule = json!({
                "name": "breaker",
                "failureCondition": {
                    "count": br.failures,
                    "interval": duration::to_iso(br.interval_secs),
                    "statusCodeRanges": br.status_codes.iter().map(|(lo, hi)| json!({ "min": lo, "max": hi })).collect::<Vec<_>>(),
                },
                "tripDuration": duration::to_iso(br.trip_secs),
            });
            // Only what the spec declares: an unset flag stays APIM's (off).
            if let Some(accept) = br.accept_retry_after {
                rule["acceptRetryAfter"] = json!(accept);
            }
            props["circuitBreaker"] = json!({ "rules": [rule] });
        }
        b.add(
            format!("backends.{}", f.name),
            Kind::Backend,
            format!("{}/backends/{}", ids.apim, f.name),
            json!({ "properties": props }),
            vec!["apim".into(), faddr],
        );
    }

    // Pools that some API uses.
    for p in model
        .pools
        .iter()
        .filter(|p| used_pools(model).contains(&p.name))
    {
        let services: Vec<Value> = p
            .members
            .iter()
            .map(|m| {
                // Unset keys are left out, not `null`: APIM reads absence as one group, even split.
                let mut svc = json!({ "id": id_of(&format!("backends.{}", m.foundry)) });
                if let Some(p) = m.priority {
                    svc["priority"] = json!(p);
                }
                if let Some(w) = m.weight {
                    svc["weight"] = json!(w);
                }
                svc
            })
            .collect();
        let mut pool = json!({ "services": services });
        if let Some(cookie) = &p.affinity {
            pool["sessionAffinity"] =
                json!({ "sessionId": { "source": "cookie", "name": cookie } });
        }
        let what = match &p.derived_for {
            Some(m) => format!("pool derived for model {m}"),
            None => format!("pool {}", p.name),
        };
        let mut deps = vec!["apim".to_string()];
        deps.extend(p.members.iter().map(|m| format!("backends.{}", m.foundry)));
        b.add(
            format!("pools.{}", p.name),
            Kind::Pool,
            format!("{}/backends/{}", ids.apim, p.name),
            json!({ "properties": { "description": format!("{OWNER_DESCRIPTION}: {what}"), "type": "Pool", "pool": pool } }),
            deps,
        );
    }
}

pub fn target_address(t: &crate::model::Target) -> String {
    match t {
        crate::model::Target::Foundry(f) => format!("backends.{f}"),
        crate::model::Target::Pool(p) => format!("pools.{p}"),
    }
}

fn used_pools(model: &Model) -> Vec<String> {
    let mut v: Vec<String> = model
        .apis
        .iter()
        .flat_map(|a| model.api_targets(a))
        .filter_map(|t| match t {
            crate::model::Target::Pool(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

fn used_foundries(model: &Model) -> Vec<String> {
    let mut v: Vec<String> = model
        .apis
        .iter()
        .flat_map(|a| model.api_targets(a))
        .flat_map(|t| model.target_foundries(t).into_iter().map(str::to_string))
        .collect();
    v.sort();
    v.dedup();
    v
}
