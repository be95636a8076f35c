//! Checks beyond routing: a streamed request per API arrives as server-sent events, chunk
//! by chunk (with its time to first byte), and the v1 path answers with the model in the
//! body, as `OpenAI(base_url=...)` clients send it.

use super::probe::Probe;
use super::{Check, VerifyError};
use crate::model::{Api, ApiType};

/// A streamed chat completion for `model`: 200, `text/event-stream`, more than one event,
/// ended as the wire format ends it.
pub async fn stream_check(api: &Api, model: &str, probe: &Probe) -> Result<Check, VerifyError> {
    let s = probe.stream(api, model).await?;
    let ok = s.status == 200
        && s.content_type.starts_with("text/event-stream")
        && s.events > 1
        && s.completed;
    let detail = if s.status != 200 {
        format!(
            "model `{model}` answered {} to a streamed request",
            s.status
        )
    } else if !s.content_type.starts_with("text/event-stream") {
        format!(
            "a streamed request was answered `{}`, not server-sent events",
            s.content_type
        )
    } else {
        format!(
            "{} events in {} chunks{}, first byte after {:.1} ms, all after {:.1} ms{}",
            s.events,
            s.chunks,
            s.region
                .as_deref()
                .map(|r| format!(" from {r}"))
                .unwrap_or_default(),
            s.first_byte_ms,
            s.total_ms,
            if s.completed {
                ""
            } else {
                "; the stream never ended with [DONE] or response.completed"
            }
        )
    };
    Ok(Check {
        name: "streaming".into(),
        ok,
        detail,
    })
}

/// The v1 path (`{api}/v1/chat/completions`, model in the body), for the API types that
/// serve it; None for `azure-ai`.
pub async fn v1_check(api: &Api, model: &str, probe: &Probe) -> Result<Option<Check>, VerifyError> {
    if api.api_type == ApiType::AzureAi {
        return Ok(None);
    }
    if !api.has_route("POST", "/v1/chat/completions") {
        return Ok(Some(not_declared("v1 path", "POST /v1/chat/completions")));
    }
    let a = probe.v1_chat(api, model).await?;
    Ok(Some(Check {
        name: "v1 path".into(),
        ok: a.status == 200,
        detail: format!(
            "POST {}/v1/chat/completions with model `{model}` in the body answered {}",
            probe.api_base(api),
            a.describe()
        ),
    }))
}

/// A check the API cannot pass because the spec's `operations:` leave its route out: APIM
/// answers 404 there by design, so it is skipped, saying why.
pub fn not_declared(name: &str, route: &str) -> Check {
    Check {
        name: name.into(),
        ok: true,
        detail: format!("skipped: the API's `operations:` do not include {route}"),
    }
}
