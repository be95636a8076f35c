//! The ARM client: bounded concurrency, retries, long-running operations, typed errors.
//!
//! Every request goes through [`ArmClient::send`], which holds one of `parallelism` permits
//! only while a request is on the wire (never while sleeping), so a throttled or polling call
//! does not starve the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Semaphore;
use url::Url;

use super::auth::TokenSource;
use super::endpoint::{ArmConfig, ConfigError, is_loopback};
use super::error::{ApiError, ArmError, display_url, error_object, parse_api_error};
use super::lro::{self, Initial, Step, Watch};
use super::pace::{Bucket, Pacer};
use super::request::{follow_url, resource_url, write_headers};
use super::retry::{Decision, Idempotency, Outcome, RetryPolicy, parse_retry_after};
use crate::env;

/// Poll interval when ARM gives no `Retry-After` (still capped by `max_retry_wait`).
const DEFAULT_POLL: Duration = Duration::from_secs(5);
/// A guard against a server that hands out `nextLink`s forever.
const MAX_PAGES: usize = 10_000;

/// A resource as read from ARM.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub body: Value,
    /// From the `ETag` header, else the body's `etag`.
    pub etag: Option<String>,
}

/// A cheap-to-clone handle on one ARM endpoint with one identity.
#[derive(Clone)]
pub struct ArmClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: ArmConfig,
    tokens: TokenSource,
    permits: Semaphore,
    policy: RetryPolicy,
    pacer: Pacer,
    requests: AtomicU64,
}

impl std::fmt::Debug for ArmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmClient")
            .field("endpoint", &self.inner.config.endpoint.as_str())
            .field("tokens", &self.inner.tokens)
            .finish_non_exhaustive()
    }
}

/// One HTTP answer, fully read.
struct Answer {
    method: Method,
    url: Url,
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn retry_after(&self) -> Option<Duration> {
        parse_retry_after(self.header("retry-after")?, SystemTime::now())
    }

    /// The body as JSON; an empty body is `null`.
    fn json(&self) -> Result<Value, ArmError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| ArmError::InvalidResponse {
            method: self.method.to_string(),
            url: display_url(&self.url),
            message: format!("body is not JSON: {e}"),
        })
    }

    fn live(&self) -> Result<Live, ArmError> {
        let body = self.json()?;
        let etag = self
            .header("etag")
            .map(str::to_string)
            .or_else(|| body.get("etag").and_then(Value::as_str).map(str::to_string));
        Ok(Live { body, etag })
    }

    fn error(&self) -> ArmError {
        ArmError::Api(Box::new(parse_api_error(
            Some(self.status.as_u16()),
            &self.body,
            self.header("content-type"),
            self.method.as_str(),
            &display_url(&self.url),
            self.header("x-ms-request-id").map(str::to_string),
        )))
    }

    /// The ARM error code and message of an error answer.
    fn code_and_message(&self) -> Option<(String, String)> {
        if self.status.as_u16() < 400 {
            return None;
        }
        let v: Value = serde_json::from_slice(&self.body).ok()?;
        error_object(&v).map(|e| (e.code, e.message))
    }
}

