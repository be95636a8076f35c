//! Azure credentials: the only file that uses azure_identity / azure_core.
//!
//! azure_identity 1.0 has no DefaultAzureCredential, so gw picks a credential from the
//! environment (`--auth auto`): CI credentials when their variables are set, else the
//! `az login` session. Tokens are cached for the run; they never reach Debug, Display or errors.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use azure_core::credentials::{Secret, TokenCredential};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, AzurePipelinesCredential,
    ClientSecretCredential, Executor, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential,
};

use crate::env;

/// The scope gw asks for. `az` only accepts scopes it knows, so a custom endpoint does not
/// change it; sovereign clouds set `GW_ARM_SCOPE`.
pub const DEFAULT_SCOPE: &str = "https://management.azure.com/.default";

/// A token this close to expiry is refreshed before use (ARM rejects expired ones mid-apply).
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// How gw authenticates (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AuthMethod {
    /// Environment credentials if set, else the `az login` session.
    #[default]
    Auto,
    /// The Azure CLI's session (`az login`).
    Cli,
    /// A federated token file (GitHub Actions, Kubernetes).
    WorkloadIdentity,
    /// A service principal secret.
    ClientSecret,
    /// The managed identity of the machine running gw.
    ManagedIdentity,
    /// An Azure Pipelines service connection.
    AzurePipelines,
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            AuthMethod::Auto => "auto",
            AuthMethod::Cli => "cli",
            AuthMethod::WorkloadIdentity => "workload-identity",
            AuthMethod::ClientSecret => "client-secret",
            AuthMethod::ManagedIdentity => "managed-identity",
            AuthMethod::AzurePipelines => "azure-pipelines",
        };
        f.write_str(name)
    }
}

/// Why no token could be had. Messages come from the credential, never contain a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("not logged in to Azure")]
    NotLoggedIn,
    #[error("the Azure CLI (`az`) was not found on PATH")]
    CliNotFound,
    #[error("--auth {method} needs {}", missing.join(", "))]
    MissingVariables {
        method: AuthMethod,
        missing: Vec<&'static str>,
    },
    #[error("could not get an Azure token ({method}): {message}")]
    Credential { method: AuthMethod, message: String },
}

const CI_VARIABLES_HINT: &str = "in CI set AZURE_CLIENT_ID and AZURE_TENANT_ID with AZURE_FEDERATED_TOKEN_FILE or AZURE_CLIENT_SECRET, or pick one with --auth";

impl AuthError {
    /// The fix, for a `hint:` line.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            AuthError::NotLoggedIn => format!("run `az login` ({CI_VARIABLES_HINT})"),
            AuthError::CliNotFound => {
                format!("install the Azure CLI and run `az login` ({CI_VARIABLES_HINT})")
            }
            AuthError::MissingVariables { .. } => {
                "set the variables, or choose another method with --auth".to_string()
            }
            AuthError::Credential { method, .. } => match method {
                AuthMethod::Cli | AuthMethod::Auto => "run `az login` again".to_string(),
                _ => format!("check the credential variables for --auth {method}"),
            },
        })
    }
}

/// Which credential the environment calls for; pure so `auto` is unit-tested.
pub fn choose(method: AuthMethod, lookup: impl Fn(&str) -> Option<String>) -> AuthMethod {
    if method != AuthMethod::Auto {
        return method;
    }
    let has = |names: &[&str]| names.iter().all(|n| lookup(n).is_some());
    if has(&[
        env::AZURE_CLIENT_ID,
        env::AZURE_TENANT_ID,
        env::AZURE_FEDERATED_TOKEN_FILE,
    ]) {
        AuthMethod::WorkloadIdentity
    } else if has(&[
        env::AZURE_CLIENT_ID,
        env::AZURE_TENANT_ID,
        env::AZURE_CLIENT_SECRET,
    ]) {
        AuthMethod::ClientSecret
    } else if has(&PIPELINES_VARIABLES) {
        AuthMethod::AzurePipelines
    } else {
        AuthMethod::Cli
    }
}

const PIPELINES_VARIABLES: [&str; 5] = [
    env::SYSTEM_OIDCREQUESTURI,
    env::AZURESUBSCRIPTION_SERVICE_CONNECTION_ID,
    env::AZURESUBSCRIPTION_CLIENT_ID,
    env::AZURESUBSCRIPTION_TENANT_ID,
    env::SYSTEM_ACCESSTOKEN,
];

/// Settings for [`TokenSource::new`].
#[derive(Debug, Clone)]
pub struct AuthOptions {
    pub method: AuthMethod,
    /// The OAuth scope (`GW_ARM_SCOPE`, default [`DEFAULT_SCOPE`]).
    pub scope: String,
    /// PATH used to find `az`; `None` inherits gw's (tests point it at a fake `az`).
    pub az_search_path: Option<OsString>,
}

impl AuthOptions {
    /// `method` with the scope from `GW_ARM_SCOPE`.
    pub fn from_env(method: AuthMethod) -> Self {
        AuthOptions {
            method,
            scope: env::var(env::GW_ARM_SCOPE).unwrap_or_else(|| DEFAULT_SCOPE.to_string()),
            az_search_path: None,
        }
    }
}

