//! Streaming is relayed, not buffered: the client reads the first chunk of a stream while
//! the backend is still holding the rest back, directly and after a pool retry.

use super::security::{backend, start_with_backend};
use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use gw::serve::ServeOptions;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

const WAIT: Duration = Duration::from_secs(30);

/// A backend that answers 429 to its first `fail_first` requests, then streams one SSE
/// chunk and holds the rest until `release` is notified; `finished` turns true when its
/// stream is complete.
struct Held {
    release: Arc<Notify>,
    finished: Arc<AtomicBool>,
    calls: Arc<AtomicU32>,
}

async fn held_backend(fail_first: u32) -> (url::Url, Held) {
    let held = Held {
        release: Arc::new(Notify::new()),
        finished: Arc::new(AtomicBool::new(false)),
        calls: Arc::new(AtomicU32::new(0)),
    };
    let (release, finished, calls) = (
        held.release.clone(),
        held.finished.clone(),
        held.calls.clone(),
    );
    let app = axum::Router::new().fallback(move || {
        let (release, finished, calls) = (release.clone(), finished.clone(), calls.clone());
        async move {
            if calls.fetch_add(1, Ordering::SeqCst) < fail_first {
                return (
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "0"), ("x-ms-region", "eastus")],
                    "{}",
                )
                    .into_response();
            }
            let first = futures::stream::once(async {
                Ok::<_, std::io::Error>(Bytes::from_static(
                    b"data: {\"choices\":[{\"delta\":{\"content\":\"first\"}}]}\n\n",
                ))
            });
            let rest = futures::stream::once(async move {
                release.notified().await;
                finished.store(true, Ordering::SeqCst);
                Ok::<_, std::io::Error>(Bytes::from_static(b"data: [DONE]\n\n"))
            });
            let mut r = Response::new(Body::from_stream(first.chain(rest)));
            r.headers_mut().insert(
                "content-type",
                axum::http::HeaderValue::from_static("text/event-stream"),
            );
            r
        }
    });
    (backend(app).await, held)
}

/// Sends a streamed chat completion through serve; checks the first chunk arrives before
/// the backend has finished, then releases the rest.
async fn first_chunk_before_the_backend_finishes(example: &str, model: &str, fail_first: u32) {
    let (url, held) = held_backend(fail_first).await;
    let h = start_with_backend(example, &url, ServeOptions::default()).await;
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .post(format!(
            "{}/inference/openai/deployments/{model}/chat/completions?api-version=2024-10-21",
            h.url()
        ))
        .json(&serde_json::json!({ "messages": [], "stream": true }))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let first = tokio::time::timeout(WAIT, body.next())
        .await
        .expect("the first chunk arrives while the backend holds the rest")
        .expect("a chunk")
        .expect("bytes");
    assert!(String::from_utf8_lossy(&first).contains("first"));
    assert!(
        !held.finished.load(Ordering::SeqCst),
        "the backend has not finished its stream"
    );
    held.release.notify_one();
    let mut rest = Vec::new();
    while let Some(chunk) = tokio::time::timeout(WAIT, body.next())
        .await
        .expect("the rest arrives")
    {
        rest.extend_from_slice(&chunk.expect("bytes"));
    }
    assert!(String::from_utf8_lossy(&rest).ends_with("data: [DONE]\n\n"));
    assert!(held.finished.load(Ordering::SeqCst));
    assert_eq!(held.calls.load(Ordering::SeqCst), fail_first + 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_chunk_reaches_the_client_before_the_backend_finishes() {
    first_chunk_before_the_backend_finishes("session-affinity", "gpt-4.1-mini", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_pool_retry_the_stream_is_relayed_unbuffered_too() {
    // The first member answers 429; the retry re-selects the pool before any byte reaches
    // the client, and the second member's stream is relayed as it comes.
    first_chunk_before_the_backend_finishes("load-balancing", "gpt-4o-mini", 1).await;
}
