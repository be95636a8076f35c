//! What pre-flight asks Azure, answered in the shapes the REST specs define: the models a
//! region offers (`ModelListResult`), its quota usage (`UsageListResult`, current value
//! counting the emulator's own deployments in that region), whether a custom subdomain
//! (`DomainAvailability`) or an APIM name (`ApiManagementServiceNameAvailabilityResult`) is
//! free, and the caller's permissions (`PermissionGetResult`).
//!
//! By default every region offers the models the examples, the tests and the benchmark
//! estate use, in the Standard, GlobalStandard and DataZoneStandard SKUs, with ample quota;
//! every name is free and the caller is Owner (Contributor with `set_deny_role_writes`).
//! Tests that want a problem set it up through the `Emulator` setters.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::ids;
use super::rules;
use super::store::{Reply, State};

/// The models offered by default: (format, name, version).
const DEFAULT_MODELS: &[(&str, &str, &str)] = &[
    ("OpenAI", "gpt-4o-mini", "2024-07-18"),
    ("OpenAI", "gpt-4o", "2024-08-06"),
    ("OpenAI", "gpt-4o", "2024-11-20"),
    ("OpenAI", "gpt-4.1", "2025-04-14"),
    ("OpenAI", "gpt-4.1-mini", "2025-04-14"),
    ("OpenAI", "gpt-4.1-nano", "2025-04-14"),
    ("OpenAI", "model-router", "2025-05-19"),
    ("OpenAI", "o4-mini", "2025-04-16"),
    ("DeepSeek", "DeepSeek-R1", "1"),
    ("DeepSeek", "DeepSeek-V3-0324", "1"),
];

const DEFAULT_SKUS: &[&str] = &["Standard", "GlobalStandard", "DataZoneStandard"];

/// The quota limit of every usage no test set.
const DEFAULT_LIMIT: f64 = 100_000.0;

/// One entry of a region's model list, as `Models_List` answers it.
pub fn model(format: &str, name: &str, version: &str, skus: &[&str]) -> Value {
    let skus: Vec<Value> = skus
        .iter()
        .map(|s| {
            json!({
                "name": s,
                "usageName": format!("{format}.{s}.{name}"),
                "capacity": {"minimum": 1, "maximum": 100000, "default": 10, "step": 1},
                "rateLimits": [],
            })
        })
        .collect();
    json!({
        "kind": "AIServices",
        "skuName": "S0",
        "model": {
            "format": format,
            "name": name,
            "version": version,
            "isDefaultVersion": true,
            "lifecycleStatus": "GenerallyAvailable",
            "capabilities": {"chatCompletion": "true"},
            "skus": skus,
        },
    })
}

/// RBAC's Owner and Contributor, as `Permissions_List*` answers them.
fn owner() -> Vec<Value> {
    vec![json!({"actions": ["*"], "notActions": [], "dataActions": [], "notDataActions": []})]
}

fn contributor() -> Vec<Value> {
    vec![json!({
        "actions": ["*"],
        "notActions": [
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
        ],
        "dataActions": [],
        "notDataActions": [],
    })]
}

#[derive(Debug, Default)]
pub struct Catalog {
    /// Lower-cased region -> its model list, where a test replaced the default.
    models: HashMap<String, Vec<Value>>,
    /// (lower-cased region, lower-cased usage name) -> (limit, used by others).
    quota: HashMap<(String, String), (f64, f64)>,
    /// APIM names held elsewhere in Azure (lower-cased).
    taken_apim: Vec<String>,
    /// The caller's permissions, where a test set them.
    permissions: Option<Vec<Value>>,
}

fn lower_segments(path: &str) -> Vec<String> {
    path.trim_end_matches('/')
        .split('/')
        .map(str::to_ascii_lowercase)
        .collect()
}

impl Catalog {
    pub fn set_models(&mut self, region: &str, models: Vec<Value>) {
        self.models.insert(region.to_ascii_lowercase(), models);
    }

    pub fn set_quota(&mut self, region: &str, usage: &str, limit: f64, used: f64) {
        self.quota.insert(
            (region.to_ascii_lowercase(), usage.to_ascii_lowercase()),
            (limit, used),
        );
    }

    pub fn take_apim_name(&mut self, name: &str) {
        self.taken_apim.push(name.to_ascii_lowercase());
    }

    pub fn set_permissions(&mut self, permissions: Option<Vec<Value>>) {
        self.permissions = permissions;
    }