/// A bearer token; Debug shows nothing of it.
#[derive(Clone)]
pub struct BearerToken(String);

impl BearerToken {
    pub(crate) fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(***)")
    }
}

/// Gets ARM tokens, one fetch at a time, cached until 5 minutes before expiry.
/// Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    provider: Provider,
    scope: String,
    method: AuthMethod,
    /// Held across a fetch so concurrent callers wait for one `az` run instead of starting many.
    cache: tokio::sync::Mutex<Option<Cached>>,
}

enum Provider {
    Credential(Arc<dyn TokenCredential>),
    Fixed(BearerToken),
}

struct Cached {
    token: BearerToken,
    expires_at: SystemTime,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("method", &self.inner.method)
            .field("scope", &self.inner.scope)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// Builds the credential `options.method` (resolved from the environment for `auto`) names.
    pub fn new(options: &AuthOptions) -> Result<Self, AuthError> {
        let method = choose(options.method, env::var);
        let credential = build_credential(method, options)?;
        Ok(Self::from_provider(
            Provider::Credential(credential),
            options.scope.clone(),
            method,
        ))
    }

    /// A token that never changes: for tests and benchmarks against the emulator.
    pub fn fixed(token: impl Into<String>) -> Self {
        Self::from_provider(
            Provider::Fixed(BearerToken(token.into())),
            DEFAULT_SCOPE.to_string(),
            AuthMethod::Auto,
        )
    }

