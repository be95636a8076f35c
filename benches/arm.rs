#![allow(unused_imports)] // the shared test support is compiled whole; the bench uses part of it
//! What ARM costs: `gw apply` and `gw plan` of a 50-foundry estate, and `gw affinity enable`
//! against the manual two-call sequence, all against the ARM emulator with 50 ms of latency
//! per request. Requests are counted from the emulator's journal.
//!
//! `cargo bench --bench arm` (prints a table; no criterion: each run takes seconds).

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "common/estate.rs"]
mod estate;

use std::time::{Duration, Instant};
use support::azure::Azure;
use support::fake_az::FAKE_TOKEN;

const LATENCY: Duration = Duration::from_millis(50);

fn main() {
    let az = Azure::new();
    az.arm.set_latency(LATENCY);
    // Long-running operations answer "in progress" twice with Retry-After: 1 before they
    // finish: a client that follows Retry-After polls twice per operation; one that spins
    // polls far more.
    az.arm.set_lro_polls(2);
    az.arm.set_retry_after(1);
    // Azure's list pages hold 100 or more items; the tests use 2 to exercise paging.
    az.arm.set_page_size(100);
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("gw.yaml");
    std::fs::write(&spec, estate::spec(50)).unwrap();
    let gw = || {
        az.gw()
            .env_remove("GW_MAX_RETRY_WAIT")
            .args(["-f"])
            .args([&spec])
    };

    println!(
        "estate: 50 foundries, 10 models x 5 foundries, 10 pools, 10 APIs; {} ms per ARM request",
        LATENCY.as_millis()
    );
    println!(
        "{:<34} {:>10} {:>10} {:>8}",
        "", "wall", "requests", "polls"
    );

    let t = Instant::now();
    let run = gw().args(["apply", "--auto-approve"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    report("gw apply (from nothing)", t.elapsed(), &az);

    // The same apply against an APIM that locks each API for 500 ms after a write (the
    // catalogue's "seconds"): the policy waits out its API's lock, once per API.
    let locked = Azure::new();
    locked.arm.set_latency(LATENCY);
    locked.arm.set_lro_polls(2);
    locked.arm.set_retry_after(1);
    locked.arm.set_page_size(100);
    locked.arm.set_api_lock(Some(Duration::from_millis(500)));
    let t = Instant::now();
    let run = locked
        .gw()
        .env_remove("GW_MAX_RETRY_WAIT")
        .args(["-f"])
        .args([&spec])
        .args(["apply", "--auto-approve"])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    report("gw apply (API lock, 500 ms settle)", t.elapsed(), &locked);
    sub_row(
        "  of which refused by the lock",
        locked.arm.api_lock_refusals(),
    );

    for parallelism in ["8", "32"] {
        az.arm.clear_journal();
        let t = Instant::now();
        let run = gw()
            .args(["plan", "--detailed-exitcode", "--parallelism", parallelism])
            .run();
        assert_eq!(run.code, 0, "{}", run.stdout);
        report(
            &format!("gw plan (no changes, parallelism {parallelism})"),
            t.elapsed(),
            &az,
        );
    }
    // Pre-flight (models and quota per region, the APIM name, permissions, the accounts list
    // and a subdomain check per missing account) runs beside plan's own reads: the
    // difference is its cost. Best of three, the machine being shared.
    for (what, args) in [
        (
            "gw plan (pre-flight on)",
            &["plan", "--detailed-exitcode"][..],
        ),
        (
            "gw plan (pre-flight off)",
            &["plan", "--detailed-exitcode", "--skip-preflight"][..],
        ),
    ] {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            az.arm.clear_journal();
            let t = Instant::now();
            let run = gw().args(args).run();
            assert_eq!(run.code, 0, "{}", run.stdout);
            best = best.min(t.elapsed());
        }
        report(what, best, &az);
        let preflight = az
            .arm
            .journal()
            .iter()
            .filter(|e| is_preflight(e.path()))
            .count();
        sub_row("  of which pre-flight's own", preflight);
    }

    az.arm.clear_journal();
    let t = Instant::now();
    let run = gw().args(["apply", "--auto-approve"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    report("gw apply (again: nothing to do)", t.elapsed(), &az);

    // Affinity: gw (read, conditional write, read back) against the sample's two calls.
    az.arm.clear_journal();
    let t = Instant::now();
    let run = gw().args(["affinity", "enable", "--pool", "pool0"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    report("gw affinity enable", t.elapsed(), &az);

    az.arm.clear_journal();
    let pool = format!(
        "{}/providers/Microsoft.ApiManagement/service/",
        az.rg_id("rg-big")
    );
    let pool_id = az
        .arm
        .list_ids(&pool)
        .into_iter()
        .find(|id| id.ends_with("/backends/pool2"))
        .unwrap();
    let t = Instant::now();
    manual_enable(az.arm.url(), &pool_id);
    report("manual GET + PATCH (az rest x2)", t.elapsed(), &az);
}

/// A count under the row above it.
fn sub_row(what: &str, n: usize) {
    println!("{what:<34} {:>10} {n:>10}", "");
}

/// The reads only pre-flight makes (its list of the group's accounts is plan's too).
fn is_preflight(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    [
        "/models",
        "/usages",
        "availability",
        "/microsoft.authorization/permissions",
    ]
    .iter()
    .any(|s| p.ends_with(s))
}

fn report(what: &str, wall: Duration, az: &Azure) {
    let j = az.arm.journal();
    let polls = j
        .iter()
        .filter(|e| e.path().contains("/providers/Microsoft.Emulator/"))
        .count();
    println!(
        "{what:<34} {:>9.2}s {:>10} {:>8}",
        wall.as_secs_f64(),
        j.len(),
        polls
    );
}

/// The sample's way: `az rest --method get`, then `az rest --method patch` (If-Match: *) with the
/// affinity, no ETag. Timed without az's own start-up (about a second per call), so this is
/// the lower bound of the manual way.
fn manual_enable(base: &str, pool_id: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let url = format!("{base}{pool_id}?api-version=2024-10-01-preview");
        let got: serde_json::Value = http.get(&url).bearer_auth(FAKE_TOKEN).send().await.unwrap().json().await.unwrap();
        let mut pool = got["properties"]["pool"].clone();
        pool["sessionAffinity"] = serde_json::json!({ "sessionId": { "source": "cookie", "name": "APIM-Backend-Affinity" } });
        // APIM requires If-Match on PATCH; by hand one sends `*` (overwriting whatever changed).
        let r = http.patch(&url).bearer_auth(FAKE_TOKEN).header("If-Match", "*").json(&serde_json::json!({ "properties": { "pool": pool } })).send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    });
}
