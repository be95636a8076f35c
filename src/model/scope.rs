//! Where everything lands: the spec version, the subscription, the resource group and the
//! naming suffix appended to globally unique names.

use super::diags::Diags;
use super::names;
use super::types::ResourceGroup;
use crate::spec;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What the command line and environment add to the spec.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// From `--subscription`, `AZURE_SUBSCRIPTION_ID` or `az account show`; the spec's own
    /// `subscription:` wins over it.
    pub subscription: Option<String>,
}

/// Used when no subscription is known (offline commands): names are then placeholders.
pub const PLACEHOLDER_SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";

pub(super) struct Scope {
    pub subscription: String,
    pub subscription_known: bool,
    pub resource_group: ResourceGroup,
    /// Empty for none.
    pub suffix: String,
}

impl Scope {
    /// `name-suffix`, or `name` without a suffix.
    pub fn suffixed(&self, name: &str) -> String {
        if self.suffix.is_empty() {
            name.to_string()
        } else {
            format!("{name}-{}", self.suffix)
        }
    }
}

pub(super) fn scope(d: &mut Diags, spec: &spec::Spec, ctx: &Context) -> Scope {
    if spec.version.value != 1 {
        d.err_hint(
            spec.version.loc,
            "version",
            format!("unknown spec version {}", spec.version.value),
            Some("this gw reads `version: 1`".into()),
        );
    }
    let (subscription, subscription_known) = match (&spec.subscription, &ctx.subscription) {
        (Some(s), _) => {
            if !is_guid(&s.value) {
                d.err_hint(
                    s.loc,
                    "subscription",
                    format!("`{}` is not a subscription id", s.value),
                    Some("use the subscription's GUID (`az account show --query id`)".into()),
                );
            }
            (s.value.to_lowercase(), true)
        }
        (None, Some(s)) => (s.to_lowercase(), true),
        (None, None) => (PLACEHOLDER_SUBSCRIPTION.to_string(), false),
    };
    let resource_group = resource_group(d, &spec.resource_group);
    let suffix = suffix(d, spec, &subscription);
    Scope {
        subscription,
        subscription_known,
        resource_group,
        suffix,
    }
}

fn resource_group(d: &mut Diags, rg: &spec::ResourceGroupSpec) -> ResourceGroup {
    d.name(
        rg.name.loc,
        "resource_group.name",
        names::resource_group(&rg.name),
    );
    d.region(&rg.location, "resource_group.location");
    let mut tags = BTreeMap::new();
    let mut seen = BTreeMap::new();
    for (k, v) in rg.tags.iter() {
        // Azure tag names ignore case: `Owner` and `owner` would be one tag.
        d.duplicate(
            &mut seen,
            k,
            &format!("resource_group.tags.{}", k.value),
            "tag",
        );
        if k.value.len() > 512 || v.len() > 256 || k.value.is_empty() {
            d.err_hint(
                k.loc,
                format!("resource_group.tags.{}", k.value),
                "tag name or value too long",
                Some("tag names may have 512 characters, values 256".into()),
            );
        }
        tags.insert(k.value.clone(), v.clone());
    }
    if tags.len() > 49 {
        d.err_hint(
            rg.tags.first_loc(),
            "resource_group.tags",
            "too many tags",
            Some("Azure allows 50 tags per resource and gw adds one".into()),
        );
    }
    ResourceGroup {
        name: rg.name.value.clone(),
        location: rg.location.value.clone(),
        tags,
        name_loc: rg.name.loc,
    }
}

fn suffix(d: &mut Diags, spec: &spec::Spec, subscription: &str) -> String {
    let rg = &spec.resource_group.name;
    match spec.naming.as_ref().and_then(|n| n.suffix.as_ref()) {
        None => auto_suffix(subscription, rg),
        Some(s) if s.value == "auto" => auto_suffix(subscription, rg),
        Some(s) => {
            let ok = s.value.len() <= 13
                && s.value
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            if !ok {
                d.err_hint(
                    s.loc,
                    "naming.suffix",
                    format!("`{}` is not a valid suffix", s.value),
                    Some("use `auto`, \"\" or up to 13 lower-case letters and digits".into()),
                );
                // Check the other names without it, so one bad suffix is one error.
                String::new()
            } else {
                s.value.clone()
            }
        }
    }
}

/// A stable 5-character suffix from the subscription and resource group: the same inputs
/// give the same names on every machine and every run.
pub fn auto_suffix(subscription: &str, resource_group: &str) -> String {
    let digest = Sha256::digest(format!(
        "{}/{}",
        subscription.to_lowercase(),
        resource_group.to_lowercase()
    ));
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut n = u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]));
    let mut out = String::new();
    for _ in 0..5 {
        out.push(ALPHABET[(n % 36) as usize] as char);
        n /= 36;
    }
    out
}

fn is_guid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}
