//! Token limits as `llm-token-limit` enforces them (`../design/ai-gateway.md` §1), and the
//! token counters behind `/_gw/usage`.
//!
//! - A counter per API and key (the APIM subscription, here the key the caller sent; the
//!   caller's IP; or a header's value).
//! - Rate: tokens per fixed minute. Once the minute's count reaches the limit, requests get
//!   429 with `Retry-After` (seconds to the minute's end) until it resets. Quota: tokens per
//!   UTC hour/day/week/month/year; over it, 403.
//! - Counting: prompt and completion tokens from the backend's `usage`. Prompts are estimated
//!   before the call when `estimate_prompt_tokens` (a request that would not fit is refused)
//!   and for streams always; a stream's completion is estimated from the text it carries
//!   unless the stream reports `usage` itself. Estimates: 4 characters a token (APIM's
//!   tokenizer is not public), so counts for streams are close, not exact.

use super::Clock;
use crate::model::{Api, Counter, QuotaPeriod, TokenLimit};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// Counters of one API and key.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    /// Start of the current minute (clock seconds) and the tokens counted in it.
    minute_start: u64,
    pub minute_tokens: u64,
    /// Index of the current quota period and the tokens counted in it.
    period: u64,
    pub quota_tokens: u64,
    pub total_tokens: u64,
    pub requests: u64,
    pub refused: u64,
}

/// Every API's counters, by API and the counter's label (never a key itself).
pub struct Tokens {
    clock: Arc<dyn Clock>,
    /// Wall-clock seconds since the epoch, for quota periods (UTC).
    wall: fn() -> u64,
    counters: Mutex<BTreeMap<(String, String), Counters>>,
}

/// What a request was admitted with; settled when its answer is known.
pub struct Ticket {
    api: String,
    label: String,
    limit: Option<TokenLimit>,
    /// Prompt tokens already counted before the call.
    estimate: u64,
    stream: bool,
}

fn wall_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Tokens in a text, estimated.
pub fn estimate_text(chars: usize) -> u64 {
    chars.div_ceil(4) as u64
}

/// The prompt of a chat, completion, embedding or Responses request, estimated: the text of
/// its messages (3 tokens of framing each), `prompt` or `input`.
pub fn estimate_prompt(body: &Value) -> u64 {
    fn text(v: &Value) -> usize {
        match v {
            Value::String(s) => s.chars().count(),
            Value::Array(a) => a.iter().map(text).sum(),
            Value::Object(o) => o.get("text").or_else(|| o.get("content")).map_or(0, text),
            _ => 0,
        }
    }
    let messages = body["messages"].as_array().map_or(0, |m| {
        m.iter()
            .map(|x| 3 + estimate_text(text(&x["content"])))
            .sum()
    });
    messages + estimate_text(text(&body["prompt"])) + estimate_text(text(&body["input"]))
}

