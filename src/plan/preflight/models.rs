//! Model availability, deprecation and quota, per placement (a model on a foundry): what
//! Azure answers with `DeploymentModelNotSupported`, `InvalidResourceProperties` (SKU),
//! `ServiceModelDeprecated` and `InsufficientQuota` (catalogue §5), found from the region's
//! model list and usages instead.

use super::{Answers, At, Input, listing, unavailable};
use crate::model::{Deployment, Foundry};
use crate::plan::types::{Finding, Severity};
use serde_json::Value;
use std::collections::BTreeMap;

/// A retirement this close is worth a warning.
const RETIRING_DAYS: i64 = 90;

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The entries of a region's list that are this model (name and format).
fn entries_of<'a>(models: &'a [Value], d: &Deployment) -> Vec<&'a Value> {
    models
        .iter()
        .filter(|m| {
            same(text(m, "/model/name"), &d.model) && same(text(m, "/model/format"), &d.publisher)
        })
        .collect()
}

/// The date part of an ISO 8601 date-time (`2025-06-30T09:00:00+09:00` -> 2025-06-30).
fn date_of(s: &str) -> Option<time::Date> {
    let mut parts = s.get(..10)?.split('-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()
}

/// One model entry of a spec, placed on the foundries of one region.
struct Placement<'a> {
    d: &'a Deployment,
    foundries: Vec<&'a Foundry>,
    region: &'a str,
}

/// What one placement on one foundry adds to a quota: the capacity it asks for beyond what
/// its live deployment (same model and SKU) already holds.
struct Demand<'a> {
    d: &'a Deployment,
    foundry: &'a str,
    more: u32,
}

pub(super) fn check(input: &Input<'_>, answers: &Answers) -> Vec<Finding> {
    let mut out = Vec::new();
    for (region, a) in &answers.regions {
        if let Err(e) = &a.models {
            out.push(unavailable(
                input.file,
                &format!("the models offered in {region}"),
                e,
                Some(region),
            ));
        }
        if let Err(e) = &a.usages {
            out.push(unavailable(
                input.file,
                &format!("the quota in {region}"),
                e,
                Some(region),
            ));
        }
    }
    // (region, usage name) -> demands, in spec order.
    let mut quota: BTreeMap<(String, String), Vec<Demand>> = BTreeMap::new();
    for p in placements(input) {
        let Some(Ok(models)) = answers.regions.get(p.region).map(|a| a.models.as_ref()) else {
            continue;
        };
        // Placements whose live deployment already runs this model, version and SKU ask
        // Azure for nothing new but capacity.
        let new: Vec<&Foundry> = p
            .foundries
            .iter()
            .copied()
            .filter(|f| !live_same(input, p.d, f))
            .collect();
        let usage = match offered(input, answers, &p, models, &new) {
            Ok(usage) => usage,
            Err(f) => {
                out.push(*f);
                continue;
            }
        };
        let warn = (!new.is_empty())
            .then(|| retiring(input, &p, models))
            .flatten();
        out.extend(warn);
        for f in &p.foundries {
            let held = live_capacity(input, p.d, f);
            if p.d.capacity > held {
                quota
                    .entry((p.region.to_string(), usage.clone()))
                    .or_default()
                    .push(Demand {
                        d: p.d,
                        foundry: &f.name,
                        more: p.d.capacity - held,
                    });
            }
        }
    }
    for ((region, usage), demands) in &quota {
        out.extend(over_quota(input, answers, region, usage, demands));
    }
    out
}

/// Each model entry grouped by the regions of its foundries.
fn placements<'a>(input: &Input<'a>) -> Vec<Placement<'a>> {
    let mut out = Vec::new();
    for d in &input.model.deployments {
        let mut by_region: BTreeMap<&str, Vec<&Foundry>> = BTreeMap::new();
        for f in d.foundries.iter().filter_map(|n| input.model.foundry(n)) {
            by_region.entry(f.location.as_str()).or_default().push(f);
        }
        out.extend(by_region.into_iter().map(|(region, foundries)| Placement {
            d,
            foundries,
            region,
        }));
    }
    out
}

fn live_deployment<'a>(input: &Input<'a>, d: &Deployment, f: &Foundry) -> Option<&'a Value> {
    let r = input
        .graph
        .get(&format!("foundries.{}.deployments.{}", f.name, d.name))?;
    input.live.get(&r.id).map(|l| &l.body)
}

fn live_same(input: &Input<'_>, d: &Deployment, f: &Foundry) -> bool {
    live_deployment(input, d, f).is_some_and(|b| {
        same(text(b, "/properties/model/name"), &d.model)
            && text(b, "/properties/model/version") == d.version
            && same(text(b, "/sku/name"), &d.sku)
    })
}

