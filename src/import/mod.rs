//! `gw import`: the pipeline run backwards. The live estate (read through plan's reader)
//! becomes a spec: accounts, deployments, the APIM service and its subscriptions, backends
//! matched to accounts by endpoint, pools, breakers, observability, and APIs with the routing
//! and token governance their policy expresses. The guess is then checked the forward way:
//! the spec is loaded and each API's policy rendered; where gw's policy would differ from the
//! live one, the live one is kept verbatim in a file the spec points to, so nothing is lost.

mod backend_path;
mod estate;
mod observability;
mod operations;
mod policy;
mod tokens;
mod yaml;

pub use estate::ownerless;

use crate::diag::{Source, render_all};
use crate::model::Context;
use crate::plan::read::Estate;
use backend_path::BackendPath;
use estate::{Api, View};
use serde_json::Value;
use std::collections::BTreeSet;
use yaml::{Yaml, list, scalar};

/// A string field of a live resource (`pointer` into its JSON), empty when absent or not a
/// string: what Azure leaves out reads as unset.
pub(super) fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A live resource's name.
pub(super) fn name_of(v: &Value) -> &str {
    text(v, "/name")
}

/// The spec, and the policy files it points to (path relative to the spec, XML).
#[derive(Debug)]
pub struct Imported {
    pub yaml: String,
    pub policies: Vec<(String, String)>,
    /// Whether the spec loads (it should; when not, `problems` says why).
    pub problems: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("resource group {0} does not exist (or this identity cannot read it)")]
    NoGroup(String),
    #[error("resource group {0} holds no API Management service")]
    NoService(String),
    #[error("resource group {0} holds no Cognitive Services account")]
    NoAccount(String),
}

