//! `gw serve` throughput and added latency: the same chat-completion request at a fixed
//! concurrency, once straight to a mock backend and once through the gateway (pool
//! selection, breaker bookkeeping, buffering, forwarding, outbound headers).
//!
//! Then streaming: the time to first byte of a streamed chat completion (server-sent
//! events), straight from the mock and through the gateway; the difference is what the
//! gateway adds before a client sees its first token.
//!
//! Then the memory a burst of large uploads costs: 24 parallel 30 MiB request bodies (what
//! reached 1.3 GB before serve had a total budget), with the default budget of 64 MiB: the
//! most request-body bytes the gateway held at once, and the process's peak resident memory.
//!
//! `cargo bench --bench serve` runs the full measurement; without `--bench` (as under
//! `cargo test --benches`) it runs a short smoke pass of the latency part.

use gw::diag::Source;
use gw::model::Context;
use gw::serve::{self, ServeOptions};
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 16;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let total = if full { 40_000 } else { 400 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(total));
    rt.block_on(streaming(if full { 2_000 } else { 40 }));
    rt.block_on(uploads());
}

const UPLOADS: usize = 24;
const UPLOAD_MIB: usize = 30;

/// 24 parallel 30 MiB uploads through the gateway; prints what it held.
async fn uploads() {
    let h = serve::start(load("load-balancing"), options())
        .await
        .expect("serve");
    let url = format!(
        "{}/inference/openai/deployments/gpt-4o-mini/chat/completions",
        h.url()
    );
    // One buffer shared by every upload, so the client side adds 30 MiB, not 720.
    let body = bytes::Bytes::from(vec![b' '; UPLOAD_MIB << 20]);
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let before = peak_rss_kib();
    let tasks: Vec<_> = (0..UPLOADS)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                let r = client.post(&url).body(body).send().await.expect("send");
                r.status().as_u16()
            })
        })
        .collect();
    let mut refused = 0;
    for t in tasks {
        if t.await.expect("task") == 413 {
            refused += 1;
        }
    }
    let after = peak_rss_kib();
    println!(
        "gw serve uploads: {UPLOADS} x {UPLOAD_MIB} MiB in parallel, budget {} MiB",
        serve::budget::BODY_BUDGET >> 20
    );
    println!(
        "  peak request-body bytes held: {:.1} MiB; refused with 413: {refused}",
        h.body_bytes_peak() as f64 / (1 << 20) as f64
    );
    match (before, after) {
        (Some(b), Some(a)) => println!(
            "  process peak RSS: {:.0} MiB before, {:.0} MiB after (+{:.0} MiB)",
            b as f64 / 1024.0,
            a as f64 / 1024.0,
            a.saturating_sub(b) as f64 / 1024.0
        ),
        _ => println!("  process peak RSS: not available on this system"),
    }
    h.stop().await;
}

/// The process's peak resident set (VmHWM), in KiB, where /proc has it.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn load(name: &str) -> gw::model::Model {
    let path = format!("{}/examples/{name}/gw.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("example");
    gw::model::load(&Source::new(path, text), &Context { subscription: None })
        .expect("valid example")
}

fn options() -> ServeOptions {
    ServeOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        mock: true,
        seed: Some(1),
        ..ServeOptions::default()
    }
}

/// Serve with mocks, a client, and one chat-completion URL straight to a mock and one
/// through the gateway.
async fn chat_paths() -> (serve::ServeHandle, reqwest::Client, String, String) {
    let h = serve::start(load("load-balancing"), options())
        .await
        .expect("serve");
    let q = "deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21";
    let direct = format!("http://{}/openai/{q}", h.mock_addrs["foundry1"]);
    let gateway = format!("{}/inference/openai/{q}", h.url());
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    (h, client, direct, gateway)
}

