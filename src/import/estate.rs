//! The live estate in the spec's terms: names without the suffix, backends matched to
//! accounts, derived pools set aside, each API's routing recognised. Everything a spec cannot
//! say becomes a note the YAML carries next to what it concerns.

use super::ImportError;
use super::observability::Observability;
use super::policy::recognise;
use super::tokens::Tokens;
use super::{name_of, text as s};
use crate::graph::{OWNER_DESCRIPTION, OWNER_TAG, OWNER_VALUE};
use crate::model::duration;
use crate::plan::read::Estate;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub struct View {
    pub subscription: String,
    pub group_name: String,
    pub location: String,
    pub tags: BTreeMap<String, String>,
    pub suffix: String,
    pub foundries: Vec<Foundry>,
    pub models: Vec<ModelDep>,
    pub apim: Apim,
    pub pools: Vec<Pool>,
    pub apis: Vec<Api>,
    /// Each backend matched to an account, with its URL's path on the account (`/` for the
    /// root, `/openai` as the labs write it): `backend_path::decide` reads them.
    pub backend_paths: Vec<(String, String)>,
    pub observability: Observability,
}

pub struct Foundry {
    pub name: String,
    pub location: String,
    pub disable_local_auth: bool,
    host: String,
    pub notes: Vec<String>,
}

pub struct ModelDep {
    pub name: String,
    pub model: String,
    pub publisher: String,
    pub version: String,
    pub sku: String,
    pub capacity: u64,
    pub foundries: Vec<String>,
    pub notes: Vec<String>,
}

pub struct Apim {
    pub name: String,
    pub location: String,
    pub sku: String,
    pub capacity: u64,
    pub publisher_email: String,
    pub publisher_name: String,
    pub subscriptions: Vec<Subscription>,
    pub notes: Vec<String>,
}

pub struct Subscription {
    pub name: String,
    pub display_name: String,
    pub api: Option<String>,
}

pub struct Pool {
    pub name: String,
    pub members: Vec<Member>,
    pub breaker: Option<Breaker>,
    pub cookie: Option<String>,
    pub notes: Vec<String>,
}

/// As live has it: an unset priority or weight stays unset in the spec.
pub struct Member {
    pub foundry: String,
    pub priority: Option<i64>,
    pub weight: Option<i64>,
}

#[derive(Clone, PartialEq)]
pub struct Breaker {
    pub failures: i64,
    pub interval: String,
    pub status_codes: Vec<String>,
    pub trip: String,
    pub accept_retry_after: bool,
}

pub struct Api {
    pub name: String,
    pub path: String,
    pub api_type: String,
    pub backend: Option<String>,
    pub by_model: bool,
    pub routes: Vec<(String, String)>,
    pub deny: Vec<String>,
    pub retry: (u32, Vec<u16>),
    pub subscription_required: bool,
    pub policy: Option<String>,
    /// The live operations, when they are not gw's for the type.
    pub operations: Vec<crate::model::ApiOperation>,
    /// Its token limit and token metrics.
    pub tokens: Tokens,
    pub notes: Vec<String>,
}

fn host(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default()
}

/// The suffix the names share: what follows the service name's last `-`, when every account
/// name ends with it too.
fn infer_suffix(service: &str, accounts: &[String]) -> String {
    let Some((stem, tail)) = service.rsplit_once('-') else {
        return String::new();
    };
    let ending = format!("-{}", tail.to_ascii_lowercase());
    let shared = !stem.is_empty()
        && accounts
            .iter()
            .all(|a| a.len() > ending.len() && a.to_ascii_lowercase().ends_with(&ending));
    if shared {
        tail.to_string()
    } else {
        String::new()
    }
}

fn strip(name: &str, suffix: &str) -> String {
    if suffix.is_empty() {
        return name.to_string();
    }
    name[..name.len() - suffix.len() - 1].to_string()
}

