//! Every environment variable gw reads, in one place, each with what it does.
//!
//! Nothing else in the crate calls `std::env::var` with a literal name: it names a constant
//! from here, so `grep` over this file is the complete list (also printed in the README).

/// Overrides the Azure Resource Manager endpoint (default `https://management.azure.com`).
/// Same as `--arm-endpoint`. Plain `http://` is accepted for loopback addresses only.
pub const GW_ARM_ENDPOINT: &str = "GW_ARM_ENDPOINT";

/// The subscription to use when neither the spec nor `--subscription` names one.
pub const AZURE_SUBSCRIPTION_ID: &str = "AZURE_SUBSCRIPTION_ID";

/// Any value turns colour off (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";

/// Set by most CI systems; gw then never prompts and draws no spinners.
pub const CI: &str = "CI";

/// Reads an environment variable, treating an empty value as unset.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Cap in seconds (decimals allowed) on any single wait between retries or polls, including
/// a server's `Retry-After`. `0` never waits: the test suite uses it against the emulator.
pub const GW_MAX_RETRY_WAIT: &str = "GW_MAX_RETRY_WAIT";

/// Seconds one long-running ARM operation may take before gw gives up on it (default 5400:
/// classic APIM tiers take up to 90 minutes to create).
pub const GW_LRO_TIMEOUT: &str = "GW_LRO_TIMEOUT";

/// The OAuth scope of ARM tokens (default `https://management.azure.com/.default`);
/// sovereign clouds need theirs, e.g. `https://management.usgovcloudapi.net/.default`.
pub const GW_ARM_SCOPE: &str = "GW_ARM_SCOPE";

/// A PEM file of extra root certificates trusted for ARM (corporate TLS-inspecting proxies).
/// `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` are honoured too, read by reqwest itself.
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";

/// With `AZURE_TENANT_ID` and either `AZURE_FEDERATED_TOKEN_FILE` or `AZURE_CLIENT_SECRET`,
/// selects a service principal for `--auth auto`; with `--auth managed-identity`, picks a
/// user-assigned identity.
pub const AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";

/// The Entra ID tenant of the service principal (see `AZURE_CLIENT_ID`).
pub const AZURE_TENANT_ID: &str = "AZURE_TENANT_ID";

/// A file holding a federated token (GitHub Actions OIDC, Kubernetes workload identity):
/// `--auth workload-identity`, chosen by `auto` when set with the two above.
pub const AZURE_FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";

/// A service principal secret: `--auth client-secret`, chosen by `auto` when set with the
/// two above. Never printed.
pub const AZURE_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";

/// Set by Azure Pipelines: where its OIDC tokens come from (`--auth azure-pipelines`).
pub const SYSTEM_OIDCREQUESTURI: &str = "SYSTEM_OIDCREQUESTURI";

/// The Azure Pipelines job token (map `$(System.AccessToken)` into the step's env). Never printed.
pub const SYSTEM_ACCESSTOKEN: &str = "SYSTEM_ACCESSTOKEN";

/// The Azure Pipelines service connection id (the AzureCLI@2 task sets it).
pub const AZURESUBSCRIPTION_SERVICE_CONNECTION_ID: &str = "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID";

/// The client id of the service connection's principal (the AzureCLI@2 task sets it).
pub const AZURESUBSCRIPTION_CLIENT_ID: &str = "AZURESUBSCRIPTION_CLIENT_ID";

/// The tenant id of the service connection's principal (the AzureCLI@2 task sets it).
pub const AZURESUBSCRIPTION_TENANT_ID: &str = "AZURESUBSCRIPTION_TENANT_ID";

/// Seconds apply keeps retrying a role assignment while the new APIM identity replicates
/// in Entra ID (`PrincipalNotFound`); default 300.
pub const GW_PRINCIPAL_WAIT: &str = "GW_PRINCIPAL_WAIT";

/// The subscription key `gw serve` requires from callers (in `api-key`) and on its `/_gw`
/// admin endpoints; same as `--key`, without showing in `ps` or shell history. Never printed.
pub const GW_SERVE_KEY: &str = "GW_SERVE_KEY";

/// The subscription key `gw verify` sends in `api-key`; same as `--key`. Never printed.
pub const GW_VERIFY_KEY: &str = "GW_VERIFY_KEY";