async fn run(total: usize) {
    let (h, client, direct, gateway) = chat_paths().await;

    // Warm both paths (connections, allocator) before measuring.
    measure(&client, &direct, total / 10).await;
    measure(&client, &gateway, total / 10).await;
    let (d_rps, d) = measure(&client, &direct, total).await;
    let (g_rps, g) = measure(&client, &gateway, total).await;
    println!("gw serve benchmark: {total} requests, concurrency {CONCURRENCY}");
    compare(
        ["mock directly", "through serve", "added latency"],
        (&format!("{d_rps:>8.0} req/s  "), &d),
        (&format!("{g_rps:>8.0} req/s  "), &g),
    );
    h.stop().await;
}

/// Time to first byte of streamed chat completions, direct and through serve.
async fn streaming(total: usize) {
    let (h, client, direct, gateway) = chat_paths().await;
    first_bytes(&client, &direct, total / 10).await;
    first_bytes(&client, &gateway, total / 10).await;
    let d = first_bytes(&client, &direct, total).await;
    let g = first_bytes(&client, &gateway, total).await;
    println!("gw serve streaming: {total} streamed chat completions, concurrency {CONCURRENCY}");
    compare(
        [
            "first byte, mock directly",
            "first byte, through serve",
            "added time to first byte",
        ],
        ("", &d),
        ("", &g),
    );
    h.stop().await;
}

/// Prints p50 and p99 of the direct and gateway latencies (sorted), then what the gateway
/// adds; `labels`: direct, gateway, difference; each side may carry a prefix (its rate).
fn compare(labels: [&str; 3], direct: (&str, &[Duration]), gateway: (&str, &[Duration])) {
    let p = |v: &[Duration], q: f64| v[((v.len() as f64 - 1.0) * q) as usize];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let w = labels.iter().map(|l| l.len()).max().unwrap_or(0);
    for (label, (prefix, v)) in labels.iter().zip([direct, gateway]) {
        println!(
            "  {label:<w$} : {prefix}p50 {:>7.0} us  p99 {:>7.0} us",
            us(p(v, 0.5)),
            us(p(v, 0.99))
        );
    }
    let (d, g) = (direct.1, gateway.1);
    println!(
        "  {:<w$} : p50 {:>7.0} us  p99 {:>7.0} us",
        labels[2],
        us(p(g, 0.5)) - us(p(d, 0.5)),
        us(p(g, 0.99)) - us(p(d, 0.99))
    );
}

/// Sends `total` streamed requests from CONCURRENCY tasks, reading each stream to its end;
/// gives the sorted times to the first body chunk.
async fn first_bytes(client: &reqwest::Client, url: &str, total: usize) -> Vec<Duration> {
    use futures::StreamExt;
    let body =
        serde_json::json!({ "messages": [{ "role": "user", "content": "hi" }], "stream": true });
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.to_string(), body.clone());
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(total / CONCURRENCY + 1);
                for _ in 0..total.div_ceil(CONCURRENCY) {
                    let t = Instant::now();
                    let r = client.post(&url).json(&body).send().await.expect("send");
                    assert_eq!(r.status(), 200);
                    let mut stream = r.bytes_stream();
                    let mut first = None;
                    while let Some(chunk) = stream.next().await {
                        chunk.expect("chunk");
                        first.get_or_insert_with(|| t.elapsed());
                    }
                    lat.push(first.expect("a streamed body"));
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    all.sort();
    all
}

/// Sends `total` requests from CONCURRENCY tasks; gives requests/s and sorted latencies.
async fn measure(client: &reqwest::Client, url: &str, total: usize) -> (f64, Vec<Duration>) {
    let body = serde_json::json!({ "messages": [{ "role": "user", "content": "hi" }] });
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.to_string(), body.clone());
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(total / CONCURRENCY + 1);
                for _ in 0..total / CONCURRENCY {
                    let t = Instant::now();
                    let r = client.post(&url).json(&body).send().await.expect("send");
                    assert_eq!(r.status(), 200);
                    r.bytes().await.expect("body");
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let rps = all.len() as f64 / start.elapsed().as_secs_f64();
    all.sort();
    (rps, all)
}