    fn from_provider(provider: Provider, scope: String, method: AuthMethod) -> Self {
        TokenSource {
            inner: Arc::new(Inner {
                provider,
                scope,
                method,
                cache: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// The credential in use (`auto` resolved).
    pub fn method(&self) -> AuthMethod {
        self.inner.method
    }

    /// A token valid for at least a few more minutes.
    pub async fn token(&self) -> Result<BearerToken, AuthError> {
        let credential = match &self.inner.provider {
            Provider::Fixed(t) => return Ok(t.clone()),
            Provider::Credential(c) => c,
        };
        let mut cache = self.inner.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            && cached.expires_at > SystemTime::now() + REFRESH_MARGIN
        {
            return Ok(cached.token.clone());
        }
        let scopes = [self.inner.scope.as_str()];
        let fresh = credential
            .get_token(&scopes, None)
            .await
            .map_err(|e| classify(self.inner.method, &e.to_string()))?;
        let expires_at = u64::try_from(fresh.expires_on.unix_timestamp())
            .map(|s| UNIX_EPOCH + Duration::from_secs(s))
            .unwrap_or(UNIX_EPOCH);
        let token = BearerToken(fresh.token.secret().to_string());
        *cache = Some(Cached {
            token: token.clone(),
            expires_at,
        });
        Ok(token)
    }

    /// Forgets the cached token, after ARM said it expired.
    pub async fn invalidate(&self) {
        *self.inner.cache.lock().await = None;
    }
}

fn build_credential(
    method: AuthMethod,
    options: &AuthOptions,
) -> Result<Arc<dyn TokenCredential>, AuthError> {
    let fail = |e: azure_core::Error| classify(method, &e.to_string());
    let need = |names: &[&'static str]| -> Result<Vec<String>, AuthError> {
        let values: Vec<Option<String>> = names.iter().map(|n| env::var(n)).collect();
        let missing: Vec<&'static str> = names
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| *n)
            .collect();
        if missing.is_empty() {
            Ok(values.into_iter().flatten().collect())
        } else {
            Err(AuthError::MissingVariables { method, missing })
        }
    };
    Ok(match method {
        AuthMethod::Auto | AuthMethod::Cli => {
            let executor = AzExecutor {
                search_path: options.az_search_path.clone(),
            };
            AzureCliCredential::new(Some(AzureCliCredentialOptions {
                executor: Some(Arc::new(executor)),
                ..Default::default()
            }))
            .map_err(fail)?
        }
        AuthMethod::WorkloadIdentity => {
            need(&[
                env::AZURE_CLIENT_ID,
                env::AZURE_TENANT_ID,
                env::AZURE_FEDERATED_TOKEN_FILE,
            ])?;
            // It reads the same three variables itself.
            WorkloadIdentityCredential::new(None).map_err(fail)?
        }
        AuthMethod::ClientSecret => {
            let v = need(&[
                env::AZURE_TENANT_ID,
                env::AZURE_CLIENT_ID,
                env::AZURE_CLIENT_SECRET,
            ])?;
            let [tenant, client, secret] =
                <[String; 3]>::try_from(v).map_err(|_| classify(method, "missing variables"))?;
            ClientSecretCredential::new(&tenant, client, Secret::new(secret), None).map_err(fail)?
        }
        AuthMethod::ManagedIdentity => {
            // AZURE_CLIENT_ID picks a user-assigned identity, as the other Azure SDKs do.
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: env::var(env::AZURE_CLIENT_ID).map(UserAssignedId::ClientId),
                ..Default::default()
            };
            ManagedIdentityCredential::new(Some(options)).map_err(fail)?
        }
        AuthMethod::AzurePipelines => {
            // SYSTEM_OIDCREQUESTURI is read by the credential itself; checked here for the message.
            let v = need(&PIPELINES_VARIABLES)?;
            let [_, connection, client, tenant, system_token] =
                <[String; 5]>::try_from(v).map_err(|_| classify(method, "missing variables"))?;
            AzurePipelinesCredential::new(tenant, client, &connection, system_token, None)
                .map_err(fail)?
        }
    })
}

/// Turns a credential's message into the error users can act on.
fn classify(method: AuthMethod, message: &str) -> AuthError {
    if message.contains("az login") {
        return AuthError::NotLoggedIn;
    }
    if message.contains("az not found on PATH") || message.contains("wasn't found on PATH") {
        return AuthError::CliNotFound;
    }
    // Drop azure_identity's troubleshooting link line: keep what went wrong.
    let message = message
        .lines()
        .filter(|l| !l.starts_with("To troubleshoot"))
        .collect::<Vec<_>>()
        .join(" ");
    AuthError::Credential {
        method,
        message: message.trim().to_string(),
    }
}

/// Runs `az` the way azure_identity asks (`/bin/sh -c "cd /bin && az ..."`), optionally with
/// another PATH so tests can use a fake `az` without changing the test process's environment.
#[derive(Debug)]
struct AzExecutor {
    search_path: Option<OsString>,
}

#[async_trait::async_trait]
impl Executor for AzExecutor {
    async fn run(&self, program: &OsStr, args: &[&OsStr]) -> std::io::Result<std::process::Output> {
        let mut command = tokio::process::Command::new(program);
        command.args(args).kill_on_drop(true);
        if let Some(path) = &self.search_path {
            command.env("PATH", path);
        }
        command.output().await
    }
}

/// The subscription `az` is set to (`az account show`), for when neither the spec, the
/// `--subscription` flag nor `AZURE_SUBSCRIPTION_ID` names one.
pub async fn default_subscription() -> Result<String, AuthError> {
    default_subscription_with(None).await
}

/// [`default_subscription`] with `az` looked up on `search_path` instead of PATH.
pub async fn default_subscription_with(search_path: Option<&OsStr>) -> Result<String, AuthError> {
    let mut command = tokio::process::Command::new("az");
    command
        .args(["account", "show", "-o", "json"])
        .kill_on_drop(true);
    if let Some(path) = search_path {
        command.env("PATH", path);
    }
    let output = command.output().await.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => AuthError::CliNotFound,
        _ => classify(AuthMethod::Cli, &e.to_string()),
    })?;
    if !output.status.success() {
        return Err(classify(
            AuthMethod::Cli,
            String::from_utf8_lossy(&output.stderr).trim(),
        ));
    }
    let account: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| classify(AuthMethod::Cli, &format!("`az account show`: {e}")))?;
    account
        .get("id")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| classify(AuthMethod::Cli, "`az account show` printed no `id`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[&str]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|v| (v.to_string(), "x".to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn auto_prefers_ci_credentials_then_cli() {
        let wi = lookup(&[
            "AZURE_CLIENT_ID",
            "AZURE_TENANT_ID",
            "AZURE_FEDERATED_TOKEN_FILE",
            "AZURE_CLIENT_SECRET",
        ]);
        assert_eq!(choose(AuthMethod::Auto, wi), AuthMethod::WorkloadIdentity);
        let cs = lookup(&["AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"]);
        assert_eq!(choose(AuthMethod::Auto, cs), AuthMethod::ClientSecret);
        let pipes = lookup(&PIPELINES_VARIABLES);
        assert_eq!(choose(AuthMethod::Auto, pipes), AuthMethod::AzurePipelines);
        let partial = lookup(&["AZURE_CLIENT_ID"]);
        assert_eq!(choose(AuthMethod::Auto, partial), AuthMethod::Cli);
        assert_eq!(
            choose(AuthMethod::ManagedIdentity, lookup(&[])),
            AuthMethod::ManagedIdentity
        );
    }

    #[test]
    fn classifies_cli_failures() {
        let msg = "AzureCliCredential authentication failed. ERROR: Please run 'az login' to setup account.\nTo troubleshoot, visit https://aka.ms/x";
        assert_eq!(classify(AuthMethod::Cli, msg), AuthError::NotLoggedIn);
        assert_eq!(
            classify(
                AuthMethod::Cli,
                "AzureCliCredential authentication failed. az not found on PATH"
            ),
            AuthError::CliNotFound
        );
        let other = classify(AuthMethod::Cli, "boom\nTo troubleshoot, visit x");
        assert_eq!(
            other.to_string(),
            "could not get an Azure token (cli): boom"
        );
        assert!(AuthError::NotLoggedIn.hint().unwrap().contains("az login"));
    }

    #[test]
    fn tokens_never_show_in_debug() {
        let t = BearerToken("secret-value".into());
        assert!(!format!("{t:?}").contains("secret"));
        let s = TokenSource::fixed("secret-value");
        assert!(!format!("{s:?}").contains("secret-value"));
    }
}
