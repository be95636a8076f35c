//! The requests verify sends, shaped as a client of the API type would send them.

use super::{GatewayTarget, VerifyError};
use crate::graph::apim_path;
use crate::model::{Api, ApiType};
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

pub struct Probe {
    client: reqwest::Client,
    gateway: String,
    key: Option<String>,
    api_version: String,
}

/// One answer, reduced to what verify judges.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    /// `x-backend-region`, else `x-ms-region`.
    pub region: Option<String>,
    /// `error.code` of a JSON error body.
    pub code: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: Value,
    /// From sending the request to the whole answer read, in milliseconds.
    pub elapsed_ms: f64,
}

/// A streamed answer, read as a client reads it.
#[derive(Clone, Debug)]
pub struct Streamed {
    pub status: u16,
    pub region: Option<String>,
    pub content_type: String,
    /// Server-sent events received.
    pub events: usize,
    /// Network chunks the events arrived in.
    pub chunks: usize,
    /// The stream ended as the wire format ends it (`data: [DONE]`, `response.completed`).
    pub completed: bool,
    /// From sending the request to the first byte of the body, in milliseconds.
    pub first_byte_ms: f64,
    pub total_ms: f64,
}

impl Answer {
    /// `403 model_denied`, `200 (eastus)`.
    pub fn describe(&self) -> String {
        match (&self.code, &self.region) {
            (Some(c), _) => format!("{} {c}", self.status),
            (None, Some(r)) => format!("{} ({r})", self.status),
            (None, None) => self.status.to_string(),
        }
    }

    /// A key to count failures by: `429 backends_busy`, `503`.
    pub fn status_key(&self) -> String {
        match &self.code {
            Some(c) => format!("{} {c}", self.status),
            None => self.status.to_string(),
        }
    }

    /// The value of cookie `name` among the Set-Cookie headers.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies.iter().find_map(|c| {
            let (k, v) = c.split(';').next()?.split_once('=')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    }
}

/// A two-turn Responses exchange.
#[derive(Clone, Debug)]
pub struct Conversation {
    pub first: Answer,
    pub cookie: Option<String>,
    pub second: Option<Answer>,
}

impl Conversation {
    /// Why the conversation did not stay on one backend, if it did not.
    pub fn problem(&self) -> Option<String> {
        if self.first.status != 200 {
            return Some(format!("turn 1 answered {}", self.first.describe()));
        }
        let Some(second) = &self.second else {
            return Some("turn 1 gave no response id".into());
        };
        if self.cookie.is_none() {
            return Some("turn 1 set no affinity cookie".into());
        }
        if second.status != 200 {
            return Some(format!("turn 2 answered {}", second.describe()));
        }
        if second.region != self.first.region {
            return Some(format!(
                "turn 1 in {}, turn 2 in {}",
                self.first.region.as_deref().unwrap_or("?"),
                second.region.as_deref().unwrap_or("?")
            ));
        }
        None
    }
}

