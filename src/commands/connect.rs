//! The edge to Azure for commands that read or write it: the ARM client, the credential, the
//! subscription, and the progress reporter that fits where output goes.

use crate::arm::{ArmClient, ArmConfig, AuthOptions, TokenSource};
use crate::cli::Global;
use crate::diag::Source;
use crate::model::{Context, Model};
use crate::report::{Plain, Reporter, Terminal};
use std::process::ExitCode;

/// A runtime for the async engine; commands stay synchronous at the top.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub fn client(g: &Global) -> anyhow::Result<ArmClient> {
    let mut config = ArmConfig::from_env()?;
    if let Some(e) = &g.arm_endpoint {
        config = config.with_endpoint(e)?;
    }
    config.parallelism = usize::from(g.parallelism);
    let tokens = TokenSource::new(&AuthOptions::from_env(g.auth))?;
    Ok(ArmClient::new(config, tokens)?)
}

/// Loads the model with the subscription resolved in the documented order: the spec,
/// `--subscription`, AZURE_SUBSCRIPTION_ID, then `az account show`.
pub async fn load_online(g: &Global, source: &Source) -> Result<Model, ExitCode> {
    let ctx = super::offline_context(g);
    let model = super::load_model(source, &ctx)?;
    if model.subscription_known {
        return Ok(model);
    }
    match crate::arm::default_subscription().await {
        Ok(sub) => super::load_model(
            source,
            &Context {
                subscription: Some(sub),
            },
        ),
        Err(e) => {
            eprintln!(
                "error: no subscription: the spec, --subscription and AZURE_SUBSCRIPTION_ID name none, and `az account show` failed: {e}"
            );
            eprintln!(
                "hint: {}",
                e.hint().unwrap_or_else(|| {
                    "add `subscription:` to the spec or pass --subscription".into()
                })
            );
            Err(ExitCode::FAILURE)
        }
    }
}

/// Spinners on an interactive terminal; plain lines in CI and pipes.
pub fn reporter() -> Box<dyn Reporter> {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() && crate::env::var(crate::env::CI).is_none() {
        Box::new(Terminal::default())
    } else {
        Box::new(Plain::default())
    }
}

/// Prints an engine error the house way: what failed, the cause, then the fix.
pub fn print_arm_error(what: &str, e: &crate::arm::ArmError) {
    eprintln!("error: {what}");
    eprintln!("  caused by: {e}");
    if let Some(h) = e.hint() {
        eprintln!("hint: {h}");
    }
}

/// The deployed gateway: the APIM service's `gatewayUrl`, and the primary key of the spec's
/// first subscription (read with `listSecrets`; it stays in memory).
pub async fn locate_gateway(
    client: &ArmClient,
    graph: &crate::graph::Graph,
) -> anyhow::Result<(String, Option<String>)> {
    use crate::graph::Kind;
    let apim = graph
        .get("apim")
        .ok_or_else(|| anyhow::anyhow!("the spec has no APIM service"))?;
    let live = client
        .get(&apim.id, apim.api_version())
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!("the API Management service {} is not deployed", apim.name)
        })?;
    let url = live
        .body
        .pointer("/properties/gatewayUrl")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{} has no gateway URL yet (still being created?)",
                apim.name
            )
        })?
        .trim_end_matches('/')
        .to_string();
    let key = match graph
        .resources
        .iter()
        .find(|r| r.kind == Kind::Subscription)
    {
        Some(sub) => subscription_key(client, sub).await?,
        None => None,
    };
    Ok((url, key))
}

/// Entra tokens for calling Foundry itself (`gw serve` without mocks), from the same
/// credential chain as ARM.
pub struct FoundryTokens(TokenSource);

pub const COGNITIVE_SERVICES_SCOPE: &str = "https://cognitiveservices.azure.com/.default";

impl FoundryTokens {
    pub fn new(g: &Global) -> anyhow::Result<Self> {
        let mut options = AuthOptions::from_env(g.auth);
        options.scope = COGNITIVE_SERVICES_SCOPE.to_string();
        Ok(FoundryTokens(TokenSource::new(&options)?))
    }

    /// Gets a token once, so a credential problem shows at start.
    pub async fn check(&self) -> Result<(), crate::arm::AuthError> {
        self.0.token().await.map(|_| ())
    }
}

impl crate::serve::TokenProvider for FoundryTokens {
    fn token(
        &self,
    ) -> futures::future::BoxFuture<'_, Result<String, Box<dyn std::error::Error + Send + Sync>>>
    {
        Box::pin(async move {
            let t = self.0.token().await?;
            Ok(t.secret().to_string())
        })
    }
}

/// The model (subscription resolved), its graph, and the live state read through ARM; or the
/// exit code after saying what went wrong.
pub async fn read_live(
    g: &Global,
    source: &Source,
    client: &ArmClient,
    reporter: &dyn Reporter,
) -> Result<(Model, crate::graph::Graph, crate::plan::LiveState), ExitCode> {
    let model = load_online(g, source).await?;
    let graph = crate::graph::build(&model);
    match crate::plan::read::read(client, &graph, reporter).await {
        Ok(live) => Ok((model, graph, live)),
        Err(e) => {
            print_arm_error("could not read the live state", &e);
            Err(ExitCode::FAILURE)
        }
    }
}

/// The primary key of an APIM subscription (`listSecrets`: a POST that only reads).
pub async fn subscription_key(
    client: &ArmClient,
    subscription: &crate::graph::Resource,
) -> Result<Option<String>, crate::arm::ArmError> {
    let secrets = client
        .post_read(
            &format!("{}/listSecrets", subscription.id),
            subscription.api_version(),
            &serde_json::json!({}),
        )
        .await?;
    Ok(secrets
        .get("primaryKey")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string))
}
