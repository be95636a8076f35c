//! Model -> the Azure resources gw manages: type, full ARM id, api-version, desired body
//! and dependencies. The one source of truth that the ARM JSON render, plan and apply all
//! read, so they cannot disagree.
//!
//! A body may hold references to another resource (`refs`): its ARM id, or an output only
//! Azure knows (the APIM identity's principal id, an account's endpoint). Renderers turn
//! them into template expressions; plan and apply resolve them from live state.

mod accounts;
mod apim;
mod apis;
mod backends;
mod build;
mod builder;
mod kind;
mod observability;
pub mod refs;

pub use crate::model::surface::apim_path;
pub use build::build;
pub use builder::role_assignment_name;
pub use kind::Kind;
pub use observability::{DIAGNOSTIC_SETTING, MONITORING_METRICS_PUBLISHER};

use serde_json::Value;

/// The tag (and description marker) by which gw recognises what it created.
pub const OWNER_TAG: &str = "managed-by";
pub const OWNER_VALUE: &str = "gw";
pub const OWNER_DESCRIPTION: &str = "Managed by gw";

/// Cognitive Services User: lets the APIM identity call the models with Entra tokens.
pub const COGNITIVE_SERVICES_USER: &str = "a97b65f3-24c7-4388-baec-2e87135dc908";

#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// Stable, human name in the spec's terms: `pools.inference-backend-pool`.
    pub address: String,
    pub kind: Kind,
    /// Full ARM id.
    pub id: String,
    /// The resource's own name (last id segment).
    pub name: String,
    /// Desired body, possibly with references (`refs`).
    pub body: Value,
    /// Addresses this resource needs to exist first.
    pub depends_on: Vec<String>,
    /// The resource whose write creates this one (an API's operations come with the API's
    /// OpenAPI import): plan compares it like any other, apply never writes it itself.
    pub written_by: Option<String>,
}

impl Resource {
    pub fn arm_type(&self) -> &'static str {
        self.kind.arm_type()
    }
    pub fn api_version(&self) -> &'static str {
        self.kind.api_version()
    }
}

/// The resources in dependency order: every resource comes after what it depends on.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub resources: Vec<Resource>,
    /// The naming suffix (`-{suffix}` ends account and service names), to name in the
    /// spec's terms a live resource the spec no longer has.
    pub suffix: String,
}

impl Graph {
    pub fn get(&self, address: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.address == address)
    }
    /// A name as the spec writes it: the Azure name without `-{suffix}`.
    pub fn spec_name<'a>(&self, azure_name: &'a str) -> &'a str {
        if self.suffix.is_empty() {
            return azure_name;
        }
        let tail = format!("-{}", self.suffix);
        if azure_name.len() > tail.len() && azure_name.to_lowercase().ends_with(&tail) {
            &azure_name[..azure_name.len() - tail.len()]
        } else {
            azure_name
        }
    }

    /// The resources a deployment writes itself: not those another resource's write
    /// creates (an API's operations, imported with it).
    pub fn written(&self) -> impl Iterator<Item = &Resource> {
        self.resources.iter().filter(|r| r.written_by.is_none())
    }

    /// The resource an extension resource (a role assignment, a diagnostic setting) is
    /// scoped to: the graph resource its id continues, other than the resource group.
    pub fn scope_of(&self, r: &Resource) -> Option<&Resource> {
        let (scope, _) = r.id.rsplit_once("/providers/")?;
        self.resources
            .iter()
            .find(|s| s.kind != Kind::ResourceGroup && s.id.eq_ignore_ascii_case(scope))
    }

    pub fn index_of(&self, address: &str) -> Option<usize> {
        self.resources.iter().position(|r| r.address == address)
    }
}

/// The graph of `examples/NAME` in a fixed subscription, for unit tests.
#[cfg(test)]
pub fn example(name: &str) -> Graph {
    use crate::diag::Source;
    use crate::model::{Context, load};
    let path = format!("{}/examples/{name}/gw.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("the example exists");
    let ctx = Context {
        subscription: Some("11111111-2222-3333-4444-555555555555".into()),
    };
    build(&load(&Source::new("gw.yaml", text), &ctx).expect("the example is valid"))
}
