//! `gw serve --mock` in-process, probed by `gw verify` (the library, and the binary for the
//! CLI contract). Everything on 127.0.0.1:0; time moves through a manual clock, never sleeps.

use gw::diag::Source;
use gw::model::{Context, Model};
use gw::serve::{self, FailSpec, ManualClock, ServeHandle, ServeOptions};
use gw::verify::{self, GatewayTarget, Probe, Report, VerifyOptions};
use std::sync::Arc;
use std::time::Duration;

mod api_types;
mod collisions;
mod operations;
mod security;
mod streaming;
mod surface;

fn example_path(name: &str) -> String {
    format!("{}/examples/{name}/gw.yaml", env!("CARGO_MANIFEST_DIR"))
}

fn example_text(name: &str) -> String {
    std::fs::read_to_string(example_path(name)).expect("example exists")
}

fn model(text: &str) -> Model {
    gw::model::load(
        &Source::new("test.yaml", text),
        &Context { subscription: None },
    )
    .unwrap_or_else(|d| panic!("invalid test spec: {d:?}"))
}

/// `text` with `from` replaced, checking it was there.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "`{from}` not in the spec");
    text.replace(from, to)
}

async fn start(model: &Model, clock: Option<Arc<ManualClock>>, key: Option<&str>) -> ServeHandle {
    let mut o = ServeOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        mock: true,
        seed: Some(42),
        key: key.map(String::from),
        ..ServeOptions::default()
    };
    if let Some(c) = clock {
        o.clock = c;
    }
    serve::start(model.clone(), o).await.expect("serve starts")
}

async fn run_verify(model: &Model, h: &ServeHandle, requests: u32, down: &[&str]) -> Report {
    let opts = VerifyOptions {
        gateway: GatewayTarget {
            url: h.url(),
            key: None,
        },
        requests,
        down: down.iter().map(|s| s.to_string()).collect(),
        api_version: verify::DEFAULT_API_VERSION.into(),
    };
    verify::verify(model, &opts).await.expect("verify runs")
}

fn assert_ok(r: &Report) {
    assert!(r.ok, "verify failed:\n{}", verify::report::text(r));
}

fn fail429(retry_after: u64) -> Option<FailSpec> {
    Some(FailSpec {
        status: 429,
        retry_after: Some(retry_after),
        rate: 1.0,
    })
}

/// A JSON answer: status, headers, body.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: serde_json::Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// `NAME=VALUE` of the Set-Cookie header, ready to send back.
    fn cookie(&self) -> Option<String> {
        self.header("set-cookie")
            .and_then(|c| c.split(';').next())
            .map(String::from)
    }
    fn served_by(&self) -> &str {
        self.body["served_by"]["foundry"]
            .as_str()
            .unwrap_or_default()
    }
}

