//! The `models:` section: one deployment per hosting foundry. A deployment's name is unique
//! per account; gw keeps model names unique across the spec (ignoring case), which covers
//! every account and keeps routing by name unambiguous.

use super::diags::{Diags, known_foundry, listing};
use super::names;
use super::types::{Deployment, DeploymentAt};
use crate::diag::did_you_mean;
use crate::spec::ModelSpec;
use std::collections::BTreeMap;

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

pub(super) fn deployments(
    d: &mut Diags,
    models: &[ModelSpec],
    foundry_names: &[&str],
) -> Vec<Deployment> {
    let mut deployments = Vec::new();
    let mut seen = BTreeMap::new();
    for (i, m) in models.iter().enumerate() {
        let path = format!("models[{i}]");
        d.duplicate(&mut seen, &m.name, &format!("{path}.name"), "model");
        check(d, m, &path);
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
            foundries: hosts(d, m, &path, foundry_names),
            at: DeploymentAt {
                index: i,
                model: m.model.as_ref().map_or(m.name.loc, |s| s.loc),
                version: m.version.loc,
                sku: m.sku.loc,
                capacity: m.capacity.loc,
            },
        });
    }
    deployments
}

/// The rules on one model's own fields.
fn check(d: &mut Diags, m: &ModelSpec, path: &str) {
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
    if m.publisher.value.trim().is_empty() {
        d.err_hint(
            m.publisher.loc,
            format!("{path}.publisher"),
            "must not be empty",
            Some("e.g. OpenAI, DeepSeek, Microsoft".into()),
        );
    }
    if m.version.value.0.trim().is_empty() {
        d.err_hint(
            m.version.loc,
            format!("{path}.version"),
            "must not be empty",
            Some("the model version, e.g. \"2024-07-18\"".into()),
        );
    }
}

/// The foundries that host a model, in the order of `foundries:` so output never depends
/// on how a list was written.
fn hosts(d: &mut Diags, m: &ModelSpec, path: &str, foundry_names: &[&str]) -> Vec<String> {
    let Some(list) = &m.foundries else {
        return foundry_names.iter().map(|s| s.to_string()).collect();
    };
    if list.is_empty() {
        d.err_hint(
            list.loc,
            format!("{path}.foundries"),
            "no foundries",
            Some("name at least one foundry, or leave `foundries` out to deploy on all".into()),
        );
    }
    let mut seen = BTreeMap::new();
    let mut named = Vec::new();
    for (j, f) in list.iter().enumerate() {
        let fpath = format!("{path}.foundries[{j}]");
        if known_foundry(d, foundry_names, f, &fpath) {
            d.duplicate(&mut seen, f, &fpath, "foundry");
            named.push(f.value.as_str());
        }
    }
    foundry_names
        .iter()
        .filter(|n| named.contains(n))
        .map(|s| s.to_string())
        .collect()
}
