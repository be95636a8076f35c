//! `gw verify`: probes a gateway (local `gw serve` or the deployed APIM) and checks it
//! behaves as the spec says: which backend serves a burst (by the region header) against the
//! spec's priority group and weights, model routing with its 403/400 answers, and cookie
//! affinity keeping a Responses API conversation on one backend.
//!
//! The engine never prints; it returns a `Report` that `report` draws as text or HTML.

mod probe;
pub mod report;
mod surface;
mod tokens;

pub use probe::{Conversation, Probe};

use crate::model::{Api, ApiType, Model, Routing, Target, glob_match};
use crate::serve::pool;
use serde::Serialize;
use std::collections::BTreeMap;

/// The gateway to probe: its URL and a subscription key. Without `--gateway`, the CLI
/// finds the deployed APIM's through ARM (`commands::connect::locate_gateway`).
#[derive(Clone)]
pub struct GatewayTarget {
    pub url: String,
    pub key: Option<String>,
}

/// Never shows the key.
impl std::fmt::Debug for GatewayTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayTarget")
            .field("url", &self.url)
            .field("key", &self.key.as_ref().map(|_| "***"))
            .finish()
    }
}

#[derive(Clone, Debug)]
pub struct VerifyOptions {
    pub gateway: GatewayTarget,
    /// Requests per burst.
    pub requests: u32,
    /// Foundries known to be out (failing on purpose): the prediction is then the group
    /// that takes over, or the exhausted answer.
    pub down: Vec<String>,
    /// The `api-version` query sent with every request.
    pub api_version: String,
}

pub const DEFAULT_API_VERSION: &str = "2024-10-21";

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("`{0}` is not an http(s) URL")]
    BadUrl(String),
    #[error("cannot reach the gateway at {url}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("`{0}` is not a foundry of the spec")]
    UnknownFoundry(String),
}

/// Everything verify found: `ok` when every check passed.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub gateway: String,
    pub ok: bool,
    pub apis: Vec<ApiReport>,
    /// One line per failed check, naming what did not match.
    pub problems: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ApiReport {
    pub name: String,
    pub base_url: String,
    pub bursts: Vec<Burst>,
    pub checks: Vec<Check>,
}

/// N requests for one model and where they went, against the prediction.
#[derive(Clone, Debug, Serialize)]
pub struct Burst {
    pub model: String,
    /// The pool or foundry the spec sends the model to.
    pub target: String,
    pub requests: u32,
    /// Per region (the `x-backend-region` header, else `x-ms-region`).
    pub rows: Vec<Row>,
    /// Answers that did not come from a backend of the target: `"429 backends_busy": 3`,
    /// `"region westus (not in the target)": 1`.
    pub other: BTreeMap<String, u32>,
    /// Set when every member is down: the burst must be answered 429 (or 503).
    pub expect_exhausted: bool,
    pub ok: bool,
    /// Each request in the order sent: what answered it and how long it took.
    pub samples: Vec<Sample>,
}

/// One request of a burst.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub status: u16,
    /// The region that answered (normalized), when a backend did.
    pub region: Option<String>,
    pub latency_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub region: String,
    pub foundries: Vec<String>,
    /// The best (lowest) priority group among those foundries in the target (1 when the
    /// pool sets no priorities: one group).
    pub priority: u8,
    pub expected_share: f64,
    pub observed: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// `East US` and `eastus` are one region.
