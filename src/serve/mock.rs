//! Built-in OpenAI-compatible backends, one per foundry, each on its own 127.0.0.1 port. They
//! behave like an Azure OpenAI endpoint as far as routing can tell: `x-ms-region` on every
//! answer, 404 `DeploymentNotFound` for a model the foundry does not host, Responses API ids
//! known only to the backend that issued them, and 429 + Retry-After on demand. They answer
//! only the paths a Foundry account serves (`/openai/deployments/{id}/...`, `/openai/responses`,
//! `/openai/v1/...`, `/models/...`) and 404 anything else, as Azure does, so a gateway that
//! forwards to the wrong path fails. Each keeps a journal of what it received.

use crate::model::Model;
use axum::Router;
use axum::body::{Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Retry-After sent with an injected 429 when none is given (`--mock-fail foundry1=429`).
pub const DEFAULT_RETRY_AFTER: u64 = 10;

/// An injected failure: answer `status` (with `Retry-After: retry_after` when set) to a
/// `rate` share of the requests (1.0: all of them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailSpec {
    pub status: u16,
    #[serde(default)]
    pub retry_after: Option<u64>,
    #[serde(default = "always")]
    pub rate: f64,
}

fn always() -> f64 {
    1.0
}

impl FailSpec {
    pub fn check(&self) -> Result<(), String> {
        if !(400..=599).contains(&self.status) {
            return Err(format!(
                "status {} is not an error status (400-599)",
                self.status
            ));
        }
        if !(0.0..=1.0).contains(&self.rate) {
            return Err(format!("rate {} is not between 0 and 1", self.rate));
        }
        Ok(())
    }
}

/// `429`, `429:5` (Retry-After 5 s), `429@0.5` (half the requests), `503:2@0.25`.
impl FromStr for FailSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("`{s}` is not STATUS[:RETRY_AFTER_SECONDS][@RATE], e.g. 429, 429:5 or 429@0.5")
        };
        let (head, rate) = match s.split_once('@') {
            Some((h, r)) => (h, r.trim().parse::<f64>().map_err(|_| bad())?),
            None => (s, 1.0),
        };
        let (status, retry_after) = match head.split_once(':') {
            Some((st, ra)) => (st, Some(ra.trim().parse::<u64>().map_err(|_| bad())?)),
            None => (head, None),
        };
        let status = status.trim().parse::<u16>().map_err(|_| bad())?;
        let retry_after = retry_after.or((status == 429).then_some(DEFAULT_RETRY_AFTER));
        let f = FailSpec {
            status,
            retry_after,
            rate,
        };
        f.check()?;
        Ok(f)
    }
}

/// `foundry1=429:5` -> ("foundry1", FailSpec).
pub fn parse_fail_assignment(s: &str) -> Result<(String, FailSpec), String> {
    let (name, spec) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=STATUS, e.g. foundry1=429"))?;
    Ok((name.trim().to_string(), spec.parse()?))
}

struct MockState {
    foundry: String,
    region: String,
    /// Deployments this foundry hosts, lower-cased.
    hosts: Vec<String>,
    requests: AtomicU64,
    responses: AtomicU64,
    issued: Mutex<HashSet<String>>,
    fail: Mutex<Option<FailSpec>>,
    rng: Mutex<StdRng>,
    journal: Mutex<VecDeque<Received>>,
}

/// The journal keeps this many of the latest requests per mock (memory stays bounded).
const JOURNAL_LEN: usize = 1000;

/// One request as a mock received it: enough to check the path the gateway forwarded to and
/// the headers it sent (names only, so no key or token is kept).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Received {
    pub method: String,
    /// The path and query, as sent.
    pub path: String,
    /// Header names, lower-case.
    pub headers: Vec<String>,
}

/// The running mocks: their addresses, and a handle to change their failures at run time.
#[derive(Clone)]
pub struct Mocks {
    states: BTreeMap<String, Arc<MockState>>,
    pub addrs: BTreeMap<String, SocketAddr>,
}

/// One mock's state as the admin endpoint shows it.
#[derive(Clone, Debug, Serialize)]
pub struct MockStatus {
    pub address: String,
    pub region: String,
    pub requests: u64,
    pub fail: Option<FailSpec>,
}

impl Mocks {
    /// Makes a mock fail (Some) or answer normally again (None).
    pub fn set_fail(&self, foundry: &str, fail: Option<FailSpec>) -> Result<(), String> {
        if let Some(f) = &fail {
            f.check()?;
        }
        let state = self.state(foundry)?;
        *state.fail.lock().unwrap_or_else(PoisonError::into_inner) = fail;
        Ok(())
    }