impl ArmClient {
    /// Builds the HTTP client: rustls, proxies from `HTTPS_PROXY`/`NO_PROXY` (never for a
    /// loopback endpoint), and the PEM roots in `SSL_CERT_FILE` on top of the built-in ones.
    pub fn new(config: ArmConfig, tokens: TokenSource) -> Result<Self, ConfigError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("gw/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .timeout(config.request_timeout)
            // A redirect would carry the token somewhere ARM did not name: ARM never redirects.
            .redirect(reqwest::redirect::Policy::none());
        if is_loopback(&config.endpoint) {
            builder = builder.no_proxy();
        }
        if let Some(path) = env::var(env::SSL_CERT_FILE) {
            let cert_error = |reason: String| ConfigError::Certificates {
                path: path.clone(),
                reason,
            };
            let pem = fs_err::read(&path).map_err(|e| cert_error(e.to_string()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| cert_error(e.to_string()))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        let policy = RetryPolicy::new(config.max_retry_wait, config.max_attempts.max(1));
        Ok(ArmClient {
            inner: Arc::new(Inner {
                http,
                permits: Semaphore::new(config.parallelism.max(1)),
                config,
                tokens,
                policy,
                pacer: Pacer::default(),
                requests: AtomicU64::new(0),
            }),
        })
    }

    pub fn config(&self) -> &ArmConfig {
        &self.inner.config
    }

    /// HTTP requests sent so far (retries and polls included).
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Reads a resource; `None` when ARM answers 404.
    pub async fn get(&self, id: &str, api_version: &str) -> Result<Option<Live>, ArmError> {
        self.get_with_query(id, api_version, &[]).await
    }

    /// [`Self::get`] with extra query parameters (APIM policies: `format=rawxml`).
    pub async fn get_with_query(
        &self,
        id: &str,
        api_version: &str,
        extra_query: &[(&str, &str)],
    ) -> Result<Option<Live>, ArmError> {
        let url = self.url(id, api_version, extra_query)?;
        let answer = self
            .send(Method::GET, url, None, None, Idempotency::Safe)
            .await?;
        match answer.status.as_u16() {
            404 => Ok(None),
            s if (200..300).contains(&s) => Ok(Some(answer.live()?)),
            _ => Err(answer.error()),
        }
    }

    /// Creates or replaces a resource, waits for its operation, returns its final state.
    pub async fn put(
        &self,
        id: &str,
        api_version: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Live, ArmError> {
        self.write(Method::PUT, id, api_version, body, if_match, &[])
            .await
    }

    /// [`Self::put`] whose read-back GET carries `read_query` (a policy written as `rawxml`
    /// reads back escaped unless asked for `format=rawxml`).
    pub async fn put_with_read_query(
        &self,
        id: &str,
        api_version: &str,
        body: &Value,
        if_match: Option<&str>,
        read_query: &[(&str, &str)],
    ) -> Result<Live, ArmError> {
        self.write(Method::PUT, id, api_version, body, if_match, read_query)
            .await
    }

    /// Updates part of a resource, waits for its operation, returns its final state.
    pub async fn patch(
        &self,
        id: &str,
        api_version: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Live, ArmError> {
        self.write(Method::PATCH, id, api_version, body, if_match, &[])
            .await
    }

    /// Deletes a resource and waits until it is gone; a missing resource is not an error.
    pub async fn delete(
        &self,
        id: &str,
        api_version: &str,
        if_match: Option<&str>,
    ) -> Result<(), ArmError> {
        let url = self.url(id, api_version, &[])?;
        let answer = self
            .send(
                Method::DELETE,
                url.clone(),
                None,
                if_match,
                Idempotency::Safe,
            )
            .await?;
        match answer.status.as_u16() {
            404 => return Ok(()),
            s if (200..300).contains(&s) => {}
            _ => return Err(answer.error()),
        }
        if let Some(watch) = self.watch(&answer, None)? {
            self.follow(&Method::DELETE, &url, watch, answer.retry_after())
                .await?;
        }
        Ok(())
    }

    /// A POST action that may act twice if repeated: sent once, never retried.
    pub async fn post(&self, id: &str, api_version: &str, body: &Value) -> Result<Value, ArmError> {
        self.post_as(id, api_version, body, Idempotency::Unsafe)
            .await
    }

    /// A POST that only reads (`listSecrets`, `listKeys`): retried like a GET.
    pub async fn post_read(
        &self,
        id: &str,
        api_version: &str,
        body: &Value,
    ) -> Result<Value, ArmError> {
        self.post_as(id, api_version, body, Idempotency::Safe).await
    }

    async fn post_as(
        &self,
        id: &str,
        api_version: &str,
        body: &Value,
        idempotency: Idempotency,
    ) -> Result<Value, ArmError> {
        let url = self.url(id, api_version, &[])?;
        let answer = self
            .send(Method::POST, url.clone(), Some(body), None, idempotency)
            .await?;
        if !answer.status.is_success() {
            return Err(answer.error());
        }
        match self.watch(&answer, None)? {
            Some(watch) => {
                let last = self
                    .follow(&Method::POST, &url, watch, answer.retry_after())
                    .await?;
                last.json()
            }
            None => answer.json(),
        }
    }

    /// Every item of a collection, following `nextLink` (opaque, same host only).
    pub async fn list(&self, path: &str, api_version: &str) -> Result<Vec<Value>, ArmError> {
        self.list_with_query(path, api_version, &[]).await
    }

    /// [`Self::list`] with extra query parameters (`$filter=atScope()`).
    pub async fn list_with_query(
        &self,
        path: &str,
        api_version: &str,
        extra_query: &[(&str, &str)],
    ) -> Result<Vec<Value>, ArmError> {
        let mut url = self.url(path, api_version, extra_query)?;
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            let answer = self
                .send(Method::GET, url, None, None, Idempotency::Safe)
                .await?;
            if !answer.status.is_success() {
                return Err(answer.error());
            }
            let mut page = answer.json()?;
            match page.get_mut("value").map(Value::take) {
                Some(Value::Array(values)) => items.extend(values),
                Some(Value::Null) | None => {}
                Some(_) => {
                    return Err(ArmError::InvalidResponse {
                        method: "GET".into(),
                        url: display_url(&answer.url),
                        message: "`value` is not an array".into(),
                    });
                }
            }
            match page.get("nextLink").and_then(Value::as_str) {
                Some(next) if !next.is_empty() => url = self.follow_link(next)?,
                _ => return Ok(items),
            }
        }
        Err(ArmError::InvalidResponse {
            method: "GET".into(),
            url: path.to_string(),
            message: format!("more than {MAX_PAGES} pages"),
        })
    }

    async fn write(
        &self,
        method: Method,
        id: &str,
        api_version: &str,
        body: &Value,
        if_match: Option<&str>,
        read_query: &[(&str, &str)],
    ) -> Result<Live, ArmError> {
        let url = self.url(id, api_version, &[])?;
        let answer = self
            .send(
                method.clone(),
                url.clone(),
                Some(body),
                if_match,
                Idempotency::Safe,
            )
            .await?;
        if !answer.status.is_success() {
            return Err(answer.error());
        }
        let returned = answer.json()?;
        match self.watch(&answer, Some(&returned))? {
            Some(watch) => {
                self.follow(&method, &url, watch, answer.retry_after())
                    .await?;
            }
            None if read_query.is_empty() && returned.is_object() => return answer.live(),
            None => {}
        }
        // The final state is what a GET says, not what the first answer held.
        self.get_with_query(id, api_version, read_query)
            .await?
            .ok_or_else(|| ArmError::InvalidResponse {
                method: method.to_string(),
                url: display_url(&url),
                message: "the resource was not found after the write completed".into(),
            })
    }

    fn url(&self, id: &str, api: &str, extra: &[(&str, &str)]) -> Result<Url, ArmError> {
        resource_url(&self.inner.config.endpoint, id, api, extra).map_err(ArmError::from)
    }

    fn follow_link(&self, link: &str) -> Result<Url, ArmError> {
        follow_url(&self.inner.config.endpoint, link).map_err(ArmError::from)
    }

    fn watch(&self, answer: &Answer, body: Option<&Value>) -> Result<Option<Watch>, ArmError> {
        let initial = Initial {
            status: answer.status.as_u16(),
            azure_async_operation: answer.header("azure-asyncoperation"),
            location: answer.header("location"),
            body,
        };
        lro::start(initial, |u| self.follow_link(u))
    }

    /// Polls an operation until it ends; returns the last poll's answer.
    async fn follow(
        &self,
        method: &Method,
        url: &Url,
        watch: Watch,
        first_wait: Option<Duration>,
    ) -> Result<Answer, ArmError> {
        let started = Instant::now();
        let timeout = self.inner.config.lro_timeout;
        let mut wait = first_wait.unwrap_or(DEFAULT_POLL);
        loop {
            let elapsed = started.elapsed();
            if elapsed >= timeout {
                return Err(ArmError::LroTimeout {
                    method: method.to_string(),
                    url: display_url(url),
                    elapsed,
                });
            }
            let pause = wait
                .min(self.inner.config.max_retry_wait)
                .min(timeout - elapsed);
            tokio::time::sleep(pause).await;
            let poll_url = match &watch {
                Watch::AsyncOperation(u) | Watch::Location(u) => u.clone(),
                Watch::ProvisioningState => url.clone(),
            };
            let answer = self
                .send(Method::GET, poll_url, None, None, Idempotency::Safe)
                .await?;
            let status = answer.status.as_u16();
            let step = match &watch {
                // A deleted resource's Location may answer 404 once it is gone.
                Watch::Location(_) if status == 404 && *method == Method::DELETE => Step::Succeeded,
                _ if !answer.status.is_success() => return Err(answer.error()),
                Watch::AsyncOperation(_) => lro::on_async_status(&answer.json()?),
                Watch::Location(_) => lro::on_location(status),
                Watch::ProvisioningState => lro::on_resource(&answer.json()?),
            };
            match step {
                Step::Continue => wait = answer.retry_after().unwrap_or(DEFAULT_POLL),
                Step::Succeeded => return Ok(answer),
                Step::Failed(e) => {
                    return Err(ArmError::Api(Box::new(ApiError {
                        status: None,
                        code: e.code,
                        message: e.message,
                        details: e.details,
                        method: method.to_string(),
                        url: display_url(url),
                        request_id: answer.header("x-ms-request-id").map(str::to_string),
                    })));
                }
            }
        }
    }

    /// Sends one request with retries. Any HTTP answer is returned (the caller decides what
    /// a 404 means); only transport failures that outlast the retries are errors.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        if_match: Option<&str>,
        idempotency: Idempotency,
    ) -> Result<Answer, ArmError> {
        let mut attempt: u32 = 0;
        let mut refreshed_token = false;
        let bucket = Bucket::of(&method);
        loop {
            attempt += 1;
            let pause = self.inner.pacer.delay(bucket, Instant::now());
            if !pause.is_zero() {
                tokio::time::sleep(pause.min(self.inner.config.max_retry_wait)).await;
            }
            let result = self.attempt(&method, &url, body, if_match).await;
            if let Ok(answer) = &result {
                self.inner.pacer.observe(bucket, &answer.headers);
            }
            let (outcome_wait, last) = match result {
                Ok(answer) => {
                    let status = answer.status.as_u16();
                    if status < 400 {
                        return Ok(answer);
                    }
                    let error = answer.code_and_message();
                    // An expired token is refreshed once, whatever the method.
                    if status == 401 && !refreshed_token {
                        refreshed_token = true;
                        self.inner.tokens.invalidate().await;
                        attempt -= 1;
                        continue;
                    }
                    let outcome = Outcome::Status {
                        status,
                        code: error.as_ref().map(|e| e.0.as_str()),
                        message: error.as_ref().map(|e| e.1.as_str()),
                        retry_after: answer.retry_after(),
                    };
                    let decision =
                        self.inner
                            .policy
                            .decide(idempotency, outcome, attempt, rand::random());
                    (decision, Ok(answer))
                }
                Err(e) => {
                    let decision = self.inner.policy.decide(
                        idempotency,
                        Outcome::Transport,
                        attempt,
                        rand::random(),
                    );
                    (decision, Err(e))
                }
            };
            match outcome_wait {
                Decision::GiveUp => return last,
                Decision::RetryAfter(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// One exchange under a concurrency permit. Auth failures are not retried.
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Answer, ArmError> {
        let transport = |e: reqwest::Error| ArmError::Transport {
            method: method.to_string(),
            url: display_url(url),
            message: describe(e),
        };
        let token = self.inner.tokens.token().await?;
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|e| ArmError::Transport {
                method: method.to_string(),
                url: display_url(url),
                message: e.to_string(),
            })?;
        let mut request = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(token.secret())
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .headers(write_headers(if_match));
        if let Some(body) = body {
            request = request.json(body);
        }
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?.to_vec();
        Ok(Answer {
            method: method.clone(),
            url: url.clone(),
            status,
            headers,
            body,
        })
    }
}

/// A transport error's chain in one line (reqwest's top message alone says little).
/// reqwest errors carry the URL; it is stripped because the caller shows a redacted one.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}
