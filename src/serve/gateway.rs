//! The gateway's HTTP side: the API paths, the subscription key, and the backend section of
//! the policy (pool dispatch, breakers, the retry, the exhausted answer, outbound headers).

use super::breaker::{BreakerState, parse_retry_after};
use super::budget::{BodyBudget, BodyError};
use super::route::{self, Decision, Matched};
use super::{Clock, Mocks, RequestCallback, ServeOptions, TokenProvider, affinity, is_loopback};
use crate::model::surface::ModelIn;
use crate::model::{Api, Model, Target};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use url::Url;

/// Paths under this prefix are serve's own (mock control, breaker state), never an API's.
pub const ADMIN_PREFIX: &str = "/_gw";

/// APIM's forward-request default timeout.
const BACKEND_TIMEOUT: Duration = Duration::from_secs(300);

/// Request headers that are not forwarded: hop-by-hop ones, the caller's key (the gateway's
/// only) and Authorization (the policy overrides it with the managed identity's token).
const DROP_REQUEST: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "api-key",
    "authorization",
];
const DROP_RESPONSE: &[&str] = &[
    "content-length",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "trailer",
    "upgrade",
];

/// Where a foundry's requests go.
#[derive(Clone)]
pub enum Endpoint {
    /// A mock or a `--backend` URL: no token added.
    Plain(Url),
    /// The real Foundry endpoint, with a bearer token.
    Azure(Url, Arc<dyn TokenProvider>),
}

/// One backend call made for a request.
#[derive(Clone, Debug, Serialize)]
pub struct Attempt {
    pub foundry: String,
    /// The backend's status, or None when it could not be reached.
    pub status: Option<u16>,
    /// Set when this answer tripped the foundry's breaker.
    pub tripped_for_secs: Option<u64>,
}

/// What the gateway did with one request.
#[derive(Clone, Debug, Serialize)]
pub struct RequestLog {
    pub method: String,
    pub path: String,
    pub api: Option<String>,
    pub model: Option<String>,
    pub attempts: Vec<Attempt>,
    pub status: u16,
    pub elapsed_ms: u64,
}

struct Gateway {
    model: Model,
    prefixes: Vec<(usize, String)>,
    endpoints: BTreeMap<String, Endpoint>,
    breakers: Mutex<BTreeMap<String, BreakerState>>,
    rng: Mutex<StdRng>,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
    local_client: reqwest::Client,
    key: Option<String>,
    mocks: Option<Mocks>,
    on_request: Option<RequestCallback>,
    budget: Arc<BodyBudget>,
    max_body: usize,
    max_response: u64,
    tokens: Arc<super::tokens::Tokens>,
}

pub fn router(
    model: Model,
    options: ServeOptions,
    endpoints: BTreeMap<String, Endpoint>,
    mocks: Option<Mocks>,
    seed: u64,
    budget: Arc<BodyBudget>,
) -> Result<Router, reqwest::Error> {
    let breakers = model
        .foundries
        .iter()
        .map(|f| (f.name.clone(), BreakerState::new(f.breaker.clone())))
        .collect();
    let gw = Gateway {
        tokens: Arc::new(super::tokens::Tokens::new(options.clock.clone())),
        prefixes: route::prefixes(&model),
        model,
        endpoints,
        breakers: Mutex::new(breakers),
        rng: Mutex::new(StdRng::seed_from_u64(seed)),
        clock: options.clock,
        client: reqwest::Client::builder()
            .timeout(BACKEND_TIMEOUT)
            .build()?,
        // Loopback backends never go through a proxy from the environment.
        local_client: reqwest::Client::builder()
            .timeout(BACKEND_TIMEOUT)
            .no_proxy()
            .build()?,
        key: options.key,
        mocks,
        on_request: options.on_request,
        budget,
        max_body: options.max_body,
        max_response: options.max_response,
    };
    let gw = Arc::new(gw);
    let admin = Router::new()
        .route(&format!("{ADMIN_PREFIX}/mock"), get(mock_status))
        .route(
            &format!("{ADMIN_PREFIX}/mock/{{foundry}}/fail"),
            post(mock_fail).delete(mock_heal),
        )
        .route(&format!("{ADMIN_PREFIX}/breakers"), get(breakers_status))
        .route(&format!("{ADMIN_PREFIX}/usage"), get(usage_status))
        .route_layer(middleware::from_fn_with_state(gw.clone(), admin_guard));
    Ok(admin.fallback(handle).with_state(gw))
}

