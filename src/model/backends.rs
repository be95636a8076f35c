//! The names a `backend:` or a route may target. Its own module so that `apis` and `routing`
//! both use it without importing each other.

use super::diags::{Diags, choices};
use super::types::Target;
use crate::diag::did_you_mean;
use crate::spec::Sp;

/// Pools first, then foundries: they share APIM's backend namespace, and validation keeps
/// them apart (`namespaces`).
pub(super) struct Backends<'a> {
    pub pools: &'a [&'a str],
    pub foundries: &'a [&'a str],
}

impl Backends<'_> {
    /// Looks a target up, reporting an unknown one with the closest name.
    pub fn resolve(&self, d: &mut Diags, s: &Sp<String>, path: &str) -> Option<Target> {
        if self.pools.contains(&s.value.as_str()) {
            return Some(Target::Pool(s.value.clone()));
        }
        if self.foundries.contains(&s.value.as_str()) {
            return Some(Target::Foundry(s.value.clone()));
        }
        let all: Vec<&str> = self
            .pools
            .iter()
            .chain(self.foundries.iter())
            .copied()
            .collect();
        let hint = did_you_mean(&s.value, all.iter().copied()).unwrap_or_else(|| {
            choices(
                "name a pool or a foundry",
                &all,
                "declare a foundry under `foundries:` (or a pool under `pools:`) and name it here",
            )
        });
        d.err_hint(
            s.loc,
            path,
            format!("unknown backend `{}`", s.value),
            Some(hint),
        );
        None
    }
}