/// POSTs a JSON body (sending `cookie` or `api_key` when given).
async fn post(
    url: &str,
    body: serde_json::Value,
    cookie: Option<&str>,
    api_key: Option<&str>,
) -> Answer {
    let mut req = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .post(url)
        .json(&body);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    if let Some(k) = api_key {
        req = req.header("api-key", k);
    }
    let r = req.send().await.expect("send");
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    let body = r.json().await.unwrap_or(serde_json::Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

fn empty() -> serde_json::Value {
    serde_json::json!({})
}

fn input(model: &str) -> serde_json::Value {
    serde_json::json!({ "model": model, "input": "hi" })
}

fn chat_url(h: &ServeHandle, model: &str) -> String {
    format!(
        "{}/inference/openai/deployments/{model}/chat/completions?api-version=2024-10-21",
        h.url()
    )
}

fn responses_url(h: &ServeHandle) -> String {
    format!(
        "{}/inference/openai/responses?api-version=2024-10-21",
        h.url()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_passes_verify_against_serve_mock() {
    for name in crate::support::cli::EXAMPLES {
        let m = model(&example_text(name));
        let h = start(&m, None, None).await;
        let r = run_verify(&m, &h, 20, &[]).await;
        assert_ok(&r);
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priority_one_failing_moves_traffic_to_priority_two_by_weight_then_recovers() {
    let text = edit(&example_text("load-balancing"), "trip: 1m", "trip: 1s");
    let m = model(&text);
    let clock = Arc::new(ManualClock::default());
    let h = start(&m, Some(clock.clone()), None).await;
    let mocks = h.mocks().expect("mocks");

    mocks
        .set_fail("foundry1", fail429(2))
        .expect("foundry1 is a mock");
    let r = run_verify(&m, &h, 200, &["foundry1"]).await;
    assert_ok(&r);
    let rows = &r.apis[0].bursts[0].rows;
    let served = |region: &str| rows.iter().find(|r| r.region == region).map(|r| r.observed);
    assert_eq!(served("eastus"), Some(0));
    assert_eq!(served("uksouth"), Some(0), "priority 3 untouched");
    assert_eq!(
        served("swedencentral").unwrap_or(0) + served("westus").unwrap_or(0),
        200
    );
    assert_eq!(mocks.requests("foundry4"), 0);
    // The breaker tripped on the first 429, so foundry1 saw one request, not 200.
    assert_eq!(mocks.requests("foundry1"), 1);

    // Healed, but its Retry-After (2 s, accepted over the 1 s trip) has not passed yet.
    mocks.set_fail("foundry1", None).expect("heal");
    clock.advance(Duration::from_secs(1));
    assert_ok(&run_verify(&m, &h, 20, &["foundry1"]).await);
    clock.advance(Duration::from_secs(1));
    assert_ok(&run_verify(&m, &h, 20, &[]).await);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_without_priorities_or_weights_spreads_over_every_member() {
    let mut text = example_text("load-balancing");
    for (from, to) in [
        ("foundry1, priority: 1 }", "foundry1 }"),
        ("foundry2, priority: 2, weight: 50 }", "foundry2 }"),
        ("foundry3, priority: 2, weight: 50 }", "foundry3 }"),
        ("foundry4, priority: 3 }", "foundry4 }"),
    ] {
        text = edit(&text, from, to);
    }
    let m = model(&text);
    let h = start(&m, None, None).await;
    let r = run_verify(&m, &h, 400, &[]).await;
    // Verify predicts a quarter each and checks the counts against it.
    assert_ok(&r);
    let rows = &r.apis[0].bursts[0].rows;
    assert_eq!(rows.len(), 4, "{rows:?}");
    for row in rows {
        assert_eq!(row.expected_share, 0.25, "{row:?}");
        assert!((60..=140).contains(&row.observed), "{row:?}");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_accept_retry_after_the_trip_duration_decides_recovery() {
    let text = edit(&example_text("load-balancing"), "trip: 1m", "trip: 1s");
    let text = edit(
        &text,
        "accept_retry_after: true",
        "accept_retry_after: false",
    );
    let m = model(&text);
    let clock = Arc::new(ManualClock::default());
    let h = start(&m, Some(clock.clone()), None).await;
    let mocks = h.mocks().expect("mocks");
    mocks.set_fail("foundry1", fail429(30)).expect("fail");
    assert_ok(&run_verify(&m, &h, 20, &["foundry1"]).await);
    mocks.set_fail("foundry1", None).expect("heal");
    clock.advance(Duration::from_secs(1));
    assert_ok(&run_verify(&m, &h, 20, &[]).await);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_answers_429_with_the_longest_trip() {
    let m = model(&example_text("load-balancing"));
    let clock = Arc::new(ManualClock::default());
    let h = start(&m, Some(clock), None).await;
    // Through the admin endpoint, as a user of `gw serve` would.
    let all = ["foundry1", "foundry2", "foundry3", "foundry4"];
    for f in all {
        let url = format!("{}/_gw/mock/{f}/fail", h.url());
        let fail = serde_json::json!({ "status": 429, "retry_after": 5 });
        assert_eq!(post(&url, fail, None, None).await.status, 200);
    }
    // The first request meets every member once (1 + retry.count attempts) and gets the
    // last backend's 429; then the pool is exhausted.
    let first = post(&chat_url(&h, "gpt-4o-mini"), empty(), None, None).await;
    assert_eq!(first.status, 429);
    assert!(first.header("x-backend-region").is_some());
    let busy = post(&chat_url(&h, "gpt-4o-mini"), empty(), None, None).await;
    assert_eq!(busy.status, 429);
    assert_eq!(busy.header("retry-after"), Some("60"));
    assert_eq!(
        busy.header("x-backend-region"),
        None,
        "return-response skips outbound"
    );
    assert_eq!(busy.body["error"]["code"], "backends_busy");
    assert_ok(&run_verify(&m, &h, 5, &all).await);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_denies_rejects_and_routes_by_url_or_body() {
    let m = model(&example_text("model-routing"));
    let h = start(&m, None, None).await;
    let denied = post(&chat_url(&h, "GPT-4o-mini"), empty(), None, None).await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.header("content-type"), Some("application/json"));
    assert_eq!(denied.body["error"]["code"], "model_denied");
    assert_eq!(
        post(&responses_url(&h), input("gpt-4o"), None, None)
            .await
            .status,
        403
    );

    let unknown = post(&chat_url(&h, "llama-3"), empty(), None, None).await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.body["error"]["code"], "unknown_model");
    let message = unknown.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("o4-mini"), "{message}");

    // The body's model, case-insensitive, reaches the only foundry hosting it.
    let ok = post(&responses_url(&h), input("O4-MINI"), None, None).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("x-backend-region"), Some("westus3"));
    assert_eq!(ok.served_by(), "foundry3");

    // No operation there: APIM's own 404.
    let none = post(&format!("{}/nowhere", h.url()), empty(), None, None).await;
    assert_eq!(none.status, 404);
    h.stop().await;
}

async fn conversations(m: &Model, h: &ServeHandle, n: usize) -> Vec<verify::Conversation> {
    let probe = Probe::new(
        &GatewayTarget {
            url: h.url(),
            key: None,
        },
        verify::DEFAULT_API_VERSION,
    )
    .expect("probe");
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            probe
                .conversation(&m.apis[0], "gpt-4.1-mini", "APIM-Backend-Affinity")
                .await
                .expect("conversation"),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn affinity_on_keeps_every_conversation_and_off_breaks_some() {
    let on = model(&example_text("session-affinity"));
    let h = start(&on, None, None).await;
    for c in conversations(&on, &h, 30).await {
        assert_eq!(c.problem(), None, "{c:?}");
    }
    h.stop().await;

    let off = model(&edit(
        &example_text("session-affinity"),
        "    session_affinity:\n      cookie: APIM-Backend-Affinity\n",
        "",
    ));
    let h = start(&off, None, None).await;
    let convs = conversations(&off, &h, 30).await;
    assert!(
        convs.iter().all(|c| c.cookie.is_none()),
        "no cookie without affinity"
    );
    let lost = convs
        .iter()
        .filter(|c| {
            c.second.as_ref().is_some_and(|s| {
                s.status == 400 && s.code.as_deref() == Some("previous_response_not_found")
            })
        })
        .count();
    assert!(
        lost > 0,
        "with two equal backends and no affinity, some second turns land elsewhere"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn affinity_falls_back_when_its_backend_trips() {
    let m = model(&example_text("session-affinity"));
    let clock = Arc::new(ManualClock::default());
    let h = start(&m, Some(clock), None).await;
    let first = post(&responses_url(&h), input("gpt-4.1-mini"), None, None).await;
    assert_eq!(first.status, 200);
    let cookie = first.cookie().expect("the first response sets the cookie");
    let sticky = first.served_by().to_string();
    let other = if sticky == "foundry1" {
        "foundry2"
    } else {
        "foundry1"
    };

    let mocks = h.mocks().expect("mocks");
    mocks.set_fail(&sticky, fail429(5)).expect("fail");
    let url = chat_url(&h, "gpt-4.1-mini");
    let moved = post(&url, empty(), Some(&cookie), None).await;
    assert_eq!(moved.status, 200, "the retry re-selects the pool");
    assert_eq!(moved.served_by(), other);
    let new_cookie = moved.cookie().expect("re-set for the new backend");
    assert_ne!(new_cookie, cookie);

    let again = post(&url, empty(), Some(&new_cookie), None).await;
    assert_eq!(again.cookie(), None, "a valid cookie is not re-set");
    assert_eq!(again.served_by(), other);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscription_key_is_checked_when_given() {
    let m = model(&example_text("load-balancing"));
    let h = start(&m, None, Some("k-0123456789")).await;
    let url = chat_url(&h, "gpt-4o-mini");
    let missing = post(&url, empty(), None, None).await;
    assert_eq!(missing.status, 401);
    let message = missing.body["message"].as_str().unwrap_or_default();
    assert!(message.contains("missing subscription key"), "{message}");
    assert_eq!(post(&url, empty(), None, Some("wrong")).await.status, 401);
    assert_eq!(
        post(&url, empty(), None, Some("k-0123456789")).await.status,
        200
    );
    let in_query = format!("{url}&api-key=k-0123456789");
    assert_eq!(post(&in_query, empty(), None, None).await.status, 200);
    h.stop().await;
}

/// `gw` as a user starts it, with `env` set and no key variables inherited.
fn gw_command(args: &[&str], env: &[(&str, &str)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_gw"));
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("GW_SERVE_KEY")
        .env_remove("GW_VERIFY_KEY")
        .envs(env.iter().copied())
        .kill_on_drop(true);
    cmd
}

async fn gw(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    gw_command(args, env).output().await.expect("gw runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verify_command_prints_json_writes_html_and_exits_by_result() {
    let spec = example_path("session-affinity");
    let m = model(&example_text("session-affinity"));
    // The key comes from GW_VERIFY_KEY: without it every request would answer 401.
    let key = "secret-0123456789abcd";
    let h = start(&m, None, Some(key)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let html = dir.path().join("report.html");
    let html_arg = html.display().to_string();
    let url = h.url();
    let env = [("GW_VERIFY_KEY", key)];
    let verify = ["verify", "-f", spec.as_str(), "--gateway", url.as_str()];
    let out = gw(
        &[&verify[..], &["-o", "json", "--report", &html_arg]].concat(),
        &env,
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains(key) && stderr.contains("****abcd"),
        "{stderr}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["ok"], true);
    let page = std::fs::read_to_string(&html).expect("report written");
    assert!(page.contains("<svg") && page.contains("francecentral"));
    assert!(
        !page.contains("src=") && !page.contains("href=") && !page.contains("<script"),
        "self-contained"
    );

    // A prediction that does not hold: exit 1, naming it.
    let out = gw(&[&verify[..], &["--down", "foundry1"]].concat(), &env).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("swedencentral (foundry1, priority 1) served"),
        "{stderr}"
    );
    h.stop().await;
}

#[test]
fn without_a_gateway_or_mocks_gw_goes_to_azure_and_says_what_is_missing() {
    use crate::support::azure::Azure;
    use crate::support::cli::example;
    // Not logged in: both say how to log in, and serve does not start.
    let az = Azure::logged_out();
    let verify = az
        .gw()
        .args(["verify", "-f"])
        .args([example("load-balancing")])
        .env_remove("AZURE_SUBSCRIPTION_ID")
        .run();
    assert_eq!(verify.code, 1);
    assert!(verify.stderr.contains("az login"), "{}", verify.stderr);
    let serve = az.run(&["serve", "--listen", "127.0.0.1:0"], "load-balancing");
    assert_eq!(serve.code, 1);
    assert!(serve.stderr.contains("az login"), "{}", serve.stderr);
    assert!(serve.stderr.contains("--mock"), "{}", serve.stderr);
    // Logged in, nothing deployed: verify says so.
    let az = Azure::new();
    let verify = az.run(&["verify"], "load-balancing");
    assert_eq!(verify.code, 1);
    assert!(
        verify.stderr.contains("is not deployed"),
        "{}",
        verify.stderr
    );
    assert!(verify.stderr.contains("gw apply"), "{}", verify.stderr);
}

/// `gw verify` with no `--gateway`: the deployed APIM's gateway URL and a subscription key are
/// read through ARM. The emulator's APIM points at a local `gw serve --mock` standing in for
/// the real gateway, with the emulator's key required.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_the_deployed_gateway_through_arm() {
    use crate::support::azure::Azure;
    let az = tokio::task::spawn_blocking(|| Azure::deployed("session-affinity"))
        .await
        .unwrap();
    let sub_id = az.put_id("/subscriptions/subscription1");
    let key = az.arm.secrets_of(&sub_id).unwrap()[0].clone();
    let h = start(&model(&example_text("session-affinity")), None, Some(&key)).await;
    let apim_id = sub_id.rsplit_once("/subscriptions/").unwrap().0.to_string();
    let mut apim = az.arm.get_resource(&apim_id).unwrap();
    apim["properties"]["gatewayUrl"] = serde_json::json!(h.url());
    az.arm.set_resource(&apim_id, apim);
    let run = tokio::task::spawn_blocking(move || {
        az.run(&["verify", "--requests", "10"], "session-affinity")
    })
    .await
    .unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!("against {}", h.url())),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("****{}", &key[key.len() - 4..])),
        "the key is shown masked: {}",
        run.stderr
    );
    assert!(!run.stderr.contains(&key), "the key itself is never shown");
    assert!(run.stderr.contains("verify: all"), "{}", run.stderr);
    h.stop().await;
}
