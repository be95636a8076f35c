//! The `apim:` section: the API Management service and its subscriptions (keys).

use super::diags::{Diags, choices, listing};
use super::names;
use super::scope::Scope;
use super::types::{Apim, Subscription};
use crate::diag::did_you_mean;
use crate::spec::{ApimSpec, SubscriptionSpec};
use std::collections::BTreeMap;

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

/// The Consumption tier has no capacity and no circuit breakers.
pub(super) const CONSUMPTION: &str = "Consumption";

pub(super) fn apim(d: &mut Diags, a: &ApimSpec, scope: &Scope, api_names: &[&str]) -> Apim {
    let service = scope.suffixed(&a.name);
    d.name(a.name.loc, "apim.name", names::apim_service(&service));
    if let Some(l) = &a.location {
        d.region(l, "apim.location");
    }
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
    let capacity = capacity(d, a);
    if !a.publisher_email.contains('@') {
        d.err_hint(
            a.publisher_email.loc,
            "apim.publisher_email",
            format!("`{}` is not an email address", a.publisher_email.value),
            Some("APIM sends service notifications there".into()),
        );
    }
    if a.publisher_name.trim().is_empty() {
        d.err_hint(
            a.publisher_name.loc,
            "apim.publisher_name",
            "must not be empty",
            Some("the organisation shown in APIM's developer portal and emails".into()),
        );
    }
    Apim {
        name: a.name.value.clone(),
        service,
        location: a.location.as_ref().map_or_else(
            || scope.resource_group.location.clone(),
            |l| l.value.clone(),
        ),
        sku: a.sku.value.clone(),
        capacity,
        publisher_email: a.publisher_email.value.clone(),
        publisher_name: a.publisher_name.value.clone(),
        backend_path: super::backend_path::backend_path(d, a),
        subscriptions: subscriptions(d, &a.subscriptions, api_names),
        name_loc: a.name.loc,
    }
}

fn capacity(d: &mut Diags, a: &ApimSpec) -> u32 {
    let consumption = a.sku.value == CONSUMPTION;
    match &a.capacity {
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
    }
}

/// Subscription ids are unique in the service, ignoring case; each may name one API.
fn subscriptions(
    d: &mut Diags,
    specs: &[SubscriptionSpec],
    api_names: &[&str],
) -> Vec<Subscription> {
    let mut out = Vec::new();
    let mut seen = BTreeMap::new();
    for (i, s) in specs.iter().enumerate() {
        let path = format!("apim.subscriptions[{i}]");
        d.duplicate(&mut seen, &s.name, &format!("{path}.name"), "subscription");
        d.name(
            s.name.loc,
            format!("{path}.name"),
            names::entity("subscription", &s.name, 80),
        );
        let api = s.api.as_ref().and_then(|n| {
            if api_names.contains(&n.value.as_str()) {
                return Some(n.value.clone());
            }
            let hint = did_you_mean(n, api_names.iter().copied()).unwrap_or_else(|| {
                choices(
                    "declared APIs",
                    api_names,
                    "declare the API under `apis:`, or leave `api` out to open every API",
                )
            });
            d.err_hint(
                n.loc,
                format!("{path}.api"),
                format!("unknown API `{}`", n.value),
                Some(hint),
            );
            None
        });
        out.push(Subscription {
            name: s.name.value.clone(),
            display_name: s
                .display_name
                .as_ref()
                .map_or_else(|| s.name.value.clone(), |n| n.value.clone()),
            api,
        });
    }
    out
}
