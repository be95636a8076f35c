//! The command line (clap derive types only; behaviour lives in `commands`).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub use crate::arm::AuthMethod;

#[derive(Debug, Parser)]
#[command(
    name = "gw",
    version,
    about = "Declare an AI gateway on Azure API Management in front of Azure AI Foundry; validate, render, plan and apply it."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The spec file.
    #[arg(short = 'f', long = "file", global = true, default_value = "gw.yaml")]
    pub file: PathBuf,
    /// Azure subscription id (after the spec's `subscription:`; before AZURE_SUBSCRIPTION_ID and `az account show`).
    #[arg(long, global = true)]
    pub subscription: Option<String>,
    /// How to get Azure credentials.
    #[arg(long, global = true, value_enum, default_value_t = AuthMethod::Auto)]
    pub auth: AuthMethod,
    /// Azure Resource Manager endpoint [env: GW_ARM_ENDPOINT] (default https://management.azure.com).
    #[arg(long, global = true)]
    pub arm_endpoint: Option<String>,
    /// Output format: human text, one JSON document on stdout, or (plan) a pull-request comment in Markdown.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// No colour (also NO_COLOR).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// More detail on stderr.
    #[arg(short = 'v', long, global = true)]
    pub verbose: bool,
    /// At most this many ARM requests in flight.
    #[arg(long, global = true, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallelism: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
    /// `gw plan` only: the plan as a pull-request comment.
    Markdown,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and check the spec; print every problem with file:line:column.
    Validate(ValidateArgs),
    /// Write main.bicep, main.json and policies/<api>.xml.
    Render(RenderArgs),
    /// Print the JSON Schema of the spec.
    Schema,
    /// Read what is live, diff it against the spec, and show what apply would change.
    Plan(PlanArgs),
    /// Make Azure match the spec (or apply a plan saved with `gw plan --out`).
    Apply(ApplyArgs),
    /// Turn cookie session affinity on or off on a deployed pool, or show it.
    #[command(subcommand)]
    Affinity(AffinityCommand),
    /// Delete what the spec manages (and with --purge, the soft-deleted records).
    Destroy(DestroyArgs),
    /// Run a local gateway that routes like the deployed one (with --mock: no Azure needed).
    Serve(ServeArgs),
    /// Probe a gateway and check balancing, routing and affinity against the spec.
    Verify(VerifyArgs),
    /// Token usage per APIM subscription, model and region, from the LLM logs.
    Usage(UsageArgs),
    /// Read a live estate (APIM, Foundry accounts, their deployments) and write the gw.yaml that describes it.
    Import(ImportArgs),
    /// Print shell completions: bash, zsh, fish, powershell or elvish.
    Completions(CompletionsArgs),
    /// Print the man page (roff), e.g. `gw man > gw.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The resource group that holds the estate.
    #[arg(long)]
    pub resource_group: String,
    /// The APIM service to import, when the group holds several.
    #[arg(long)]
    pub apim: Option<String>,
    /// Where to write the spec (policies gw does not understand go beside it, under policies/).
    #[arg(long, value_name = "FILE", default_value = "gw.yaml")]
    pub out: PathBuf,
    /// Write over an existing spec file.
    #[arg(long)]
    pub force: bool,
    /// Also save the plan that marks what was found as gw's (tags, descriptions), for `gw apply PLAN.json`.
    #[arg(long)]
    pub adopt: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// How far back to look: `30m`, `24h`, `7d` or ISO 8601 (`P1D`).
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Write a self-contained HTML page with a chart of the tokens used.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AffinityCommand {
    /// Turn affinity on: the pool sets a cookie and sends each client back to its backend.
    Enable {
        #[arg(long)]
        pool: String,
        #[arg(long, default_value = crate::model::DEFAULT_COOKIE)]
        cookie: String,
    },
    /// Turn affinity off.
    Disable {
        #[arg(long)]
        pool: String,
    },
    /// Show each pool's members and affinity.
    Status {
        #[arg(long)]
        pool: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Also run the pre-flight checks against Azure (model availability, quota, names, permissions).
    #[arg(long)]
    pub online: bool,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Do not ask; required when not on a terminal (CI).
    #[arg(long)]
    pub auto_approve: bool,
    /// Then purge the soft-deleted Foundry accounts and APIM service, so their names are free at once.
    #[arg(long)]
    pub purge: bool,
    /// Delete the resource group gw created whole, with the resources someone else added to it
    /// (by default those stay, and so does the group).
    #[arg(long)]
    pub include_foreign: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `gw plan --out`; refused if what it read has changed since.
    #[arg(value_name = "PLAN.json")]
    pub plan: Option<PathBuf>,
    /// Do not ask; required when not on a terminal (CI).
    #[arg(long)]
    pub auto_approve: bool,
    /// Purge soft-deleted accounts or APIM services that hold a spec name instead of restoring them.
    #[arg(long)]
    pub purge_soft_deleted: bool,
    /// Print subscription keys in full (default: masked, `****abcd`).
    #[arg(long)]
    pub show_secrets: bool,
    /// Start even when pre-flight finds problems (model availability, quota, names, permissions), and skip its reads.
    #[arg(long)]
    pub skip_preflight: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Plan against nothing (everything a create), without credentials or network.
    #[arg(long)]
    pub offline: bool,
    /// Save the plan, with stamps of what it read, for `gw apply PLAN.json`.
    #[arg(long, value_name = "PLAN.json")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan to purge soft-deleted accounts or APIM services that hold a spec name, instead of restoring them.
    #[arg(long)]
    pub purge_soft_deleted: bool,
    /// Skip the pre-flight checks (model availability, quota, names, permissions) and their reads.
    #[arg(long)]
    pub skip_preflight: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Folder to write into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write requests.jsonl: the ARM PUTs apply sends to an empty resource group.
    #[arg(long)]
    pub requests: bool,
}

/// Debug is hand-written: it never shows the key.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Start a built-in OpenAI-compatible mock backend per foundry.
    #[arg(long)]
    pub mock: bool,
    /// Make a mock fail: NAME=STATUS[:RETRY_AFTER_SECONDS][@RATE], e.g. foundry1=429, foundry1=429:5, foundry1=429@0.5. Repeatable.
    #[arg(long = "mock-fail", value_name = "NAME=STATUS", value_parser = crate::serve::mock::parse_fail_assignment)]
    pub mock_fail: Vec<(String, crate::serve::FailSpec)>,
    /// Send a foundry's requests to URL (its endpoint; the API type's path, `/openai/...` or `/models/...`, is appended). Repeatable.
    #[arg(long = "backend", value_name = "NAME=URL", value_parser = parse_backend)]
    pub backend: Vec<(String, url::Url)>,
    /// Require this subscription key in the `api-key` header or query (and on the `/_gw` admin endpoints); without it any key is accepted. Prefer the environment variable: a flag shows in `ps` and shell history.
    #[arg(long, env = crate::env::GW_SERVE_KEY, hide_env_values = true)]
    pub key: Option<String>,
    /// Listen on a non-loopback address without --key (anyone who can reach it may use the gateway).
    #[arg(long)]
    pub insecure: bool,
    /// Seed pool selection and mock failure rates, for repeatable runs.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Debug is hand-written: it never shows the key.
#[derive(Args)]
pub struct VerifyArgs {
    /// The gateway's URL, e.g. http://127.0.0.1:8080 or https://NAME.azure-api.net.
    #[arg(long)]
    pub gateway: Option<String>,
    /// Subscription key sent in `api-key`. Prefer the environment variable: a flag shows in `ps` and shell history.
    #[arg(long, env = crate::env::GW_VERIFY_KEY, hide_env_values = true)]
    pub key: Option<String>,
    /// Requests per burst.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub requests: u32,
    /// Write a self-contained HTML page with a chart per API.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Foundries that are failing on purpose (e.g. `gw serve --mock-fail`): predict the failover. Repeatable or comma-separated.
    #[arg(long, value_name = "FOUNDRY", value_delimiter = ',')]
    pub down: Vec<String>,
    /// The `api-version` query sent with each request.
    #[arg(long, default_value = crate::verify::DEFAULT_API_VERSION)]
    pub api_version: String,
}

fn parse_backend(s: &str) -> Result<(String, url::Url), String> {
    let (name, u) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=URL, e.g. foundry1=http://127.0.0.1:9001"))?;
    let url = url::Url::parse(u.trim()).map_err(|e| format!("`{u}`: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{u}` is not an http(s) URL"));
    }
    Ok((name.trim().to_string(), url))
}