/// Serve's own endpoints change how the gateway answers (a mock that fails) and show its
/// state: with a key they need it (in `api-key`), without one they answer loopback callers
/// only.
async fn admin_guard(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    match &gw.key {
        Some(key) => {
            let given = req.headers().get("api-key").map(HeaderValue::as_bytes);
            if given.is_some_and(|g| bool::from(g.ct_eq(key.as_bytes()))) {
                next.run(req).await
            } else {
                apim_error(
                    StatusCode::UNAUTHORIZED,
                    "Access denied: serve's admin endpoints need the gateway's key (--key or GW_SERVE_KEY) in the api-key header.",
                )
            }
        }
        None if is_loopback(peer.ip()) => next.run(req).await,
        None => apim_error(
            StatusCode::FORBIDDEN,
            "Forbidden: without a key (--key or GW_SERVE_KEY), serve's admin endpoints answer only on this machine.",
        ),
    }
}

async fn handle(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    let start = Instant::now();
    let (parts, body) = req.into_parts();
    let mut log = RequestLog {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        api: None,
        model: None,
        attempts: Vec::new(),
        status: 0,
        elapsed_ms: 0,
    };
    let resp = gw.answer(parts, body, &mut log).await;
    if let Some(cb) = &gw.on_request {
        log.status = resp.status().as_u16();
        log.elapsed_ms = start.elapsed().as_millis() as u64;
        cb(&log);
    }
    resp
}

