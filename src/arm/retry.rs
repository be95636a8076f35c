//! When to retry an ARM request and how long to wait: pure, so every rule is unit-tested.
//!
//! ARM's guidance: throttling (429) and transient failures (408, 5xx, dropped connections) are
//! retried for idempotent calls (PUT and DELETE are idempotent in ARM), honouring
//! `Retry-After`; other 4xx are the caller's mistake and retrying only delays the error.
//! A few 4xx codes are transient in practice and retried too (`../design/azure-behaviours.md`):
//! 409 on a concurrent write to the same parent (`RequestConflict`), APIM's per-API lock (409
//! `PessimisticConcurrencyConflict`, or `Conflict` with "Operation on the API is in progress"),
//! 400 `PrincipalNotFound` while a new identity replicates, and 400
//! `AccountProvisioningStateInvalid` while a Foundry account bounces back to `Accepted`.

use std::time::{Duration, SystemTime};

/// Whether repeating a request is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// GET, HEAD, PUT, DELETE, PATCH of a full desired state, and POSTs that only read.
    Safe,
    /// A POST that may act twice.
    Unsafe,
}

/// What came back from one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// An HTTP answer with its ARM error code (if the body had one) and parsed `Retry-After`.
    Status {
        status: u16,
        code: Option<&'a str>,
        /// The error message: APIM's lock is recognised by it when the code is `Conflict`.
        message: Option<&'a str>,
        retry_after: Option<Duration>,
    },
    /// No HTTP answer: connection refused or dropped, timeout.
    Transport,
}

/// The decision for one failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    RetryAfter(Duration),
    GiveUp,
}

/// Backoff parameters; `max_wait` is the user's cap (`GW_MAX_RETRY_WAIT`).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    pub max_wait: Duration,
    pub max_attempts: u32,
}

impl RetryPolicy {
    pub fn new(max_wait: Duration, max_attempts: u32) -> Self {
        RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            max_wait,
            max_attempts,
        }
    }

    /// Decides after attempt number `attempt` (1 = the first try) failed with `outcome`.
    /// `jitter` is a uniform sample in `[0, 1)`, passed in so tests are deterministic.
    pub fn decide(
        &self,
        idempotency: Idempotency,
        outcome: Outcome<'_>,
        attempt: u32,
        jitter: f64,
    ) -> Decision {
        if attempt >= self.max_attempts || idempotency == Idempotency::Unsafe {
            return Decision::GiveUp;
        }
        let retry_after = match outcome {
            Outcome::Transport => None,
            Outcome::Status {
                status,
                code,
                message,
                retry_after,
            } => {
                if !is_transient(status, code, message) {
                    return Decision::GiveUp;
                }
                retry_after
            }
        };
        let wait = match retry_after {
            Some(server_says) => server_says,
            None => self.backoff(attempt, jitter),
        };
        Decision::RetryAfter(wait.min(self.max_wait))
    }

    /// Capped exponential backoff with full jitter: uniform in `[0, min(cap, base * 2^(n-1))]`.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        exp.min(self.cap).mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// Statuses (and codes) that a later identical request can succeed with.
pub fn is_transient(status: u16, code: Option<&str>, message: Option<&str>) -> bool {
    match status {
        408 | 429 | 500 | 502 | 503 | 504 => true,
        409 => {
            matches!(code, Some("RequestConflict" | "AnotherOperationInProgress"))
                || is_api_lock(code, message)
        }
        400 => matches!(
            code,
            Some("PrincipalNotFound" | "AccountProvisioningStateInvalid")
        ),
        _ => false,
    }
}

/// APIM's per-API lock, under either spelling: `PessimisticConcurrencyConflict`, or `Conflict`
/// with this message (apiops retries exactly this pair; a plain `Conflict` is otherwise a real
/// conflict).
fn is_api_lock(code: Option<&str>, message: Option<&str>) -> bool {
    code == Some("PessimisticConcurrencyConflict")
        || (code == Some("Conflict")
            && message.is_some_and(|m| m.contains("Operation on the API is in progress")))
}

