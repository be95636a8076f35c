//! The `pools:` section: members, circuit breakers (one per foundry backend, so pools that
//! share a foundry must agree) and session affinity.

use super::breaker::breaker;
use super::diags::{Diags, known_foundry};
use super::names;
use super::types::*;
use crate::spec::{AffinitySpec, NamedMap, PoolSpec, Sp};
use std::collections::{BTreeMap, BTreeSet};

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
            let priority = declared(d, m.priority.as_ref(), &format!("{mpath}.priority"));
            let weight = declared(d, m.weight.as_ref(), &format!("{mpath}.weight"));
            if let (true, Some(priority), Some(weight)) = (ok, priority, weight) {
                members.push(Member {
                    foundry: m.foundry.value.clone(),
                    priority,
                    weight,
                });
            }
        }
        fill_unset(&mut members);
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

/// A declared priority or weight, checked against the 0-100 Azure accepts: `Some(None)` when
/// unset, None when out of range (reported).
fn declared(d: &mut Diags, v: Option<&Sp<i64>>, path: &str) -> Option<Option<u8>> {
    match v {
        None => Some(None),
        Some(v) => d.range(v, path, 0, 100).map(|n| Some(n as u8)),
    }
}

/// gw writes what the spec declares, and unset means one priority group split evenly. A pool
/// that MIXES set and unset values would leave APIM's behaviour undocumented, so there the
/// unset ones get `FILL`: every member of a pool where any sets `priority`, and every member
/// of a priority group where any sets `weight` (groups are independent: a weighted group does
/// not give weights to another).
pub(super) fn fill_unset(members: &mut [Member]) {
    if members.iter().any(|m| m.priority.is_some()) {
        for m in members.iter_mut() {
            m.priority.get_or_insert(FILL);
        }
    }
    let weighted: BTreeSet<Option<u8>> = members
        .iter()
        .filter(|m| m.weight.is_some())
        .map(|m| m.priority)
        .collect();
    for m in members
        .iter_mut()
        .filter(|m| weighted.contains(&m.priority))
    {
        m.weight.get_or_insert(FILL);
    }
}

#[cfg(test)]
mod tests {
    use super::fill_unset;
    use crate::model::Member;

    fn pool(members: &[(Option<u8>, Option<u8>)]) -> Vec<(Option<u8>, Option<u8>)> {
        let mut v: Vec<Member> = members
            .iter()
            .enumerate()
            .map(|(i, &(priority, weight))| Member {
                foundry: format!("f{i}"),
                priority,
                weight,
            })
            .collect();
        fill_unset(&mut v);
        v.iter().map(|m| (m.priority, m.weight)).collect()
    }

    #[test]
    fn a_pool_that_sets_nothing_stays_unset() {
        let none = [(None, None), (None, None), (None, None)];
        assert_eq!(pool(&none), none);
    }

    #[test]
    fn a_pool_that_sets_everything_is_kept_as_declared() {
        let all = [(Some(1), Some(80)), (Some(1), Some(20)), (Some(2), Some(0))];
        assert_eq!(pool(&all), all);
    }

    #[test]
    fn one_priority_set_gives_the_others_priority_one() {
        assert_eq!(
            pool(&[(None, None), (Some(2), None), (None, None)]),
            [(Some(1), None), (Some(2), None), (Some(1), None)]
        );
    }

    #[test]
    fn weights_fill_inside_a_group_not_across_groups() {
        // Group 2 mixes: its unset member gets weight 1. Group 1 sets none: stays even.
        assert_eq!(
            pool(&[
                (Some(1), None),
                (Some(1), None),
                (Some(2), Some(50)),
                (Some(2), None),
            ]),
            [
                (Some(1), None),
                (Some(1), None),
                (Some(2), Some(50)),
                (Some(2), Some(1)),
            ]
        );
        // Without priorities every member is one group: one weight fills them all.
        assert_eq!(
            pool(&[(None, Some(5)), (None, None)]),
            [(None, Some(5)), (None, Some(1))]
        );
    }

    #[test]
    fn a_filled_priority_joins_group_one_for_weights() {
        // The unset member lands in group 1 beside a weighted member, so it gets weight 1 too.
        assert_eq!(
            pool(&[(Some(1), Some(30)), (None, None)]),
            [(Some(1), Some(30)), (Some(1), Some(1))]
        );
    }
}
