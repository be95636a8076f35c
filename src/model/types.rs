//! The validated model: defaults applied, names resolved, every reference checked.
//! Only a `Model` can be rendered or turned into Azure resources.

use crate::spec::Loc;
use std::collections::BTreeMap;

pub use super::observability::{
    DEFAULT_LLM_LOG_BYTES, LlmLogs, MAX_LLM_LOG_BYTES, Observability, Workspace, is_component_name,
    is_workspace_id, is_workspace_name,
};
pub use super::tokens::{
    Counter, DIMENSIONS, Dimension, MAX_DIMENSIONS, QuotaPeriod, TokenLimit, TokenMetrics,
    is_header_name, is_metric_namespace,
};

pub const DEFAULT_COOKIE: &str = "APIM-Backend-Affinity";

#[derive(Clone, Debug)]
pub struct Model {
    pub subscription: String,
    /// False when no subscription was known and a placeholder was used: names that depend
    /// on `naming.suffix: auto` are then not the ones Azure will get.
    pub subscription_known: bool,
    pub resource_group: ResourceGroup,
    /// Appended as `-{suffix}` to globally unique names; empty for none.
    pub suffix: String,
    pub foundries: Vec<Foundry>,
    pub deployments: Vec<Deployment>,
    pub apim: Apim,
    /// User pools first, in file order, then pools derived for routing.
    pub pools: Vec<Pool>,
    pub apis: Vec<Api>,
    pub observability: Observability,
}

#[derive(Clone, Debug)]
pub struct ResourceGroup {
    pub name: String,
    pub location: String,
    pub tags: BTreeMap<String, String>,
    /// Where `resource_group.name` is written (pre-flight points there).
    pub name_loc: Loc,
}

#[derive(Clone, Debug)]
pub struct Foundry {
    /// Short name: the APIM backend id.
    pub name: String,
    /// Account name and custom subdomain: `name` plus the suffix.
    pub account: String,
    pub location: String,
    pub disable_local_auth: bool,
    /// The breaker of the pools this foundry is a member of (they must agree).
    pub breaker: Option<Breaker>,
    /// Where its `name` and `location` are written (pre-flight points there).
    pub name_loc: Loc,
    pub location_loc: Loc,
}

#[derive(Clone, Debug)]
pub struct Deployment {
    pub name: String,
    pub model: String,
    pub publisher: String,
    pub version: String,
    pub sku: String,
    pub capacity: u32,
    /// Foundries that host it, in the order of `foundries:`.
    pub foundries: Vec<String>,
    /// Its place in `models:` and where its fields are written (pre-flight points there).
    pub at: DeploymentAt,
}

/// Where a model's fields are written in the spec; `model` is the `name`'s place when
/// `model:` is left out.
#[derive(Clone, Debug, Default)]
pub struct DeploymentAt {
    pub index: usize,
    pub model: Loc,
    pub version: Loc,
    pub sku: Loc,
    pub capacity: Loc,
}

#[derive(Clone, Debug)]
pub struct Apim {
    pub name: String,
    /// Service name: `name` plus the suffix.
    pub service: String,
    pub location: String,
    pub sku: String,
    pub capacity: u32,
    pub publisher_email: String,
    pub publisher_name: String,
    /// Where the backends point on each Foundry account: `/` (the root) or a path without a
    /// trailing `/` (`/openai`) that every API's type path runs through.
    pub backend_path: String,
    pub subscriptions: Vec<Subscription>,
    /// Where `apim.name` is written (pre-flight points there).
    pub name_loc: Loc,
}

#[derive(Clone, Debug)]
pub struct Subscription {
    pub name: String,
    pub display_name: String,
    /// None: every API.
    pub api: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Pool {
    pub name: String,
    pub members: Vec<Member>,
    pub breaker: Option<Breaker>,
    /// The affinity cookie's name when session affinity is on.
    pub affinity: Option<String>,
    /// Derived by gw for a model of a routing API (not written in the spec).
    pub derived_for: Option<String>,
}

/// A pool member. gw writes what the spec declares: an unset priority or weight is left out,
/// and APIM reads that as one priority group split evenly (backends.md: round-robin unless
/// weights are assigned). Only where a pool mixes set and unset values, which APIM does not
/// document, does `pools::fill_unset` give the unset ones `FILL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub foundry: String,
    pub priority: Option<u8>,
    pub weight: Option<u8>,
}

/// The priority or weight an unset member gets in a pool that sets some (gw's default before
/// it wrote only what the spec declares, so mixed specs keep their meaning).
pub const FILL: u8 = 1;

impl Member {
    /// The member's priority group, lower wins. After `fill_unset` a pool's priorities are all
    /// set or all unset, so unset is the one group there is, counted as `FILL`.
    pub fn rank(&self) -> u8 {
        self.priority.unwrap_or(FILL)
    }