/// Parses `Retry-After`: delay-seconds or an HTTP-date (a date in the past means now).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::new(Duration::from_secs(3600), 8)
    }

    fn status(status: u16, code: Option<&str>, retry_after: Option<u64>) -> Outcome<'_> {
        Outcome::Status {
            status,
            code,
            message: None,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn honours_retry_after_on_429() {
        let d = policy().decide(Idempotency::Safe, status(429, None, Some(7)), 1, 0.5);
        assert_eq!(d, Decision::RetryAfter(Duration::from_secs(7)));
    }

    #[test]
    fn retry_after_is_capped_by_max_wait() {
        let p = RetryPolicy::new(Duration::ZERO, 8);
        let d = p.decide(Idempotency::Safe, status(429, None, Some(30)), 1, 0.5);
        assert_eq!(d, Decision::RetryAfter(Duration::ZERO));
    }

    #[test]
    fn transient_statuses_are_retried() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(matches!(
                policy().decide(Idempotency::Safe, status(s, None, None), 1, 0.5),
                Decision::RetryAfter(_)
            ));
        }
        assert!(matches!(
            policy().decide(Idempotency::Safe, Outcome::Transport, 1, 0.5),
            Decision::RetryAfter(_)
        ));
    }

    #[test]
    fn other_4xx_are_not_retried() {
        for s in [400, 401, 403, 404, 409, 412, 422, 501] {
            assert_eq!(
                policy().decide(Idempotency::Safe, status(s, Some("X"), Some(1)), 1, 0.5),
                Decision::GiveUp,
                "{s}"
            );
        }
    }

    #[test]
    fn conflict_is_retried_only_for_concurrent_write_codes() {
        let p = policy();
        for code in [
            "RequestConflict",
            "AnotherOperationInProgress",
            "PessimisticConcurrencyConflict",
        ] {
            assert!(matches!(
                p.decide(Idempotency::Safe, status(409, Some(code), None), 1, 0.5),
                Decision::RetryAfter(_)
            ));
        }
        for code in [
            "FlagMustBeSetForRestore",
            "ServiceAlreadyExistsInSoftDeletedState",
        ] {
            assert_eq!(
                p.decide(Idempotency::Safe, status(409, Some(code), None), 1, 0.5),
                Decision::GiveUp
            );
        }
        assert!(matches!(
            p.decide(
                Idempotency::Safe,
                status(400, Some("PrincipalNotFound"), None),
                1,
                0.5
            ),
            Decision::RetryAfter(_)
        ));
    }

    #[test]
    fn apim_lock_is_retried_under_both_spellings_and_nothing_else() {
        let p = policy();
        let conflict = |message| Outcome::Status {
            status: 409,
            code: Some("Conflict"),
            message: Some(message),
            retry_after: None,
        };
        assert!(matches!(
            p.decide(
                Idempotency::Safe,
                conflict("Operation on the API is in progress"),
                1,
                0.5
            ),
            Decision::RetryAfter(_)
        ));
        assert_eq!(
            p.decide(
                Idempotency::Safe,
                conflict("Link already exists between specified Product and Api."),
                1,
                0.5
            ),
            Decision::GiveUp
        );
        assert!(matches!(
            p.decide(
                Idempotency::Safe,
                status(400, Some("AccountProvisioningStateInvalid"), None),
                1,
                0.5
            ),
            Decision::RetryAfter(_)
        ));
    }

    #[test]
    fn unsafe_posts_and_exhausted_attempts_give_up() {
        assert_eq!(
            policy().decide(Idempotency::Unsafe, status(503, None, None), 1, 0.5),
            Decision::GiveUp
        );
        assert_eq!(
            policy().decide(Idempotency::Safe, status(503, None, None), 8, 0.5),
            Decision::GiveUp
        );
    }

    #[test]
    fn backoff_grows_then_caps_with_full_jitter() {
        let p = policy();
        assert_eq!(p.backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(p.backoff(3, 1.0), Duration::from_secs(4));
        assert_eq!(p.backoff(30, 1.0), Duration::from_secs(60));
        assert_eq!(p.backoff(5, 0.0), Duration::ZERO);
        assert_eq!(p.backoff(3, 0.5), Duration::from_secs(2));
    }

    #[test]
    fn parses_both_retry_after_forms() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(parse_retry_after("12", now), Some(Duration::from_secs(12)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