/// Resources of the estate that carry no gw ownership marker (tag or description): the
/// ones the first apply marks as gw's.
pub fn ownerless(e: &Estate) -> Vec<String> {
    let tagged = |v: &Value| s(v, &format!("/tags/{OWNER_TAG}")) == OWNER_VALUE;
    let described = |v: &Value| s(v, "/properties/description").starts_with(OWNER_DESCRIPTION);
    let mut out = Vec::new();
    for (a, deps) in e.accounts.iter().zip(&e.deployments) {
        if !tagged(a) {
            out.push(format!("account {}", name_of(a)));
        }
        out.extend(
            deps.iter()
                .filter(|d| !tagged(d))
                .map(|d| format!("deployment {}/{}", name_of(a), name_of(d))),
        );
    }
    if let Some(apim) = e.apim.as_ref().filter(|a| !tagged(a)) {
        out.push(format!("APIM service {}", name_of(apim)));
    }
    out.extend(
        e.backends
            .iter()
            .filter(|b| !described(b))
            .map(|b| format!("backend {}", name_of(b))),
    );
    out.extend(
        e.apis
            .iter()
            .filter(|b| !described(b))
            .map(|b| format!("API {}", name_of(b))),
    );
    out.extend(Observability::read(e).foreign);
    out
}

impl View {
    pub fn new(e: &Estate, rg_id: &str) -> Result<View, ImportError> {
        let group_name = rg_id.rsplit('/').next().unwrap_or_default().to_string();
        let group = e
            .group
            .as_ref()
            .ok_or_else(|| ImportError::NoGroup(group_name.clone()))?;
        let service = e
            .apim
            .as_ref()
            .ok_or_else(|| ImportError::NoService(group_name.clone()))?;
        if e.accounts.is_empty() {
            return Err(ImportError::NoAccount(group_name));
        }
        let account_names: Vec<String> =
            e.accounts.iter().map(|a| name_of(a).to_string()).collect();
        let suffix = infer_suffix(name_of(service), &account_names);
        let foundries = foundries(e, &suffix);
        let mut models = models(e, &foundries);
        // The spec's model order decides the order of gw's policy conditions.
        if let Some(order) = e
            .policies
            .iter()
            .flatten()
            .filter_map(|p| recognise(p))
            .map(|r| r.model_order)
            .find(|o| !o.is_empty())
        {
            let at = |m: &ModelDep| {
                order
                    .iter()
                    .position(|o| o.eq_ignore_ascii_case(&m.name))
                    .unwrap_or(usize::MAX)
            };
            models.sort_by_key(at);
        }

        // Tags every resource carries (gw applies the spec's tags to each).
        let mut tagged: Vec<&Value> = vec![group, service];
        tagged.extend(&e.accounts);
        tagged.extend(e.deployments.iter().flatten());
        let mut tags: BTreeMap<String, String> = group
            .get("tags")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        tags.remove(OWNER_TAG);
        tags.retain(|k, v| tagged.iter().all(|r| s(r, &format!("/tags/{k}")) == v));

        // Backends: a foundry's is matched by its URL's host; pools gw derived are its own.
        let mut backend_foundry: BTreeMap<String, String> = BTreeMap::new();
        let mut breakers: BTreeMap<String, Breaker> = BTreeMap::new();
        let mut foundries = foundries;
        let mut derived: BTreeSet<String> = BTreeSet::new();
        let mut apim_notes = Vec::new();
        let mut backend_paths = Vec::new();
        for b in e
            .backends
            .iter()
            .filter(|b| s(b, "/properties/type") != "Pool")
        {
            let name = name_of(b).to_string();
            let url = s(b, "/properties/url");
            match foundries.iter_mut().find(|f| !f.host.is_empty() && f.host == host(url)) {
                Some(f) => {
                    if let Ok(u) = url::Url::parse(url) {
                        backend_paths.push((name.clone(), u.path().to_string()));
                    }
                    if !f.name.eq_ignore_ascii_case(&name) {
                        f.notes.push(format!(
                            "APIM backend `{name}` serves this account; gw names a foundry's backend after the foundry, so it would add `{}` beside it.",
                            f.name
                        ));
                    }
                    backend_foundry.insert(name.to_lowercase(), f.name.clone());
                    if let Some(br) = breaker(b) {
                        breakers.insert(f.name.clone(), br);
                    }
                }
                None => apim_notes.push(format!(
                    "Backend `{name}` ({url}) is no account in this resource group: a spec cannot declare it, and gw leaves it alone."
                )),
            }
        }
        let mut pools = Vec::new();
        for b in e
            .backends
            .iter()
            .filter(|b| s(b, "/properties/type") == "Pool")
        {
            if s(b, "/properties/description")
                .starts_with(&format!("{OWNER_DESCRIPTION}: pool derived for model"))
            {
                derived.insert(name_of(b).to_lowercase());
                continue;
            }
            pools.push(pool(b, &backend_foundry, &breakers));
        }
        let target = |id: &str| -> Option<String> {
            let id = id.to_lowercase();
            if let Some(f) = backend_foundry.get(&id) {
                return Some(f.clone());
            }
            pools
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(&id))
                .map(|p| p.name.clone())
        };
        let observability = Observability::read(e);
        let consumption = s(service, "/sku/name").eq_ignore_ascii_case("Consumption");
        let apis = e
            .apis
            .iter()
            .zip(&e.policies)
            .zip(&e.operations)
            .map(|((a, p), ops)| {
                let mut out = api(
                    a,
                    p.as_deref(),
                    &target,
                    &derived,
                    &models,
                    &pools,
                    &backend_foundry,
                );
                keep_operations(&mut out, ops);
                let app_insights = observability.app_insights.is_some();
                let required = out.subscription_required;
                out.tokens
                    .settle(required, consumption, app_insights, &mut out.notes);
                out
            })
            .collect();

