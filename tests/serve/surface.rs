//! The whole inference surface through `gw serve --mock`, over real HTTP, in the wire formats
//! the OpenAI SDKs use: streamed chat completions and Responses (SSE), the v1 API routed by
//! the body's model, images, multipart audio, the model list, stored responses, and the key
//! as `Authorization: Bearer`.

use super::{example_text, model, start};
use futures::StreamExt;
use gw::model::surface::apim_path;
use gw::model::{Api, ApiType, Model, Routing};
use gw::serve::ServeHandle;
use gw::serve::sse::{Event, Parser};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// A model the API can route and every backend behind it hosts.
fn routable(m: &Model, api: &Api) -> String {
    match &api.routing {
        Routing::ByModel { routes, .. } => routes[0].model.clone(),
        Routing::Single(t) => {
            let fs = m.target_foundries(t);
            m.deployments
                .iter()
                .find(|d| fs.iter().all(|f| d.foundries.iter().any(|x| x == f)))
                .map(|d| d.name.clone())
                .expect("a model on every member")
        }
    }
}

fn base(h: &ServeHandle, api: &Api) -> String {
    format!("{}/{}", h.url(), apim_path(api))
}

/// The streamed chat completion URL and body a client of the API type sends.
fn chat(h: &ServeHandle, api: &Api, model: &str, extra: Value) -> (String, Value) {
    let mut body = json!({ "messages": [{"role": "user", "content": "hi"}], "stream": true });
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    let url = match api.api_type {
        ApiType::AzureOpenAi => format!(
            "{}/deployments/{model}/chat/completions?api-version=2024-10-21",
            base(h, api)
        ),
        ApiType::AzureAi => {
            body["model"] = json!(model);
            format!(
                "{}/chat/completions?api-version=2024-05-01-preview",
                base(h, api)
            )
        }
        ApiType::OpenAi => {
            body["model"] = json!(model);
            format!("{}/v1/chat/completions", base(h, api))
        }
    };
    (url, body)
}

/// POSTs and reads the answer as server-sent events, as they arrive.
pub(super) async fn events(req: reqwest::RequestBuilder) -> (u16, String, Vec<Event>) {
    let r = req.send().await.expect("send");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut p = Parser::default();
    let mut out = Vec::new();
    let mut body = r.bytes_stream();
    while let Some(chunk) = body.next().await {
        out.extend(p.feed(&chunk.expect("chunk")));
    }
    (status, ct, out)
}