/// Writes the spec describing `estate`, the resource group `rg_id`.
pub fn describe(estate: &Estate, rg_id: &str) -> Result<Imported, ImportError> {
    let view = View::new(estate, rg_id)?;
    let paths = BackendPath::of(&view);
    let mut keep = BTreeSet::new();
    let first = compose(&view, &paths, &keep);
    let subscription = rg_id.split('/').nth(2).map(str::to_string);
    let ctx = Context { subscription };
    let model = match crate::model::load(&Source::new("gw.yaml", first.clone()), &ctx) {
        Ok(m) => m,
        Err(diags) => {
            let problems = render_all(&diags, &Source::new("gw.yaml", first.clone()));
            return Ok(Imported {
                yaml: first,
                policies: Vec::new(),
                problems: Some(problems),
            });
        }
    };
    // The forward check: where gw's policy for the recognised routing is not the live one,
    // keep the live one.
    let graph = crate::graph::build(&model);
    for api in &view.apis {
        let ours = graph
            .get(&format!("apis.{}.policy", api.name))
            .and_then(|r| r.body.pointer("/properties/value"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        if let Some(live) = &api.policy
            && !crate::plan::diff::policy_equal(ours, live)
        {
            keep.insert(api.name.clone());
        }
    }
    let policies = view
        .apis
        .iter()
        .filter(|a| keep.contains(&a.name))
        .filter_map(|a| {
            let xml = a.policy.as_deref()?;
            let xml = paths
                .fit(&a.api_type, xml)
                .unwrap_or_else(|| xml.to_string());
            Some((policy_file(&a.name), xml))
        })
        .collect();
    Ok(Imported {
        yaml: compose(&view, &paths, &keep),
        policies,
        problems: None,
    })
}

fn policy_file(api: &str) -> String {
    format!("policies/{api}.xml")
}

fn compose(v: &View, paths: &BackendPath, keep: &BTreeSet<String>) -> String {
    let mut y = Yaml::default();
    y.comment(
        0,
        &format!(
            "Written by `gw import` from resource group {}.\nComments say what the spec could not express; review them, then run `gw plan`.",
            v.group_name
        ),
    );
    y.raw(0, "version", 1);
    y.field(0, "subscription", &v.subscription);
    y.open(0, "resource_group");
    y.field(2, "name", &v.group_name);
    y.field(2, "location", &v.location);
    if !v.tags.is_empty() {
        y.open(2, "tags");
        for (k, val) in &v.tags {
            y.field(4, &scalar(k), val);
        }
    }
    y.open(0, "naming");
    y.field(2, "suffix", &v.suffix);
    y.blank();

    y.open(0, "foundries");
    for f in &v.foundries {
        y.item(2, "name", &f.name);
        y.field(4, "location", &f.location);
        if !f.disable_local_auth {
            y.raw(4, "disable_local_auth", false);
        }
        for note in &f.notes {
            y.comment(4, note);
        }
    }
    if !v.models.is_empty() {
        y.blank();
        y.open(0, "models");
    }
    for m in &v.models {
        y.item(2, "name", &m.name);
        if m.model != m.name {
            y.field(4, "model", &m.model);
        }
        y.field(4, "publisher", &m.publisher);
        y.field(4, "version", &m.version);
        y.field(4, "sku", &m.sku);
        y.raw(4, "capacity", m.capacity);
        if m.foundries.len() != v.foundries.len() {
            y.raw(4, "foundries", list(&m.foundries));
        }
        for note in &m.notes {
            y.comment(4, note);
        }
    }
    y.blank();

    let a = &v.apim;
    y.open(0, "apim");
    y.field(2, "name", &a.name);
    if !a.location.eq_ignore_ascii_case(&v.location) {
        y.field(2, "location", &a.location);
    }
    y.field(2, "sku", &a.sku);
    y.raw(2, "capacity", a.capacity);
    y.field(2, "publisher_email", &a.publisher_email);
    y.field(2, "publisher_name", &a.publisher_name);
    if let BackendPath::Shared(p) = paths {
        y.field(2, "backend_path", p);
    }
    if !a.subscriptions.is_empty() {
        y.open(2, "subscriptions");
    }
    for s in &a.subscriptions {
        y.item(4, "name", &s.name);
        y.field(6, "display_name", &s.display_name);
        if let Some(api) = &s.api {
            y.field(6, "api", api);
        }
    }
    for note in &a.notes {
        y.comment(2, note);
    }
    if let BackendPath::MovedToRoot { note } = paths {
        y.comment(2, note);
    }

    if !v.pools.is_empty() {
        y.blank();
        y.open(0, "pools");
    }
    for p in &v.pools {
        y.open(2, &p.name);
        y.open(4, "members");
        for m in &p.members {
            y.item(6, "foundry", &m.foundry);
            if let Some(p) = m.priority {
                y.raw(8, "priority", p);
            }
            if let Some(w) = m.weight {
                y.raw(8, "weight", w);
            }
        }
        if let Some(b) = &p.breaker {
            y.open(4, "circuit_breaker");
            y.raw(6, "failures", b.failures);
            y.field(6, "interval", &b.interval);
            y.raw(6, "status_codes", list(&b.status_codes));
            y.field(6, "trip", &b.trip);
            y.raw(6, "accept_retry_after", b.accept_retry_after);
        }
        if let Some(cookie) = &p.cookie {
            y.open(4, "session_affinity");
            y.field(6, "cookie", cookie);
        }
        for note in &p.notes {
            y.comment(4, note);
        }
    }
    v.observability.write(&mut y);
    y.blank();
    y.open(0, "apis");
    for api in &v.apis {
        let root_rewrite = api
            .policy
            .as_deref()
            .is_some_and(|xml| paths.fit(&api.api_type, xml).is_some());
        write_api(&mut y, api, keep.contains(&api.name), root_rewrite);
    }
    y.finish()
}

fn write_api(y: &mut Yaml, api: &Api, keep_policy: bool, root_rewrite: bool) {
    y.open(2, &api.name);
    y.field(4, "path", &api.path);
    y.field(4, "type", &api.api_type);
    if let Some(b) = &api.backend {
        y.field(4, "backend", b);
    }
    if api.by_model {
        y.field(4, "routing", "by-model");
        if !api.routes.is_empty() {
            y.open(4, "routes");
            for (m, t) in &api.routes {
                y.field(6, &scalar(m), t);
            }
        }
        if !api.deny.is_empty() {
            y.raw(4, "deny", list(&api.deny));
        }
    }
    y.open(4, "retry");
    y.raw(6, "count", api.retry.0);
    if !api.retry.1.is_empty() {
        let codes: Vec<String> = api.retry.1.iter().map(u16::to_string).collect();
        y.raw(6, "on", format!("[{}]", codes.join(", ")));
    }
    if !api.subscription_required {
        y.raw(4, "subscription_required", false);
    }
    api.tokens.write(y, 4);
    if !api.operations.is_empty() {
        y.open(4, "operations");
        for op in &api.operations {
            y.item(6, "name", &op.name);
            y.field(8, "method", &op.method);
            y.field(8, "url", &op.url);
            if op.display != op.name {
                y.field(8, "display_name", &op.display);
            }
        }
    }
    if keep_policy {
        y.field(4, "policy", &policy_file(&api.name));
        y.comment(
            4,
            &format!(
                "The live policy is kept verbatim in {} and used as is: it differs from the one gw would write\nfor this routing. Remove `policy:` to let gw write its own (managed-identity auth, the caller's\nkey dropped, retries across the pool, JSON errors for unknown models).{}",
                policy_file(&api.name),
                if root_rewrite {
                    "\nOne line is added to it: gw's backends point at the account root, so the policy forwards to\nthis API type's path on it (`rewrite-uri`), as the old backend URLs did."
                } else {
                    ""
                }
            ),
        );
    }
    for note in &api.notes {
        y.comment(4, note);
    }
}