    /// The member's share within its group. A group's weights are all set or all unset, so
    /// unset ones are equal shares.
    pub fn share(&self) -> u8 {
        self.weight.unwrap_or(FILL)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breaker {
    pub failures: u32,
    pub interval_secs: u64,
    /// Inclusive ranges.
    pub status_codes: Vec<(u16, u16)>,
    pub trip_secs: u64,
    /// As declared; None is left out of the backend, so APIM's flag is off and `trip` decides.
    pub accept_retry_after: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiType {
    AzureOpenAi,
    AzureAi,
    OpenAi,
}

impl ApiType {
    pub fn as_str(&self) -> &'static str {
        match self {
            ApiType::AzureOpenAi => "azure-openai",
            ApiType::AzureAi => "azure-ai",
            ApiType::OpenAi => "openai",
        }
    }

    /// Every API type, in the order the docs list them.
    pub const ALL: [ApiType; 3] = [ApiType::AzureOpenAi, ApiType::AzureAi, ApiType::OpenAi];

    /// The type a spec's `type:` names (`azure-openai`, `azure-ai`, `openai`).
    pub fn parse(s: &str) -> Option<ApiType> {
        ApiType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The path on the Foundry account that this API type's operations live under: the
    /// gateway forwards `{account endpoint}{foundry_path}{operation path}`. Azure OpenAI
    /// (`/deployments/...`, `/responses`) and the v1 API (`/v1/...`) are under `/openai`;
    /// the Azure AI model inference API under `/models`.
    pub fn foundry_path(&self) -> &'static str {
        match self {
            ApiType::AzureOpenAi | ApiType::OpenAi => "/openai",
            ApiType::AzureAi => "/models",
        }
    }
}

/// Where requests go: a foundry's backend or a pool.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Foundry(String),
    Pool(String),
}

impl Target {
    /// The APIM backend id.
    pub fn backend_id(&self) -> &str {
        match self {
            Target::Foundry(n) | Target::Pool(n) => n,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Api {
    pub name: String,
    pub path: String,
    pub api_type: ApiType,
    pub routing: Routing,
    pub retry: Retry,
    pub subscription_required: bool,
    /// A policy used verbatim instead of the generated one (`policy:` in the spec).
    pub custom_policy: Option<CustomPolicy>,
    /// The spec's own operations (`operations:`), in place of the type's surface table.
    pub declared_operations: Option<Vec<ApiOperation>>,
    pub token_limit: Option<TokenLimit>,
    pub token_metrics: Option<TokenMetrics>,
}

/// An operation APIM imports for an API: one of the surface table's for its type, or one
/// the spec declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiOperation {
    /// APIM's operation name (`context.Operation.Id`).
    pub name: String,
    pub display: String,
    /// Upper case.
    pub method: String,
    /// The URL template after the API's path.
    pub url: String,
}

/// A policy file the spec names: its path as written and, once `model::load` has read it
/// (relative to the spec), its text.
#[derive(Clone, Debug)]
pub struct CustomPolicy {
    pub path: String,
    pub loc: crate::spec::Loc,
    pub xml: String,
}

#[derive(Clone, Debug)]
pub enum Routing {
    /// Every request goes to one backend or pool.
    Single(Target),
    /// Each model goes where it is deployed.
    ByModel {
        /// Model (deployment) name -> target, in spec order.
        routes: Vec<Route>,
        /// Glob patterns answered with 403.
        deny: Vec<String>,
    },
}

#[derive(Clone, Debug)]
pub struct Route {
    pub model: String,
    pub target: Target,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retry {
    /// 0 = no retry element (a single backend has nothing to fail over to).
    pub count: u32,
    pub on: Vec<u16>,
}

impl Model {
    pub fn foundry(&self, name: &str) -> Option<&Foundry> {
        self.foundries.iter().find(|f| f.name == name)
    }
    pub fn pool(&self, name: &str) -> Option<&Pool> {
        self.pools.iter().find(|p| p.name == name)
    }
    /// Foundries behind a target.
    pub fn target_foundries<'a>(&'a self, t: &'a Target) -> Vec<&'a str> {
        match t {
            Target::Foundry(f) => vec![f.as_str()],
            Target::Pool(p) => self
                .pool(p)
                .map(|p| p.members.iter().map(|m| m.foundry.as_str()).collect())
                .unwrap_or_default(),
        }
    }
    /// The Retry-After of an API's exhausted-pool answer: the longest trip of the breakers
    /// behind it (the earliest every member can be back), 60 without a breaker; None when the
    /// API sends to no pool (its policy then has no such answer). Read by the policy render
    /// and by `gw serve`, so they cannot disagree.
    pub fn exhausted_retry_after(&self, api: &Api) -> Option<u64> {
        let targets = self.api_targets(api);
        targets
            .iter()
            .any(|t| matches!(t, Target::Pool(_)))
            .then(|| {
                targets
                    .iter()
                    .flat_map(|t| self.target_foundries(t))
                    .filter_map(|f| self.foundry(f).and_then(|f| f.breaker.as_ref()))
                    .map(|b| b.trip_secs)
                    .max()
                    .unwrap_or(60)
            })
    }
    /// Every target an API can send to, sorted and unique.
    pub fn api_targets<'a>(&self, api: &'a Api) -> Vec<&'a Target> {
        let mut v: Vec<&Target> = match &api.routing {
            Routing::Single(t) => vec![t],
            Routing::ByModel { routes, .. } => routes.iter().map(|r| &r.target).collect(),
        };
        v.sort();
        v.dedup();
        v
    }
}

/// Does `pattern` (with `*` wildcards) match `name`? Case-insensitive, as deployment names are.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some((c, rest)) => n
                .split_first()
                .is_some_and(|(d, nrest)| c.eq_ignore_ascii_case(d) && go(rest, nrest)),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}
