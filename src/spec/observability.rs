//! The raw shape of the `observability:` block and of the per-API `token_limit:` and
//! `token_metrics:` (`../design/spec.md`, facts in `../design/ai-gateway.md`).

use super::spanned::{Req, Sp};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ObservabilitySpec {
    /// A Log Analytics workspace gw creates (`name`), or an existing one (`id`).
    #[serde(default)]
    pub log_analytics: Option<Sp<WorkspaceSpec>>,
    /// A workspace-based Application Insights component gw creates (needs `log_analytics`).
    #[serde(default)]
    pub app_insights: Option<Sp<AppInsightsSpec>>,
    /// Prompts and completions to the `ApiManagementGatewayLlmLog` table.
    #[serde(default)]
    pub llm_logs: Option<Sp<LlmLogsSpec>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct WorkspaceSpec {
    /// Name of the workspace gw creates (4-63 letters, digits and hyphens).
    #[serde(default)]
    pub name: Option<Sp<String>>,
    /// ARM id of an existing workspace (instead of `name`).
    #[serde(default)]
    pub id: Option<Sp<String>>,
    /// Days of retention, 30-730; default 30.
    #[serde(default)]
    pub retention_days: Option<Sp<i64>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AppInsightsSpec {
    /// Name of the component gw creates (custom metrics with dimensions on).
    pub name: Req<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LlmLogsSpec {
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Log request messages. Default true.
    #[serde(default)]
    pub prompts: Option<bool>,
    /// Log response messages. Default true.
    #[serde(default)]
    pub completions: Option<bool>,
    /// Per message, 1-262144 bytes; default 32768.
    #[serde(default)]
    pub max_bytes: Option<Sp<i64>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TokenLimitSpec {
    /// Who gets a counter: `subscription` (default, the APIM subscription), `ip` (the caller's
    /// address) or `header:NAME` (a request header's value).
    #[serde(default)]
    pub per: Option<Sp<String>>,
    /// Prompt and completion tokens per minute; over it: 429 with Retry-After.
    #[serde(default)]
    pub tokens_per_minute: Option<Sp<i64>>,
    /// Tokens per `quota_period`; over it: 403.
    #[serde(default)]
    pub quota: Option<Sp<i64>>,
    /// hourly | daily | weekly | monthly | yearly.
    #[serde(default)]
    pub quota_period: Option<Sp<String>>,
    /// Count the prompt before the call (true), or only the backend's reported usage. Default true.
    #[serde(default)]
    pub estimate_prompt_tokens: Option<bool>,
    /// Response header with the tokens left this minute.
    #[serde(default)]
    pub remaining_tokens_header: Option<Sp<String>>,
    /// Response header with the tokens left in the quota.
    #[serde(default)]
    pub remaining_quota_header: Option<Sp<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TokenMetricsSpec {
    /// At most 5 of: api, subscription, model, region, client_ip, operation, product, user.
    pub dimensions: Req<Vec<Sp<String>>>,
    /// Metric namespace in Application Insights; default `gw`.
    #[serde(default)]
    pub namespace: Option<Sp<String>>,
}