        let mut subscriptions = Vec::new();
        for sub in &e.subscriptions {
            let name = name_of(sub).to_string();
            let scope = s(sub, "/properties/scope");
            let api = match scope.rsplit_once("/apis") {
                Some((_, "")) => None,
                Some((_, rest)) if rest.starts_with('/') && !rest[1..].contains('/') => {
                    Some(rest[1..].to_string())
                }
                _ => {
                    // The built-in all-access subscription, or one scoped to a product.
                    if name != "master" {
                        apim_notes.push(format!(
                            "Subscription `{name}` is scoped to {scope}: a spec scopes keys to an API or to every API, so gw leaves it alone."
                        ));
                    }
                    continue;
                }
            };
            let display = s(sub, "/properties/displayName");
            subscriptions.push(Subscription {
                display_name: if display.is_empty() {
                    name.clone()
                } else {
                    display.to_string()
                },
                name,
                api,
            });
        }
        subscriptions.sort_by(|a, b| a.name.cmp(&b.name));

        let apim = Apim {
            name: strip(name_of(service), &suffix),
            location: s(service, "/location").to_string(),
            sku: s(service, "/sku/name").to_string(),
            capacity: service
                .pointer("/sku/capacity")
                .and_then(Value::as_u64)
                .unwrap_or(1),
            publisher_email: s(service, "/properties/publisherEmail").to_string(),
            publisher_name: s(service, "/properties/publisherName").to_string(),
            subscriptions,
            notes: apim_notes,
        };
        Ok(View {
            subscription: rg_id.split('/').nth(2).unwrap_or_default().to_string(),
            group_name,
            location: s(group, "/location").to_string(),
            tags,
            suffix,
            foundries,
            models,
            apim,
            pools,
            apis,
            backend_paths,
            observability,
        })
    }
}