    /// The latest requests a mock has received, oldest first.
    pub fn journal(&self, foundry: &str) -> Vec<Received> {
        self.states.get(foundry).map_or_else(Vec::new, |s| {
            s.journal
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .cloned()
                .collect()
        })
    }

    /// How many requests a mock has received (answered or failed).
    pub fn requests(&self, foundry: &str) -> u64 {
        self.states
            .get(foundry)
            .map_or(0, |s| s.requests.load(Ordering::Relaxed))
    }

    pub fn status(&self) -> BTreeMap<String, MockStatus> {
        self.states
            .iter()
            .map(|(name, s)| {
                let status = MockStatus {
                    address: self
                        .addrs
                        .get(name)
                        .map(|a| format!("http://{a}"))
                        .unwrap_or_default(),
                    region: s.region.clone(),
                    requests: s.requests.load(Ordering::Relaxed),
                    fail: s
                        .fail
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone(),
                };
                (name.clone(), status)
            })
            .collect()
    }

    fn state(&self, foundry: &str) -> Result<&Arc<MockState>, String> {
        self.states.get(foundry).ok_or_else(|| {
            format!(
                "no mock backend `{foundry}`; the mocks are {}",
                self.states.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }
}

/// Starts one mock per foundry of the model. They stop when `shutdown` turns true.
pub async fn start(
    model: &Model,
    fails: &[(String, FailSpec)],
    seed: u64,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<(Mocks, Vec<JoinHandle<()>>)> {
    let mut states = BTreeMap::new();
    let mut addrs = BTreeMap::new();
    let mut tasks = Vec::new();
    for (i, f) in model.foundries.iter().enumerate() {
        let hosts = model
            .deployments
            .iter()
            .filter(|d| d.foundries.contains(&f.name))
            .map(|d| d.name.to_lowercase())
            .collect();
        let fail = fails
            .iter()
            .find(|(n, _)| *n == f.name)
            .map(|(_, s)| s.clone());
        let state = Arc::new(MockState {
            foundry: f.name.clone(),
            region: f.location.clone(),
            hosts,
            requests: AtomicU64::new(0),
            responses: AtomicU64::new(0),
            issued: Mutex::new(HashSet::new()),
            fail: Mutex::new(fail),
            rng: Mutex::new(StdRng::seed_from_u64(seed.wrapping_add(i as u64 + 1))),
            journal: Mutex::new(VecDeque::new()),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        addrs.insert(f.name.clone(), listener.local_addr()?);
        let app = Router::new().fallback(handle).with_state(state.clone());
        let mut rx = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await;
        }));
        states.insert(f.name.clone(), state);
    }
    Ok((Mocks { states, addrs }, tasks))
}

/// What a request asks of the mock.
#[derive(Debug)]
enum Call {
    /// Chat completions, completions or embeddings; the model from the URL or the body.
    Inference {
        kind: &'static str,
        deployment: Option<String>,
    },
    CreateResponse,
    GetResponse(String),
}

/// The paths a Foundry account serves for inference:
/// - Azure OpenAI: `/openai/deployments/{id}/{chat/completions|completions|embeddings}`,
///   `POST /openai/responses`, `GET /openai/responses/{id}`;
/// - the v1 API: `/openai/v1/{chat/completions|embeddings|responses}`, `GET /openai/v1/responses/{id}`
///   (model in the body, no deployments segment);
/// - Azure AI model inference: `/models/{chat/completions|embeddings}` (model in the body).
fn parse_call(method: &Method, path: &str) -> Option<Call> {
    let seg: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let kind = |tail: &[&str]| match tail {
        ["chat", "completions"] => Some("chat.completion"),
        ["completions"] => Some("text_completion"),
        ["embeddings"] => Some("embedding"),
        _ => None,
    };
    let in_body = |kind: Option<&'static str>| {
        kind.map(|kind| Call::Inference {
            kind,
            deployment: None,
        })
    };
    match (method, seg.as_slice()) {
        (&Method::POST, ["openai", "deployments", id, tail @ ..]) if !id.is_empty() => {
            Some(Call::Inference {
                kind: kind(tail)?,
                deployment: Some((*id).to_string()),
            })
        }
        (&Method::POST, ["openai", "responses"] | ["openai", "v1", "responses"]) => {
            Some(Call::CreateResponse)
        }
        (&Method::GET, ["openai", "responses", id] | ["openai", "v1", "responses", id])
            if !id.is_empty() =>
        {
            Some(Call::GetResponse((*id).to_string()))
        }
        (&Method::POST, ["openai", "v1", "chat", "completions"]) => in_body(kind(&seg[2..])),
        (&Method::POST, ["openai", "v1", "embeddings"]) => in_body(kind(&seg[2..])),
        (&Method::POST, ["models", "chat", "completions"] | ["models", "embeddings"]) => {
            in_body(kind(&seg[1..]))
        }
        _ => None,
    }
}

async fn handle(State(s): State<Arc<MockState>>, req: Request) -> Response {
    s.requests.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = req.into_parts();
    {
        let mut journal = s.journal.lock().unwrap_or_else(PoisonError::into_inner);
        if journal.len() == JOURNAL_LEN {
            journal.pop_front();
        }
        journal.push_back(Received {
            method: parts.method.to_string(),
            path: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.path().to_string(), |p| p.to_string()),
            headers: parts
                .headers
                .keys()
                .map(|k| k.as_str().to_string())
                .collect(),
        });
    }
    let body = to_bytes(body, 16 << 20).await.unwrap_or_default();
    let mut resp = answer(&s, &parts.method, parts.uri.path(), &body);
    if let Ok(v) = HeaderValue::from_str(&s.region) {
        resp.headers_mut().insert("x-ms-region", v);
    }
    resp
}

fn answer(s: &MockState, method: &Method, path: &str, body: &Bytes) -> Response {
    if let Some(fail) = s
        .fail
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
    {
        let hit = fail.rate >= 1.0
            || s.rng
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .random::<f64>()
                < fail.rate;
        if hit {
            return injected(&fail);
        }
    }
    let Some(call) = parse_call(method, path) else {
        return json(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "404", "message": "Resource not found"}}),
        );
    };
    let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let served_by = json!({ "foundry": s.foundry, "region": s.region });
    match call {
        Call::GetResponse(id) => {
            if s.issued
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&id)
            {
                json(
                    StatusCode::OK,
                    json!({ "id": id, "object": "response", "status": "completed", "served_by": served_by }),
                )
            } else {
                json(
                    StatusCode::NOT_FOUND,
                    json!({"error": {"message": format!("Response with id '{id}' not found."), "type": "invalid_request_error", "param": null, "code": null}}),
                )
            }
        }
        Call::Inference { kind, deployment } => {
            let model = deployment
                .or_else(|| str_field(&req, "model"))
                .unwrap_or_default();
            if let Some(r) = not_hosted(s, &model) {
                return r;
            }
            let n = s.responses.fetch_add(1, Ordering::Relaxed) + 1;
            let text = format!("Hello from {} ({}).", s.foundry, s.region);
            let out = match kind {
                "embedding" => {
                    json!({ "object": "list", "model": model, "data": [{"object": "embedding", "index": 0, "embedding": [0.0, 0.5, 1.0]}], "usage": {"prompt_tokens": 1, "total_tokens": 1}, "served_by": served_by })
                }
                "text_completion" => {
                    json!({ "id": format!("cmpl-{}-{n}", s.foundry), "object": kind, "model": model, "choices": [{"index": 0, "text": text, "finish_reason": "stop"}], "usage": usage(), "served_by": served_by })
                }
                _ => {
                    json!({ "id": format!("chatcmpl-{}-{n}", s.foundry), "object": kind, "model": model, "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}], "usage": usage(), "served_by": served_by })
                }
            };
            json(StatusCode::OK, out)
        }
        Call::CreateResponse => {
            let model = str_field(&req, "model").unwrap_or_default();
            if let Some(r) = not_hosted(s, &model) {
                return r;
            }
            let mut issued = s.issued.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(prev) = str_field(&req, "previous_response_id")
                && !issued.contains(&prev)
            {
                // What OpenAI answers when a conversation lands on a backend that never saw it.
                return json(
                    StatusCode::BAD_REQUEST,
                    json!({"error": {"message": format!("Previous response with id '{prev}' not found."), "type": "invalid_request_error", "param": "previous_response_id", "code": "previous_response_not_found"}}),
                );
            }
            let n = s.responses.fetch_add(1, Ordering::Relaxed) + 1;
            let id = format!("resp_{}_{n}", s.foundry);
            issued.insert(id.clone());
            let text = format!("Hello from {} ({}).", s.foundry, s.region);
            json(
                StatusCode::OK,
                json!({
                    "id": id, "object": "response", "status": "completed", "model": model,
                    "previous_response_id": str_field(&req, "previous_response_id"),
                    "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}],
                    "usage": {"input_tokens": 1, "output_tokens": 5, "total_tokens": 6},
                    "served_by": served_by,
                }),
            )
        }
    }
}

