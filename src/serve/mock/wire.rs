//! The mocks' answers in the OpenAI wire formats: JSON, or server-sent events when the
//! request asks `"stream": true`, paced like tokens so a client (and a test) can see a
//! stream arrive piece by piece; small valid payloads for images and audio; the model list.

use super::MockState;
use super::json as reply;
use crate::model::surface::Answer;
use crate::serve::sse;
use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The pause between two events of a stream, as a model's tokens come.
pub const PACE: Duration = Duration::from_millis(5);

/// A 1x1 PNG, base64 (what `images.generate` returns as `b64_json`).
const PNG_1X1_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

pub(super) fn usage() -> Value {
    json!({"prompt_tokens": 1, "completion_tokens": 5, "total_tokens": 6})
}

fn str_field(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(String::from)
}

/// Does the request ask for a stream, and for the usage chunk at its end?
fn stream_asked(req: &Value) -> (bool, bool) {
    let stream = req.get("stream").and_then(Value::as_bool) == Some(true);
    let usage = req
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    (stream, usage)
}

/// `frames` as `text/event-stream`, the first at once, then one per `PACE`.
pub fn event_stream(frames: Vec<String>) -> Response {
    let stream = futures::stream::iter(frames.into_iter().enumerate()).then(|(i, f)| async move {
        if i > 0 {
            tokio::time::sleep(PACE).await;
        }
        Ok::<_, std::io::Error>(Bytes::from(f))
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    r
}

/// An answer for a model this mock hosts.
pub(super) fn inference(s: &MockState, answer: Answer, model: &str, req: &Value) -> Response {
    let served_by = json!({ "foundry": s.foundry, "region": s.region });
    let text = format!("Hello from {} ({}).", s.foundry, s.region);
    let (stream, include_usage) = stream_asked(req);
    let n = || s.responses.fetch_add(1, Ordering::Relaxed) + 1;
    match answer {
        Answer::ChatCompletion => {
            let id = format!("chatcmpl-{}-{}", s.foundry, n());
            if stream {
                return event_stream(sse::chat_chunks(
                    &id,
                    model,
                    &text,
                    include_usage.then(usage),
                ));
            }
            ok(
                json!({ "id": id, "object": "chat.completion", "created": 0, "model": model, "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}], "usage": usage(), "served_by": served_by }),
            )
        }
        Answer::Completion => {
            let id = format!("cmpl-{}-{}", s.foundry, n());
            if stream {
                return event_stream(sse::completion_chunks(
                    &id,
                    model,
                    &text,
                    include_usage.then(usage),
                ));
            }
            ok(
                json!({ "id": id, "object": "text_completion", "created": 0, "model": model, "choices": [{"index": 0, "text": text, "finish_reason": "stop"}], "usage": usage(), "served_by": served_by }),
            )
        }
        Answer::Embeddings => ok(
            json!({ "object": "list", "model": model, "data": [{"object": "embedding", "index": 0, "embedding": [0.0, 0.5, 1.0]}], "usage": {"prompt_tokens": 1, "total_tokens": 1}, "served_by": served_by }),
        ),
        Answer::Image => ok(json!({
            "created": 0,
            "data": [{ "b64_json": PNG_1X1_B64, "revised_prompt": str_field(req, "prompt").unwrap_or_default() }],
            "served_by": served_by,
        })),
        Answer::AudioText => ok(json!({ "text": text, "served_by": served_by })),
        Answer::Speech => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "audio/wav")],
            silent_wav(),
        )
            .into_response(),
        Answer::CreateResponse => create_response(s, model, req, &text, stream),
        // Model-less answers are `stored`'s.
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "404", "message": "Resource not found"}}),
        ),
    }
}

fn ok(v: Value) -> Response {
    reply(StatusCode::OK, v)
}