    /// The answer to a pre-flight request, or `None` for any other request.
    pub fn answer(
        &self,
        state: &State,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Option<Reply> {
        let s = lower_segments(path);
        let n = s.len();
        let cognitive = n > 4 && s[3] == "providers" && s[4] == "microsoft.cognitiveservices";
        match (method, n) {
            ("GET", 8) if cognitive && s[5] == "locations" && s[7] == "models" => {
                Some(Reply::json(200, json!({"value": self.models_in(&s[6])})))
            }
            ("GET", 8) if cognitive && s[5] == "locations" && s[7] == "usages" => Some(
                Reply::json(200, json!({"value": self.usages_in(state, &s[6])})),
            ),
            ("POST", 6) if cognitive && s[5] == "checkdomainavailability" => {
                let wanted = body?.get("subdomainName")?.as_str()?.to_ascii_lowercase();
                let free = !subdomain_held(state, &wanted);
                Some(Reply::json(
                    200,
                    json!({
                        "isSubdomainAvailable": free,
                        "reason": if free { Value::Null } else { json!(format!("Sub domain name '{wanted}' is not valid or is already in use.")) },
                        "subdomainName": wanted,
                        "type": "Microsoft.CognitiveServices/accounts",
                        "kind": "AIServices",
                    }),
                ))
            }
            ("POST", 6)
                if s[3] == "providers"
                    && s[4] == "microsoft.apimanagement"
                    && s[5] == "checknameavailability" =>
            {
                let wanted = body?.get("name")?.as_str()?.to_ascii_lowercase();
                let held = self.taken_apim.contains(&wanted)
                    || state.resources.values().any(|r| {
                        r.ty == rules::APIM && ids::name(&r.id).eq_ignore_ascii_case(&wanted)
                    })
                    || state.deleted.values().any(|d| {
                        d.ty == rules::APIM
                            && ids::name(&d.original_key).eq_ignore_ascii_case(&wanted)
                    });
                Some(Reply::json(
                    200,
                    if held {
                        json!({"nameAvailable": false, "reason": "AlreadyExists", "message": format!("{wanted} is already in use. Please select a different name.")})
                    } else {
                        json!({"nameAvailable": true, "reason": "Valid", "message": ""})
                    },
                ))
            }
            ("GET", _)
                if n >= 5
                    && s[n - 3] == "providers"
                    && s[n - 2] == "microsoft.authorization"
                    && s[n - 1] == "permissions" =>
            {
                let scope = path
                    .trim_end_matches('/')
                    .rsplitn(4, '/')
                    .nth(3)?
                    .to_string();
                if ids::resource_group(&scope).is_some()
                    && !state.resources.contains_key(&scope.to_ascii_lowercase())
                {
                    let rg = ids::resource_group(&scope).unwrap_or_default();
                    return Some(Reply::error(
                        404,
                        "ResourceGroupNotFound",
                        &format!("Resource group '{rg}' could not be found."),
                    ));
                }
                let granted = self.permissions.clone().unwrap_or_else(|| {
                    if state.settings.deny_role_writes {
                        contributor()
                    } else {
                        owner()
                    }
                });
                Some(Reply::json(200, json!({"value": granted})))
            }
            _ => None,
        }
    }

    fn models_in(&self, region: &str) -> Vec<Value> {
        self.models.get(region).cloned().unwrap_or_else(|| {
            let mut out: Vec<Value> = DEFAULT_MODELS
                .iter()
                .map(|(f, n, v)| model(f, n, v, DEFAULT_SKUS))
                .collect();
            // The benchmark estate's models.
            out.extend((0..10).map(|i| model("OpenAI", &format!("model-{i}"), "1", DEFAULT_SKUS)));
            out
        })
    }

    /// A usage per SKU of every model offered; the current value is what the test said
    /// others use plus the capacity of the emulator's deployments of that model and SKU in
    /// the region.
    fn usages_in(&self, state: &State, region: &str) -> Vec<Value> {
        let mut names: Vec<String> = self
            .models_in(region)
            .iter()
            .flat_map(|m| {
                m.pointer("/model/skus")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|s| s.get("usageName")?.as_str().map(str::to_string))
            .collect();
        names.extend(
            self.quota
                .keys()
                .filter(|(r, _)| r == region)
                .map(|(_, u)| u.clone()),
        );
        names.sort_by_key(|n| n.to_ascii_lowercase());
        names.dedup_by_key(|n| n.to_ascii_lowercase());
        let deployed = deployed(state, region);
        names
            .into_iter()
            .map(|name| {
                let key = (region.to_string(), name.to_ascii_lowercase());
                let (limit, others) = self.quota.get(&key).copied().unwrap_or((DEFAULT_LIMIT, 0.0));
                let current = others + deployed.get(&name.to_ascii_lowercase()).copied().unwrap_or(0.0);
                json!({
                    "name": {"value": name, "localizedValue": format!("Tokens Per Minute (thousands) - {name}")},
                    "unit": "Count",
                    "currentValue": current,
                    "limit": limit,
                    "quotaPeriod": "",
                    "status": "Included",
                })
            })
            .collect()
    }
}

/// The capacity the emulator's deployments in `region` hold, by lower-cased usage name
/// (`FORMAT.SKU.MODEL`): one pass over the store (it runs under the emulator's lock).
fn deployed(state: &State, region: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for r in state
        .resources
        .values()
        .filter(|r| r.ty == rules::DEPLOYMENTS)
    {
        let in_region = ids::parent(&r.id)
            .and_then(|a| state.resources.get(&a.to_ascii_lowercase()))
            .and_then(|a| {
                a.body
                    .get("location")?
                    .as_str()
                    .map(str::to_ascii_lowercase)
            })
            .is_some_and(|l| l == region);
        if !in_region {
            continue;
        }
        let t = |p: &str| {
            r.body
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let usage = format!(
            "{}.{}.{}",
            t("/properties/model/format"),
            t("/sku/name"),
            t("/properties/model/name")
        )
        .to_ascii_lowercase();
        let capacity = r
            .body
            .pointer("/sku/capacity")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        *out.entry(usage).or_insert(0.0) += capacity;
    }
    out
}

/// A subdomain is held by someone else, by any stored account, or by a soft-deleted one.
fn subdomain_held(state: &State, wanted: &str) -> bool {
    let of = |b: &Value| {
        b.pointer("/properties/customSubDomainName")
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case(wanted))
    };
    state.taken_subdomains.iter().any(|t| t == wanted)
        || state
            .resources
            .values()
            .any(|r| r.ty == rules::ACCOUNTS && of(&r.body))
        || state
            .deleted
            .values()
            .filter(|d| d.ty == rules::ACCOUNTS)
            .flat_map(|d| d.entries.iter())
            .any(|(_, s)| s.ty == rules::ACCOUNTS && of(&s.body))
}