impl Gateway {
    async fn answer(&self, parts: Parts, body: Body, log: &mut RequestLog) -> Response {
        // Before anything else, so such a path is never forwarded, whatever API it matches.
        if let Err(e) = route::check_path(parts.uri.path()) {
            return apim_error(StatusCode::BAD_REQUEST, &format!("Bad request: {e}."));
        }
        let Some(m) =
            route::match_request(&self.model, &self.prefixes, &parts.method, parts.uri.path())
        else {
            return apim_error(StatusCode::NOT_FOUND, "Resource not found");
        };
        let api = &self.model.apis[m.api];
        log.api = Some(api.name.clone());
        if let Some(denied) = self.check_key(api, &parts) {
            return denied;
        }
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        // `_held` keeps the body's share of the budget until the answer is given.
        let (body, _held) = match self.budget.read(body, declared, self.max_body).await {
            Ok(read) => read,
            Err(e) => return body_refused(e),
        };
        let model = route::requested_model(m.deployment_id.as_deref(), content_type(&parts), &body);
        if !model.is_empty() {
            log.model = Some(model.clone());
        }
        match route::decide(api, model, self.no_model_target(api, &m, &parts)) {
            Decision::Denied { model, pattern } => json_answer(
                StatusCode::FORBIDDEN,
                route::error_body("model_denied", &route::denied_message(&model, pattern)),
            ),
            Decision::Unknown { model, known } => json_answer(
                StatusCode::BAD_REQUEST,
                route::error_body("unknown_model", &route::unknown_message(&model, &known)),
            ),
            Decision::Send(target) => {
                // The token limit runs last in inbound: after routing, before the backend.
                let peer = parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip());
                let ticket = match self.tokens.admit(api, &parts.headers, peer, &body) {
                    Ok(t) => t,
                    Err(refused) => return *refused,
                };
                let resp = self.dispatch(api, target, &m, &parts, body, log).await;
                let max = usize::try_from(self.max_response).unwrap_or(usize::MAX);
                self.tokens.settle(ticket, resp, max).await
            }
        }
    }

    /// Where a call of an operation that names no model goes: the pool whose affinity cookie
    /// it carries, else the API's default target (as the policy's first branches do).
    fn no_model_target<'a>(&self, api: &'a Api, m: &Matched, parts: &Parts) -> Option<&'a Target> {
        (m.model_in == ModelIn::None).then(|| {
            route::cookie_target(&self.model, api, &parts.headers)
                .or_else(|| route::default_target(api))
        })?
    }

    /// APIM checks the subscription key before any policy runs.
    fn check_key(&self, api: &Api, parts: &Parts) -> Option<Response> {
        let want = self.key.as_ref().filter(|_| api.subscription_required)?;
        let given = given_key(parts);
        match given {
            None => Some(apim_error(
                StatusCode::UNAUTHORIZED,
                "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.",
            )),
            Some(k) if !bool::from(k.as_bytes().ct_eq(want.as_bytes())) => Some(apim_error(
                StatusCode::UNAUTHORIZED,
                "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.",
            )),
            Some(_) => None,
        }
    }

    /// The backend section: forward, and on a `retry.on` status select again (the pool
    /// re-selection skips members whose breaker has tripped meanwhile).
    async fn dispatch(
        &self,
        api: &Api,
        target: &Target,
        m: &Matched,
        parts: &Parts,
        body: Bytes,
        log: &mut RequestLog,
    ) -> Response {
        let cookie = match target {
            Target::Pool(p) => self
                .model
                .pool(p)
                .and_then(|p| p.affinity.as_ref())
                .and_then(|name| affinity::cookie_value(&parts.headers, name)),
            Target::Foundry(_) => None,
        };
        let attempts = 1 + api.retry.count;
        let mut set_cookie = None;
        for n in 1..=attempts {
            let Some((foundry, new_cookie)) = self.choose(target, cookie.as_deref()) else {
                return self.unavailable(api);
            };
            if new_cookie.is_some() {
                set_cookie = new_cookie;
            }
            let resp = match self.forward(&foundry, m, parts, body.clone()).await {
                Ok(r) => r,
                Err(e) => {
                    log.attempts.push(Attempt {
                        foundry,
                        status: None,
                        tripped_for_secs: None,
                    });
                    return apim_error(
                        StatusCode::BAD_GATEWAY,
                        &format!("The backend could not be reached: {e}"),
                    );
                }
            };
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let tripped = self.record(&foundry, status, retry_after);
            log.attempts.push(Attempt {
                foundry,
                status: Some(status),
                tripped_for_secs: tripped.map(|d| d.as_secs()),
            });
            if n < attempts && api.retry.on.contains(&status) {
                continue;
            }
            return outbound(resp, set_cookie, self.max_response);
        }
        self.unavailable(api)
    }

    /// The foundry for one attempt, and the affinity cookie to set if it is a new choice.
    fn choose(&self, target: &Target, cookie: Option<&str>) -> Option<(String, Option<String>)> {
        let now = self.clock.now();
        let breakers = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        let available = |f: &str| breakers.get(f).is_none_or(|b| b.is_available(now));
        match target {
            Target::Foundry(f) => available(f).then(|| (f.clone(), None)),
            Target::Pool(p) => {
                let pool = self.model.pool(p)?;
                let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
                let pick = affinity::pick(pool, cookie, &available, &mut *rng)?;
                Some((pool.members[pick.member].foundry.clone(), pick.set_cookie))
            }
        }
    }

    fn record(&self, foundry: &str, status: u16, retry_after: Option<u64>) -> Option<Duration> {
        let now = self.clock.now();
        let mut breakers = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        breakers.get_mut(foundry)?.record(now, status, retry_after)
    }

    /// No backend available: the policy's on-error answer (429 + Retry-After) where the API
    /// sends to a pool, else APIM's own 503.
    fn unavailable(&self, api: &Api) -> Response {
        match self.model.exhausted_retry_after(api) {
            Some(secs) => {
                let mut r = json_answer(
                    StatusCode::TOO_MANY_REQUESTS,
                    route::error_body(
                        "backends_busy",
                        &format!(
                            "Every backend for this request is busy. Retry after {secs} seconds."
                        ),
                    ),
                );
                r.headers_mut()
                    .insert("retry-after", HeaderValue::from(secs));
                r
            }
            None => apim_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "The backend is temporarily unavailable (its circuit breaker is open).",
            ),
        }
    }

    async fn forward(
        &self,
        foundry: &str,
        m: &Matched,
        parts: &Parts,
        body: Bytes,
    ) -> Result<reqwest::Response, String> {
        let endpoint = self
            .endpoints
            .get(foundry)
            .ok_or_else(|| format!("no endpoint for `{foundry}`"))?;
        let (base, token, client) = match endpoint {
            Endpoint::Plain(u) => (u, None, &self.local_client),
            Endpoint::Azure(u, tp) => (
                u,
                Some(tp.token().await.map_err(|e| e.to_string())?),
                &self.client,
            ),
        };
        // The API type's path on the account (as the policy's rewrite-uri does), then the
        // operation's path exactly as received.
        let mut url = format!(
            "{}{}{}",
            base.as_str().trim_end_matches('/'),
            self.model.apis[m.api].api_type.foundry_path(),
            m.rest
        );
        if let Some(q) = forwarded_query(parts.uri.query()) {
            url.push('?');
            url.push_str(&q);
        }
        let mut headers = HeaderMap::new();
        for (k, v) in &parts.headers {
            if !DROP_REQUEST.contains(&k.as_str()) {
                headers.append(k.clone(), v.clone());
            }
        }
        if let Some(t) = token
            && let Ok(v) = HeaderValue::from_str(&format!("Bearer {t}"))
        {
            headers.insert(header::AUTHORIZATION, v);
        }
        client
            .request(parts.method.clone(), url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())
    }
}