/// The capacity a live deployment of the same model and SKU holds already (counted in the
/// region's usage, so only the rest is new demand).
fn live_capacity(input: &Input<'_>, d: &Deployment, f: &Foundry) -> u32 {
    live_deployment(input, d, f)
        .filter(|b| {
            same(text(b, "/properties/model/name"), &d.model) && same(text(b, "/sku/name"), &d.sku)
        })
        .and_then(|b| b.pointer("/sku/capacity").and_then(Value::as_u64))
        .map_or(0, |c| u32::try_from(c).unwrap_or(u32::MAX))
}

/// The other regions read whose list offers what `offers` accepts.
fn regions_offering(
    answers: &Answers,
    except: &str,
    offers: impl Fn(&[Value]) -> bool,
) -> Vec<String> {
    answers
        .regions
        .iter()
        .filter(|(r, _)| r.as_str() != except)
        .filter(|(_, a)| a.models.as_ref().is_ok_and(|m| offers(m)))
        .map(|(r, _)| r.clone())
        .collect()
}

fn foundry_names(p: &Placement<'_>) -> String {
    listing(
        &p.foundries
            .iter()
            .map(|f| f.name.clone())
            .collect::<Vec<_>>(),
    )
}

/// The usage (quota) name of the placement's model, version and SKU if the region offers
/// them, else the finding that says what it offers instead. Placements already live as
/// asked are not questioned.
fn offered(
    input: &Input<'_>,
    answers: &Answers,
    p: &Placement<'_>,
    models: &[Value],
    new: &[&Foundry],
) -> Result<String, Box<Finding>> {
    let d = p.d;
    let i = d.at.index;
    let at = |loc, field: &str| At {
        file: input.file,
        loc,
        path: format!("models[{i}].{field}"),
        region: Some(p.region),
    };
    let fallback = format!("{}.{}.{}", d.publisher, d.sku, d.model);
    let entries = entries_of(models, d);
    let version = entries
        .iter()
        .find(|m| text(m, "/model/version") == d.version);
    if new.is_empty() {
        let usage = version
            .and_then(|m| sku_of(m, &d.sku))
            .map(|s| text(s, "/usageName").to_string())
            .filter(|u| !u.is_empty());
        return Ok(usage.unwrap_or(fallback));
    }
    let on = foundry_names(p);
    if entries.is_empty() {
        let elsewhere = regions_offering(answers, p.region, |m| !entries_of(m, d).is_empty());
        return Err(Box::new(at(d.at.model, "model").finding(
            Severity::Error,
            "model_not_offered",
            format!(
                "model `{}` (format {}) is not offered in {} (foundry {on})",
                d.model, d.publisher, p.region
            ),
            Some(if elsewhere.is_empty() {
                "none of the regions this spec uses offers it; `az cognitiveservices model list --location REGION` shows what a region offers".to_string()
            } else {
                format!("offered in: {}", listing(&elsewhere))
            }),
        )));
    }
    let Some(m) = version else {
        let versions = versions_of(&entries, |_| true);
        let elsewhere = regions_offering(answers, p.region, |m| {
            entries_of(m, d)
                .iter()
                .any(|e| text(e, "/model/version") == d.version)
        });
        let hint = and_elsewhere(
            format!("versions offered there: {}", listing(&versions)),
            &format!("version {} is offered in", d.version),
            &elsewhere,
        );
        return Err(Box::new(at(d.at.version, "version").finding(
            Severity::Error,
            "version_not_offered",
            format!(
                "{} version `{}` is not offered in {} (foundry {on})",
                d.model, d.version, p.region
            ),
            Some(hint),
        )));
    };
    if let Some(since) = deprecated(m, input.today) {
        let current = versions_of(&entries, |e| deprecated(e, input.today).is_none());
        return Err(Box::new(at(d.at.version, "version").finding(
            Severity::Error,
            "model_deprecated",
            format!(
                "{} version {} has been deprecated{since} in {}: Azure refuses new deployments of it (ServiceModelDeprecated)",
                d.model, d.version, p.region
            ),
            Some(format!("versions offered there that are not deprecated: {}", listing(&current))),
        )));
    }
    let Some(sku) = sku_of(m, &d.sku) else {
        let skus: Vec<String> = m
            .pointer("/model/skus")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|s| text(s, "/name").to_string())
            .collect();
        let elsewhere = regions_offering(answers, p.region, |list| {
            entries_of(list, d)
                .iter()
                .any(|e| text(e, "/model/version") == d.version && sku_of(e, &d.sku).is_some())
        });
        let hint = and_elsewhere(
            format!("SKUs offered for it there: {}", listing(&skus)),
            &format!("{} is offered for it in", d.sku),
            &elsewhere,
        );
        return Err(Box::new(at(d.at.sku, "sku").finding(
            Severity::Error,
            "sku_not_offered",
            format!(
                "the SKU `{}` for model {} {} is not supported in {} (foundry {on})",
                d.sku, d.model, d.version, p.region
            ),
            Some(hint),
        )));
    };
    let usage = text(sku, "/usageName");
    Ok(if usage.is_empty() {
        fallback
    } else {
        usage.to_string()
    })
}