pub fn normalize_region(r: &str) -> String {
    r.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Runs every probe for every API of the spec.
pub async fn verify(model: &Model, opts: &VerifyOptions) -> Result<Report, VerifyError> {
    for d in &opts.down {
        if model.foundry(d).is_none() {
            return Err(VerifyError::UnknownFoundry(d.clone()));
        }
    }
    let probe = Probe::new(&opts.gateway, &opts.api_version)?;
    let mut apis = Vec::new();
    for api in &model.apis {
        apis.push(verify_api(model, api, opts, &probe).await?);
    }
    let mut problems = Vec::new();
    for a in &apis {
        for b in a.bursts.iter().filter(|b| !b.ok) {
            problems.push(format!("{}: {}", a.name, burst_problem(model, b)));
        }
        for c in a.checks.iter().filter(|c| !c.ok) {
            problems.push(format!("{}: {}: {}", a.name, c.name, c.detail));
        }
    }
    let refused = apis.iter().any(|a| {
        a.bursts
            .iter()
            .any(|b| b.other.keys().any(|k| k.starts_with("401")))
    });
    if refused {
        problems.insert(
            0,
            "the gateway refused the subscription key (401): give the right one with --key".into(),
        );
    }
    Ok(Report {
        gateway: opts.gateway.url.clone(),
        ok: problems.is_empty(),
        apis,
        problems,
    })
}

async fn verify_api(
    model: &Model,
    api: &Api,
    opts: &VerifyOptions,
    probe: &Probe,
) -> Result<ApiReport, VerifyError> {
    let base_url = probe.api_base(api);
    let mut bursts = Vec::new();
    let mut checks = Vec::new();
    // (model, target) pairs to burst: the routes, or one model the single target hosts.
    let plan: Vec<(String, &Target)> = match &api.routing {
        Routing::Single(t) => burst_model(model, t).map(|m| (m, t)).into_iter().collect(),
        Routing::ByModel { routes, .. } => routes
            .iter()
            .map(|r| (r.model.clone(), &r.target))
            .collect(),
    };
    for (m, target) in &plan {
        bursts.push(burst(model, api, m, target, opts, probe).await?);
        if let Routing::ByModel { .. } = api.routing {
            checks.push(hosting_check(model, m, bursts.last().map(|b| &b.rows)));
        }
    }
    if plan.is_empty() {
        checks.push(Check {
            name: "burst".into(),
            ok: false,
            detail:
                "no model is deployed on every backend of the target, so no request can be sent"
                    .into(),
        });
    }
    if let Routing::ByModel { routes, deny } = &api.routing {
        for pattern in deny {
            let name = denied_name(pattern);
            let a = probe.inference(api, &name).await?;
            checks.push(Check {
                name: format!("deny {pattern}"),
                ok: a.status == 403 && a.code.as_deref() == Some("model_denied"),
                detail: format!("model `{name}` answered {}", a.describe()),
            });
        }
        match unknown_name(routes.iter().map(|r| r.model.as_str()), deny) {
            Some(name) => {
                let a = probe.inference(api, &name).await?;
                checks.push(Check {
                    name: "unknown model".into(),
                    ok: a.status == 400 && a.code.as_deref() == Some("unknown_model"),
                    detail: format!("model `{name}` answered {}", a.describe()),
                });
            }
            None => checks.push(Check {
                name: "unknown model".into(),
                ok: true,
                detail: "every name is denied, so no model is unknown; skipped".into(),
            }),
        }
    }
    // Streaming and the v1 path, with a model that routes, when no backend is down (a
    // down member's 429s are the bursts' business).
    // An API with a token limit keeps its minute's tokens for the limit check below, which
    // counts what the bursts spent; streaming is checked on the other APIs.
    if let Some((m, _)) = plan.first()
        && opts.down.is_empty()
    {
        if api.token_limit.is_some() {
            checks.push(Check {
                name: "streaming".into(),
                ok: true,
                detail: "skipped: the API has a token limit, which the limit check measures".into(),
            });
        } else {
            checks.push(surface::stream_check(api, m, probe).await?);
            checks.extend(surface::v1_check(api, m, probe).await?);
        }
    }
    // Affinity: a two-turn Responses exchange per pool with a cookie, where the API type
    // has the Responses API and no member is down.
    if api.api_type != ApiType::AzureAi {
        let mut seen = Vec::new();
        for (m, target) in &plan {
            let Target::Pool(p) = target else { continue };
            let Some(pool) = model.pool(p) else { continue };
            let Some(cookie) = &pool.affinity else {
                continue;
            };
            if seen.contains(&p) || pool.members.iter().any(|x| opts.down.contains(&x.foundry)) {
                continue;
            }
            seen.push(p);
            let route = match api.api_type {
                ApiType::OpenAi => "/v1/responses",
                _ => "/responses",
            };
            if !api.has_route("POST", route) {
                checks.push(surface::not_declared(
                    &format!("affinity {p}"),
                    &format!("POST {route}"),
                ));
                continue;
            }
            checks
                .push(affinity_check(api, m, p, cookie, opts.requests.clamp(1, 10), probe).await?);
        }
    }
    // Last: it spends the rest of the minute's tokens.
    if let Some((m, _)) = plan.first()
        && let Some(c) = tokens::limit_check(api, m, probe).await?
    {
        checks.push(c);
    }
    Ok(ApiReport {
        name: api.name.clone(),
        base_url,
        bursts,
        checks,
    })
}

/// A model every foundry behind `target` hosts (so any member can answer it).
fn burst_model(model: &Model, target: &Target) -> Option<String> {
    let fs = model.target_foundries(target);
    model
        .deployments
        .iter()
        .find(|d| fs.iter().all(|f| d.foundries.iter().any(|x| x == f)))
        .map(|d| d.name.clone())
}

async fn burst(
    model: &Model,
    api: &Api,
    m: &str,
    target: &Target,
    opts: &VerifyOptions,
    probe: &Probe,
) -> Result<Burst, VerifyError> {
    let members: Vec<crate::model::Member> = match target {
        Target::Foundry(f) => vec![crate::model::Member {
            foundry: f.clone(),
            priority: None,
            weight: None,
        }],
        Target::Pool(p) => model.pool(p).map(|p| p.members.clone()).unwrap_or_default(),
    };
    let shares = pool::expected_shares(&members, &|f| opts.down.iter().any(|d| d == f));
    let mut rows: Vec<Row> = Vec::new();
    for (i, mem) in members.iter().enumerate() {
        let region = model
            .foundry(&mem.foundry)
            .map(|f| normalize_region(&f.location))
            .unwrap_or_default();
        let share = shares
            .iter()
            .find(|(j, _)| *j == i)
            .map_or(0.0, |(_, s)| *s);
        match rows.iter_mut().find(|r| r.region == region) {
            Some(r) => {
                r.foundries.push(mem.foundry.clone());
                r.priority = r.priority.min(mem.rank());
                r.expected_share += share;
            }
            None => rows.push(Row {
                region,
                foundries: vec![mem.foundry.clone()],
                priority: mem.rank(),
                expected_share: share,
                observed: 0,
            }),
        }
    }
    let mut other: BTreeMap<String, u32> = BTreeMap::new();
    let expect_exhausted = shares.is_empty();
    let mut last: Option<String> = None;
    let mut samples = Vec::new();
    for _ in 0..opts.requests {
        let a = probe.inference(api, m).await?;
        samples.push(Sample {
            status: a.status,
            region: a.region.as_deref().map(normalize_region),
            latency_ms: a.elapsed_ms,
        });
        if a.status == 200 {
            let region = a
                .region
                .as_deref()
                .map(normalize_region)
                .unwrap_or_else(|| "unknown".into());
            match rows.iter_mut().find(|r| r.region == region) {
                Some(r) => r.observed += 1,
                None => {
                    *other
                        .entry(format!("region {region} (not in the target)"))
                        .or_default() += 1
                }
            }
        } else {
            *other.entry(a.status_key()).or_default() += 1;
        }
        last = Some(a.status_key());
    }
    let ok = if expect_exhausted {
        // The first requests may still reach the failing members (and get their 429s) before
        // their breakers trip; after that the gateway itself must refuse, and no request may
        // be answered by a backend.
        let busy = if model.exhausted_retry_after(api).is_some() {
            "429 backends_busy"
        } else {
            "503"
        };
        rows.iter().all(|r| r.observed == 0)
            && last.as_deref().is_some_and(|k| k.starts_with(busy))
            && other
                .keys()
                .all(|k| k.starts_with("429") || k.starts_with("503"))
    } else {
        other.is_empty()
            && rows
                .iter()
                .all(|r| within(r.observed, opts.requests, r.expected_share))
    };
    Ok(Burst {
        model: m.to_string(),
        target: target.backend_id().to_string(),
        requests: opts.requests,
        rows,
        other,
        expect_exhausted,
        ok,
        samples,
    })
}

/// Is `observed` of `n` consistent with a share `p`? Exact for 0 and 1; otherwise within
/// three standard deviations of the binomial (and at least 2 requests).
pub fn within(observed: u32, n: u32, p: f64) -> bool {
    if p <= 0.0 {
        return observed == 0;
    }
    if p >= 1.0 {
        return observed == n;
    }
    let mean = f64::from(n) * p;
    let tol = (3.0 * (mean * (1.0 - p)).sqrt()).max(2.0);
    (f64::from(observed) - mean).abs() <= tol
}

fn burst_problem(model: &Model, b: &Burst) -> String {
    let mut parts = Vec::new();
    if b.expect_exhausted {
        parts.push(format!(
            "every backend of {} is down, so all {} requests should be refused as busy",
            b.target, b.requests
        ));
    }
    for r in &b.rows {
        if !b.expect_exhausted && !within(r.observed, b.requests, r.expected_share) {
            let expected = if r.expected_share > 0.0 {
                format!("about {:.0}", r.expected_share * f64::from(b.requests))
            } else {
                "none".into()
            };
            parts.push(format!(
                "{} ({}, priority {}) served {} of {}; the spec predicts {expected}",
                r.region,
                r.foundries.join(", "),
                r.priority,
                r.observed,
                b.requests
            ));
        }
    }
    for (k, v) in &b.other {
        parts.push(format!("{v} answered {k}"));
    }
    // Traffic on a worse group while the best one served nothing: a member is likely failing.
    let best = b.rows.iter().map(|r| r.priority).min();
    let idle_best: Vec<&str> = b
        .rows
        .iter()
        .filter(|r| Some(r.priority) == best && r.observed == 0 && r.expected_share > 0.0)
        .flat_map(|r| r.foundries.iter().map(String::as_str))
        .collect();
    let worse_busy = b
        .rows
        .iter()
        .any(|r| Some(r.priority) != best && r.observed > 0);
    let hint = if !idle_best.is_empty() && worse_busy && model.foundry(idle_best[0]).is_some() {
        format!(
            " (if {} is failing on purpose, say so with --down {})",
            idle_best.join(", "),
            idle_best.join(",")
        )
    } else {
        String::new()
    };
    format!(
        "model {} via {}: {}{hint}",
        b.model,
        b.target,
        parts.join("; ")
    )
}

/// Every region that served a model must host it.
fn hosting_check(model: &Model, m: &str, rows: Option<&Vec<Row>>) -> Check {
    let hosts: Vec<String> = model
        .deployments
        .iter()
        .find(|d| d.name == m)
        .map(|d| {
            d.foundries
                .iter()
                .filter_map(|f| model.foundry(f))
                .map(|f| normalize_region(&f.location))
                .collect()
        })
        .unwrap_or_default();
    let wrong: Vec<String> = rows
        .into_iter()
        .flatten()
        .filter(|r| r.observed > 0 && !hosts.contains(&r.region))
        .map(|r| r.region.clone())
        .collect();
    Check {
        name: format!("model {m} hosted"),
        ok: wrong.is_empty(),
        detail: if wrong.is_empty() {
            format!(
                "answered only from regions that host it ({})",
                hosts.join(", ")
            )
        } else {
            format!("answered from {}, which does not host it", wrong.join(", "))
        },
    }
}

/// A concrete model name matching a deny pattern: `gpt-4o*` -> `gpt-4o-gw-probe`.
pub fn denied_name(pattern: &str) -> String {
    let n = pattern.matches('*').count();
    let mut out = String::new();
    for (i, part) in pattern.split('*').enumerate() {
        out.push_str(part);
        if i < n {
            let first = i == 0 && part.is_empty();
            let last = i + 1 == n && pattern.ends_with('*');
            out.push_str(match (first, last) {
                (true, true) => "gw-probe",
                (true, false) => "gw-probe-",
                (false, true) => "-gw-probe",
                (false, false) => "-gw-probe-",
            });
        }
    }
    if glob_match(pattern, &out) {
        out
    } else {
        pattern.replace('*', "x")
    }
}

/// A model name the gateway does not know and does not deny.
fn unknown_name<'a>(
    known: impl Iterator<Item = &'a str> + Clone,
    deny: &[String],
) -> Option<String> {
    [
        "gw-verify-unknown-model",
        "zz-unknown-model-gw",
        "unknown",
        "0",
    ]
    .into_iter()
    .find(|c| {
        !deny.iter().any(|p| glob_match(p, c)) && !known.clone().any(|k| k.eq_ignore_ascii_case(c))
    })
    .map(String::from)
}

