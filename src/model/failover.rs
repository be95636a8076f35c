//! Which circuit breaker each foundry backend gets. APIM keeps the breaker on the backend,
//! not on the pool, and a pool fails over only when a member's breaker trips: a pool whose
//! members have no breaker keeps sending to a member that answers 429. So every foundry an
//! API reaches through a pool gets one: the breaker of the user pools it is in (they must
//! agree, see `pools`), else `default_breaker()`. The breaker is per backend: one model's
//! 429s trip the foundry for every model routed through it.

use super::types::{Api, Breaker, Foundry, Pool, Routing, Target};

/// The breaker of a pool member that no pool gives one: trip on the first 429 within a
/// minute, stay out for Retry-After (or a minute when the answer has none). One 429 is
/// enough because Foundry sends 429 only when the deployment's quota is spent, and
/// Retry-After says when it comes back.
pub fn default_breaker() -> Breaker {
    Breaker {
        failures: 1,
        interval_secs: 60,
        status_codes: vec![(429, 429)],
        trip_secs: 60,
        accept_retry_after: Some(true),
    }
}

/// Fills in each foundry's breaker. The Consumption tier has none (validation rejects a
/// user's), so nothing is defaulted there.
pub(super) fn breakers(foundries: &mut [Foundry], pools: &[Pool], apis: &[Api], consumption: bool) {
    let used: Vec<&Pool> = pools
        .iter()
        .filter(|p| apis.iter().any(|a| sends_to(a, &p.name)))
        .collect();
    for f in foundries {
        let member = |p: &&Pool| p.members.iter().any(|m| m.foundry == f.name);
        f.breaker = pools
            .iter()
            .filter(member)
            .find_map(|p| p.breaker.clone())
            .or_else(|| (!consumption && used.iter().any(member)).then(default_breaker));
    }
}

fn sends_to(api: &Api, pool: &str) -> bool {
    let is = |t: &Target| matches!(t, Target::Pool(p) if p == pool);
    match &api.routing {
        Routing::Single(t) => is(t),
        Routing::ByModel { routes, .. } => routes.iter().any(|r| is(&r.target)),
    }
}

#[cfg(test)]
mod tests {
    use super::default_breaker;
    use crate::diag::Source;
    use crate::model::{Context, Model, load};

    fn model(pools: &str, api: &str, sku: &str) -> Model {
        let text = format!(
            r#"version: 1
resource_group: {{ name: rg, location: eastus }}
foundries:
  - {{ name: foundry1, location: eastus }}
  - {{ name: foundry2, location: westus }}
  - {{ name: foundry3, location: uksouth }}
models:
  - {{ name: gpt-4.1, publisher: OpenAI, version: "1", sku: GlobalStandard, capacity: 1, foundries: [foundry1, foundry2] }}
apim: {{ name: apim, sku: {sku}, publisher_email: a@b.c, publisher_name: P }}
pools:
{pools}
apis:
  inference:
    path: inference
{api}
  direct:
    path: direct
    backend: foundry3
"#
        );
        load(&Source::new("gw.yaml", text), &Context::default()).unwrap()
    }

    #[test]
    fn members_of_derived_pools_trip_on_429_by_default() {
        let m = model("  {}", "    routing: by-model", "BasicV2");
        assert!(m.pool("gpt-4-1-pool").is_some());
        for f in ["foundry1", "foundry2"] {
            let b = m.foundry(f).unwrap().breaker.clone().unwrap();
            assert_eq!(b, default_breaker(), "{f}");
        }
        assert_eq!(default_breaker().status_codes, [(429, 429)]);
        assert_eq!(default_breaker().accept_retry_after, Some(true));
        assert_eq!(default_breaker().failures, 1);
        // A foundry reached only directly has nothing to fail over to: no breaker, so its
        // 429 reaches the caller with its own Retry-After.
        assert_eq!(m.foundry("foundry3").unwrap().breaker, None);
    }

    #[test]
    fn members_of_user_pools_without_a_breaker_get_the_default() {
        let pools = "  p:\n    members: [{ foundry: foundry1 }, { foundry: foundry3 }]";
        let m = model(pools, "    backend: p", "BasicV2");
        assert_eq!(
            m.foundry("foundry1").unwrap().breaker,
            Some(default_breaker())
        );
        assert_eq!(
            m.foundry("foundry3").unwrap().breaker,
            Some(default_breaker())
        );
        assert_eq!(m.foundry("foundry2").unwrap().breaker, None);
    }

    #[test]
    fn a_declared_breaker_wins_over_the_default() {
        let pools = "  p:\n    members: [{ foundry: foundry1 }, { foundry: foundry2 }]\n    circuit_breaker: { failures: 3, interval: 30s, trip: 2m }";
        let m = model(pools, "    routing: by-model", "BasicV2");
        let b = m.foundry("foundry1").unwrap().breaker.clone().unwrap();
        assert_eq!((b.failures, b.interval_secs, b.trip_secs), (3, 30, 120));
        // The derived pool of the same foundries uses the declared breaker too: one per backend.
        assert!(m.pool("gpt-4-1-pool").is_some());
        assert_eq!(m.foundry("foundry2").unwrap().breaker, Some(b));
    }

    #[test]
    fn consumption_gets_no_default_breaker() {
        let m = model("  {}", "    routing: by-model", "Consumption");
        assert_eq!(m.foundry("foundry1").unwrap().breaker, None);
    }
}
