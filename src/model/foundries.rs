//! The `foundries:` section: one Foundry account per entry, named NAME-SUFFIX.

use super::diags::Diags;
use super::names;
use super::scope::Scope;
use super::types::Foundry;
use crate::spec::{FoundrySpec, Sp};

/// The foundries; their breakers are filled in once the pools are known (`failover`).
/// Unique names are checked with every other backend id (`namespaces`).
pub(super) fn foundries(d: &mut Diags, spec: &Sp<Vec<FoundrySpec>>, scope: &Scope) -> Vec<Foundry> {
    if spec.is_empty() {
        d.err_hint(
            spec.loc,
            "foundries",
            "no foundries",
            Some("declare at least one Foundry resource".into()),
        );
    }
    let mut foundries = Vec::new();
    for (i, f) in spec.iter().enumerate() {
        let path = format!("foundries[{i}]");
        let account = scope.suffixed(&f.name);
        d.name(
            f.name.loc,
            format!("{path}.name"),
            names::foundry_account(&account),
        );
        d.region(&f.location, &format!("{path}.location"));
        foundries.push(Foundry {
            name: f.name.value.clone(),
            account,
            location: f.location.value.clone(),
            disable_local_auth: f.disable_local_auth.unwrap_or(true),
            breaker: None,
            name_loc: f.name.loc,
            location_loc: f.location.loc,
        });
    }
    foundries
}
