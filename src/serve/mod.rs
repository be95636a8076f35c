//! `gw serve`: a local gateway that routes like the APIM policy gw deploys (model routing,
//! 403/400 answers, pools with priorities, weights and circuit breakers, the retry that
//! re-selects the pool, the exhausted-pool 429, cookie affinity, `x-backend-region`), in
//! front of built-in mock backends, `--backend` URLs, or Azure AI Foundry itself.
//!
//! The engine never prints: `start` returns a handle, and each request is reported to an
//! optional callback. Every difference from APIM is listed in docs/serve.md.

pub mod affinity;
pub mod breaker;
pub mod budget;
pub mod clock;
mod gateway;
pub mod mock;
pub mod pool;
pub mod route;
pub mod sse;
pub mod tokens;

pub use clock::{Clock, ManualClock, SystemClock};
pub use gateway::{ADMIN_PREFIX, Attempt, RequestLog};
pub use mock::{FailSpec, Mocks, Received};

use crate::model::Model;
use futures::future::BoxFuture;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

/// Gives bearer tokens for `https://cognitiveservices.azure.com`, as the APIM managed
/// identity does for the deployed gateway. When set, foundries without a `--backend` or a
/// mock are called at their real endpoint with `Authorization: Bearer <token>`.
pub trait TokenProvider: Send + Sync {
    fn token(&self) -> BoxFuture<'_, Result<String, Box<dyn std::error::Error + Send + Sync>>>;
}

/// Called once per request the gateway answers (for `gw serve -v`).
pub type RequestCallback = Arc<dyn Fn(&RequestLog) + Send + Sync>;

#[derive(Clone)]
pub struct ServeOptions {
    /// Where the gateway listens; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Start a mock backend per foundry.
    pub mock: bool,
    /// Failures the mocks start with.
    pub mock_fail: Vec<(String, FailSpec)>,
    /// Per-foundry endpoint overrides (the Foundry endpoint: the API type's path, `/openai`
    /// or `/models`, and the operation's path are appended).
    pub backends: BTreeMap<String, Url>,
    /// The subscription key callers must send in `api-key` (and the admin endpoints need);
    /// None accepts any.
    pub key: Option<String>,
    /// Listen on a non-loopback address without a key (refused otherwise).
    pub insecure: bool,
    /// The largest request body, per request.
    pub max_body: usize,
    /// The most request-body bytes held at once, across all requests.
    pub body_budget: usize,
    /// The largest backend response passed on, per response.
    pub max_response: u64,
    /// Seeds pool selection and mock failure rates (a fixed seed gives repeatable runs).
    pub seed: Option<u64>,
    pub clock: Arc<dyn Clock>,
    pub token_provider: Option<Arc<dyn TokenProvider>>,
    pub on_request: Option<RequestCallback>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            mock: false,
            mock_fail: Vec::new(),
            backends: BTreeMap::new(),
            key: None,
            insecure: false,
            max_body: budget::MAX_BODY,
            body_budget: budget::BODY_BUDGET,
            max_response: MAX_RESPONSE,
            seed: None,
            clock: Arc::new(SystemClock::default()),
            token_provider: None,
            on_request: None,
        }
    }
}

/// Default largest backend response (per response); streamed answers are counted as they pass.
pub const MAX_RESPONSE: u64 = 256 << 20;