/// A call that names no model, with a cookie: status and JSON body.
async fn call(method: reqwest::Method, url: &str, cookie: &str) -> (u16, Value) {
    let r = client()
        .request(method, url)
        .header("cookie", cookie)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn data(e: &Event) -> Value {
    serde_json::from_str(&e.data).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_streams_chat_completions_with_usage_when_asked() {
    for name in crate::support::cli::EXAMPLES {
        let m = model(&example_text(name));
        let h = start(&m, None, None).await;
        for api in &m.apis {
            let model_name = routable(&m, api);
            let with_usage = json!({ "stream_options": { "include_usage": true } });
            let (url, body) = chat(&h, api, &model_name, with_usage);
            let (status, ct, ev) = events(client().post(&url).json(&body)).await;
            let at = format!("{name}/{}: {url}", api.name);
            assert_eq!(status, 200, "{at}");
            assert!(ct.starts_with("text/event-stream"), "{at}: {ct}");
            assert!(ev.len() >= 4, "several chunks: {at}: {ev:?}");
            assert_eq!(ev.last().map(|e| e.data.as_str()), Some("[DONE]"), "{at}");
            let chunks: Vec<Value> = ev[..ev.len() - 1].iter().map(data).collect();
            assert!(
                chunks
                    .iter()
                    .all(|c| c["object"] == "chat.completion.chunk"),
                "{at}"
            );
            let usage = &chunks[chunks.len() - 1];
            assert_eq!(usage["choices"], json!([]), "{at}");
            assert!(usage["usage"]["total_tokens"].as_u64() > Some(0), "{at}");
            // Without include_usage, no usage chunk.
            let (url, body) = chat(&h, api, &model_name, json!({}));
            let (_, _, ev) = events(client().post(&url).json(&body)).await;
            assert!(
                ev.iter().all(|e| data(e).get("usage").is_none()),
                "{at}: {ev:?}"
            );
        }
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_stream_as_events_and_stored_ones_are_read_listed_and_deleted() {
    let m = model(&example_text("session-affinity"));
    let h = start(&m, None, None).await;
    let api = &m.apis[0];
    for prefix in ["", "/v1"] {
        let url = format!(
            "{}{prefix}/responses?api-version=2025-03-01-preview",
            base(&h, api)
        );
        let body = json!({ "model": "gpt-4.1-mini", "input": "hi", "stream": true });
        let (status, ct, ev) = events(client().post(&url).json(&body)).await;
        assert_eq!(status, 200, "{url}");
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        let names: Vec<&str> = ev.iter().filter_map(|e| e.event.as_deref()).collect();
        assert_eq!(names.first(), Some(&"response.created"), "{names:?}");
        assert_eq!(names.last(), Some(&"response.completed"), "{names:?}");
        assert!(
            names
                .iter()
                .filter(|n| **n == "response.output_text.delta")
                .count()
                >= 2,
            "{names:?}"
        );
    }

    // A stored response: created, then read, its input listed, deleted, following the
    // affinity cookie (a GET names no model).
    let url = format!("{}/v1/responses", base(&h, api));
    let r = client()
        .post(&url)
        .json(&json!({ "model": "gpt-4.1-mini", "input": "remember 7" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .map(String::from)
        .expect("affinity cookie");
    let created: Value = r.json().await.expect("json");
    let id = created["id"].as_str().expect("id").to_string();
    for _ in 0..10 {
        let (status, _) = call(reqwest::Method::GET, &format!("{url}/{id}"), &cookie).await;
        assert_eq!(
            status, 200,
            "the cookie leads to the backend that stored it"
        );
    }
    let items = format!("{url}/{id}/input_items");
    let (_, items) = call(reqwest::Method::GET, &items, &cookie).await;
    assert_eq!(items["data"][0]["content"][0]["text"], "remember 7");
    let one = format!("{url}/{id}");
    assert_eq!(call(reqwest::Method::DELETE, &one, &cookie).await.0, 200);
    assert_eq!(call(reqwest::Method::GET, &one, &cookie).await.0, 404);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_v1_api_routes_by_the_body_model_denies_and_rejects() {
    let m = model(&example_text("model-routing"));
    let h = start(&m, None, None).await;
    let v1 = format!("{}/inference/openai/v1", h.url());
    let post = |path: &str, body: Value| client().post(format!("{v1}{path}")).json(&body).send();
    let ok = post(
        "/chat/completions",
        json!({ "model": "O4-mini", "messages": [] }),
    )
    .await
    .expect("send");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["x-backend-region"], "westus3");
    let body: Value = ok.json().await.expect("json");
    assert_eq!(body["served_by"]["foundry"], "foundry3");
    let denied = post(
        "/chat/completions",
        json!({ "model": "gpt-4o", "messages": [] }),
    )
    .await
    .expect("send");
    assert_eq!(denied.status(), 403);
    let body: Value = denied.json().await.expect("json");
    assert_eq!(body["error"]["code"], "model_denied");
    let unknown = post("/embeddings", json!({ "model": "llama-3", "input": "x" }))
        .await
        .expect("send");
    assert_eq!(unknown.status(), 400);
    let body: Value = unknown.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unknown_model");
    // The model list names no model: the default target answers with what it hosts.
    let models: Value = client()
        .get(format!("{v1}/models"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(models["object"], "list");
    assert!(
        models["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x["id"] == "gpt-4.1")),
        "{models}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_multipart_audio_and_speech_answer_through_the_gateway() {
    let m = model(&example_text("load-balancing"));
    let h = start(&m, None, None).await;
    let d = format!("{}/inference/openai/deployments/gpt-4o-mini", h.url());
    let q = "?api-version=2025-03-01-preview";
    let img: Value = client()
        .post(format!("{d}/images/generations{q}"))
        .json(&json!({ "prompt": "a lighthouse", "n": 1 }))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let png = img["data"][0]["b64_json"].as_str().expect("b64_json");
    assert!(png.starts_with("iVBORw0KGgo"), "a PNG: {png}");
    for op in ["transcriptions", "translations"] {
        // What the SDK sends: a multipart form with the file and the model.
        let form = "--gwb\r\nContent-Disposition: form-data; name=\"file\"; filename=\"hello.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF....WAVE\r\n--gwb\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper\r\n--gwb--\r\n";
        let r = client()
            .post(format!("{d}/audio/{op}{q}"))
            .header("content-type", "multipart/form-data; boundary=gwb")
            .body(form)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "{op}");
        let body: Value = r.json().await.expect("json");
        assert!(
            body["text"].as_str().is_some_and(|t| t.contains("Hello")),
            "{op}: {body}"
        );
    }
    let speech = client()
        .post(format!("{d}/audio/speech{q}"))
        .json(&json!({ "input": "hello", "voice": "alloy" }))
        .send()
        .await
        .expect("send");
    assert_eq!(speech.status(), 200);
    assert_eq!(speech.headers()["content-type"], "audio/wav");
    let wav = speech.bytes().await.expect("bytes");
    assert!(wav.starts_with(b"RIFF") && &wav[8..12] == b"WAVE");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_client_key_in_authorization_bearer_is_accepted_and_not_forwarded() {
    let key = "k-0123456789abcdef";
    let m = model(&example_text("azure-ai"));
    let h = start(&m, None, Some(key)).await;
    let url = format!("{}/v1api/v1/chat/completions", h.url());
    let send = |auth: Option<String>| {
        let mut r = client()
            .post(&url)
            .json(&json!({ "model": "DeepSeek-V3-0324", "messages": [] }));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    let ok = send(Some(format!("Bearer {key}"))).await.expect("send");
    assert_eq!(ok.status(), 200);
    assert_eq!(
        send(Some("Bearer wrong".into()))
            .await
            .expect("send")
            .status(),
        401
    );
    assert_eq!(send(None).await.expect("send").status(), 401);
    let mocks = h.mocks().expect("mocks");
    let last = mocks.journal("foundry1").pop().expect("forwarded");
    assert!(
        !last
            .headers
            .iter()
            .any(|h| h == "authorization" || h == "api-key"),
        "the caller's key stays at the gateway: {:?}",
        last.headers
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_checks_streaming_and_the_v1_path_and_draws_each_request() {
    let m = model(&example_text("model-routing"));
    let h = start(&m, None, None).await;
    let r = super::run_verify(&m, &h, 12, &[]).await;
    super::assert_ok(&r);
    let api = &r.apis[0];
    let check = |name: &str| {
        api.checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no `{name}` check: {:?}", api.checks))
    };
    let streaming = check("streaming");
    assert!(
        streaming.detail.contains("first byte after"),
        "{}",
        streaming.detail
    );
    assert!(check("v1 path").detail.contains("/v1/chat/completions"));
    // Each request of a burst, in order, with its region and latency.
    let burst = &api.bursts[0];
    assert_eq!(burst.samples.len(), 12);
    assert!(
        burst
            .samples
            .iter()
            .all(|s| s.status == 200 && s.region.is_some())
    );
    let page = gw::verify::report::html(&r);
    assert!(
        page.contains("each request in order"),
        "the timeline is drawn"
    );
    assert!(
        page.contains("<title>request 12: 200"),
        "one bar per request"
    );
    h.stop().await;

    // A backend that answers a stream with one JSON document: the check fails, saying so.
    let json_only = axum::Router::new().fallback(|| async {
        (
            [
                ("content-type", "application/json"),
                ("x-ms-region", "eastus2"),
            ],
            "{\"choices\":[]}",
        )
    });
    let url = super::security::backend(json_only).await;
    let h = super::security::start_with_backend(
        "load-balancing",
        &url,
        gw::serve::ServeOptions::default(),
    )
    .await;
    let lb = model(&example_text("load-balancing"));
    let r = super::run_verify(&lb, &h, 2, &[]).await;
    let streaming = r.apis[0]
        .checks
        .iter()
        .find(|c| c.name == "streaming")
        .expect("streaming check");
    assert!(!streaming.ok);
    assert!(
        streaming.detail.contains("not server-sent events"),
        "{}",
        streaming.detail
    );
    h.stop().await;
}
