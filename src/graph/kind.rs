//! The kinds of Azure resource gw manages, with their ARM type and api-version
//! (`../design/azure.md`).

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    ResourceGroup,
    Account,
    Deployment,
    Apim,
    RoleAssignment,
    Backend,
    Pool,
    Api,
    Operation,
    Policy,
    Subscription,
    Workspace,
    Component,
    Logger,
    Diagnostic,
    DiagnosticSetting,
}

impl Kind {
    pub fn arm_type(self) -> &'static str {
        match self {
            Kind::ResourceGroup => "Microsoft.Resources/resourceGroups",
            Kind::Account => "Microsoft.CognitiveServices/accounts",
            Kind::Deployment => "Microsoft.CognitiveServices/accounts/deployments",
            Kind::Apim => "Microsoft.ApiManagement/service",
            Kind::RoleAssignment => "Microsoft.Authorization/roleAssignments",
            Kind::Backend | Kind::Pool => "Microsoft.ApiManagement/service/backends",
            Kind::Api => "Microsoft.ApiManagement/service/apis",
            Kind::Operation => "Microsoft.ApiManagement/service/apis/operations",
            Kind::Policy => "Microsoft.ApiManagement/service/apis/policies",
            Kind::Subscription => "Microsoft.ApiManagement/service/subscriptions",
            Kind::Workspace => "Microsoft.OperationalInsights/workspaces",
            Kind::Component => "Microsoft.Insights/components",
            Kind::Logger => "Microsoft.ApiManagement/service/loggers",
            Kind::Diagnostic => "Microsoft.ApiManagement/service/diagnostics",
            Kind::DiagnosticSetting => "Microsoft.Insights/diagnosticSettings",
        }
    }

    /// One api-version per type for every read and write. Backends (single and pool) use
    /// the preview that has `pool.sessionAffinity`: a PUT with an older version can drop it.
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::ResourceGroup => "2025-04-01",
            Kind::Account | Kind::Deployment => "2025-06-01",
            Kind::RoleAssignment => "2022-04-01",
            Kind::Backend | Kind::Pool => "2024-10-01-preview",
            Kind::Apim | Kind::Api | Kind::Operation | Kind::Policy | Kind::Subscription => {
                "2024-05-01"
            }
            Kind::Workspace => "2025-07-01",
            Kind::Component => "2020-02-02",
            Kind::Logger => "2024-05-01",
            // `largeLanguageModel` (LLM logs) exists from this preview on, and only in PUT.
            Kind::Diagnostic => "2024-06-01-preview",
            Kind::DiagnosticSetting => "2021-05-01-preview",
        }
    }

    /// Whether the resource takes ARM tags (the others carry gw's marker elsewhere).
    pub fn takes_tags(self) -> bool {
        matches!(
            self,
            Kind::ResourceGroup
                | Kind::Account
                | Kind::Deployment
                | Kind::Apim
                | Kind::Workspace
                | Kind::Component
        )
    }

    /// Fields gw leaves out when the spec turns them off, so that live values there are
    /// drift: a pool's session affinity, a backend's circuit breaker.
    pub fn owned_optional_fields(self) -> &'static [&'static str] {
        match self {
            Kind::Pool => &["properties.pool.sessionAffinity"],
            Kind::Backend => &["properties.circuitBreaker"],
            _ => &[],
        }
    }

    /// Query parameters every read of this kind needs: APIM answers a policy with its XML
    /// re-escaped unless asked for `format=rawxml`.
    pub fn read_query(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Policy => &[("format", "rawxml")],
            _ => &[],
        }
    }

    /// Fields a write sends that no read returns: never compared. An API's OpenAPI import
    /// (`format`, `value`) is compared through the operations it creates.
    pub fn write_only_fields(self) -> &'static [&'static str] {
        match self {
            Kind::Api => &["properties.format", "properties.value"],
            // APIM never reads a logger's credentials back (it answers a named-value
            // reference), and the connection string is not for output.
            Kind::Logger => &["properties.credentials"],
            _ => &[],
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::ResourceGroup => "resource group",
            Kind::Account => "Foundry account",
            Kind::Deployment => "model deployment",
            Kind::Apim => "API Management service",
            Kind::RoleAssignment => "role assignment",
            Kind::Backend => "backend",
            Kind::Pool => "backend pool",
            Kind::Api => "API",
            Kind::Operation => "API operation",
            Kind::Policy => "API policy",
            Kind::Subscription => "APIM subscription",
            Kind::Workspace => "Log Analytics workspace",
            Kind::Component => "Application Insights",
            Kind::Logger => "APIM logger",
            Kind::Diagnostic => "APIM diagnostic",
            Kind::DiagnosticSetting => "diagnostic setting",
        }
    }
}