/// A loopback address (127.0.0.0/8, ::1, or ::ffff:127.x): reachable from this machine only.
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {addr} without a key: anyone who can reach it could use the gateway and change its mocks"
    )]
    OpenWithoutKey { addr: SocketAddr },
    #[error(
        "refusing to listen on {addr} without a key: serve forwards to Azure AI Foundry with your own Entra token (foundr{} {}), which anyone who can reach it could then use",
        if .foundries.len() == 1 { "y" } else { "ies" },
        .foundries.join(", ")
    )]
    TokenRelay {
        addr: SocketAddr,
        foundries: Vec<String>,
    },
    #[error("`{name}` is not a foundry of the spec (foundries: {known})")]
    UnknownFoundry { name: String, known: String },
    #[error("--mock-fail needs --mock")]
    FailWithoutMock,
    #[error(
        "no backend for foundr{} {}: no mock, no --backend, and no credential to call Azure AI Foundry with",
        if .0.len() == 1 { "y" } else { "ies" },
        .0.join(", ")
    )]
    NoBackend(Vec<String>),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the mock backends")]
    Mock(#[source] std::io::Error),
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// A running gateway (and its mocks). Dropping it stops them.
pub struct ServeHandle {
    pub addr: SocketAddr,
    /// Each mock's address, by foundry (empty without `--mock`).
    pub mock_addrs: BTreeMap<String, SocketAddr>,
    /// Foundries called at their real endpoint with the caller's Entra token.
    pub with_token: Vec<String>,
    mocks: Option<Mocks>,
    budget: Arc<budget::BodyBudget>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ServeHandle {
    /// `http://ADDR`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The mocks' control handle: change failures at run time.
    pub fn mocks(&self) -> Option<&Mocks> {
        self.mocks.as_ref()
    }

    /// The most request-body bytes the gateway has held at once.
    pub fn body_bytes_peak(&self) -> usize {
        self.budget.peak()
    }

    /// Request-body bytes held right now.
    pub fn body_bytes_held(&self) -> usize {
        self.budget.held()
    }

    /// Stops the gateway and the mocks and waits (briefly) for them to finish.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks.drain(..) {
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for ServeHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// The base URL of each API on a gateway: `(api name, {gateway}/{apim path})`.
pub fn api_urls(model: &Model, gateway: &str) -> Vec<(String, String)> {
    model
        .apis
        .iter()
        .map(|a| {
            let path = crate::graph::apim_path(a);
            (
                a.name.clone(),
                format!(
                    "{}/{}",
                    gateway.trim_end_matches('/'),
                    path.trim_matches('/')
                ),
            )
        })
        .collect()
}

/// Foundries some API can send to.
fn used_foundries(model: &Model) -> BTreeSet<String> {
    model
        .apis
        .iter()
        .flat_map(|a| model.api_targets(a))
        .flat_map(|t| model.target_foundries(t))
        .map(String::from)
        .collect()
}

/// Starts the gateway (and the mocks, with `options.mock`) on the current tokio runtime.
pub async fn start(model: Model, options: ServeOptions) -> Result<ServeHandle, ServeError> {
    let known = || {
        model
            .foundries
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for name in options
        .backends
        .keys()
        .chain(options.mock_fail.iter().map(|(n, _)| n))
    {
        if model.foundry(name).is_none() {
            return Err(ServeError::UnknownFoundry {
                name: name.clone(),
                known: known(),
            });
        }
    }
    if !options.mock && !options.mock_fail.is_empty() {
        return Err(ServeError::FailWithoutMock);
    }
    let seed = options.seed.unwrap_or_else(rand::random);
    let (shutdown, rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let mocks = if options.mock {
        let (m, t) = mock::start(&model, &options.mock_fail, seed, rx.clone())
            .await
            .map_err(ServeError::Mock)?;
        tasks.extend(t);
        Some(m)
    } else {
        None
    };
    let mut endpoints = BTreeMap::new();
    let mut missing = Vec::new();
    for f in used_foundries(&model) {
        let endpoint = if let Some(url) = options.backends.get(&f) {
            gateway::Endpoint::Plain(url.clone())
        } else if let Some(addr) = mocks.as_ref().and_then(|m| m.addrs.get(&f)) {
            match Url::parse(&format!("http://{addr}")) {
                Ok(u) => gateway::Endpoint::Plain(u),
                Err(_) => continue,
            }
        } else if let (Some(tp), Some(fd)) = (&options.token_provider, model.foundry(&f)) {
            match Url::parse(&format!(
                "https://{}.cognitiveservices.azure.com",
                fd.account
            )) {
                Ok(u) => gateway::Endpoint::Azure(u, tp.clone()),
                Err(_) => continue,
            }
        } else {
            missing.push(f);
            continue;
        };
        endpoints.insert(f, endpoint);
    }
    if !missing.is_empty() {
        let _ = shutdown.send(true);
        return Err(ServeError::NoBackend(missing));
    }
    let with_token: Vec<String> = endpoints
        .iter()
        .filter(|(_, e)| matches!(e, gateway::Endpoint::Azure(..)))
        .map(|(f, _)| f.clone())
        .collect();
    if options.key.is_none() && !is_loopback(options.listen.ip()) {
        let _ = shutdown.send(true);
        // The user's own token is never relayed for others, whatever --insecure says.
        if !with_token.is_empty() {
            return Err(ServeError::TokenRelay {
                addr: options.listen,
                foundries: with_token,
            });
        }
        if !options.insecure {
            return Err(ServeError::OpenWithoutKey {
                addr: options.listen,
            });
        }
    }
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: options.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: options.listen,
        source,
    })?;
    let mock_addrs = mocks.as_ref().map(|m| m.addrs.clone()).unwrap_or_default();
    let budget = budget::BodyBudget::new(options.body_budget);
    let app = gateway::router(
        model,
        options,
        endpoints,
        mocks.clone(),
        seed,
        budget.clone(),
    )
    .map_err(ServeError::Client)?;
    let mut stop = rx;
    tasks.push(tokio::spawn(async move {
        let signal = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        // The peer's address decides who may use the admin endpoints without a key.
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(signal)
            .await;
    }));
    Ok(ServeHandle {
        addr,
        mock_addrs,
        with_token,
        mocks,
        budget,
        shutdown,
        tasks,
    })
}