fn create_response(s: &MockState, model: &str, req: &Value, text: &str, stream: bool) -> Response {
    let mut issued = s.issued.lock().unwrap_or_else(PoisonError::into_inner);
    let previous = str_field(req, "previous_response_id");
    if let Some(prev) = &previous
        && !issued.contains_key(prev)
    {
        // What OpenAI answers when a conversation lands on a backend that never saw it.
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"error": {"message": format!("Previous response with id '{prev}' not found."), "type": "invalid_request_error", "param": "previous_response_id", "code": "previous_response_not_found"}}),
        );
    }
    let n = s.responses.fetch_add(1, Ordering::Relaxed) + 1;
    let id = format!("resp_{}_{n}", s.foundry);
    issued.insert(id.clone(), req.get("input").cloned().unwrap_or(Value::Null));
    let response = json!({
        "id": id, "object": "response", "created_at": 0, "status": "completed", "model": model,
        "previous_response_id": previous,
        "output": [{"id": format!("msg_{}_{n}", s.foundry), "type": "message", "status": "completed", "role": "assistant", "content": [{"type": "output_text", "text": text, "annotations": []}]}],
        "usage": {"input_tokens": 1, "output_tokens": 5, "total_tokens": 6},
        "served_by": { "foundry": s.foundry, "region": s.region },
    });
    if stream {
        return event_stream(sse::response_events(&response, text));
    }
    ok(response)
}

/// Answers that name no model: stored responses (known only to the backend that stored
/// them), the model list, model info.
pub(super) fn stored(s: &MockState, answer: Answer, id: &str, model: &str) -> Response {
    let served_by = json!({ "foundry": s.foundry, "region": s.region });
    let model_entry =
        |m: &str| json!({ "id": m, "object": "model", "created": 0, "owned_by": s.foundry });
    match answer {
        Answer::ListModels => ok(json!({
            "object": "list",
            "data": s.hosts.iter().map(|h| model_entry(h)).collect::<Vec<_>>(),
            "served_by": served_by,
        })),
        Answer::GetModel => match s.hosts.iter().find(|h| h.eq_ignore_ascii_case(model)) {
            Some(h) => ok(model_entry(h)),
            None => reply(
                StatusCode::NOT_FOUND,
                json!({"error": {"code": "model_not_found", "message": format!("The model '{model}' does not exist.")}}),
            ),
        },
        Answer::ModelInfo => ok(json!({
            "model_name": s.hosts.first().cloned().unwrap_or_default(),
            "model_type": "chat-completion",
            "model_provider_name": "gw-mock",
            "served_by": served_by,
        })),
        _ => {
            let mut issued = s.issued.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(input) = issued.get(id).cloned() else {
                return reply(
                    StatusCode::NOT_FOUND,
                    json!({"error": {"message": format!("Response with id '{id}' not found."), "type": "invalid_request_error", "param": null, "code": null}}),
                );
            };
            match answer {
                Answer::DeleteResponse => {
                    issued.remove(id);
                    ok(json!({ "id": id, "object": "response", "deleted": true }))
                }
                Answer::InputItems => {
                    let text = input
                        .as_str()
                        .map(String::from)
                        .unwrap_or_else(|| input.to_string());
                    ok(json!({
                        "object": "list",
                        "data": [{"id": format!("in_{id}"), "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}],
                        "first_id": format!("in_{id}"), "last_id": format!("in_{id}"), "has_more": false,
                    }))
                }
                // Only background responses can be cancelled; the mock makes none.
                Answer::CancelResponse => reply(
                    StatusCode::BAD_REQUEST,
                    json!({"error": {"message": "Cannot cancel a response that was not created in background mode.", "type": "invalid_request_error", "param": null, "code": null}}),
                ),
                _ => ok(
                    json!({ "id": id, "object": "response", "status": "completed", "served_by": served_by }),
                ),
            }
        }
    }
}

/// A valid WAV file: 16-bit mono PCM at 8 kHz, 10 ms of silence.
fn silent_wav() -> Vec<u8> {
    let samples: u32 = 80;
    let data_len = samples * 2;
    let mut w = Vec::with_capacity(44 + data_len as usize);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // mono
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&16000u32.to_le_bytes()); // byte rate
    w.extend_from_slice(&2u16.to_le_bytes()); // block align
    w.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    w.resize(44 + data_len as usize, 0);
    w
}
