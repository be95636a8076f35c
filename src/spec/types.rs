//! The raw shape of gw.yaml, as written (`../design/spec.md`). Nothing here is validated
//! beyond its YAML types: the `model` module turns a `Spec` into a checked `Model`.
//! Every field keeps its location (`Sp`) so validation errors can point at it.
//! Unknown fields are ignored and required ones (`Req`) default when missing, so that one
//! such slip does not hide every other problem: `fields` reports both, from the schema
//! these types derive (`schemars(deny_unknown_fields)` keeps `additionalProperties: false`).

use super::map::NamedMap;
use super::scalar::{AffinitySpec, Scalar};
use super::spanned::{Req, Sp};
use schemars::JsonSchema;
use serde::Deserialize;

/// An AI gateway on Azure API Management in front of Azure AI Foundry model deployments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(title = "gw.yaml")]
pub struct Spec {
    /// Format version of this file; only `1` exists.
    pub version: Req<u32>,
    /// Azure subscription id. Else `--subscription`, `AZURE_SUBSCRIPTION_ID`, then `az account show`.
    #[serde(default)]
    pub subscription: Option<Sp<String>>,
    pub resource_group: Req<ResourceGroupSpec>,
    #[serde(default)]
    pub naming: Option<NamingSpec>,
    /// Azure AI Foundry resources (Cognitive Services accounts of kind AIServices).
    pub foundries: Req<Vec<FoundrySpec>>,
    /// Model deployments. Names are unique ignoring case.
    #[serde(default)]
    pub models: Vec<ModelSpec>,
    pub apim: Req<ApimSpec>,
    /// APIM backend pools, by name. Foundries, pools and the pools gw derives for models
    /// (`gpt-4.1` -> `gpt-4-1-pool`) share APIM's backend ids: unique ignoring case.
    #[serde(default)]
    pub pools: NamedMap<PoolSpec>,
    /// APIs the gateway exposes, by name (unique ignoring case).
    pub apis: Req<NamedMap<ApiSpec>>,
    /// Log Analytics, Application Insights and LLM logs (`token_metrics` need
    /// `app_insights`; `llm_logs` need `log_analytics`).
    #[serde(default)]
    pub observability: Option<Sp<ObservabilitySpec>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ResourceGroupSpec {
    pub name: Req<String>,
    /// An Azure region name, e.g. `eastus`.
    pub location: Req<String>,
    /// Tags applied to every resource gw creates that takes tags.
    #[serde(default)]
    pub tags: NamedMap<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NamingSpec {
    /// `auto` (default): a stable hash of subscription id and resource group name; a literal
    /// string; or `""` for none. Appended as `-SUFFIX` to globally unique names.
    #[serde(default)]
    pub suffix: Option<Sp<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct FoundrySpec {
    /// Short name; the account is NAME-SUFFIX and the APIM backend is NAME.
    pub name: Req<String>,
    /// An Azure region name.
    pub location: Req<String>,
    /// Default true: the gateway authenticates with its managed identity, never a key.
    #[serde(default)]
    pub disable_local_auth: Option<bool>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ModelSpec {
    /// Deployment name (what clients put in the URL or in the body's `model`).
    pub name: Req<String>,
    /// Model name; defaults to `name`.
    #[serde(default)]
    pub model: Option<Sp<String>>,
    /// Model format: OpenAI, DeepSeek, Microsoft, ...
    pub publisher: Req<String>,
    pub version: Req<Scalar>,
    /// Standard, GlobalStandard, DataZoneStandard, ProvisionedManaged, ...
    pub sku: Req<String>,
    /// Thousands of tokens per minute (or PTU for provisioned).
    pub capacity: Req<u32>,
    /// Foundries that host it; default every foundry.
    #[serde(default)]
    pub foundries: Option<Sp<Vec<Sp<String>>>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ApimSpec {
    /// Service name; the service is NAME-SUFFIX.
    pub name: Req<String>,
    /// Region; default the resource group's.
    #[serde(default)]
    pub location: Option<Sp<String>>,
    /// Developer, Basic, Standard, Premium, BasicV2, StandardV2, PremiumV2, Consumption.
    pub sku: Req<String>,
    #[serde(default)]
    pub capacity: Option<Sp<u32>>,
    pub publisher_email: Req<String>,
    pub publisher_name: Req<String>,
    /// Where APIM's backends point on each Foundry account: `/` (default) the account root,
    /// each API's policy then adds its type's path (`/openai`, `/models`); `/openai` as the
    /// AI-Gateway labs do, when every API is of a type under it (azure-openai, openai).
    #[serde(default)]
    pub backend_path: Option<Sp<String>>,
    /// APIM subscriptions (keys).
    #[serde(default)]
    pub subscriptions: Vec<SubscriptionSpec>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SubscriptionSpec {
    pub name: Req<String>,
    #[serde(default)]
    pub display_name: Option<Sp<String>>,
    /// The one API the key opens; default every API of the service.
    #[serde(default)]
    pub api: Option<Sp<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PoolSpec {
    pub members: Req<Vec<MemberSpec>>,
    /// Applied to every member's backend (the breaker is per backend: one model's 429 trips
    /// the foundry for every model routed through it). Default, when no pool of the foundry
    /// gives one: trip on 1 429 within 1m, for Retry-After or else 1m, so the pool fails over.
    #[serde(default)]
    pub circuit_breaker: Option<Sp<BreakerSpec>>,
    #[serde(default)]
    pub session_affinity: Option<Sp<AffinitySpec>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct MemberSpec {
    pub foundry: Req<String>,
    /// 0-100, lower is preferred. Unset: not written (one group), or 1 when another member of
    /// the pool sets a priority.
    #[serde(default)]
    pub priority: Option<Sp<i64>>,
    /// 0-100, share of traffic within the priority group. Unset: not written (an even split),
    /// or 1 when another member of the group sets a weight.
    #[serde(default)]
    pub weight: Option<Sp<i64>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct BreakerSpec {
    /// Trips after this many matching failures ...
    pub failures: Req<i64>,
    /// ... within this window (`30s`, `1m`, `PT1M`).
    pub interval: Req<Scalar>,
    /// Status codes that count as failures: numbers or ranges (`500-599`). Default [429].
    #[serde(default)]
    pub status_codes: Option<Sp<Vec<Sp<Scalar>>>>,
    /// How long a tripped backend stays out of the pool.
    pub trip: Req<Scalar>,
    /// Honour the backend's Retry-After instead of `trip`. Default true.
    #[serde(default)]
    pub accept_retry_after: Option<bool>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ApiSpec {
    /// The API is served at {gateway}/PATH/openai/...
    pub path: Req<String>,
    /// azure-openai (default) | azure-ai | openai.
    #[serde(rename = "type", default)]
    pub api_type: Option<Sp<String>>,
    /// A pool or a foundry: every request goes there.
    #[serde(default)]
    pub backend: Option<Sp<String>>,
    /// `by-model`: route each model to where it is deployed.
    #[serde(default)]
    pub routing: Option<Sp<String>>,
    /// Overrides for `routing: by-model`: model -> pool or foundry.
    #[serde(default)]
    pub routes: NamedMap<Sp<String>>,
    /// Model name patterns (`*` wildcard) answered with 403.
    #[serde(default)]
    pub deny: Vec<Sp<String>>,
    #[serde(default)]
    pub retry: Option<Sp<RetrySpec>>,
    /// Require an APIM subscription key (header or query `api-key`). Default true.
    #[serde(default)]
    pub subscription_required: Option<bool>,
    /// A policy XML file (relative to this spec) used verbatim instead of the one gw
    /// generates, e.g. a hand-written policy `gw import` kept. Routing fields still decide
    /// which backends and pools exist.
    #[serde(default)]
    pub policy: Option<Sp<String>>,
    /// The operations APIM imports for this API, in place of the ones gw declares for its
    /// type (the whole inference surface): an estate `gw import` adopted keeps its own.
    #[serde(default)]
    pub operations: Option<Sp<Vec<OperationSpec>>>,
    /// Tokens per minute and/or a token quota per caller (`llm-token-limit`). Not on Consumption.
    #[serde(default)]
    pub token_limit: Option<Sp<TokenLimitSpec>>,
    /// Token counts as Application Insights metrics (`llm-emit-token-metric`).
    #[serde(default)]
    pub token_metrics: Option<Sp<TokenMetricsSpec>>,
}

/// One operation of an API: APIM answers only requests that match one (404 otherwise).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct OperationSpec {
    /// APIM's operation name (`context.Operation.Id`), unique in the API.
    pub name: Req<String>,
    /// GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or TRACE.
    pub method: Req<String>,
    /// The URL template after the API's path: `/deployments/{deployment-id}/chat/completions`.
    pub url: Req<String>,
    /// Shown in the portal; default the name.
    #[serde(default)]
    pub display_name: Option<Sp<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RetrySpec {
    /// Default: members - 1.
    #[serde(default)]
    pub count: Option<Sp<i64>>,
    /// Default [429, 503].
    #[serde(default)]
    pub on: Option<Sp<Vec<Sp<i64>>>>,
}

pub use super::observability::*;
