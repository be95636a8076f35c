//! A pool's `circuit_breaker:`, checked and converted.

use super::diags::Diags;
use super::duration;
use super::types::Breaker;
use crate::spec::{self, Sp};

pub(super) fn breaker(d: &mut Diags, b: &Sp<spec::BreakerSpec>, path: &str) -> Option<Breaker> {
    let failures = if b.failures.value < 1 {
        d.err_hint(
            b.failures.loc,
            format!("{path}.failures"),
            format!("{} failures can never trip", b.failures.value),
            Some("use 1 or more".into()),
        );
        None
    } else {
        u32::try_from(b.failures.value).ok()
    };
    let mut dur = |s: &Sp<spec::Scalar>, field: &str| match duration::parse(&s.value.0) {
        Ok(0) => {
            d.err_hint(
                s.loc,
                format!("{path}.{field}"),
                "the duration must be positive",
                Some("e.g. `30s`, `1m` or `PT1M`".into()),
            );
            None
        }
        Ok(v) => Some(v),
        Err(e) => {
            d.err_hint(
                s.loc,
                format!("{path}.{field}"),
                e,
                Some("write a duration as `30s`, `1m`, `2h` or ISO 8601 `PT1M`".into()),
            );
            None
        }
    };
    let interval = dur(&b.interval, "interval");
    let trip = dur(&b.trip, "trip");
    let mut codes = Vec::new();
    match &b.status_codes {
        None => codes.push((429, 429)),
        Some(list) => {
            if list.len() > 10 {
                d.err_hint(
                    list.loc,
                    format!("{path}.status_codes"),
                    "more than 10 status code ranges",
                    Some("Azure takes at most 10; merge them into ranges".into()),
                );
            }
            if list.is_empty() {
                d.err_hint(
                    list.loc,
                    format!("{path}.status_codes"),
                    "no status codes",
                    Some("e.g. `[429, 500-599]`".into()),
                );
            }
            for (i, c) in list.iter().enumerate() {
                match status_range(&c.value.0) {
                    Some(r) => codes.push(r),
                    None => d.err_hint(
                        c.loc,
                        format!("{path}.status_codes[{i}]"),
                        format!("`{}` is not a status code or range", c.value.0),
                        Some("use codes from 200 to 599, e.g. `429` or `500-599`".into()),
                    ),
                }
            }
        }
    }
    Some(Breaker {
        failures: failures?,
        interval_secs: interval?,
        status_codes: codes,
        trip_secs: trip?,
        // Default on: a breaker that trips on 429 should bring the backend back when Azure says
        // it can take traffic again, not after a guessed `trip`.
        accept_retry_after: Some(b.accept_retry_after.unwrap_or(true)),
    })
}

fn status_range(s: &str) -> Option<(u16, u16)> {
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
        None => {
            let v = s.trim().parse().ok()?;
            (v, v)
        }
    };
    ((200..=599).contains(&lo) && (200..=599).contains(&hi) && lo <= hi).then_some((lo, hi))
}