fn not_hosted(s: &MockState, model: &str) -> Option<Response> {
    (!s.hosts.iter().any(|h| h.eq_ignore_ascii_case(model))).then(|| {
        json(StatusCode::NOT_FOUND, json!({"error": {"code": "DeploymentNotFound", "message": "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."}}))
    })
}

fn injected(fail: &FailSpec) -> Response {
    let status = StatusCode::from_u16(fail.status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let wait = fail
        .retry_after
        .map(|s| format!(" Please retry after {s} seconds."))
        .unwrap_or_default();
    let mut r = json(
        status,
        json!({"error": {"code": fail.status.to_string(), "message": format!("Injected by gw serve --mock.{wait}")}}),
    );
    if let Some(secs) = fail.retry_after {
        r.headers_mut()
            .insert("retry-after", HeaderValue::from(secs));
    }
    r
}

fn usage() -> Value {
    json!({"prompt_tokens": 1, "completion_tokens": 5, "total_tokens": 6})
}

fn str_field(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(String::from)
}

fn json(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_failure_specs() {
        let f: FailSpec = "429".parse().expect("valid");
        assert_eq!(
            f,
            FailSpec {
                status: 429,
                retry_after: Some(DEFAULT_RETRY_AFTER),
                rate: 1.0
            }
        );
        let f: FailSpec = "429:5@0.5".parse().expect("valid");
        assert_eq!(
            f,
            FailSpec {
                status: 429,
                retry_after: Some(5),
                rate: 0.5
            }
        );
        let f: FailSpec = "503".parse().expect("valid");
        assert_eq!(f.retry_after, None);
        for bad in ["", "abc", "200", "429@2", "429:x", "429@"] {
            assert!(bad.parse::<FailSpec>().is_err(), "{bad}");
        }
        let (name, f) = parse_fail_assignment("foundry1=429:0").expect("valid");
        assert_eq!((name.as_str(), f.retry_after), ("foundry1", Some(0)));
        assert!(parse_fail_assignment("foundry1").is_err());
    }

    #[test]
    fn answers_only_the_paths_a_foundry_account_serves() {
        let post = |p: &str| parse_call(&Method::POST, p);
        let deployment = |p: &str| match post(p) {
            Some(Call::Inference { kind, deployment }) => Some((kind, deployment)),
            _ => None,
        };
        assert_eq!(
            deployment("/openai/deployments/m/chat/completions"),
            Some(("chat.completion", Some("m".to_string())))
        );
        assert_eq!(
            deployment("/openai/deployments/m/embeddings"),
            Some(("embedding", Some("m".to_string())))
        );
        for (path, kind) in [
            ("/openai/v1/chat/completions", "chat.completion"),
            ("/openai/v1/embeddings", "embedding"),
            ("/models/chat/completions", "chat.completion"),
            ("/models/embeddings", "embedding"),
        ] {
            assert_eq!(deployment(path), Some((kind, None)), "{path}");
        }
        assert!(matches!(
            post("/openai/responses"),
            Some(Call::CreateResponse)
        ));
        assert!(matches!(
            post("/openai/v1/responses"),
            Some(Call::CreateResponse)
        ));
        assert!(matches!(
            parse_call(&Method::GET, "/openai/v1/responses/r1"),
            Some(Call::GetResponse(_))
        ));
        // What a gateway forwarding to the wrong base would send: not a Foundry path.
        for wrong in [
            "/openai/chat/completions",
            "/openai/embeddings",
            "/openai/models/chat/completions",
            "/openai/v1/deployments/m/chat/completions",
            "/models/deployments/m/chat/completions",
            "/models/responses",
            "/v1/chat/completions",
            "/chat/completions",
            "/openai/deployments/m/images",
            "/openai/deployments//chat/completions",
            "/other",
        ] {
            assert!(post(wrong).is_none(), "{wrong} is not a Foundry path");
        }
        assert!(parse_call(&Method::GET, "/openai/deployments/m/chat/completions").is_none());
    }
}
