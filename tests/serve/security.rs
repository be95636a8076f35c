//! `gw serve` cannot be turned against its user: it refuses to listen openly without a key,
//! guards its admin endpoints, never forwards the caller's credentials or a path that climbs
//! out of the API, and holds bounded memory for request and response bodies.

use super::{chat_url, example_path, example_text, gw, gw_command, model, start};
use gw::serve::{self, ServeError, ServeHandle, ServeOptions, TokenProvider};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const MIB: usize = 1 << 20;
const KEY: &str = "k-0123456789abcdef";
const WAIT: Duration = Duration::from_secs(30);

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// A stand-in backend for `--backend`, on 127.0.0.1.
pub(super) async fn backend(app: axum::Router) -> url::Url {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    url::Url::parse(&format!("http://{addr}")).expect("url")
}

/// Serve on 127.0.0.1:0 with every foundry of `example` sent to `to`.
pub(super) async fn start_with_backend(
    example: &str,
    to: &url::Url,
    o: ServeOptions,
) -> ServeHandle {
    let m = model(&example_text(example));
    let backends: BTreeMap<String, url::Url> = m
        .foundries
        .iter()
        .map(|f| (f.name.clone(), to.clone()))
        .collect();
    let o = ServeOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        backends,
        seed: Some(7),
        ..o
    };
    serve::start(m, o).await.expect("serve starts")
}