fn foundries(e: &Estate, suffix: &str) -> Vec<Foundry> {
    e.accounts
        .iter()
        .map(|a| {
            let account = name_of(a);
            let mut notes = Vec::new();
            let kind = s(a, "/kind");
            if !kind.eq_ignore_ascii_case("AIServices") {
                notes.push(format!(
                    "The account is of kind {kind}; gw declares AIServices, and Azure cannot change a kind in place."
                ));
            }
            let sub = s(a, "/properties/customSubDomainName");
            if !sub.eq_ignore_ascii_case(account) {
                notes.push(format!(
                    "Its subdomain is `{sub}`; gw's is the account name `{account}`, and a subdomain cannot change."
                ));
            }
            Foundry {
                name: strip(account, suffix),
                location: s(a, "/location").to_string(),
                disable_local_auth: a
                    .pointer("/properties/disableLocalAuth")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                host: host(s(a, "/properties/endpoint")),
                notes,
            }
        })
        .collect()
}

fn models(e: &Estate, foundries: &[Foundry]) -> Vec<ModelDep> {
    let mut out: Vec<ModelDep> = Vec::new();
    for (deps, f) in e.deployments.iter().zip(foundries) {
        for d in deps {
            let m = ModelDep {
                name: name_of(d).to_string(),
                model: s(d, "/properties/model/name").to_string(),
                publisher: s(d, "/properties/model/format").to_string(),
                version: s(d, "/properties/model/version").to_string(),
                sku: s(d, "/sku/name").to_string(),
                capacity: d
                    .pointer("/sku/capacity")
                    .and_then(Value::as_u64)
                    .unwrap_or(1),
                foundries: vec![f.name.clone()],
                notes: Vec::new(),
            };
            match out.iter_mut().find(|o| o.name.eq_ignore_ascii_case(&m.name)) {
                Some(o)
                    if (&o.model, &o.publisher, &o.version, &o.sku, o.capacity)
                        == (&m.model, &m.publisher, &m.version, &m.sku, m.capacity) =>
                {
                    o.foundries.push(f.name.clone());
                }
                Some(o) => o.notes.push(format!(
                    "On {} this deployment is {} {} ({} {}, {}): a spec gives one deployment name one model, so gw would change it there.",
                    f.name, m.model, m.version, m.sku, m.capacity, m.publisher
                )),
                None => out.push(m),
            }
        }
    }
    out
}

