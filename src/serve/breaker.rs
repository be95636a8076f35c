//! One backend's circuit breaker, with APIM's rule: count the responses whose status is in
//! `status_codes` within a sliding `interval`; when the count reaches `failures`, the backend
//! is out for `trip` (or, with `accept_retry_after`, for the backend's Retry-After seconds).
//! When the trip ends the backend is available again with a fresh count.

use crate::model::Breaker;
use std::collections::VecDeque;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct BreakerState {
    rule: Option<Breaker>,
    /// When each counted failure happened, oldest first.
    failures: VecDeque<Duration>,
    open_until: Option<Duration>,
}

impl BreakerState {
    /// A backend without a rule never trips.
    pub fn new(rule: Option<Breaker>) -> Self {
        BreakerState {
            rule,
            failures: VecDeque::new(),
            open_until: None,
        }
    }

    pub fn is_available(&self, now: Duration) -> bool {
        self.open_until.is_none_or(|until| now >= until)
    }

    /// Seconds until the backend is back (0 when available).
    pub fn remaining(&self, now: Duration) -> Duration {
        self.open_until
            .map_or(Duration::ZERO, |until| until.saturating_sub(now))
    }

    /// Records a backend answer. Returns how long the breaker tripped for, if this answer
    /// tripped it. `retry_after` is the backend's Retry-After in seconds, if it sent one.
    pub fn record(
        &mut self,
        now: Duration,
        status: u16,
        retry_after: Option<u64>,
    ) -> Option<Duration> {
        let rule = self.rule.as_ref()?;
        if let Some(until) = self.open_until {
            if now < until {
                // Already out (a request sent before the trip answered late): nothing to count.
                return None;
            }
            self.open_until = None;
            self.failures.clear();
        }
        if !rule
            .status_codes
            .iter()
            .any(|(lo, hi)| (*lo..=*hi).contains(&status))
        {
            return None;
        }
        let interval = Duration::from_secs(rule.interval_secs);
        while self
            .failures
            .front()
            .is_some_and(|t| now.saturating_sub(*t) >= interval)
        {
            self.failures.pop_front();
        }
        self.failures.push_back(now);
        if (self.failures.len() as u64) < u64::from(rule.failures) {
            return None;
        }
        let trip = match retry_after {
            Some(secs) if rule.accept_retry_after == Some(true) => Duration::from_secs(secs),
            _ => Duration::from_secs(rule.trip_secs),
        };
        self.open_until = Some(now + trip);
        self.failures.clear();
        Some(trip)
    }
}

/// A Retry-After header's value in seconds. (The HTTP-date form is not used by Azure
/// OpenAI and is ignored: the breaker then trips for its own duration.)
pub fn parse_retry_after(value: &str) -> Option<u64> {
    value.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(failures: u32, accept_retry_after: bool) -> Breaker {
        Breaker {
            failures,
            interval_secs: 60,
            status_codes: vec![(429, 429), (500, 503)],
            trip_secs: 30,
            accept_retry_after: Some(accept_retry_after),
        }
    }

    const fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn no_rule_never_trips() {
        let mut b = BreakerState::new(None);
        for i in 0..10 {
            assert_eq!(b.record(s(i), 429, Some(5)), None);
        }
        assert!(b.is_available(s(10)));
    }

    #[test]
    fn trips_at_the_failure_count_and_recovers_after_trip() {
        let mut b = BreakerState::new(Some(rule(2, false)));
        assert_eq!(b.record(s(0), 429, None), None);
        assert!(b.is_available(s(1)));
        assert_eq!(b.record(s(1), 500, None), Some(s(30)));
        assert!(!b.is_available(s(1)));
        assert!(!b.is_available(s(30)));
        assert_eq!(b.remaining(s(11)), s(20));
        assert!(b.is_available(s(31)));
        // A fresh count after the trip: one failure is not enough again.
        assert_eq!(b.record(s(32), 429, None), None);
        assert!(b.is_available(s(32)));
    }

    #[test]
    fn only_listed_status_codes_count() {
        let mut b = BreakerState::new(Some(rule(1, false)));
        for code in [200, 400, 404, 504] {
            assert_eq!(b.record(s(0), code, None), None);
        }
        assert!(b.is_available(s(0)));
        assert!(b.record(s(0), 502, None).is_some());
    }

    #[test]
    fn failures_outside_the_interval_do_not_count() {
        let mut b = BreakerState::new(Some(rule(2, false)));
        assert_eq!(b.record(s(0), 429, None), None);
        assert_eq!(b.record(s(60), 429, None), None);
        assert!(b.is_available(s(61)));
        assert!(b.record(s(61), 429, None).is_some());
    }

    #[test]
    fn retry_after_sets_the_trip_when_accepted() {
        let mut b = BreakerState::new(Some(rule(1, true)));
        assert_eq!(b.record(s(0), 429, Some(5)), Some(s(5)));
        assert!(!b.is_available(s(4)));
        assert!(b.is_available(s(5)));
        // Without a header the rule's duration applies.
        assert_eq!(b.record(s(10), 429, None), Some(s(30)));
    }

    #[test]
    fn retry_after_is_ignored_unless_accepted() {
        let mut b = BreakerState::new(Some(rule(1, false)));
        assert_eq!(b.record(s(0), 429, Some(5)), Some(s(30)));
        assert!(!b.is_available(s(5)));
    }

    #[test]
    fn late_answers_while_open_do_not_extend_the_trip() {
        let mut b = BreakerState::new(Some(rule(1, false)));
        assert!(b.record(s(0), 429, None).is_some());
        assert_eq!(b.record(s(10), 429, None), None);
        assert!(b.is_available(s(30)));
    }

    #[test]
    fn retry_after_parses_seconds_only() {
        assert_eq!(parse_retry_after(" 7 "), Some(7));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