impl Tokens {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Tokens {
            clock,
            wall: wall_now,
            counters: Mutex::new(BTreeMap::new()),
        }
    }

    fn period_of(&self, p: QuotaPeriod) -> u64 {
        period_index((self.wall)(), p)
    }

    /// The counters of `label` on `api`, rolled over to the current minute and period.
    fn with<R>(
        &self,
        api: &str,
        label: &str,
        limit: Option<&TokenLimit>,
        f: impl FnOnce(&mut Counters) -> R,
    ) -> R {
        // Fixed minutes of the gateway's clock.
        let minute = self.clock.now().as_secs() / 60 * 60;
        let mut all = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let c = all.entry((api.to_string(), label.to_string())).or_default();
        if c.minute_start != minute {
            c.minute_start = minute;
            c.minute_tokens = 0;
        }
        if let Some((_, p)) = limit.and_then(|l| l.quota) {
            let period = self.period_of(p);
            if period != c.period {
                c.period = period;
                c.quota_tokens = 0;
            }
        }
        f(c)
    }

    /// Admits a request or answers it: 429 over the rate, 403 over the quota.
    pub fn admit(
        &self,
        api: &Api,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
        body: &Bytes,
    ) -> Result<Ticket, Box<Response>> {
        let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let stream = req["stream"].as_bool() == Some(true);
        let limit = api.token_limit.clone();
        let label = label(
            limit
                .as_ref()
                .map_or(&Counter::Subscription, |l| &l.counter),
            headers,
            peer,
        );
        let Some(l) = limit else {
            return Ok(Ticket {
                api: api.name.clone(),
                label,
                limit: None,
                estimate: 0,
                stream,
            });
        };
        // Streams are always estimated, whatever the setting.
        let estimate = if l.estimate_prompt_tokens || stream {
            estimate_prompt(&req)
        } else {
            0
        };
        let now = self.clock.now().as_secs();
        let wall = (self.wall)();
        let refused = self.with(&api.name, &label, Some(&l), |c| {
            if let Some(tpm) = l.tokens_per_minute
                && (c.minute_tokens >= tpm || c.minute_tokens + estimate > tpm)
            {
                c.refused += 1;
                let secs = (c.minute_start + 60).saturating_sub(now).max(1);
                return Some(rate_exceeded(&l, secs, tpm.saturating_sub(c.minute_tokens)));
            }
            if let Some((quota, period)) = l.quota
                && (c.quota_tokens >= quota || c.quota_tokens + estimate > quota)
            {
                c.refused += 1;
                return Some(quota_exceeded(secs_to_next(wall, period)));
            }
            c.requests += 1;
            c.minute_tokens += estimate;
            c.quota_tokens += estimate;
            c.total_tokens += estimate;
            None
        });
        match refused {
            Some(r) => Err(Box::new(r)),
            None => Ok(Ticket {
                api: api.name.clone(),
                label,
                limit: Some(l),
                estimate,
                stream,
            }),
        }
    }

    /// Counts `tokens` more (negative: an estimate that was too high) for a ticket.
    fn charge(&self, t: &Ticket, tokens: i64) {
        self.with(&t.api, &t.label, t.limit.as_ref(), |c| {
            let add = |v: &mut u64| *v = v.saturating_add_signed(tokens);
            add(&mut c.minute_tokens);
            add(&mut c.quota_tokens);
            add(&mut c.total_tokens);
        });
    }

    /// The remaining-tokens headers, as they stand now.
    fn remaining(&self, t: &Ticket, headers: &mut HeaderMap) {
        let Some(l) = &t.limit else { return };
        let (minute, quota) = self.with(&t.api, &t.label, Some(l), |c| {
            (c.minute_tokens, c.quota_tokens)
        });
        let mut set = |name: &Option<String>, v: u64| {
            if let Some(n) = name
                .as_ref()
                .and_then(|n| HeaderName::from_bytes(n.as_bytes()).ok())
            {
                headers.insert(n, HeaderValue::from(v));
            }
        };
        if let Some(tpm) = l.tokens_per_minute {
            set(&l.remaining_tokens_header, tpm.saturating_sub(minute));
        }
        if let Some((q, _)) = l.quota {
            set(&l.remaining_quota_header, q.saturating_sub(quota));
        }
    }

    /// Counts what the answer used and sets the remaining-tokens headers. A JSON answer is
    /// read for its `usage` (up to `max` bytes); a stream is counted as it passes and
    /// settled when it ends.
    pub async fn settle(self: &Arc<Self>, t: Ticket, resp: Response, max: usize) -> Response {
        if !resp.status().is_success() {
            // Nothing was generated: the estimate is given back.
            self.charge(&t, -(t.estimate as i64));
            let mut resp = resp;
            self.remaining(&t, resp.headers_mut());
            return resp;
        }
        let event_stream = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if event_stream || t.stream {
            let (mut parts, body) = resp.into_parts();
            self.remaining(&t, &mut parts.headers);
            let counted = StreamCount {
                tokens: self.clone(),
                ticket: t,
                line: String::new(),
                chars: 0,
                usage: None,
            };
            let counted = Arc::new(Mutex::new(counted));
            let body = body.into_data_stream().map(move |chunk| {
                if let Ok(c) = &chunk {
                    counted
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .feed(c);
                }
                chunk
            });
            return Response::from_parts(parts, Body::from_stream(body));
        }
        let json_answer = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        if !json_answer {
            // Nothing to count in it: passed through as it streams.
            let mut resp = resp;
            self.remaining(&t, resp.headers_mut());
            return resp;
        }
        let (mut parts, body) = resp.into_parts();
        let bytes = match axum::body::to_bytes(body, max).await {
            Ok(b) => b,
            Err(e) => {
                return (
                    StatusCode::BAD_GATEWAY,
                    format!("the backend's answer could not be read: {e}"),
                )
                    .into_response();
            }
        };
        let used = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| reported(&v));
        if let Some(used) = used {
            self.charge(&t, used as i64 - t.estimate as i64);
        }
        self.remaining(&t, &mut parts.headers);
        Response::from_parts(parts, Body::from(bytes))
    }

    /// Every counter: `/_gw/usage`.
    pub fn snapshot(&self) -> Value {
        let all = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let rows: Vec<Value> = all
            .iter()
            .map(|((api, label), c)| json!({ "api": api, "counter": label, "requests": c.requests, "refused": c.refused, "minute_tokens": c.minute_tokens, "quota_tokens": c.quota_tokens, "total_tokens": c.total_tokens }))
            .collect();
        json!({ "counters": rows })
    }
}

