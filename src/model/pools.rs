//! The `pools:` section: members, circuit breakers (one per foundry backend, so pools that
//! share a foundry must agree) and session affinity.

use super::breaker::breaker;
use super::diags::{Diags, known_foundry};
use super::names;
use super::types::*;
use crate::spec::{AffinitySpec, NamedMap, PoolSpec, Sp};
use std::collections::BTreeMap;

pub const MAX_POOL_MEMBERS: usize = 30;

/// The declared pools. Their names share APIM's backend namespace with the foundries and
/// derived pools, checked in `namespaces`.
pub(super) fn pools(
    d: &mut Diags,
    spec_pools: &NamedMap<PoolSpec>,
    foundry_names: &[&str],
    consumption: bool,
) -> Vec<Pool> {
    let mut pools = Vec::new();
    let mut breaker_of: BTreeMap<String, (Breaker, String)> = BTreeMap::new();
    for (key, p) in spec_pools.iter() {
        let path = format!("pools.{}", key.value);
        d.name(key.loc, &path, names::entity("backend", &key.value, 80));
        if p.members.is_empty() {
            d.err_hint(
                p.members.loc,
                format!("{path}.members"),
                "a pool needs at least one member",
                Some("add `- { foundry: NAME, priority: 1 }`".into()),
            );
        }
        if p.members.len() > MAX_POOL_MEMBERS {
            d.err_hint(
                p.members.loc,
                format!("{path}.members"),
                format!("{} members is more than Azure allows", p.members.len()),
                Some(format!(
                    "a pool takes at most {MAX_POOL_MEMBERS} members; split it"
                )),
            );
        }
        let mut members = Vec::new();
        let mut seen_m = BTreeMap::new();
        for (i, m) in p.members.iter().enumerate() {
            let mpath = format!("{path}.members[{i}]");
            let ok = known_foundry(d, foundry_names, &m.foundry, &format!("{mpath}.foundry"));
            if ok {
                d.duplicate(
                    &mut seen_m,
                    &m.foundry,
                    &format!("{mpath}.foundry"),
                    "member",
                );
            }
            let priority = m.priority.as_ref().map_or(Some(1), |v| {
                d.range(v, &format!("{mpath}.priority"), 0, 100)
            });
            let weight = m
                .weight
                .as_ref()
                .map_or(Some(1), |v| d.range(v, &format!("{mpath}.weight"), 0, 100));
            if let (true, Some(priority), Some(weight)) = (ok, priority, weight) {
                members.push(Member {
                    foundry: m.foundry.value.clone(),
                    priority: priority as u8,
                    weight: weight as u8,
                });
            }
        }
        let breaker = p.circuit_breaker.as_ref().and_then(|b| {
            if consumption {
                d.err_hint(
                    b.loc,
                    format!("{path}.circuit_breaker"),
                    "the Consumption tier has no circuit breaker",
                    Some("use another APIM sku or remove `circuit_breaker`".into()),
                );
            }
            breaker(d, b, &format!("{path}.circuit_breaker"))
        });
        if let Some(b) = &breaker {
            for m in &members {
                match breaker_of.get(&m.foundry) {
                    Some((other, owner)) if other != b => {
                        d.err_hint(p.circuit_breaker.as_ref().map(|s| s.loc).unwrap_or_default(), format!("{path}.circuit_breaker"),
                            format!("foundry `{}` is also in pool `{owner}` with a different circuit breaker", m.foundry),
                            Some("a foundry's backend has one breaker: give both pools the same `circuit_breaker`".into()));
                    }
                    Some(_) => {}
                    None => {
                        breaker_of.insert(m.foundry.clone(), (b.clone(), key.value.clone()));
                    }
                }
            }
        }
        let affinity = match p.session_affinity.as_ref() {
            None => None,
            Some(Sp {
                value: AffinitySpec::Off,
                ..
            }) => None,
            Some(Sp {
                value: AffinitySpec::Cookie(c),
                loc,
            }) => {
                let cookie = c.clone().unwrap_or_else(|| DEFAULT_COOKIE.to_string());
                d.name(
                    *loc,
                    format!("{path}.session_affinity.cookie"),
                    names::cookie(&cookie),
                );
                Some(cookie)
            }
        };
        pools.push(Pool {
            name: key.value.clone(),
            members,
            breaker,
            affinity,
            derived_for: None,
        });
    }
    pools
}
