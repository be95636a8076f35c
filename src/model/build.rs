//! Spec -> Model: applies defaults, resolves references and checks every rule, collecting
//! all problems rather than stopping at the first.

use super::apis::{Backends, apis};
use super::diags::{Diags, known_foundry, listing};
use super::names;
use super::pools::pools;
use super::types::*;
use crate::diag::{Diagnostic, did_you_mean};
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

const MODEL_SKUS: &[&str] = &[
    "Standard",
    "GlobalStandard",
    "DataZoneStandard",
    "ProvisionedManaged",
    "GlobalProvisionedManaged",
    "DataZoneProvisionedManaged",
    "GlobalBatch",
    "DataZoneBatch",
    "DeveloperTier",
];
const APIM_SKUS: &[&str] = &[
    "Developer",
    "Basic",
    "Standard",
    "Premium",
    "BasicV2",
    "StandardV2",
    "PremiumV2",
    "Consumption",
];

/// Builds the model, or returns every problem found (sorted by position in the file).
pub fn build(spec: &spec::Spec, ctx: &Context) -> Result<Model, Vec<Diagnostic>> {
    let mut d = Diags::default();
    super::text::check(spec, &mut d);

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

    // Resource group.
    let rg = &spec.resource_group;
    d.name(
        rg.name.loc,
        "resource_group.name",
        names::resource_group(&rg.name),
    );
    d.region(&rg.location, "resource_group.location");
    let mut tags = BTreeMap::new();
    for (k, v) in rg.tags.iter() {
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

    // Naming suffix.
    let suffix = match spec.naming.as_ref().and_then(|n| n.suffix.as_ref()) {
        None => auto_suffix(&subscription, &rg.name),
        Some(s) if s.value == "auto" => auto_suffix(&subscription, &rg.name),
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
    };
    let with_suffix = |name: &str| {
        if suffix.is_empty() {
            name.to_string()
        } else {
            format!("{name}-{suffix}")
        }
    };

    // Foundries.
    let mut foundries = Vec::new();
    let mut seen = BTreeMap::new();
    if spec.foundries.is_empty() {
        d.err_hint(
            spec.foundries.loc,
            "foundries",
            "no foundries",
            Some("declare at least one Foundry resource".into()),
        );
    }
    for (i, f) in spec.foundries.iter().enumerate() {
        let path = format!("foundries[{i}]");
        d.duplicate(&mut seen, &f.name, &format!("{path}.name"), "foundry");
        let account = with_suffix(&f.name);
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
        });
    }
    let foundry_names: Vec<&str> = spec
        .foundries
        .iter()
        .map(|f| f.name.value.as_str())
        .collect();

    // Models.
    let mut deployments = Vec::new();
    let mut seen = BTreeMap::new();
    for (i, m) in spec.models.iter().enumerate() {
        let path = format!("models[{i}]");
        d.duplicate(&mut seen, &m.name, &format!("{path}.name"), "model");
        if m.name.value.len() < 2 {
            d.err_hint(
                m.name.loc,
                format!("{path}.name"),
                "a deployment name needs at least 2 characters",
                Some("use 2-64 letters, digits, '-', '_' or '.'".into()),
            );
        } else {
            d.name(
                m.name.loc,
                format!("{path}.name"),
                names::entity("deployment", &m.name, 64),
            );
        }
        if !MODEL_SKUS.contains(&m.sku.value.as_str()) {
            let hint = did_you_mean(&m.sku, MODEL_SKUS.iter().copied())
                .or_else(|| Some(format!("use one of {}", listing(MODEL_SKUS))));
            d.err_hint(
                m.sku.loc,
                format!("{path}.sku"),
                format!("unknown deployment sku `{}`", m.sku.value),
                hint,
            );
        }
        if m.capacity.value == 0 {
            d.err_hint(
                m.capacity.loc,
                format!("{path}.capacity"),
                "capacity 0 deploys nothing",
                Some("use at least 1 (thousands of tokens per minute, or PTU)".into()),
            );
        }
        for (field, s) in [("publisher", &m.publisher)] {
            if s.value.trim().is_empty() {
                d.err_hint(
                    s.loc,
                    format!("{path}.{field}"),
                    "must not be empty",
                    Some("e.g. OpenAI, DeepSeek, Microsoft".into()),
                );
            }
        }
        if m.version.value.0.trim().is_empty() {
            d.err_hint(
                m.version.loc,
                format!("{path}.version"),
                "must not be empty",
                Some("the model version, e.g. \"2024-07-18\"".into()),
            );
        }
        let hosts: Vec<String> = match &m.foundries {
            None => foundry_names.iter().map(|s| s.to_string()).collect(),
            Some(list) => {
                if list.is_empty() {
                    d.err_hint(
                        list.loc,
                        format!("{path}.foundries"),
                        "no foundries",
                        Some(
                            "name at least one foundry, or leave `foundries` out to deploy on all"
                                .into(),
                        ),
                    );
                }
                let mut seen_f = BTreeMap::new();
                let mut v = Vec::new();
                for (j, f) in list.iter().enumerate() {
                    let fpath = format!("{path}.foundries[{j}]");
                    if known_foundry(&mut d, &foundry_names, f, &fpath) {
                        d.duplicate(&mut seen_f, f, &fpath, "foundry");
                        v.push(f.value.clone());
                    }
                }
                // Keep the order of `foundries:` so output never depends on how a list was written.
                let mut ordered: Vec<String> = foundry_names
                    .iter()
                    .filter(|n| v.iter().any(|x| x == *n))
                    .map(|s| s.to_string())
                    .collect();
                ordered.dedup();
                ordered
            }
        };
        deployments.push(Deployment {
            name: m.name.value.clone(),
            model: m
                .model
                .as_ref()
                .map(|s| s.value.clone())
                .unwrap_or_else(|| m.name.value.clone()),
            publisher: m.publisher.value.clone(),
            version: m.version.value.0.clone(),
            sku: m.sku.value.clone(),
            capacity: m.capacity.value,
            foundries: hosts,
        });
    }

    // APIM.
    let a = &spec.apim;
    let service = with_suffix(&a.name);
    d.name(a.name.loc, "apim.name", names::apim_service(&service));
    if let Some(l) = &a.location {
        d.region(l, "apim.location");
    }
    let consumption = a.sku.value == "Consumption";
    if !APIM_SKUS.contains(&a.sku.value.as_str()) {
        let hint = did_you_mean(&a.sku, APIM_SKUS.iter().copied())
            .or_else(|| Some(format!("use one of {}", listing(APIM_SKUS))));
        d.err_hint(
            a.sku.loc,
            "apim.sku",
            format!("unknown API Management sku `{}`", a.sku.value),
            hint,
        );
    }
    let capacity = match &a.capacity {
        None => u32::from(!consumption),
        Some(c) if consumption && c.value != 0 => {
            d.err_hint(
                c.loc,
                "apim.capacity",
                "the Consumption tier has no capacity",
                Some("use `capacity: 0` or leave it out".into()),
            );
            0
        }
        Some(c) if !consumption && !(1..=31).contains(&c.value) => {
            d.err_hint(
                c.loc,
                "apim.capacity",
                format!("{} is out of range", c.value),
                Some("use 1 to 31 units".into()),
            );
            1
        }
        Some(c) => c.value,
    };
    if !a.publisher_email.contains('@') {
        d.err_hint(
            a.publisher_email.loc,
            "apim.publisher_email",
            format!("`{}` is not an email address", a.publisher_email.value),
            Some("APIM sends service notifications there".into()),
        );
    }
    if a.publisher_name.trim().is_empty() {
        d.err(
            a.publisher_name.loc,
            "apim.publisher_name",
            "must not be empty",
        );
    }

    // Pools.
    let pool_names: Vec<&str> = spec.pools.keys().collect();
    let (mut pools, breaker_of) = pools(&mut d, &spec.pools, &foundry_names, consumption);
    for f in &mut foundries {
        f.breaker = breaker_of.get(&f.name).map(|(b, _)| b.clone());
    }

    // APIs.
    let backends = Backends {
        pools: &pool_names,
        foundries: &foundry_names,
    };
    let (apis, derived) = apis(&mut d, &spec.apis, &backends, &deployments, &pools);
    for p in derived {
        if pools.iter().any(|x| x.name == p.name) || foundry_names.contains(&p.name.as_str()) {
            d.err_hint(
                spec.pools.first_loc(),
                format!("pools.{}", p.name),
                format!(
                    "gw derives a pool `{}` for model `{}`, and that name is taken",
                    p.name,
                    p.derived_for.clone().unwrap_or_default()
                ),
                Some(
                    "rename your pool or foundry, or route the model explicitly under `routes`"
                        .into(),
                ),
            );
            continue;
        }
        pools.push(p);
    }

    // Subscriptions (after APIs, which they name).
    let api_names: Vec<&str> = spec.apis.keys().collect();
    let mut subscriptions = Vec::new();
    let mut seen = BTreeMap::new();
    for (i, s) in a.subscriptions.iter().enumerate() {
        let path = format!("apim.subscriptions[{i}]");
        d.duplicate(&mut seen, &s.name, &format!("{path}.name"), "subscription");
        d.name(
            s.name.loc,
            format!("{path}.name"),
            names::entity("subscription", &s.name, 80),
        );
        let api_of = s.api.as_ref().and_then(|n| {
            if api_names.contains(&n.value.as_str()) {
                return Some(n.value.clone());
            }
            let hint = did_you_mean(n, api_names.iter().copied())
                .or_else(|| Some(format!("declared APIs: {}", listing(&api_names))));
            d.err_hint(
                n.loc,
                format!("{path}.api"),
                format!("unknown API `{}`", n.value),
                hint,
            );
            None
        });
        subscriptions.push(Subscription {
            name: s.name.value.clone(),
            display_name: s
                .display_name
                .as_ref()
                .map_or_else(|| s.name.value.clone(), |n| n.value.clone()),
            api: api_of,
        });
    }

    if !d.0.is_empty() {
        let mut v = d.0;
        v.sort_by_key(|x| (x.loc, x.path.clone()));
        return Err(v);
    }
    Ok(Model {
        subscription,
        subscription_known,
        resource_group: ResourceGroup {
            name: rg.name.value.clone(),
            location: rg.location.value.clone(),
            tags,
        },
        suffix,
        foundries,
        deployments,
        apim: Apim {
            name: a.name.value.clone(),
            service,
            location: a
                .location
                .as_ref()
                .map_or_else(|| rg.location.value.clone(), |l| l.value.clone()),
            sku: a.sku.value.clone(),
            capacity,
            publisher_email: a.publisher_email.value.clone(),
            publisher_name: a.publisher_name.value.clone(),
            subscriptions,
        },
        pools,
        apis,
    })
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
