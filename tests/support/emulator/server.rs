//! HTTP plumbing: hyper on 127.0.0.1, one task per connection, and the checks every request
//! goes through before the store sees it (faults, token, api-version, throttling), then the
//! journal. hyper rather than axum because a dropped connection is a fault to inject: a
//! service error makes hyper close the connection without answering.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::Value;

use super::faults::{Fault, FaultAction};
use super::journal::{Entry, redact, strip_origin};
use super::store::{Reply, Req, State, query_value};
use super::throttle::{Buckets, Verdict};

/// Everything behind the emulator's lock.
pub struct Shared {
    pub state: State,
    pub faults: Vec<Fault>,
    pub journal: Vec<Entry>,
    /// ARM's token buckets, when a test turned them on (`set_rate_limits`).
    pub rate: Option<Buckets>,
    /// What pre-flight reads: models, quota, name availability, permissions.
    pub catalog: super::catalog::Catalog,
    pub logs: super::insights::Logs,
    requests: u64,
    remaining_reads: u64,
    remaining_writes: u64,
}

impl Shared {
    pub fn new(state: State) -> Self {
        Shared {
            state,
            faults: Vec::new(),
            journal: Vec::new(),
            rate: None,
            catalog: Default::default(),
            logs: Default::default(),
            requests: 0,
            remaining_reads: 12_000,
            remaining_writes: 1_200,
        }
    }
}

/// The error that makes hyper drop the connection.
#[derive(Debug)]
pub struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for Dropped {}

pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Mutex<Shared>>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
            // Errors here are dropped connections, injected or by the client: nothing to do.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    shared: Arc<Mutex<Shared>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let authorization = header("authorization");
    let if_match = header("if-match");
    let raw = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(Dropped),
    };
    let body: Option<Value> = serde_json::from_slice(&raw).ok();
    let latency = lock(&shared).state.settings.latency;
    if latency > Duration::ZERO {
        tokio::time::sleep(latency).await;
    }

    let mut guard = lock(&shared);
    let shared = &mut *guard;
    shared.requests += 1;
    let fault = shared
        .faults
        .iter_mut()
        .find_map(|f| f.check(&method, &path));
    if let Some(FaultAction::Before(m)) = &fault {
        (m.0)(&mut shared.state);
    }
    let journal_if_match = if_match.clone();
    let reply = match fault {
        Some(FaultAction::Drop) => None,
        Some(FaultAction::Respond {
            status,
            headers,
            body,
        }) => Some(Reply {
            status,
            headers,
            body,
        }),
        None | Some(FaultAction::Before(_)) => Some(answer(
            shared,
            &method,
            &path,
            &query,
            authorization,
            if_match,
            body.as_ref(),
            &raw,
        )),
    };
    let url = if query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{query}")
    };
    let mut entry = Entry {
        method: method.clone(),
        url,
        request_body: body,
        if_match: journal_if_match,
        status: reply.as_ref().map_or(0, |r| r.status),
        response_body: reply.as_ref().and_then(|r| r.body.clone()),
        started,
        ended: Instant::now(),
    };
    if let Some(b) = entry.request_body.as_mut() {
        redact(b);
    }
    if let Some(b) = entry.response_body.as_mut() {
        redact(b);
        strip_origin(b, &shared.state.base_url);
    }
    shared.journal.push(entry);
    let Some(mut reply) = reply else {
        return Err(Dropped);
    };
    if shared.rate.is_none() {
        old_rate_headers(shared, &method, &mut reply);
    }
    reply.headers.push((
        "x-ms-request-id".to_string(),
        format!("emulator-{:06}", shared.requests),
    ));
    Ok(to_http(reply))
}

/// Without token buckets: the old model's hourly counters, counting down.
fn old_rate_headers(shared: &mut Shared, method: &str, reply: &mut Reply) {
    let (name, remaining) = if method == "GET" {
        shared.remaining_reads = shared.remaining_reads.saturating_sub(1);
        (
            "x-ms-ratelimit-remaining-subscription-reads",
            shared.remaining_reads,
        )
    } else {
        shared.remaining_writes = shared.remaining_writes.saturating_sub(1);
        (
            "x-ms-ratelimit-remaining-subscription-writes",
            shared.remaining_writes,
        )
    };
    reply
        .headers
        .push((name.to_string(), remaining.to_string()));
}

#[allow(clippy::too_many_arguments)]
fn answer(
    shared: &mut Shared,
    method: &str,
    path: &str,
    query: &str,
    authorization: Option<String>,
    if_match: Option<String>,
    body: Option<&Value>,
    raw: &[u8],
) -> Reply {
    let expected = format!("Bearer {}", shared.state.settings.token);
    if authorization.as_deref() != Some(expected.as_str()) {
        return Reply::error(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing or invalid.",
        );
    }
    if query_value(query, "api-version").is_none_or(str::is_empty) {
        return Reply::error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    }
    if let Some(n) = shared.state.settings.throttle_every
        && n > 0
        && shared.requests.is_multiple_of(n)
    {
        let mut reply = Reply::error(429, "TooManyRequests", "The request is being throttled.");
        reply.headers.push(("Retry-After".into(), "0".into()));
        return reply;
    }
    let mut rate_headers = Vec::new();
    if let Some(buckets) = shared.rate.as_mut() {
        match buckets.take(method, super::ids::subscription(path)) {
            Verdict::Throttled(reply) => return reply,
            Verdict::Go(headers) => rate_headers = headers,
        }
    }
    if !raw.is_empty() && body.is_none() {
        return Reply::error(400, "InvalidRequestContent", "the body is not JSON");
    }
    if let Some(reply) = shared.catalog.answer(&shared.state, method, path, body) {
        return reply;
    }
    if let Some(reply) = super::insights::query(shared, method, path) {
        return reply;
    }
    let mut reply = shared.state.handle(&Req {
        method,
        path,
        query,
        if_match: if_match.as_deref(),
        body,
    });
    reply.headers.extend(rate_headers);
    reply
}

fn to_http(reply: Reply) -> Response<Full<Bytes>> {
    let body = reply
        .body
        .map(|b| Bytes::from(b.to_string()))
        .unwrap_or_default();
    let mut builder = Response::builder().status(reply.status);
    if !body.is_empty() {
        builder = builder.header("content-type", "application/json; charset=utf-8");
    }
    for (k, v) in reply.headers {
        builder = builder.header(k, v);
    }
    builder
        .body(Full::new(body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

pub fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    // A test that panicked while holding the lock already failed; keep serving the rest.
    shared.lock().unwrap_or_else(|e| e.into_inner())
}