/// `Some("***")` or `None`: whether a secret was given, never the secret.
fn redacted(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "***")
}

impl std::fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeArgs")
            .field("listen", &self.listen)
            .field("mock", &self.mock)
            .field("mock_fail", &self.mock_fail)
            .field("backend", &self.backend)
            .field("key", &redacted(&self.key))
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for VerifyArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyArgs")
            .field("gateway", &self.gateway)
            .field("key", &redacted(&self.key))
            .field("requests", &self.requests)
            .field("report", &self.report)
            .field("down", &self.down)
            .field("api_version", &self.api_version)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod secret_tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_key() {
        let key = "0123456789abcdef0123456789abcdef";
        let cli = Cli::try_parse_from(["gw", "serve", "--key", key]).unwrap();
        let shown = format!("{cli:?}");
        assert!(
            !shown.contains(key) && shown.contains(r#"key: Some("***")"#),
            "{shown}"
        );
        let cli = Cli::try_parse_from(["gw", "verify", "--key", key]).unwrap();
        let shown = format!("{cli:?}");
        assert!(
            !shown.contains(key) && shown.contains(r#"key: Some("***")"#),
            "{shown}"
        );
        let target = crate::verify::GatewayTarget {
            url: "https://x.azure-api.net".into(),
            key: Some(key.into()),
        };
        assert!(!format!("{target:?}").contains(key));
    }
}