/// The versions among `entries` that `keep` accepts, sorted, once each.
fn versions_of(entries: &[&Value], keep: impl Fn(&Value) -> bool) -> Vec<String> {
    let mut out: Vec<String> = entries
        .iter()
        .filter(|e| keep(e))
        .map(|e| text(e, "/model/version").to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `hint`, and where else (of the regions read) `what` is offered.
fn and_elsewhere(hint: String, what: &str, elsewhere: &[String]) -> String {
    if elsewhere.is_empty() {
        hint
    } else {
        format!("{hint}; {what}: {}", listing(elsewhere))
    }
}

fn sku_of<'a>(m: &'a Value, sku: &str) -> Option<&'a Value> {
    m.pointer("/model/skus")?
        .as_array()?
        .iter()
        .find(|s| same(text(s, "/name"), sku))
}

/// ` since DATE` (or `` when Azure gives no date) if the version may no longer be deployed.
fn deprecated(m: &Value, today: time::Date) -> Option<String> {
    let status = text(m, "/model/lifecycleStatus");
    let date = date_of(text(m, "/model/deprecation/inference"));
    let past = date.is_some_and(|d| d <= today);
    if past || same(status, "Deprecated") || same(status, "Deprecating") {
        Some(date.map_or_else(String::new, |d| format!(" since {d}")))
    } else {
        None
    }
}

/// A warning when the version or its SKU retires within 90 days.
fn retiring(input: &Input<'_>, p: &Placement<'_>, models: &[Value]) -> Option<Finding> {
    let d = p.d;
    let m = entries_of(models, d)
        .into_iter()
        .find(|m| text(m, "/model/version") == d.version)?;
    let dates = [
        date_of(text(m, "/model/deprecation/inference")),
        sku_of(m, &d.sku).and_then(|s| date_of(text(s, "/deprecationDate"))),
    ];
    let soonest = dates
        .into_iter()
        .flatten()
        .filter(|x| *x > input.today)
        .min()?;
    let days = (soonest - input.today).whole_days();
    (days <= RETIRING_DAYS).then(|| {
        At {
            file: input.file,
            loc: d.at.version,
            path: format!("models[{}].version", d.at.index),
            region: Some(p.region),
        }
        .finding(
            Severity::Warning,
            "model_retiring",
            format!(
                "{} version {} ({}) retires in {} on {soonest}, in {days} days",
                d.model, d.version, d.sku, p.region
            ),
            Some(
                "plan the move to a newer version; deployments of a retired version stop answering"
                    .into(),
            ),
        )
    })
}

/// An error when the new capacity a region's usage must hold exceeds what is free.
fn over_quota(
    input: &Input<'_>,
    answers: &Answers,
    region: &str,
    usage: &str,
    demands: &[Demand<'_>],
) -> Option<Finding> {
    let usages = answers.regions.get(region)?.usages.as_ref().ok()?;
    let free_in = |list: &[Value]| {
        list.iter()
            .find(|u| same(text(u, "/name/value"), usage))
            .map(|u| {
                let n = |k: &str| u.get(k).and_then(Value::as_f64).unwrap_or(0.0);
                (n("limit"), n("currentValue"))
            })
    };
    let (limit, used) = free_in(usages)?;
    let free = (limit - used).max(0.0);
    let asked: u32 = demands.iter().map(|x| x.more).sum();
    if f64::from(asked) <= free {
        return None;
    }
    let first = demands.first()?;
    let parts: Vec<String> = demands
        .iter()
        .map(|x| format!("{} on {}: {}", x.d.name, x.foundry, x.more))
        .collect();
    let others: Vec<String> = answers
        .regions
        .iter()
        .filter(|(r, _)| r.as_str() != region)
        .filter_map(|(r, a)| {
            let (l, u) = free_in(a.usages.as_ref().ok()?)?;
            (l - u >= f64::from(asked)).then(|| format!("{r} ({} free)", l - u))
        })
        .collect();
    let mut hint = format!("lower the capacities to fit {free} in total");
    if !others.is_empty() {
        hint.push_str(&format!(
            ", move some to a region with room ({})",
            listing(&others)
        ));
    }
    hint.push_str(", or request more quota (https://aka.ms/oai/quotaincrease)");
    Some(
        At {
            file: input.file,
            loc: first.d.at.capacity,
            path: format!("models[{}].capacity", first.d.at.index),
            region: Some(region),
        }
        .finding(
            Severity::Error,
            "quota_exceeded",
            format!(
                "{usage} in {region}: the spec asks for {asked} more ({}) but {free} is free (limit {limit}, {used} in use); Azure would answer InsufficientQuota",
                parts.join(", ")
            ),
            Some(hint),
        ),
    )
}