fn breaker(b: &Value) -> Option<Breaker> {
    let rule = b.pointer("/properties/circuitBreaker/rules/0")?;
    let codes = rule
        .pointer("/failureCondition/statusCodeRanges")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .map(|r| {
                    let lo = r.get("min").and_then(Value::as_u64).unwrap_or(0);
                    let hi = r.get("max").and_then(Value::as_u64).unwrap_or(lo);
                    if lo == hi {
                        lo.to_string()
                    } else {
                        format!("{lo}-{hi}")
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    // Durations as gw writes them back, so an unchanged breaker compares equal.
    let dur = |p: &str| {
        let iso = s(rule, p);
        duration::parse(iso)
            .map(duration::to_iso)
            .unwrap_or_else(|_| iso.to_string())
    };
    Some(Breaker {
        failures: rule
            .pointer("/failureCondition/count")
            .and_then(Value::as_i64)
            .unwrap_or(1),
        interval: dur("/failureCondition/interval"),
        status_codes: codes,
        trip: dur("/tripDuration"),
        // An optional flag: absent is off.
        accept_retry_after: rule
            .get("acceptRetryAfter")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

fn pool(
    b: &Value,
    backend_foundry: &BTreeMap<String, String>,
    breakers: &BTreeMap<String, Breaker>,
) -> Pool {
    let name = name_of(b).to_string();
    let mut notes = Vec::new();
    let mut members = Vec::new();
    for svc in b
        .pointer("/properties/pool/services")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let backend = s(svc, "/id")
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_lowercase();
        match backend_foundry.get(&backend) {
            Some(f) => members.push(Member {
                foundry: f.clone(),
                priority: svc.get("priority").and_then(Value::as_i64),
                weight: svc.get("weight").and_then(Value::as_i64),
            }),
            None => notes.push(format!(
                "Member backend `{backend}` is no account in this resource group: left out."
            )),
        }
    }
    if mixes_set_and_unset(&members) {
        notes.push("Its members mix set and unset priorities or weights, which APIM does not document; gw writes 1 for the unset ones in such a pool (plan shows them).".into());
    }
    let found: Vec<Option<&Breaker>> = members.iter().map(|m| breakers.get(&m.foundry)).collect();
    let breaker = found.first().copied().flatten().cloned();
    if found.iter().any(|b| *b != breaker.as_ref()) {
        notes.push("Its members' circuit breakers differ; gw gives every member the pool's (the first member's here).".into());
    }
    if breaker.is_none() {
        notes.push("Its members have no circuit breaker; gw gives pool members its default (1 429 within 1m trips it).".into());
    }
    Pool {
        cookie: b
            .pointer("/properties/pool/sessionAffinity/sessionId/name")
            .and_then(Value::as_str)
            .map(str::to_string),
        name,
        members,
        breaker,
        notes,
    }
}

fn api(
    a: &Value,
    policy: Option<&str>,
    target: &dyn Fn(&str) -> Option<String>,
    derived: &BTreeSet<String>,
    models: &[ModelDep],
    pools: &[Pool],
    backend_foundry: &BTreeMap<String, String>,
) -> Api {
    let name = name_of(a).to_string();
    let apim_path = s(a, "/properties/path");
    let mut notes = Vec::new();
    let (api_type, path) = match apim_path.rsplit_once('/') {
        Some((p, "openai")) => ("azure-openai", p.to_string()),
        Some((p, "models")) => ("azure-ai", p.to_string()),
        _ if apim_path == "openai" => {
            notes.push(format!(
                "APIM serves this API at `/openai`; gw serves an azure-openai API at `/{{path}}/openai`, so with path `{name}` clients call `/{name}/openai/...`."
            ));
            ("azure-openai", name.clone())
        }
        _ => ("openai", apim_path.to_string()),
    };
    let mut out = Api {
        name,
        path,
        api_type: api_type.into(),
        backend: None,
        by_model: false,
        routes: Vec::new(),
        deny: Vec::new(),
        retry: (0, Vec::new()),
        subscription_required: a
            .pointer("/properties/subscriptionRequired")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        policy: policy.map(str::to_string),
        operations: Vec::new(),
        tokens: Tokens::default(),
        notes,
    };
    let Some(r) = policy.and_then(recognise) else {
        out.notes
            .push("It has no policy gw can read: requests go to the first backend below.".into());
        out.backend = pools
            .first()
            .map(|p| p.name.clone())
            .or_else(|| backend_foundry.values().next().cloned());
        return out;
    };
    out.notes.extend(
        r.unexpressed
            .iter()
            .map(|u| format!("Its policy has {u}: not expressible in a spec.")),
    );
    if let Some((count, on)) = &r.retry {
        out.retry = (*count, on.clone());
    }
    out.tokens = r.tokens.clone();
    if !r.routes.is_empty() {
        out.by_model = true;
        out.deny = r.deny.clone();
        for (m, id) in &r.routes {
            let Some(dep) = models.iter().find(|d| d.name.eq_ignore_ascii_case(m)) else {
                out.notes.push(format!("Its policy routes `{m}`, which no deployment in the group is named: gw answers it with 400."));
                continue;
            };
            if derived.contains(&id.to_lowercase()) {
                continue;
            }
            match target(id) {
                // A model on one foundry goes there by default.
                Some(t) if dep.foundries.len() == 1 && dep.foundries[0] == t => {}
                Some(t) => out.routes.push((dep.name.clone(), t)),
                None => out.notes.push(format!("Its policy sends `{m}` to `{id}`, which is neither a foundry's backend nor a pool.")),
            }
        }
        if let Some(f) = &r.fallback {
            out.notes.push(format!(
                "Its policy sends models it does not name to `{f}`; gw answers them with 400."
            ));
        }
    } else if let Some(id) = &r.backend {
        match target(id) {
            Some(t) => out.backend = Some(t),
            None => out.notes.push(format!("Its policy sends requests to `{id}`, which is neither a foundry's backend nor a pool.")),
        }
    }
    if out.backend.is_none() && !out.by_model {
        out.notes.push(
            "No routing recognised in its policy: requests go to the first backend below.".into(),
        );
        out.backend = pools
            .first()
            .map(|p| p.name.clone())
            .or_else(|| backend_foundry.values().next().cloned());
    }
    out
}

/// The API's live operations in the spec: none when they are gw's for its type, else the
/// list, else a note why the first apply replaces them.
fn keep_operations(out: &mut Api, live: &[Value]) {
    use super::operations::{Kept, kept};
    use crate::model::ApiType;
    let api_type = out.api_type.clone();
    let t = ApiType::parse(&api_type).unwrap_or(ApiType::AzureOpenAi);
    let table = || {
        crate::model::surface::operations(&t)
            .iter()
            .map(|o| o.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match kept(&t, live) {
        Kept::Gws => {}
        Kept::Listed(ops) => {
            out.operations = ops;
            out.notes.push(format!(
                "Its operations are kept as they are live (`operations:`). Remove `operations:` to let gw declare the whole {api_type} surface ({}): the Responses API and the v1 API need them.",
                table()
            ));
        }
        Kept::Replaced(why) => out.notes.push(format!(
            "Its operations cannot be kept: {why}. gw declares the operations of an {api_type} API itself ({}): the first apply imports them in place of the API's current ones.",
            table()
        )),
    }
}

/// Does a pool leave some priorities unset beside set ones, or some weights inside one
/// priority group? gw fills those (`model::pools`), so the spec it writes says so.
fn mixes_set_and_unset(members: &[Member]) -> bool {
    let mixed = |v: &[Option<i64>]| v.iter().any(Option::is_some) && v.iter().any(Option::is_none);
    let priorities: Vec<Option<i64>> = members.iter().map(|m| m.priority).collect();
    let mut groups: BTreeMap<Option<i64>, Vec<Option<i64>>> = BTreeMap::new();
    for m in members {
        groups.entry(m.priority).or_default().push(m.weight);
    }
    mixed(&priorities) || groups.values().any(|w| mixed(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_that_mixes_set_and_unset_values_is_noticed() {
        let pool = |v: &[(Option<i64>, Option<i64>)]| {
            let members: Vec<Member> = v
                .iter()
                .map(|&(priority, weight)| Member {
                    foundry: "f".into(),
                    priority,
                    weight,
                })
                .collect();
            mixes_set_and_unset(&members)
        };
        assert!(!pool(&[(None, None), (None, None)]));
        // The load-balancing lab: a lone priority-1 member without weight, two weighted at 2.
        assert!(!pool(&[
            (Some(1), None),
            (Some(2), Some(50)),
            (Some(2), Some(50))
        ]));
        assert!(pool(&[(Some(1), None), (None, None)]));
        assert!(pool(&[(Some(2), Some(50)), (Some(2), None)]));
    }

    #[test]
    fn the_suffix_is_what_every_name_ends_with() {
        let accounts = vec!["foundry1-x7k2p".to_string(), "foundry2-x7k2p".to_string()];
        assert_eq!(infer_suffix("apim-lab-x7k2p", &accounts), "x7k2p");
        assert_eq!(infer_suffix("apim-lab", &accounts), "");
        assert_eq!(strip("foundry1-x7k2p", "x7k2p"), "foundry1");
    }
}
