//! Cookie session affinity. When a pool names an affinity cookie, the first response sets it
//! to an opaque token for the backend that answered; a later request carrying a valid token
//! goes to that backend while it is available, and is re-balanced (and the cookie re-set)
//! when it is not.

use super::pool;
use crate::model::Pool;
use axum::http::HeaderMap;
use rand::Rng;
use sha2::{Digest, Sha256};

/// The opaque token for a pool member: a hash, so it reveals neither the backend's name nor
/// its URL (APIM's value is opaque too).
pub fn token(pool: &str, foundry: &str) -> String {
    let digest = Sha256::digest(format!("gw-affinity\0{pool}\0{foundry}").as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// The `Set-Cookie` header value that pins a client to a backend.
pub fn set_cookie(name: &str, token: &str) -> String {
    format!("{name}={token}; Path=/; HttpOnly")
}

/// A member chosen for one attempt, and the cookie to set when it is a new choice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pick {
    pub member: usize,
    pub set_cookie: Option<String>,
}

/// Picks a member of `pool` for a request that carried `cookie` (its affinity cookie's
/// value, if any). None when the pool is exhausted.
pub fn pick<R: Rng + ?Sized>(
    pool: &Pool,
    cookie: Option<&str>,
    available: &dyn Fn(&str) -> bool,
    rng: &mut R,
) -> Option<Pick> {
    let Some(name) = &pool.affinity else {
        return pool::select(&pool.members, available, rng).map(|member| Pick {
            member,
            set_cookie: None,
        });
    };
    if let Some(value) = cookie {
        let sticky = pool
            .members
            .iter()
            .position(|m| token(&pool.name, &m.foundry) == value && available(&m.foundry));
        if let Some(member) = sticky {
            return Some(Pick {
                member,
                set_cookie: None,
            });
        }
    }
    let member = pool::select(&pool.members, available, rng)?;
    let t = token(&pool.name, &pool.members[member].foundry);
    Some(Pick {
        member,
        set_cookie: Some(set_cookie(name, &t)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Member;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn pool(affinity: Option<&str>) -> Pool {
        Pool {
            name: "p".into(),
            members: ["f1", "f2"]
                .iter()
                .map(|f| Member {
                    foundry: (*f).into(),
                    priority: Some(1),
                    weight: Some(50),
                })
                .collect(),
            breaker: None,
            affinity: affinity.map(String::from),
            derived_for: None,
        }
    }

    /// The token in a Set-Cookie value.
    fn token_of(set_cookie: &str) -> &str {
        set_cookie
            .split(';')
            .next()
            .and_then(|kv| kv.split_once('='))
            .map_or("", |(_, v)| v)
    }

    #[test]
    fn first_response_sets_the_cookie_and_later_requests_stick() {
        let p = pool(Some("APIM-Backend-Affinity"));
        let mut rng = StdRng::seed_from_u64(3);
        let first = pick(&p, None, &|_| true, &mut rng).expect("a member");
        let sc = first
            .set_cookie
            .clone()
            .expect("a cookie on the first response");
        assert!(sc.starts_with("APIM-Backend-Affinity="));
        assert!(sc.ends_with("; Path=/; HttpOnly"));
        for _ in 0..50 {
            let next = pick(&p, Some(token_of(&sc)), &|_| true, &mut rng).expect("a member");
            assert_eq!(next.member, first.member);
            assert_eq!(next.set_cookie, None);
        }
    }

    #[test]
    fn falls_back_and_resets_when_the_sticky_backend_is_out() {
        let p = pool(Some("c"));
        let t1 = token("p", "f1");
        let mut rng = StdRng::seed_from_u64(3);
        let next = pick(&p, Some(&t1), &|f| f != "f1", &mut rng).expect("a member");
        assert_eq!(next.member, 1);
        assert_eq!(next.set_cookie, Some(set_cookie("c", &token("p", "f2"))));
    }

    #[test]
    fn an_unknown_token_is_rebalanced() {
        let p = pool(Some("c"));
        let mut rng = StdRng::seed_from_u64(3);
        let next = pick(&p, Some("forged"), &|_| true, &mut rng).expect("a member");
        assert!(next.set_cookie.is_some());
    }

    #[test]
    fn without_affinity_no_cookie_and_no_stickiness() {
        let p = pool(None);
        let mut rng = StdRng::seed_from_u64(3);
        let t1 = token("p", "f1");
        let mut seen = [0; 2];
        for _ in 0..100 {
            let next = pick(&p, Some(&t1), &|_| true, &mut rng).expect("a member");
            assert_eq!(next.set_cookie, None);
            seen[next.member] += 1;
        }
        assert!(seen[0] > 0 && seen[1] > 0, "{seen:?}");
    }

    #[test]
    fn exhausted_pool_picks_nothing() {
        let mut rng = StdRng::seed_from_u64(3);
        assert_eq!(pick(&pool(Some("c")), None, &|_| false, &mut rng), None);
    }

    #[test]
    fn reads_the_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.append("cookie", "a=1; c=tok ; b=2".parse().expect("header"));
        h.append("cookie", "d=4".parse().expect("header"));
        assert_eq!(cookie_value(&h, "c").as_deref(), Some("tok"));
        assert_eq!(cookie_value(&h, "d").as_deref(), Some("4"));
        assert_eq!(cookie_value(&h, "x"), None);
    }

    #[test]
    fn tokens_are_opaque_and_distinct() {
        assert_ne!(token("p", "f1"), token("p", "f2"));
        assert!(!token("p", "foundry1").contains("foundry"));
        assert_eq!(token("p", "f1"), token("p", "f1"));
    }
}
