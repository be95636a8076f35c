//! Azure Monitor's "data sink already used" rule: a Log Analytics workspace receives a
//! resource's category from one diagnostic setting only. Writing gw's setting on the APIM
//! service while another setting there sends one of its categories (or a category group
//! holding it) to the same workspace fails with 409 `Conflict` "Data sink '…' is already
//! used in diagnostic setting '…' for category '…'" (docs/azure-behaviours.md). An estate
//! where an AI-Gateway lab already turned on gateway logging is exactly that, so the other
//! settings are read and compared before apply writes anything.

use super::{Answers, At, Input, items, listing, unavailable};
use crate::graph::refs::{self, Ref};
use crate::plan::types::{Finding, Severity};
use serde_json::{Value, json};

/// gw's diagnostic setting in the graph.
pub(super) const ADDRESS: &str = "observability.diagnostic_setting";

/// The `enabled` entries of a setting's `logs` or `metrics`.
fn enabled<'a>(props: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    items(props, key).filter(|e| e.get("enabled") != Some(&Value::Bool(false)))
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Whether a log entry of another setting covers `category`: by name, or by a category group
/// holding it (`allLogs` holds every log category, `audit` the audit ones; how Azure expands
/// groups for this check is unconfirmed).
fn covers(entry: &Value, category: &str) -> Option<Via> {
    if text(entry, "category").is_some_and(|c| c.eq_ignore_ascii_case(category)) {
        return Some(Via::Category);
    }
    let group = text(entry, "categoryGroup")?;
    let holds = group.eq_ignore_ascii_case("allLogs")
        || (group.eq_ignore_ascii_case("audit") && category.to_ascii_lowercase().contains("audit"));
    holds.then(|| Via::Group(group.to_string()))
}

/// How another setting comes to send a category.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Via {
    Category,
    Group(String),
}

/// gw's categories another setting also sends to the workspace, with how.
fn overlap(ours: &Value, theirs: &Value) -> Vec<(String, Via)> {
    let mut out = Vec::new();
    for e in enabled(ours, "logs") {
        let Some(c) = text(e, "category") else {
            continue;
        };
        if let Some(via) = enabled(theirs, "logs").find_map(|t| covers(t, c)) {
            out.push((c.to_string(), via));
        }
    }
    for e in enabled(ours, "metrics") {
        let Some(c) = text(e, "category") else {
            continue;
        };
        let sent = enabled(theirs, "metrics")
            .any(|t| text(t, "category").is_some_and(|m| m.eq_ignore_ascii_case(c)));
        if sent {
            out.push((c.to_string(), Via::Category));
        }
    }
    out
}

pub(super) fn check(input: &Input<'_>, answers: &Answers) -> Vec<Finding> {
    let (Some(ours), Some(workspace)) = (
        input.graph.get(ADDRESS),
        input.model.observability.workspace.as_ref(),
    ) else {
        return Vec::new();
    };
    // Azure checks the rule when the setting is written: nothing to fear when gw's setting
    // stays as it is.
    if !input
        .changes
        .iter()
        .any(|c| c.address == ADDRESS && c.action.writes())
    {
        return Vec::new();
    }
    let settings = match &answers.diagnostic_settings {
        None => return Vec::new(),
        Some(Err(e)) => {
            return vec![unavailable(
                input.file,
                "the APIM service's other diagnostic settings",
                e,
                None,
            )];
        }
        Some(Ok(settings)) => settings,
    };
    let body = refs::resolve(&ours.body, &|r| match r {
        Ref::Id { of } => input.graph.get(of).map(|t| json!(t.id)),
        Ref::Output { .. } => None,
    });
    let props = &body["properties"];
    let Some(sink) = text(props, "workspaceId") else {
        return Vec::new();
    };
    let at = At {
        file: input.file,
        loc: workspace.loc,
        path: "observability.log_analytics".into(),
        region: None,
    };
    settings
        .iter()
        .filter_map(|s| {
            let name = text(s, "name").filter(|n| !n.eq_ignore_ascii_case(&ours.name))?;
            let theirs = &s["properties"];
            text(theirs, "workspaceId").filter(|w| w.eq_ignore_ascii_case(sink))?;
            let found = overlap(props, theirs);
            (!found.is_empty()).then(|| conflict(&at, &ours.name, name, sink, &found))
        })
        .collect()
}

fn conflict(at: &At<'_>, ours: &str, theirs: &str, sink: &str, found: &[(String, Via)]) -> Finding {
    let names: Vec<String> = found.iter().map(|(c, _)| format!("`{c}`")).collect();
    let categories = listing(&names);
    let plural = if found.len() == 1 {
        "category"
    } else {
        "categories"
    };
    let groups: Vec<String> = found
        .iter()
        .filter_map(|(_, v)| match v {
            Via::Group(g) => Some(format!("`{g}`")),
            Via::Category => None,
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let through = if groups.is_empty() {
        String::new()
    } else {
        format!(" (through its category group {})", listing(&groups))
    };
    let remove = if groups.is_empty() {
        format!("remove {plural} {categories} from diagnostic setting `{theirs}`")
    } else {
        format!(
            "in diagnostic setting `{theirs}`, replace category group {} by categories without {categories}",
            listing(&groups)
        )
    };
    at.finding(
        Severity::Error,
        "diagnostic_sink_in_use",
        format!(
            "diagnostic setting `{theirs}` on the APIM service already sends {plural} {categories}{through} to workspace {sink}; Azure lets only one setting on a resource send a category to a workspace, and would refuse gw's `{ours}` with 409 Conflict (data sink already used)"
        ),
        Some(format!(
            "{remove}, or send it to another workspace, or delete `{theirs}`; gw's own setting {ours} would send the same {plural} to the same workspace"
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(logs: Value, metrics: bool) -> Value {
        json!({ "logs": logs, "metrics": [{ "category": "AllMetrics", "enabled": metrics }] })
    }

    fn gw() -> Value {
        props(
            json!([{ "category": "GatewayLogs", "enabled": true }, { "category": "GatewayLlmLogs", "enabled": true }]),
            true,
        )
    }

    fn names(found: Vec<(String, Via)>) -> Vec<String> {
        found.into_iter().map(|(c, _)| c).collect()
    }

    #[test]
    fn categories_groups_and_metrics_overlap_and_disabled_ones_do_not() {
        let same = props(
            json!([{ "category": "gatewaylogs", "enabled": true }]),
            false,
        );
        assert_eq!(names(overlap(&gw(), &same)), vec!["GatewayLogs"]);
        let all = props(
            json!([{ "categoryGroup": "allLogs", "enabled": true }]),
            true,
        );
        assert_eq!(
            overlap(&gw(), &all),
            vec![
                ("GatewayLogs".into(), Via::Group("allLogs".into())),
                ("GatewayLlmLogs".into(), Via::Group("allLogs".into())),
                ("AllMetrics".into(), Via::Category),
            ]
        );
        // `audit` holds no gateway category; a disabled entry sends nothing.
        let audit = props(
            json!([{ "categoryGroup": "audit", "enabled": true }, { "category": "GatewayLogs", "enabled": false }]),
            false,
        );
        assert!(overlap(&gw(), &audit).is_empty());
        let ours = props(
            json!([{ "category": "DeveloperPortalAuditLogs", "enabled": true }]),
            false,
        );
        assert_eq!(
            names(overlap(&ours, &audit)),
            vec!["DeveloperPortalAuditLogs"]
        );
    }
}