impl Probe {
    pub fn new(target: &GatewayTarget, api_version: &str) -> Result<Self, VerifyError> {
        let url =
            url::Url::parse(&target.url).map_err(|_| VerifyError::BadUrl(target.url.clone()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(VerifyError::BadUrl(target.url.clone()));
        }
        let mut b = reqwest::Client::builder().timeout(Duration::from_secs(120));
        // The same test as for ARM: a local gateway is not reached through a proxy.
        if crate::arm::endpoint::is_loopback(&url) {
            b = b.no_proxy();
        }
        Ok(Probe {
            client: b.build().map_err(VerifyError::Client)?,
            gateway: target.url.trim_end_matches('/').to_string(),
            key: target.key.clone(),
            api_version: api_version.to_string(),
        })
    }

    /// `{gateway}/{apim path}`
    pub fn api_base(&self, api: &Api) -> String {
        format!("{}/{}", self.gateway, apim_path(api).trim_matches('/'))
    }

    /// A chat completion for `model`: the deployment in the URL for `azure-openai`, in the
    /// body otherwise.
    pub async fn inference(&self, api: &Api, model: &str) -> Result<Answer, VerifyError> {
        let (url, body) = self.chat_request(api, model);
        self.post(&url, &body, None).await
    }

    /// A chat completion on the v1 path (`{api}/v1/chat/completions`, model in the body), as
    /// `OpenAI(base_url=...)` sends it. Every type but `azure-ai` serves it.
    pub async fn v1_chat(&self, api: &Api, model: &str) -> Result<Answer, VerifyError> {
        let url = format!("{}/v1/chat/completions", self.api_base(api));
        let body = json!({ "model": model, "messages": [{ "role": "user", "content": "Which region are you in?" }], "max_tokens": 16 });
        self.post(&url, &body, None).await
    }

    /// A streamed chat completion (`"stream": true`), read event by event.
    pub async fn stream(&self, api: &Api, model: &str) -> Result<Streamed, VerifyError> {
        let (url, mut body) = self.chat_request(api, model);
        body["stream"] = json!(true);
        let mut req = self.client.post(&url).json(&body);
        if let Some(k) = &self.key {
            req = req.header("api-key", k);
        }
        let start = Instant::now();
        let resp = req.send().await.map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        let region = region_of(resp.headers());
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let mut parser = crate::serve::sse::Parser::default();
        let (mut events, mut chunks, mut completed) = (0, 0, false);
        let mut first_byte_ms = None;
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.unreachable(e))?;
            first_byte_ms.get_or_insert_with(|| ms(start));
            chunks += 1;
            for e in parser.feed(&chunk) {
                events += 1;
                completed |= e.data == "[DONE]" || e.event.as_deref() == Some("response.completed");
            }
        }
        Ok(Streamed {
            status,
            region,
            content_type,
            events,
            chunks,
            completed,
            first_byte_ms: first_byte_ms.unwrap_or_else(|| ms(start)),
            total_ms: ms(start),
        })
    }

    fn unreachable(&self, source: reqwest::Error) -> VerifyError {
        VerifyError::Unreachable {
            url: self.gateway.clone(),
            source: source.without_url(),
        }
    }

    fn chat_request(&self, api: &Api, model: &str) -> (String, Value) {
        let base = self.api_base(api);
        let messages = json!([{ "role": "user", "content": "Which region are you in?" }]);
        match api.api_type {
            ApiType::AzureOpenAi => (
                format!(
                    "{base}/deployments/{model}/chat/completions?api-version={}",
                    self.api_version
                ),
                json!({ "messages": messages, "max_tokens": 16 }),
            ),
            ApiType::AzureAi => (
                format!("{base}/chat/completions?api-version={}", self.api_version),
                json!({ "model": model, "messages": messages, "max_tokens": 16 }),
            ),
            ApiType::OpenAi => (
                format!("{base}/v1/chat/completions"),
                json!({ "model": model, "messages": messages, "max_tokens": 16 }),
            ),
        }
    }

    /// Two Responses API calls, the second continuing the first with its cookie.
    pub async fn conversation(
        &self,
        api: &Api,
        model: &str,
        cookie_name: &str,
    ) -> Result<Conversation, VerifyError> {
        let url = match api.api_type {
            ApiType::OpenAi => format!("{}/v1/responses", self.api_base(api)),
            _ => format!(
                "{}/responses?api-version={}",
                self.api_base(api),
                self.api_version
            ),
        };
        let first = self
            .post(
                &url,
                &json!({ "model": model, "input": "Remember the number 7." }),
                None,
            )
            .await?;
        let cookie = first.cookie(cookie_name);
        let id = first
            .body
            .get("id")
            .and_then(Value::as_str)
            .map(String::from);
        let second = match (&id, first.status) {
            (Some(id), 200) => {
                let header = cookie.as_ref().map(|v| format!("{cookie_name}={v}"));
                let body =
                    json!({ "model": model, "input": "Which number?", "previous_response_id": id });
                Some(self.post(&url, &body, header.as_deref()).await?)
            }
            _ => None,
        };
        Ok(Conversation {
            first,
            cookie,
            second,
        })
    }

    async fn post(
        &self,
        url: &str,
        body: &Value,
        cookie: Option<&str>,
    ) -> Result<Answer, VerifyError> {
        let mut req = self.client.post(url).json(body);
        if let Some(k) = &self.key {
            req = req.header("api-key", k);
        }
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let start = Instant::now();
        let resp = req.send().await.map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        let region = region_of(resp.headers());
        let set_cookies = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(String::from))
            .collect();
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let code = body.pointer("/error/code").and_then(|c| match c {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        Ok(Answer {
            status,
            region,
            code,
            set_cookies,
            body,
            elapsed_ms: ms(start),
        })
    }
}

/// `x-backend-region`, else `x-ms-region` (a gateway that sets neither says `unknown`).
fn region_of(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && *v != "unknown")
            .map(String::from)
    };
    header("x-backend-region").or_else(|| header("x-ms-region"))
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}
