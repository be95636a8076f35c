//! Pool member selection, as APIM documents it: the lowest priority number that has an
//! available member wins; inside that group traffic is split by weight among the available
//! members. A worse group gets traffic only when every member of the better groups is out.
//! Unset priorities are one group and unset weights equal shares (`Member::rank`, `share`).

use crate::model::Member;
use rand::Rng;

/// The index of the member to send to, or None when every member is out (the pool is
/// exhausted). `available` says whether a foundry's breaker lets traffic through.
pub fn select<R: Rng + ?Sized>(
    members: &[Member],
    available: &dyn Fn(&str) -> bool,
    rng: &mut R,
) -> Option<usize> {
    let best = members
        .iter()
        .filter(|m| available(&m.foundry))
        .map(Member::rank)
        .min()?;
    let group: Vec<usize> = (0..members.len())
        .filter(|&i| members[i].rank() == best && available(&members[i].foundry))
        .collect();
    weighted(members, &group, rng)
}

/// A weighted random pick among `group`; equal chances when every weight there is 0.
fn weighted<R: Rng + ?Sized>(members: &[Member], group: &[usize], rng: &mut R) -> Option<usize> {
    let total: u32 = group.iter().map(|&i| u32::from(members[i].share())).sum();
    if total == 0 {
        return group.get(rng.random_range(0..group.len().max(1))).copied();
    }
    let mut ticket = rng.random_range(0..total);
    for &i in group {
        let w = u32::from(members[i].share());
        if ticket < w {
            return Some(i);
        }
        ticket -= w;
    }
    group.last().copied()
}

/// The share of traffic each member gets while the members in `down` are out: the
/// priority group that would win, split by weight. Empty when every member is out.
/// (What `gw verify` predicts.)
pub fn expected_shares(members: &[Member], down: &dyn Fn(&str) -> bool) -> Vec<(usize, f64)> {
    let Some(best) = members
        .iter()
        .filter(|m| !down(&m.foundry))
        .map(Member::rank)
        .min()
    else {
        return Vec::new();
    };
    let group: Vec<usize> = (0..members.len())
        .filter(|&i| members[i].rank() == best && !down(&members[i].foundry))
        .collect();
    let total: u32 = group.iter().map(|&i| u32::from(members[i].share())).sum();
    group
        .iter()
        .map(|&i| {
            let share = if total == 0 {
                1.0 / group.len() as f64
            } else {
                f64::from(members[i].share()) / f64::from(total)
            };
            (i, share)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn m(foundry: &str, priority: u8, weight: u8) -> Member {
        Member {
            foundry: foundry.into(),
            priority: Some(priority),
            weight: Some(weight),
        }
    }

    fn lab() -> Vec<Member> {
        vec![m("f1", 1, 1), m("f2", 2, 50), m("f3", 2, 50), m("f4", 3, 1)]
    }

    fn counts(members: &[Member], down: &[&str], n: usize) -> Vec<usize> {
        let mut rng = StdRng::seed_from_u64(7);
        let mut c = vec![0; members.len()];
        let avail = |f: &str| !down.contains(&f);
        for _ in 0..n {
            if let Some(i) = select(members, &avail, &mut rng) {
                c[i] += 1;
            }
        }
        c
    }

    #[test]
    fn priority_one_takes_everything_while_healthy() {
        assert_eq!(counts(&lab(), &[], 1000), vec![1000, 0, 0, 0]);
    }

    #[test]
    fn failover_goes_to_the_next_group_split_by_weight() {
        let c = counts(&lab(), &["f1"], 10_000);
        assert_eq!(c[0], 0);
        assert_eq!(c[3], 0, "priority 3 untouched while priority 2 is healthy");
        assert!((4700..=5300).contains(&c[1]), "{c:?}");
        assert_eq!(c[1] + c[2], 10_000);
    }

    #[test]
    fn a_worse_group_only_when_every_better_member_is_out() {
        // One of the two priority-2 members out: the other takes it all, not priority 3.
        assert_eq!(counts(&lab(), &["f1", "f2"], 100), vec![0, 0, 100, 0]);
        assert_eq!(counts(&lab(), &["f1", "f2", "f3"], 100), vec![0, 0, 0, 100]);
    }

    #[test]
    fn exhausted_pool_selects_nothing() {
        assert_eq!(
            counts(&lab(), &["f1", "f2", "f3", "f4"], 10),
            vec![0, 0, 0, 0]
        );
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(select(&lab(), &|_| false, &mut rng), None);
        assert_eq!(select(&[], &|_| true, &mut rng), None);
    }

    #[test]
    fn uneven_weights_split_within_tolerance() {
        let members = vec![m("a", 1, 80), m("b", 1, 20)];
        let c = counts(&members, &[], 10_000);
        assert!((7700..=8300).contains(&c[0]), "{c:?}");
    }

    #[test]
    fn zero_weights_split_evenly_and_lose_to_positive_weights() {
        let c = counts(&[m("a", 1, 0), m("b", 1, 0)], &[], 10_000);
        assert!((4700..=5300).contains(&c[0]), "{c:?}");
        assert_eq!(
            counts(&[m("a", 1, 0), m("b", 1, 5)], &[], 100),
            vec![0, 100]
        );
    }

    #[test]
    fn expected_shares_follow_the_same_rules() {
        let s = expected_shares(&lab(), &|_| false);
        assert_eq!(s, vec![(0, 1.0)]);
        let s = expected_shares(&lab(), &|f| f == "f1");
        assert_eq!(s, vec![(1, 0.5), (2, 0.5)]);
        assert!(expected_shares(&lab(), &|_| true).is_empty());
    }
}
