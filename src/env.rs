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