async fn affinity_check(
    api: &Api,
    m: &str,
    pool: &str,
    cookie: &str,
    conversations: u32,
    probe: &Probe,
) -> Result<Check, VerifyError> {
    let mut failures = Vec::new();
    for i in 1..=conversations {
        let c = probe.conversation(api, m, cookie).await?;
        if let Some(why) = c.problem() {
            failures.push(format!("conversation {i}: {why}"));
        }
    }
    Ok(Check {
        name: format!("affinity {pool}"),
        ok: failures.is_empty(),
        detail: if failures.is_empty() {
            format!(
                "{conversations} two-turn Responses conversations kept cookie {cookie} and stayed on one backend"
            )
        } else {
            failures.join("; ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denied_names_match_their_pattern() {
        for p in ["gpt-4o*", "*-preview", "o1*mini", "*", "exact", "a*b*"] {
            let n = denied_name(p);
            assert!(glob_match(p, &n), "{p} -> {n}");
        }
        assert_eq!(denied_name("gpt-4o*"), "gpt-4o-gw-probe");
    }

    #[test]
    fn unknown_names_avoid_deny_and_routes() {
        let deny = vec!["gw-*".to_string()];
        assert_eq!(
            unknown_name(["x"].into_iter(), &deny).as_deref(),
            Some("zz-unknown-model-gw")
        );
        assert_eq!(unknown_name(["x"].into_iter(), &["*".to_string()]), None);
    }

    #[test]
    fn tolerance_is_exact_at_the_ends_and_binomial_between() {
        assert!(within(0, 20, 0.0));
        assert!(!within(1, 20, 0.0));
        assert!(within(20, 20, 1.0));
        assert!(!within(19, 20, 1.0));
        assert!(within(10, 20, 0.5));
        assert!(within(5, 20, 0.5));
        assert!(!within(2, 20, 0.5));
        assert!(within(100, 200, 0.5));
        assert!(!within(130, 200, 0.5));
    }

    #[test]
    fn regions_compare_by_letters_and_digits() {
        assert_eq!(normalize_region("East US 2"), "eastus2");
        assert_eq!(normalize_region("swedencentral"), "swedencentral");
    }
}