/// `usage.total_tokens` of a chat, completion, embedding or Responses answer.
fn reported(v: &Value) -> Option<u64> {
    let u = v.get("usage")?;
    u["total_tokens"].as_u64().or_else(|| {
        Some(
            u["prompt_tokens"].as_u64().or(u["input_tokens"].as_u64())?
                + u["completion_tokens"]
                    .as_u64()
                    .or(u["output_tokens"].as_u64())
                    .unwrap_or(0),
        )
    })
}

/// A stream's tokens, counted from its `data:` events; charged when the stream is dropped
/// (ended or cut).
struct StreamCount {
    tokens: Arc<Tokens>,
    ticket: Ticket,
    line: String,
    chars: usize,
    usage: Option<u64>,
}

impl StreamCount {
    fn feed(&mut self, chunk: &Bytes) {
        self.line.push_str(&String::from_utf8_lossy(chunk));
        while let Some(at) = self.line.find('\n') {
            let line: String = self.line.drain(..=at).collect();
            let Some(data) = line.trim().strip_prefix("data:") else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<Value>(data.trim()) else {
                continue;
            };
            if let Some(u) = reported(&v) {
                self.usage = Some(u);
            }
            for c in v["choices"].as_array().into_iter().flatten() {
                self.chars += c["delta"]["content"]
                    .as_str()
                    .or(c["text"].as_str())
                    .map_or(0, |s| s.chars().count());
            }
            if let Some(d) = v["delta"].as_str() {
                self.chars += d.chars().count();
            }
        }
    }
}

impl Drop for StreamCount {
    fn drop(&mut self) {
        let more = match self.usage {
            // The stream reported its usage (`stream_options.include_usage`): exact.
            Some(u) => u as i64 - self.ticket.estimate as i64,
            None => estimate_text(self.chars) as i64,
        };
        self.tokens.charge(&self.ticket, more);
    }
}

/// The counter's label: never the key itself, which `/_gw/usage` would show.
fn label(counter: &Counter, headers: &HeaderMap, peer: Option<IpAddr>) -> String {
    match counter {
        Counter::Subscription => match headers.get("api-key").and_then(|v| v.to_str().ok()) {
            Some(k) => format!("subscription key sha256:{}", fingerprint(k)),
            None => "subscription (none)".into(),
        },
        Counter::Ip => format!(
            "ip {}",
            peer.map_or("unknown".to_string(), |p| p.to_canonical().to_string())
        ),
        Counter::Header(h) => format!(
            "header {h}: {}",
            headers
                .get(h.as_str())
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        ),
    }
}