/// A request written byte for byte (an HTTP client would resolve `..` and `%2e` itself).
async fn raw(addr: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8_lossy(&out);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_loopback_address_needs_a_key_or_insecure() {
    let m = model(&example_text("load-balancing"));
    let open = |key: Option<&str>, insecure: bool| ServeOptions {
        listen: "0.0.0.0:0".parse().expect("addr"),
        mock: true,
        key: key.map(String::from),
        insecure,
        ..ServeOptions::default()
    };
    let refused = serve::start(m.clone(), open(None, false)).await;
    assert!(
        matches!(refused, Err(ServeError::OpenWithoutKey { .. })),
        "{:?}",
        refused.err()
    );
    serve::start(m.clone(), open(Some(KEY), false))
        .await
        .expect("with a key")
        .stop()
        .await;
    serve::start(m.clone(), open(None, true))
        .await
        .expect("with --insecure")
        .stop()
        .await;

    // The CLI says what to set.
    let out = gw(
        &[
            "serve",
            "--mock",
            "--listen",
            "0.0.0.0:0",
            "-f",
            &example_path("load-balancing"),
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0"),
        "{stderr}"
    );
    assert!(
        stderr.contains("GW_SERVE_KEY") && stderr.contains("--insecure"),
        "{stderr}"
    );
}

struct FakeTokens;

impl TokenProvider for FakeTokens {
    fn token(
        &self,
    ) -> futures::future::BoxFuture<'_, Result<String, Box<dyn std::error::Error + Send + Sync>>>
    {
        Box::pin(async { Ok("user-token".to_string()) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_own_token_is_never_offered_openly_even_with_insecure() {
    let m = model(&example_text("load-balancing"));
    let o = |listen: &str, key: Option<&str>| ServeOptions {
        listen: listen.parse().expect("addr"),
        key: key.map(String::from),
        insecure: true,
        token_provider: Some(Arc::new(FakeTokens) as Arc<dyn TokenProvider>),
        ..ServeOptions::default()
    };
    match serve::start(m.clone(), o("0.0.0.0:0", None)).await {
        Err(ServeError::TokenRelay { foundries, .. }) => assert_eq!(foundries.len(), 4),
        other => panic!("not refused: {:?}", other.err()),
    }
    let h = serve::start(m.clone(), o("127.0.0.1:0", None))
        .await
        .expect("loopback");
    assert_eq!(
        h.with_token.len(),
        4,
        "serve knows it forwards with the token"
    );
    h.stop().await;
    serve::start(m, o("0.0.0.0:0", Some(KEY)))
        .await
        .expect("with a key")
        .stop()
        .await;
}

#[test]
fn without_mocks_the_cli_refuses_to_offer_the_users_token_on_an_open_address() {
    let az = crate::support::azure::Azure::new();
    let args = ["serve", "--insecure", "--listen", "0.0.0.0:0"];
    let open = az.run(&args, "load-balancing");
    assert_eq!(open.code, 1, "{}", open.stderr);
    assert!(
        open.stderr.contains("with your own Entra token") && open.stderr.contains("GW_SERVE_KEY"),
        "{}",
        open.stderr
    );
    assert!(
        open.stderr.contains("--insecure does not lift this"),
        "{}",
        open.stderr
    );
}

/// Reads stderr lines of a started `gw serve` until it says it is ready.
async fn until_ready(child: &mut tokio::process::Child) -> String {
    let stderr = child.stderr.take().expect("piped");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    let read = async {
        while let Some(l) = lines.next_line().await.expect("stderr") {
            seen.push_str(&l);
            seen.push('\n');
            if l.contains("Press Ctrl-C") {
                return;
            }
        }
    };
    let ready = tokio::time::timeout(WAIT, read).await;
    assert!(ready.is_ok(), "serve did not start:\n{seen}");
    seen
}

/// `gw serve --mock` of load-balancing on 0.0.0.0, with `extra` arguments and `env`, once it
/// is ready: the child and what it printed on stderr.
async fn serve_openly(extra: &[&str], env: &[(&str, &str)]) -> (tokio::process::Child, String) {
    let spec = example_path("load-balancing");
    let args = ["serve", "--mock", "--listen", "0.0.0.0:0", "-f", &spec];
    let mut child = gw_command(&[&args[..], extra].concat(), env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("gw serve starts");
    let stderr = until_ready(&mut child).await;
    (child, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_from_gw_serve_key_opens_a_non_loopback_address_and_guards_everything() {
    let (mut child, stderr) = serve_openly(&["-o", "json"], &[("GW_SERVE_KEY", KEY)]).await;
    assert!(!stderr.contains(KEY), "the key is never printed:\n{stderr}");
    assert!(stderr.contains("****cdef"), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let mut out = BufReader::new(child.stdout.take().expect("piped")).lines();
    let doc = tokio::time::timeout(WAIT, out.next_line())
        .await
        .expect("the JSON line")
        .expect("stdout")
        .expect("a line");
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("JSON");
    let url = doc["url"]
        .as_str()
        .expect("url")
        .replace("0.0.0.0", "127.0.0.1");

    let chat = format!(
        "{url}/inference/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"
    );
    let c = client();
    let call = |key: Option<&str>| {
        let mut r = c.post(&chat).json(&serde_json::json!({}));
        if let Some(k) = key {
            r = r.header("api-key", k);
        }
        r.send()
    };
    assert_eq!(call(None).await.expect("answer").status(), 401);
    assert_eq!(call(Some(KEY)).await.expect("answer").status(), 200);

    // The admin endpoints: 401 without the key, and nothing changes.
    let fail = format!("{url}/_gw/mock/foundry1/fail");
    let body = serde_json::json!({ "status": 500 });
    let denied = c.post(&fail).json(&body).send().await.expect("answer");
    assert_eq!(denied.status(), 401);
    let denied: serde_json::Value = denied.json().await.expect("JSON error");
    assert!(
        denied["message"]
            .as_str()
            .is_some_and(|m| m.contains("GW_SERVE_KEY")),
        "{denied}"
    );
    let breakers = c.get(format!("{url}/_gw/breakers")).send().await;
    assert_eq!(breakers.expect("answer").status(), 401);
    assert_eq!(
        call(Some(KEY)).await.expect("answer").status(),
        200,
        "the unauthenticated POST failed no backend"
    );
    let allowed = c.post(&fail).header("api-key", KEY).json(&body).send();
    assert_eq!(allowed.await.expect("answer").status(), 200);
    assert_eq!(call(Some(KEY)).await.expect("answer").status(), 500);
    child.kill().await.expect("stop gw serve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_starts_openly_with_a_warning() {
    let (mut child, stderr) = serve_openly(&["--insecure"], &[]).await;
    assert!(
        stderr.contains("warning: listening on 0.0.0.0:") && stderr.contains("without a key"),
        "{stderr}"
    );
    child.kill().await.expect("stop gw serve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_key_and_authorization_never_reach_the_backend() {
    let m = model(&example_text("load-balancing"));
    let h = start(&m, None, None).await;
    let url = format!("{}&api-key=caller-key", chat_url(&h, "gpt-4o-mini"));
    let r = client()
        .post(url)
        .header("api-key", "caller-key")
        .header("authorization", "Bearer caller-token")
        .header("x-client-note", "kept")
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 200);
    let journal = h.mocks().expect("mocks").journal("foundry1");
    assert_eq!(journal.len(), 1, "{journal:?}");
    let got = &journal[0];
    assert!(
        got.headers.iter().any(|h| h == "x-client-note")
            && got.headers.iter().any(|h| h == "content-type"),
        "other headers are forwarded: {got:?}"
    );
    assert!(
        !got.headers
            .iter()
            .any(|h| h == "api-key" || h == "authorization"),
        "the caller's credentials reached the backend: {got:?}"
    );
    assert_eq!(
        got.path, "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
        "nor does the key in the query"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_segments_and_encoded_slashes_are_refused_before_anything_is_forwarded() {
    // One pool for every model: without the check, a deployment id of `..` is forwarded.
    let m = model(&example_text("load-balancing"));
    let h = start(&m, None, None).await;
    let mocks = h.mocks().expect("mocks");
    let sent = || {
        m.foundries
            .iter()
            .map(|f| mocks.requests(&f.name))
            .sum::<u64>()
    };
    let good = "/inference/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21";
    assert_eq!(raw(h.addr, good).await.0, 200);
    assert_eq!(sent(), 1, "a plain request is forwarded");
    for id in [
        "..",
        ".",
        "%2e%2e",
        "%2E%2E",
        ".%2e",
        "%2e.",
        "%2E",
        "%252e%252e",
        "a%2fb",
        "a%2F..",
        "a%5cb",
    ] {
        let path =
            format!("/inference/openai/deployments/{id}/chat/completions?api-version=2024-10-21");
        let (status, body) = raw(h.addr, &path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("path segment")),
            "{path}: {body}"
        );
    }
    let (status, _) = raw(h.addr, "/inference/openai/%2e%2e/%2e%2e/other?x=1").await;
    assert_eq!(status, 400);
    assert_eq!(sent(), 1, "nothing else reached a backend");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_large_uploads_stays_within_the_body_budget() {
    // A backend that holds every request until released, so the accepted bodies stay
    // buffered in the gateway while the others arrive.
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let gate = release.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let gate = gate.clone();
        async move {
            let _ = axum::body::to_bytes(req.into_body(), usize::MAX).await;
            let _ = gate.acquire().await;
            ([("x-ms-region", "swedencentral")], "{}")
        }
    });
    let to = backend(app).await;
    let o = ServeOptions {
        max_body: 4 * MIB,
        body_budget: 8 * MIB,
        ..ServeOptions::default()
    };
    let h = start_with_backend("session-affinity", &to, o).await;
    let url = chat_url(&h, "gpt-4.1-mini");
    let body = bytes::Bytes::from(vec![b'x'; 3 * MIB]);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..24 {
        let (tx, url, body, c) = (tx.clone(), url.clone(), body.clone(), client());
        tokio::spawn(async move {
            let r = c.post(url).body(body).send().await.expect("answer");
            let status = r.status().as_u16();
            let json: serde_json::Value = r.json().await.unwrap_or_default();
            let _ = tx.send((status, json));
        });
    }
    // Two 3 MiB bodies fit in 8 MiB; the other 22 are refused at once.
    for _ in 0..22 {
        let (status, json) = tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("refused at once")
            .expect("answer");
        assert_eq!(status, 413, "{json}");
        assert!(
            json["message"]
                .as_str()
                .is_some_and(|m| m.contains("8 MiB of request bodies in flight")),
            "{json}"
        );
    }
    assert_eq!(h.body_bytes_held(), 6 * MIB, "two bodies held");
    release.add_permits(24);
    for _ in 0..2 {
        let (status, _) = tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("answered once released")
            .expect("answer");
        assert_eq!(status, 200);
    }
    let peak = h.body_bytes_peak();
    eprintln!(
        "24 parallel 3 MiB uploads, budget 8 MiB: peak request-body bytes held {peak} ({:.1} MiB)",
        peak as f64 / MIB as f64
    );
    assert!(peak <= 8 * MIB, "{peak}");
    assert_eq!(h.body_bytes_held(), 0, "every body is given back");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_answers_stream_through_and_are_capped() {
    const CAP: u64 = 64 * 1024;
    let next = Arc::new(tokio::sync::Notify::new());
    let go = next.clone();
    let chunked = |parts: Vec<Vec<u8>>| {
        axum::body::Body::from_stream(futures::stream::iter(
            parts
                .into_iter()
                .map(|p| Ok::<_, std::io::Error>(bytes::Bytes::from(p))),
        ))
    };
    let app = axum::Router::new().route(
        "/openai/deployments/{id}/chat/completions",
        axum::routing::post(
            move |axum::extract::Path(id): axum::extract::Path<String>| {
                let go = go.clone();
                async move {
                    let body = match id.as_str() {
                        // The second event only once the test has seen the first.
                        "stream" => {
                            axum::body::Body::from_stream(futures::stream::unfold(0, move |n| {
                                let go = go.clone();
                                async move {
                                    match n {
                                        0 => Some((Ok::<_, std::io::Error>("data: one\n\n"), 1)),
                                        1 => {
                                            go.notified().await;
                                            Some((Ok("data: two\n\n"), 2))
                                        }
                                        _ => None,
                                    }
                                }
                            }))
                        }
                        "declared" => axum::body::Body::from(vec![b'x'; CAP as usize + 1]),
                        _ => chunked(vec![vec![b'x'; 16 * 1024]; 8]),
                    };
                    ([("x-ms-region", "swedencentral")], body)
                }
            },
        ),
    );
    let to = backend(app).await;
    let o = ServeOptions {
        max_response: CAP,
        ..ServeOptions::default()
    };
    let h = start_with_backend("session-affinity", &to, o).await;
    let c = client();
    let send = |id: &str| {
        let url = format!(
            "{}/inference/openai/deployments/{id}/chat/completions",
            h.url()
        );
        c.post(url).json(&serde_json::json!({})).send()
    };

    // Streams: the first event arrives while the backend still holds back the second.
    // (session-affinity's API sends every deployment id to its pool: no routing check.)
    let mut r = send("stream").await.expect("answer");
    assert_eq!(r.status(), 200);
    let first = tokio::time::timeout(WAIT, r.chunk()).await;
    let first = first
        .expect("the first event is not held back")
        .expect("chunk");
    assert_eq!(first.as_deref(), Some(&b"data: one\n\n"[..]));
    next.notify_one();
    let second = tokio::time::timeout(WAIT, r.chunk()).await.expect("second");
    assert_eq!(
        second.expect("chunk").as_deref(),
        Some(&b"data: two\n\n"[..])
    );

    // Declared over the cap: 502 before anything is sent.
    let big = send("declared").await.expect("answer");
    assert_eq!(big.status(), 502);
    let json: serde_json::Value = big.json().await.expect("JSON error");
    assert!(
        json["message"]
            .as_str()
            .is_some_and(|m| m.contains("larger than the gateway's limit")),
        "{json}"
    );
    // Streamed over the cap: cut.
    let cut = send("chunked").await.expect("answer");
    if let Ok(b) = cut.bytes().await {
        assert!(b.len() as u64 <= CAP, "{} bytes passed", b.len());
    }
    h.stop().await;
}
