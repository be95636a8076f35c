//! The requests verify sends, shaped as a client of the API type would send them.

use super::{GatewayTarget, VerifyError};
use crate::graph::apim_path;
use crate::model::{Api, ApiType};
use serde_json::{Value, json};
use std::time::Duration;

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
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        };
        let mut b = reqwest::Client::builder().timeout(Duration::from_secs(120));
        if loopback {
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
        let base = self.api_base(api);
        let messages = json!([{ "role": "user", "content": "Which region are you in?" }]);
        let (url, body) = match api.api_type {
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
        };
        self.post(&url, &body, None).await
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
        let unreachable = |source: reqwest::Error| VerifyError::Unreachable {
            url: self.gateway.clone(),
            source: source.without_url(),
        };
        let resp = req.send().await.map_err(unreachable)?;
        let status = resp.status().as_u16();
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty() && *v != "unknown")
                .map(String::from)
        };
        let region = header("x-backend-region").or_else(|| header("x-ms-region"));
        let set_cookies = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(String::from))
            .collect();
        let bytes = resp.bytes().await.map_err(unreachable)?;
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
        })
    }
}