/// The first 8 hex digits of a key's SHA-256: tells keys apart without showing any of one.
fn fingerprint(key: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(key.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn rate_exceeded(l: &TokenLimit, secs: u64, remaining: u64) -> Response {
    let mut r = apim(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("Token limit is exceeded. Try again in {secs} seconds."),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    if let Some(n) = l
        .remaining_tokens_header
        .as_ref()
        .and_then(|n| HeaderName::from_bytes(n.as_bytes()).ok())
    {
        r.headers_mut().insert(n, HeaderValue::from(remaining));
    }
    r
}

fn quota_exceeded(secs: u64) -> Response {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let when = if h > 0 {
        format!("{h} hours and {m} minutes")
    } else if m > 0 {
        format!("{m} minutes and {s} seconds")
    } else {
        format!("{s} seconds")
    };
    apim(
        StatusCode::FORBIDDEN,
        &format!("Token quota is exceeded. Try again in {when}."),
    )
}

fn apim(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "statusCode": status.as_u16(), "message": message }).to_string(),
    )
        .into_response()
}

/// (year, month) of a day count since 1970-01-01 (Howard Hinnant's civil calendar).
fn civil(days: i64) -> (i64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month)
}

/// Days since 1970-01-01 of the first of a month.
fn days_from_civil(y: i64, m: u64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The UTC period an instant falls in (weeks start on Monday).
pub fn period_index(secs: u64, p: QuotaPeriod) -> u64 {
    let days = (secs / 86_400) as i64;
    match p {
        QuotaPeriod::Hourly => secs / 3600,
        QuotaPeriod::Daily => secs / 86_400,
        // 1970-01-01 was a Thursday.
        QuotaPeriod::Weekly => ((days + 3) / 7) as u64,
        QuotaPeriod::Monthly => {
            let (y, m) = civil(days);
            (y * 12) as u64 + m
        }
        QuotaPeriod::Yearly => civil(days).0 as u64,
    }
}

/// Seconds from `secs` to the start of the next period.
pub fn secs_to_next(secs: u64, p: QuotaPeriod) -> u64 {
    let days = (secs / 86_400) as i64;
    let next = match p {
        QuotaPeriod::Hourly => (secs / 3600 + 1) * 3600,
        QuotaPeriod::Daily => (secs / 86_400 + 1) * 86_400,
        QuotaPeriod::Weekly => (((days + 3) / 7 + 1) * 7 - 3) as u64 * 86_400,
        QuotaPeriod::Monthly => {
            let (y, m) = civil(days);
            let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            days_from_civil(y, m) as u64 * 86_400
        }
        QuotaPeriod::Yearly => days_from_civil(civil(days).0 + 1, 1) as u64 * 86_400,
    };
    next.saturating_sub(secs).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_periods_are_utc_calendar_periods() {
        // 2026-12-04T19:45:00Z, a Friday.
        let t = 1_796_413_500;
        assert_eq!(secs_to_next(t, QuotaPeriod::Hourly), 15 * 60);
        assert_eq!(secs_to_next(t, QuotaPeriod::Daily), 4 * 3600 + 15 * 60);
        // Next Monday 2026-12-07T00:00Z.
        assert_eq!(
            secs_to_next(t, QuotaPeriod::Weekly),
            2 * 86_400 + 4 * 3600 + 15 * 60
        );
        // 2027-01-01T00:00Z.
        assert_eq!(
            secs_to_next(t, QuotaPeriod::Monthly),
            27 * 86_400 + 4 * 3600 + 15 * 60
        );
        assert_eq!(
            secs_to_next(t, QuotaPeriod::Yearly),
            secs_to_next(t, QuotaPeriod::Monthly)
        );
        assert_ne!(
            period_index(t, QuotaPeriod::Monthly),
            period_index(t + 28 * 86_400, QuotaPeriod::Monthly)
        );
        assert_eq!(
            period_index(t, QuotaPeriod::Monthly),
            period_index(t - 3 * 86_400, QuotaPeriod::Monthly)
        );
    }

    #[test]
    fn prompts_are_estimated_from_their_text() {
        let chat = json!({"messages": [{"role": "user", "content": "12345678"}, {"role": "user", "content": [{"type": "text", "text": "1234"}]}]});
        assert_eq!(estimate_prompt(&chat), 3 + 2 + 3 + 1);
        assert_eq!(estimate_prompt(&json!({"input": "123456789"})), 3);
    }
}