/// The backend's answer as the caller sees it, with the policy's outbound headers. The body
/// streams through (server-sent events arrive as they are produced), counted: a declared
/// length over `max` is answered 502 before anything is sent, and a stream that goes over
/// it is cut.
fn outbound(resp: reqwest::Response, set_cookie: Option<String>, max: u64) -> Response {
    if let Some(len) = resp.content_length().filter(|n| *n > max) {
        return apim_error(
            StatusCode::BAD_GATEWAY,
            &format!(
                "The backend's answer ({len} bytes) is larger than the gateway's limit of {max} bytes."
            ),
        );
    }
    let status = resp.status();
    let mut headers = HeaderMap::new();
    for (k, v) in resp.headers() {
        if !DROP_RESPONSE.contains(&k.as_str()) {
            headers.append(k.clone(), v.clone());
        }
    }
    let region = headers
        .get("x-ms-region")
        .cloned()
        .unwrap_or(HeaderValue::from_static("unknown"));
    headers.insert(HeaderName::from_static("x-backend-region"), region);
    if let Some(c) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.append(header::SET_COOKIE, c);
    }
    let mut seen: u64 = 0;
    let body = resp.bytes_stream().map(move |chunk| {
        let chunk = chunk.map_err(|e| std::io::Error::other(e.without_url()))?;
        seen += chunk.len() as u64;
        if seen > max {
            return Err(std::io::Error::other(format!(
                "the backend's answer is larger than the gateway's limit of {max} bytes: cut"
            )));
        }
        Ok(chunk)
    });
    let mut r = Response::new(Body::from_stream(body));
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    r
}

/// A request body that is not buffered: 413 (over a cap) or 400 (a broken upload).
fn body_refused(e: BodyError) -> Response {
    let mib = |n: usize| n >> 20;
    match e {
        BodyError::TooLarge { max } => apim_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "The request body is larger than the gateway's limit of {} MiB.",
                mib(max)
            ),
        ),
        BodyError::OverBudget { total } => {
            let mut r = apim_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "The gateway is holding its limit of {} MiB of request bodies in flight; retry shortly.",
                    mib(total)
                ),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        BodyError::Read(e) => apim_error(
            StatusCode::BAD_REQUEST,
            &format!("The request body could not be read: {e}"),
        ),
    }
}

/// The key a caller sent: `api-key` header, `api-key` query, or `Authorization: Bearer <key>`
/// (how the plain `OpenAI()` SDK client sends its key).
fn given_key(parts: &Parts) -> Option<String> {
    let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
    header("api-key")
        .map(String::from)
        .or_else(|| query_param(parts.uri.query(), "api-key"))
        .or_else(|| {
            let auth = header("authorization")?;
            let (scheme, token) = auth.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_string())
        })
}

