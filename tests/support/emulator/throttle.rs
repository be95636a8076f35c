//! ARM throttling as the token bucket (catalogue §6, "request limits and throttling"): per
//! operation type (read, write, delete) a bucket per principal and a global one 15 times as
//! big, refilled continuously; every answer says what is left of its bucket, and an empty
//! bucket answers 429 `SubscriptionRequestsThrottled` with an integer `Retry-After`.

use std::time::Instant;

use super::rbac::CALLER_OID;
use super::store::Reply;

/// Bucket sizes and their refill rate (tokens per second, the same for every bucket; the
/// global buckets get 15 times both, as in the public cloud).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    pub reads: u32,
    pub writes: u32,
    pub deletes: u32,
    pub refill_per_sec: f64,
}

#[derive(Debug, Clone)]
struct Bucket {
    capacity: f64,
    tokens: f64,
    refill: f64,
    at: Instant,
}

impl Bucket {
    fn new(capacity: u32, refill: f64) -> Self {
        Bucket {
            capacity: capacity.into(),
            tokens: capacity.into(),
            refill,
            at: Instant::now(),
        }
    }

    fn refresh(&mut self) {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * self.refill)
            .min(self.capacity);
        self.at = now;
    }

    /// Seconds until one token is back (at least 1: `Retry-After` is whole seconds).
    fn wait(&self) -> u64 {
        if self.refill <= 0.0 {
            return 60;
        }
        (((1.0 - self.tokens) / self.refill).ceil() as u64).max(1)
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Read,
    Write,
    Delete,
}

impl Kind {
    fn of(method: &str) -> Self {
        match method {
            "GET" | "HEAD" => Kind::Read,
            "DELETE" => Kind::Delete,
            _ => Kind::Write,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::Write => "write",
            Kind::Delete => "delete",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone)]
pub struct Buckets {
    /// reads, writes, deletes: (the principal's, the subscription's global one).
    buckets: [(Bucket, Bucket); 3],
}

/// What a request may do: go on (with the headers to add to its answer) or be refused.
pub enum Verdict {
    Go(Vec<(String, String)>),
    Throttled(Reply),
}

impl Buckets {
    pub fn new(limits: RateLimits) -> Self {
        let pair = |n: u32| {
            (
                Bucket::new(n, limits.refill_per_sec),
                Bucket::new(n.saturating_mul(15), limits.refill_per_sec * 15.0),
            )
        };
        Buckets {
            buckets: [
                pair(limits.reads),
                pair(limits.writes),
                pair(limits.deletes),
            ],
        }
    }

    /// Takes a token for this request, or says how long to wait.
    pub fn take(&mut self, method: &str, subscription: &str) -> Verdict {
        let kind = Kind::of(method);
        let (own, global) = &mut self.buckets[kind.index()];
        own.refresh();
        global.refresh();
        if own.tokens < 1.0 || global.tokens < 1.0 {
            let wait = own.wait().max(global.wait());
            let mut reply = Reply::error(
                429,
                "SubscriptionRequestsThrottled",
                &format!(
                    "Number of '{}' requests for subscription '{subscription}' actor '{CALLER_OID}' exceeded. Please try again after '{wait}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.",
                    kind.word()
                ),
            );
            reply.headers.push(("Retry-After".into(), wait.to_string()));
            reply.headers.extend(headers(kind, own, global));
            return Verdict::Throttled(reply);
        }
        own.tokens -= 1.0;
        global.tokens -= 1.0;
        Verdict::Go(headers(kind, own, global))
    }
}

fn headers(kind: Kind, own: &Bucket, global: &Bucket) -> Vec<(String, String)> {
    let plural = format!("{}s", kind.word());
    vec![
        (
            format!("x-ms-ratelimit-remaining-subscription-{plural}"),
            (own.tokens.floor() as u64).to_string(),
        ),
        (
            format!("x-ms-ratelimit-remaining-subscription-global-{plural}"),
            (global.tokens.floor() as u64).to_string(),
        ),
    ]
}
