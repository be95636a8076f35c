//! Built-in OpenAI-compatible backends, one per foundry, each on its own 127.0.0.1 port. They
//! behave like an Azure OpenAI endpoint as far as routing can tell: `x-ms-region` on every
//! answer, 404 `DeploymentNotFound` for a model the foundry does not host, Responses API ids
//! known only to the backend that issued them, and 429 + Retry-After on demand. They answer
//! only the paths a Foundry account serves (`/openai/deployments/{id}/...`, `/openai/responses`,
//! `/openai/v1/...`, `/models/...`) and 404 anything else, as Azure does, so a gateway that
//! forwards to the wrong path fails. Each keeps a journal of what it received.

mod wire;

use super::route::requested_model;
use crate::model::Model;
use crate::model::surface::{ModelIn, match_foundry_path};
use axum::Router;
use axum::body::{Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
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
    /// Responses this backend stored, with their input (for `input_items`).
    issued: Mutex<HashMap<String, Value>>,
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
            issued: Mutex::new(HashMap::new()),
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
    let content_type = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut resp = answer(&s, &parts.method, parts.uri.path(), &content_type, &body);
    if let Ok(v) = HeaderValue::from_str(&s.region) {
        resp.headers_mut().insert("x-ms-region", v);
    }
    resp
}

/// The mock's answer: an injected failure, 404 for a path no Foundry account serves, else
/// the operation's answer from `wire`.
fn answer(
    s: &MockState,
    method: &Method,
    path: &str,
    content_type: &str,
    body: &Bytes,
) -> Response {
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
    let Some((op, params)) = match_foundry_path(method.as_str(), path) else {
        return json(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "404", "message": "Resource not found"}}),
        );
    };
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if op.model != ModelIn::None {
        let model = requested_model(
            (op.model == ModelIn::Path)
                .then(|| param("deployment-id"))
                .as_deref(),
            content_type,
            body,
        );
        if let Some(r) = not_hosted(s, &model) {
            return r;
        }
        return wire::inference(s, op.answer, &model, &req);
    }
    wire::stored(s, op.answer, &param("response-id"), &param("model"))
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
}