fn content_type(parts: &Parts) -> &str {
    parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The query string without the subscription key.
fn forwarded_query(query: Option<&str>) -> Option<String> {
    let q = query?;
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
        .filter(|(k, _)| k != "api-key")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        return None;
    }
    Some(
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(kept)
            .finish(),
    )
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The policy's own answers (`return-response`): JSON, no outbound headers.
fn json_answer(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// An error in APIM's own format (`{"statusCode":..,"message":..}`).
fn apim_error(status: StatusCode, message: &str) -> Response {
    json_answer(
        status,
        json!({ "statusCode": status.as_u16(), "message": message }).to_string(),
    )
}

async fn mock_status(State(gw): State<Arc<Gateway>>) -> Response {
    match &gw.mocks {
        Some(m) => axum::Json(m.status()).into_response(),
        None => apim_error(StatusCode::NOT_FOUND, "gw serve was started without --mock"),
    }
}

async fn mock_fail(
    State(gw): State<Arc<Gateway>>,
    Path(foundry): Path<String>,
    axum::Json(fail): axum::Json<super::FailSpec>,
) -> Response {
    set_fail(&gw, &foundry, Some(fail))
}

async fn mock_heal(State(gw): State<Arc<Gateway>>, Path(foundry): Path<String>) -> Response {
    set_fail(&gw, &foundry, None)
}

fn set_fail(gw: &Gateway, foundry: &str, fail: Option<super::FailSpec>) -> Response {
    let Some(m) = &gw.mocks else {
        return apim_error(StatusCode::NOT_FOUND, "gw serve was started without --mock");
    };
    match m.set_fail(foundry, fail) {
        Ok(()) => axum::Json(m.status()).into_response(),
        Err(e) => apim_error(StatusCode::BAD_REQUEST, &e),
    }
}

/// Token counters per API and counter key (`llm-token-limit`'s counters).
async fn usage_status(State(gw): State<Arc<Gateway>>) -> Response {
    axum::Json(gw.tokens.snapshot()).into_response()
}

/// Each foundry's breaker: available, or seconds until it is.
async fn breakers_status(State(gw): State<Arc<Gateway>>) -> Response {
    let now = gw.clock.now();
    let breakers = gw.breakers.lock().unwrap_or_else(PoisonError::into_inner);
    let out: BTreeMap<&str, serde_json::Value> = breakers
        .iter()
        .map(|(f, b)| {
            (f.as_str(), json!({ "available": b.is_available(now), "open_for_secs": b.remaining(now).as_secs_f64() }))
        })
        .collect();
    axum::Json(out).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Source;
    use crate::model::Context;
    use tower::ServiceExt;

    fn app(key: Option<&str>) -> Router {
        let path = format!(
            "{}/examples/load-balancing/gw.yaml",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("example exists");
        let model = crate::model::load(&Source::new(path, text), &Context { subscription: None })
            .expect("example is valid");
        let options = ServeOptions {
            key: key.map(String::from),
            ..ServeOptions::default()
        };
        let budget = BodyBudget::new(options.body_budget);
        router(model, options, BTreeMap::new(), None, 1, budget).expect("router")
    }

    /// GET /_gw/breakers from `peer`, with `api-key` when given: the status.
    async fn admin(app: Router, peer: [u8; 4], key: Option<&str>) -> u16 {
        let mut req = Request::builder().uri("/_gw/breakers");
        if let Some(k) = key {
            req = req.header("api-key", k);
        }
        let mut req = req.body(Body::empty()).expect("request");
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((peer, 40000))));
        app.oneshot(req).await.expect("answer").status().as_u16()
    }

    #[tokio::test]
    async fn admin_endpoints_need_the_key_or_a_loopback_caller() {
        // No key: this machine only.
        assert_eq!(admin(app(None), [127, 0, 0, 1], None).await, 200);
        assert_eq!(admin(app(None), [192, 0, 2, 7], None).await, 403);
        // A key: needed from everywhere, loopback included.
        let key = Some("k-0123456789abcdef");
        assert_eq!(admin(app(key), [127, 0, 0, 1], None).await, 401);
        assert_eq!(
            admin(app(key), [127, 0, 0, 1], Some("k-0123456789abcdeX")).await,
            401
        );
        assert_eq!(admin(app(key), [192, 0, 2, 7], key).await, 200);
    }

    #[test]
    fn the_subscription_key_is_not_forwarded_in_the_query() {
        assert_eq!(
            forwarded_query(Some("api-version=2024-10-21&api-key=s")).as_deref(),
            Some("api-version=2024-10-21")
        );
        assert_eq!(forwarded_query(Some("api-key=s")), None);
        assert_eq!(
            query_param(Some("a=1&api-key=k%2B"), "api-key").as_deref(),
            Some("k+")
        );
    }
}
