//! Server-sent events in the OpenAI wire format: what the mocks stream (chat completion
//! chunks ending `data: [DONE]`, Responses API events) and a parser for what a client reads,
//! used by `gw verify`.

use serde_json::{Value, json};

/// One SSE frame: `event: NAME` (when named) and `data: DATA`, ended by a blank line.
pub fn frame(event: Option<&str>, data: &str) -> String {
    match event {
        Some(e) => format!("event: {e}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    }
}

/// The words a mock streams, one per chunk (each with its leading space, as tokens have).
fn pieces(text: &str) -> Vec<String> {
    text.split(' ')
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                w.to_string()
            } else {
                format!(" {w}")
            }
        })
        .collect()
}

/// A streamed chat completion (`object: chat.completion.chunk`): the role, one chunk per
/// word, the finish reason, the usage chunk (empty `choices`) when the client asked for it
/// with `stream_options.include_usage`, then `data: [DONE]`.
pub fn chat_chunks(id: &str, model: &str, text: &str, usage: Option<Value>) -> Vec<String> {
    let chunk = |choices: Value| json!({ "id": id, "object": "chat.completion.chunk", "created": 0, "model": model, "choices": choices });
    let mut out = vec![chunk(
        json!([{ "index": 0, "delta": { "role": "assistant", "content": "" }, "finish_reason": null }]),
    )];
    for p in pieces(text) {
        out.push(chunk(
            json!([{ "index": 0, "delta": { "content": p }, "finish_reason": null }]),
        ));
    }
    out.push(chunk(
        json!([{ "index": 0, "delta": {}, "finish_reason": "stop" }]),
    ));
    finish(out, chunk(json!([])), usage)
}

/// The chunks as frames, then the usage chunk (`last` with `usage` set) when asked, then
/// `data: [DONE]`.
fn finish(mut out: Vec<Value>, mut last: Value, usage: Option<Value>) -> Vec<String> {
    if let Some(u) = usage {
        last["usage"] = u;
        out.push(last);
    }
    let mut frames: Vec<String> = out.iter().map(|c| frame(None, &c.to_string())).collect();
    frames.push(frame(None, "[DONE]"));
    frames
}

/// A streamed legacy completion (`object: text_completion`), ending `data: [DONE]`.
pub fn completion_chunks(id: &str, model: &str, text: &str, usage: Option<Value>) -> Vec<String> {
    let chunk = |choices: Value| json!({ "id": id, "object": "text_completion", "created": 0, "model": model, "choices": choices });
    let mut out: Vec<Value> = pieces(text)
        .into_iter()
        .map(|p| chunk(json!([{ "index": 0, "text": p, "finish_reason": null }])))
        .collect();
    out.push(chunk(
        json!([{ "index": 0, "text": "", "finish_reason": "stop" }]),
    ));
    finish(out, chunk(json!([])), usage)
}

/// A streamed Responses API call: `response.created`, `response.in_progress`, the output
/// item and content part, one `response.output_text.delta` per word, their `.done` events,
/// and `response.completed` carrying the whole response (with usage). `response` is the
/// completed response object.
pub fn response_events(response: &Value, text: &str) -> Vec<String> {
    let mut pending = response.clone();
    pending["status"] = json!("in_progress");
    pending["output"] = json!([]);
    pending["usage"] = Value::Null;
    let item_id = format!(
        "msg_{}",
        response["id"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("resp_")
    );
    let part = json!({ "type": "output_text", "text": "", "annotations": [] });
    let mut item = json!({ "id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": [] });
    let mut events: Vec<(&str, Value)> = vec![
        ("response.created", json!({ "response": pending })),
        ("response.in_progress", json!({ "response": pending })),
        (
            "response.output_item.added",
            json!({ "output_index": 0, "item": item }),
        ),
        (
            "response.content_part.added",
            json!({ "item_id": item_id, "output_index": 0, "content_index": 0, "part": part }),
        ),
    ];
    for p in pieces(text) {
        events.push((
            "response.output_text.delta",
            json!({ "item_id": item_id, "output_index": 0, "content_index": 0, "delta": p }),
        ));
    }
    let done_part = json!({ "type": "output_text", "text": text, "annotations": [] });
    item["status"] = json!("completed");
    item["content"] = json!([done_part]);
    events.extend([
        (
            "response.output_text.done",
            json!({ "item_id": item_id, "output_index": 0, "content_index": 0, "text": text }),
        ),
        (
            "response.content_part.done",
            json!({ "item_id": item_id, "output_index": 0, "content_index": 0, "part": done_part }),
        ),
        (
            "response.output_item.done",
            json!({ "output_index": 0, "item": item }),
        ),
        ("response.completed", json!({ "response": response })),
    ]);
    events
        .into_iter()
        .enumerate()
        .map(|(n, (name, mut data))| {
            data["type"] = json!(name);
            data["sequence_number"] = json!(n);
            frame(Some(name), &data.to_string())
        })
        .collect()
}

/// One event a client read: its name (`event:`) and its data lines joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub event: Option<String>,
    pub data: String,
}

/// Reads SSE events from a byte stream as they arrive: feed chunks, take whole events.
#[derive(Default)]
pub struct Parser {
    buf: String,
}

impl Parser {
    /// Adds bytes; gives the events they completed.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.buf
            .push_str(&String::from_utf8_lossy(bytes).replace("\r\n", "\n"));
        let mut out = Vec::new();
        while let Some(end) = self.buf.find("\n\n") {
            let block: String = self.buf.drain(..end + 2).collect();
            let mut event = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
                }
            }
            if event.is_some() || !data.is_empty() {
                out.push(Event {
                    event,
                    data: data.join("\n"),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_stream_parses_back_into_chunks_usage_and_done() {
        let frames = chat_chunks("c1", "m", "Hello from x.", Some(json!({"total_tokens": 6})));
        let mut p = Parser::default();
        // Fed in arbitrary pieces, as a network delivers them.
        let all = frames.concat();
        let mut events = Vec::new();
        for piece in all.as_bytes().chunks(7) {
            events.extend(p.feed(piece));
        }
        assert_eq!(events.len(), frames.len());
        assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));
        let usage: Value = serde_json::from_str(&events[events.len() - 2].data).expect("json");
        assert_eq!(usage["usage"]["total_tokens"], 6);
        assert_eq!(usage["choices"], json!([]));
        let text: String = events[..events.len() - 2]
            .iter()
            .filter_map(|e| serde_json::from_str::<Value>(&e.data).ok())
            .filter_map(|c| {
                c["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(String::from)
            })
            .collect();
        assert_eq!(text, "Hello from x.");
    }

    #[test]
    fn responses_events_are_named_numbered_and_end_completed() {
        let r = json!({ "id": "resp_a_1", "object": "response", "status": "completed", "usage": {"total_tokens": 6} });
        let frames = response_events(&r, "Hi there");
        let events = Parser::default().feed(frames.concat().as_bytes());
        assert_eq!(events[0].event.as_deref(), Some("response.created"));
        let last = events.last().expect("events");
        assert_eq!(last.event.as_deref(), Some("response.completed"));
        let data: Value = serde_json::from_str(&last.data).expect("json");
        assert_eq!(data["response"]["usage"]["total_tokens"], 6);
        assert_eq!(data["sequence_number"], events.len() - 1);
        let deltas = events
            .iter()
            .filter(|e| e.event.as_deref() == Some("response.output_text.delta"))
            .count();
        assert_eq!(deltas, 2);
    }
}
