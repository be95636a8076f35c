//! Slowing down before ARM throttles. ARM meters each subscription and principal with token
//! buckets (reads refill at 25/s, writes and deletes at 10/s; `../design/azure-behaviours.md` §6)
//! and reports what is left on every answer in `x-ms-ratelimit-remaining-subscription-{reads,
//! writes,deletes}` (and the `-global-` variants, shared by every principal). An apply of a big
//! estate can empty the write bucket; once it runs low, gw spaces its requests of that kind at
//! the refill rate, so the bucket stays level instead of hitting 429 and waiting out a
//! Retry-After.

use reqwest::Method;
use reqwest::header::HeaderMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Below this many requests left in a bucket, requests of its kind are paced.
pub const LOW_WATER: u64 = 25;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    Reads,
    Writes,
    Deletes,
}

impl Bucket {
    pub fn of(method: &Method) -> Bucket {
        match *method {
            Method::GET | Method::HEAD => Bucket::Reads,
            Method::DELETE => Bucket::Deletes,
            // POST actions (listSecrets) are metered as writes.
            _ => Bucket::Writes,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn word(self) -> &'static str {
        match self {
            Bucket::Reads => "reads",
            Bucket::Writes => "writes",
            Bucket::Deletes => "deletes",
        }
    }

    /// Tokens per second the bucket gets back (public cloud, per region).
    pub fn refill_per_sec(self) -> f64 {
        match self {
            Bucket::Reads => 25.0,
            Bucket::Writes | Bucket::Deletes => 10.0,
        }
    }

    /// The lowest of the subscription and global counters an answer reports.
    pub fn remaining(self, headers: &HeaderMap) -> Option<u64> {
        let w = self.word();
        [
            format!("x-ms-ratelimit-remaining-subscription-{w}"),
            format!("x-ms-ratelimit-remaining-subscription-global-{w}"),
        ]
        .iter()
        .filter_map(|h| headers.get(h.as_str())?.to_str().ok()?.trim().parse().ok())
        .min()
    }
}

#[derive(Clone, Copy, Debug)]
struct Level {
    remaining: Option<u64>,
    next_slot: Option<Instant>,
}

/// What ARM last said is left in each bucket, and the next free send slot when pacing.
#[derive(Debug)]
pub struct Pacer {
    levels: Mutex<[Level; 3]>,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer {
            levels: Mutex::new(
                [Level {
                    remaining: None,
                    next_slot: None,
                }; 3],
            ),
        }
    }
}

impl Pacer {
    /// Records the counters of an answer.
    pub fn observe(&self, bucket: Bucket, headers: &HeaderMap) {
        if let Some(left) = bucket.remaining(headers) {
            self.record(bucket, left);
        }
    }

    pub fn record(&self, bucket: Bucket, left: u64) {
        let mut levels = self.levels.lock().unwrap_or_else(|e| e.into_inner());
        levels[bucket.index()].remaining = Some(left);
    }

    /// How long to wait before sending a request of this kind at `now`: nothing while the
    /// bucket is comfortably full, else the next slot at the refill rate (each caller takes
    /// its own slot, so concurrent requests are spread out, not released together).
    pub fn delay(&self, bucket: Bucket, now: Instant) -> Duration {
        let mut levels = self.levels.lock().unwrap_or_else(|e| e.into_inner());
        let level = &mut levels[bucket.index()];
        match level.remaining {
            Some(left) if left < LOW_WATER => {
                let interval = Duration::from_secs_f64(1.0 / bucket.refill_per_sec());
                let slot = level.next_slot.map_or(now, |s| s.max(now));
                level.next_slot = Some(slot + interval);
                // A request sent takes a token; the next answer tells the real count.
                level.remaining = Some(left.saturating_sub(1));
                slot - now
            }
            _ => {
                level.next_slot = None;
                Duration::ZERO
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn reads_the_lowest_of_subscription_and_global_counters() {
        let h = headers(&[
            ("x-ms-ratelimit-remaining-subscription-writes", "199"),
            ("x-ms-ratelimit-remaining-subscription-global-writes", "12"),
            ("x-ms-ratelimit-remaining-subscription-reads", "249"),
        ]);
        assert_eq!(Bucket::Writes.remaining(&h), Some(12));
        assert_eq!(Bucket::Reads.remaining(&h), Some(249));
        assert_eq!(Bucket::Deletes.remaining(&h), None);
    }

    #[test]
    fn full_buckets_are_not_paced() {
        let p = Pacer::default();
        let now = Instant::now();
        assert_eq!(p.delay(Bucket::Writes, now), Duration::ZERO);
        p.record(Bucket::Writes, 150);
        assert_eq!(p.delay(Bucket::Writes, now), Duration::ZERO);
    }

    #[test]
    fn a_low_bucket_spreads_requests_at_the_refill_rate() {
        let p = Pacer::default();
        let now = Instant::now();
        p.record(Bucket::Writes, 3);
        let waits: Vec<Duration> = (0..3).map(|_| p.delay(Bucket::Writes, now)).collect();
        assert_eq!(
            waits,
            [0, 100, 200].map(Duration::from_millis),
            "writes refill at 10/s"
        );
        // Other kinds are metered apart.
        assert_eq!(p.delay(Bucket::Reads, now), Duration::ZERO);
        // Once ARM reports a full bucket again, pacing stops.
        p.record(Bucket::Writes, 180);
        assert_eq!(p.delay(Bucket::Writes, now), Duration::ZERO);
    }

    #[test]
    fn methods_map_to_their_buckets() {
        assert_eq!(Bucket::of(&Method::GET), Bucket::Reads);
        assert_eq!(Bucket::of(&Method::PUT), Bucket::Writes);
        assert_eq!(Bucket::of(&Method::PATCH), Bucket::Writes);
        assert_eq!(Bucket::of(&Method::POST), Bucket::Writes);
        assert_eq!(Bucket::of(&Method::DELETE), Bucket::Deletes);
    }
}
