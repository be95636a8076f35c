//! The `observability:` block of an imported spec: which Log Analytics workspace the APIM
//! service's logs go to (by its diagnostic setting), which Application Insights component its
//! logger sends metrics to, and whether its `azuremonitor` diagnostic logs LLM messages: what
//! `graph/observability.rs` writes, read backwards. Whatever else is there (another logger, a
//! second workspace) is a note next to the block.

use super::yaml::Yaml;
use super::{name_of, text as s};
use crate::graph::{DIAGNOSTIC_SETTING, OWNER_DESCRIPTION, OWNER_TAG, OWNER_VALUE};
use crate::model::{
    DEFAULT_LLM_LOG_BYTES, MAX_LLM_LOG_BYTES, holdable, is_component_name, is_workspace_id,
    is_workspace_name,
};
use crate::plan::read::Estate;
use serde_json::Value;

/// The loggers gw writes (`graph/observability.rs`), by name.
const INSIGHTS_LOGGER: &str = "appinsights";
const MONITOR_LOGGER: &str = "azuremonitor";
/// The spec's retention when `retention_days` is left out, and what it accepts.
const DEFAULT_RETENTION: i64 = 30;
const RETENTION: std::ops::RangeInclusive<i64> = 30..=730;

#[derive(Debug, PartialEq)]
pub enum Workspace {
    /// In the group: gw manages it under this name.
    Named {
        name: String,
        retention_days: Option<i64>,
    },
    /// Elsewhere: the spec names it by id.
    Id(String),
}

#[derive(Debug, PartialEq)]
pub struct LlmLogs {
    pub prompts: bool,
    pub completions: bool,
    /// None: the spec's default.
    pub max_bytes: Option<i64>,
}

#[derive(Debug, Default)]
pub struct Observability {
    pub workspace: Option<Workspace>,
    pub app_insights: Option<String>,
    pub llm_logs: Option<LlmLogs>,
    pub notes: Vec<String>,
    /// What the spec takes over that carries no gw marker (for `ownerless`).
    pub foreign: Vec<String>,
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The one whose name is gw's, else the first by name.
fn pick<'a>(items: &[&'a Value], gws: &str) -> Option<&'a Value> {
    items
        .iter()
        .find(|v| same(name_of(v), gws))
        .or_else(|| items.iter().min_by_key(|v| name_of(v).to_ascii_lowercase()))
        .copied()
}

fn by_id<'a>(items: &'a [Value], id: &str) -> Option<&'a Value> {
    items
        .iter()
        .find(|v| !id.is_empty() && same(s(v, "/id"), id))
}

impl Observability {
    pub fn read(e: &Estate) -> Observability {
        let mut o = Observability::default();
        let group_location = e.group.as_ref().map_or("", |g| s(g, "/location"));
        let tagged = |v: &Value| s(v, &format!("/tags/{OWNER_TAG}")) == OWNER_VALUE;

        // Where the service's logs go: gw's diagnostic setting, else another one.
        let settings: Vec<&Value> = e
            .diagnostic_settings
            .iter()
            .filter(|d| !s(d, "/properties/workspaceId").is_empty())
            .collect();
        let setting = pick(&settings, DIAGNOSTIC_SETTING);
        for d in &e.diagnostic_settings {
            let name = name_of(d);
            if same(name, DIAGNOSTIC_SETTING) {
                continue;
            }
            let to = s(d, "/properties/workspaceId");
            o.notes.push(if to.is_empty() {
                format!("The service's diagnostic setting `{name}` sends to no Log Analytics workspace: left alone.")
            } else {
                format!("The service's diagnostic setting `{name}` (to {to}) is not gw's: left alone. gw adds its own, `{DIAGNOSTIC_SETTING}`; Azure Monitor refuses two settings that send one category to the same workspace, so remove that one's GatewayLogs and GatewayLlmLogs first.")
            });
        }

        // The component the metrics go to: gw's logger, else another Application Insights one.
        let insights: Vec<&Value> = e
            .loggers
            .iter()
            .filter(|l| same(s(l, "/properties/loggerType"), "applicationInsights"))
            .collect();
        let logger = pick(&insights, INSIGHTS_LOGGER);
        for l in &e.loggers {
            let (name, kind) = (name_of(l), s(l, "/properties/loggerType"));
            let gws = (same(name, INSIGHTS_LOGGER) && same(kind, "applicationInsights"))
                || (same(name, MONITOR_LOGGER) && same(kind, "azureMonitor"));
            if !gws {
                o.notes.push(format!(
                    "Logger `{name}` ({kind}) is not one gw writes: left alone."
                ));
            }
        }
        let mut component = None;
        if let Some(l) = logger {
            let target = s(l, "/properties/resourceId");
            match by_id(&e.components, target) {
                Some(c) if is_component_name(name_of(c)) && holdable(name_of(c)) => {
                    component = Some(c)
                }
                Some(c) => o.notes.push(format!(
                    "Application Insights `{}` has a name a spec cannot hold: left out.",
                    name_of(c)
                )),
                None if target.is_empty() => o.notes.push(format!(
                    "Logger `{}` names no Application Insights component (an instrumentation key only): left out.",
                    name_of(l)
                )),
                None => o.notes.push(format!(
                    "Logger `{}` sends to Application Insights {target}, outside this resource group: a spec's `app_insights` is a component gw creates in the group, so it is left out.",
                    name_of(l)
                )),
            }
        }

        // The workspace: the diagnostic setting's, else the component's.
        let from_setting = setting.map(|d| s(d, "/properties/workspaceId"));
        let from_component = component
            .map(|c| s(c, "/properties/WorkspaceResourceId"))
            .filter(|w| !w.is_empty());
        if let (Some(a), Some(b), Some(c)) = (from_setting, from_component, component)
            && !same(a, b)
        {
            o.notes.push(format!(
                "Application Insights `{}` keeps its data in {b}, and the service's logs go to {a}: a spec has one workspace for both, so gw would move the component to {a}.",
                name_of(c)
            ));
        }
        let workspace_id = from_setting.or(from_component);
        let mut workspace_body = None;
        if let Some(id) = workspace_id {
            match by_id(&e.workspaces, id) {
                Some(w) if is_workspace_name(name_of(w)) => {
                    workspace_body = Some(w);
                    o.workspace = Some(Workspace::Named {
                        name: name_of(w).to_string(),
                        retention_days: retention(w, &mut o.notes),
                    });
                }
                Some(w) => o.notes.push(format!(
                    "Workspace `{}` has a name a spec cannot hold: left out.",
                    name_of(w)
                )),
                None if is_workspace_id(id) && holdable(id) => {
                    o.workspace = Some(Workspace::Id(id.to_string()))
                }
                None => o.notes.push(format!(
                    "The service's logs go to {id}, which is not a workspace id a spec can hold: left out."
                )),
            }
        }
        for w in &e.workspaces {
            if workspace_body.is_none_or(|ours| !same(s(ours, "/id"), s(w, "/id"))) {
                o.notes.push(format!(
                    "Workspace `{}` in the group is not where the service's logs go: not in the spec.",
                    name_of(w)
                ));
            }
        }
        for c in &e.components {
            if component.is_none_or(|ours| !same(s(ours, "/id"), s(c, "/id"))) {
                o.notes.push(format!(
                    "Application Insights `{}` in the group is not where the service's metrics go: not in the spec.",
                    name_of(c)
                ));
            }
        }
        if component.is_some() && o.workspace.is_none() {
            o.notes.push("Application Insights needs a workspace in a spec, and none was found: `app_insights` is left out.".into());
            component = None;
        }
        o.app_insights = component.map(|c| name_of(c).to_string());
        for (what, body) in [
            ("workspace", workspace_body),
            ("Application Insights", component),
        ] {
            let Some(b) = body else { continue };
            let location = s(b, "/location");
            if !location.is_empty() && !same_region(location, group_location) {
                o.notes.push(format!(
                    "The {what} `{}` is in {location}; gw's is in the group's region ({group_location}), and a region cannot change: plan would replace it.",
                    name_of(b)
                ));
            }
            if !tagged(b) {
                o.foreign.push(format!("{what} {}", name_of(b)));
            }
        }

        o.llm_logs = llm_logs(e, &mut o.notes);
        if o.llm_logs.is_some() && o.workspace.is_none() {
            o.notes.push("The service logs LLM messages (diagnostic `azuremonitor`), but no diagnostic setting sends them to a workspace a spec can name: `llm_logs` is left out.".into());
            o.llm_logs = None;
        }
        // gw's loggers carry its marker in their description.
        let described = |l: &Value| s(l, "/properties/description").starts_with(OWNER_DESCRIPTION);
        for (on, name) in [
            (o.app_insights.is_some(), INSIGHTS_LOGGER),
            (o.llm_logs.is_some(), MONITOR_LOGGER),
        ] {
            if let Some(l) = e.loggers.iter().find(|l| same(name_of(l), name))
                && on
                && !described(l)
            {
                o.foreign.push(format!("logger {}", name_of(l)));
            }
        }
        o
    }

    /// The block (or, with nothing a spec can say, only the notes).
    pub fn write(&self, y: &mut Yaml) {
        let nothing = self.workspace.is_none() && self.app_insights.is_none();
        if nothing && self.notes.is_empty() {
            return;
        }
        y.blank();
        if nothing {
            for note in &self.notes {
                y.comment(0, &format!("Observability: {note}"));
            }
            return;
        }
        y.open(0, "observability");
        match &self.workspace {
            Some(Workspace::Named {
                name,
                retention_days,
            }) => {
                y.open(2, "log_analytics");
                y.field(4, "name", name);
                if let Some(r) = retention_days {
                    y.raw(4, "retention_days", r);
                }
            }
            Some(Workspace::Id(id)) => {
                y.open(2, "log_analytics");
                y.field(4, "id", id);
            }
            None => {}
        }
        if let Some(name) = &self.app_insights {
            y.open(2, "app_insights");
            y.field(4, "name", name);
        }
        if let Some(l) = &self.llm_logs {
            y.open(2, "llm_logs");
            y.raw(4, "enabled", true);
            if !l.prompts {
                y.raw(4, "prompts", false);
            }
            if !l.completions {
                y.raw(4, "completions", false);
            }
            if let Some(b) = l.max_bytes {
                y.raw(4, "max_bytes", b);
            }
        }
        for note in &self.notes {
            y.comment(2, note);
        }
    }
}

/// Regions compare as Azure names them: `East US` is `eastus`.
fn same_region(a: &str, b: &str) -> bool {
    let norm = |r: &str| r.replace(' ', "").to_ascii_lowercase();
    norm(a) == norm(b)
}

/// The workspace's retention for the spec: None when it is the default, or one a spec
/// cannot hold (then a note says gw would change it).
fn retention(w: &Value, notes: &mut Vec<String>) -> Option<i64> {
    let days = w
        .pointer("/properties/retentionInDays")
        .and_then(Value::as_i64)?;
    if days == DEFAULT_RETENTION {
        return None;
    }
    if !RETENTION.contains(&days) {
        notes.push(format!(
            "Workspace `{}` keeps data {days} days; a spec holds {} to {}, so gw would set {DEFAULT_RETENTION}.",
            name_of(w),
            RETENTION.start(),
            RETENTION.end()
        ));
        return None;
    }
    Some(days)
}

/// `largeLanguageModel` of the All-APIs `azuremonitor` diagnostic, as gw writes it: `logs`
/// enabled, `requests` when prompts are logged, `responses` when completions are, one size.
fn llm_logs(e: &Estate, notes: &mut Vec<String>) -> Option<LlmLogs> {
    let d = e
        .diagnostics
        .iter()
        .find(|d| same(name_of(d), MONITOR_LOGGER))?;
    let lm = d.pointer("/properties/largeLanguageModel")?;
    if !same(s(lm, "/logs"), "enabled") {
        return None;
    }
    let size = |part: &str| {
        lm.get(part)
            .filter(|m| m.is_object())
            .map(|m| m.get("maxSizeInBytes").and_then(Value::as_i64))
    };
    let (requests, responses) = (size("requests"), size("responses"));
    let sizes: Vec<i64> = [requests, responses]
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    if sizes.windows(2).any(|w| w[0] != w[1]) {
        notes.push(format!(
            "Prompts are logged up to {} bytes and completions up to {}; a spec has one size for both, so gw would log both up to {}.",
            sizes[0], sizes[1], sizes[0]
        ));
    }
    let max_bytes = match sizes.first() {
        Some(&b) if !(1..=MAX_LLM_LOG_BYTES).contains(&b) => {
            notes.push(format!(
                "LLM messages are logged up to {b} bytes; a spec holds 1 to {MAX_LLM_LOG_BYTES}, so gw would log {DEFAULT_LLM_LOG_BYTES}."
            ));
            None
        }
        Some(&b) if b != i64::from(DEFAULT_LLM_LOG_BYTES) => Some(b),
        _ => None,
    };
    Some(LlmLogs {
        prompts: requests.is_some(),
        completions: responses.is_some(),
        max_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RG: &str = "/subscriptions/s/resourceGroups/rg";

    fn component(name: &str, workspace: &str) -> Value {
        json!({ "id": format!("{RG}/providers/Microsoft.Insights/components/{name}"), "name": name,
                "location": "eastus", "properties": { "WorkspaceResourceId": workspace } })
    }

    fn workspace(name: &str, days: Value) -> Value {
        json!({ "id": format!("{RG}/providers/Microsoft.OperationalInsights/workspaces/{name}"), "name": name,
                "location": "eastus", "properties": { "retentionInDays": days } })
    }

    fn estate() -> Estate {
        Estate {
            group: Some(json!({ "location": "eastus" })),
            ..Estate::default()
        }
    }

    #[test]
    fn without_a_diagnostic_setting_the_workspace_is_the_components() {
        let law = workspace("law-a", json!(90));
        let mut e = estate();
        e.workspaces = vec![law.clone()];
        e.components = vec![component("appi-a", law["id"].as_str().unwrap())];
        e.loggers = vec![json!({ "name": "appinsights-logger", "properties": {
            "loggerType": "applicationInsights", "resourceId": e.components[0]["id"] } })];
        let o = Observability::read(&e);
        assert_eq!(
            o.workspace,
            Some(Workspace::Named {
                name: "law-a".into(),
                retention_days: Some(90)
            })
        );
        assert_eq!(o.app_insights.as_deref(), Some("appi-a"));
        assert_eq!(o.llm_logs, None);
        // The lab's logger is not gw's; gw adds its own beside it.
        assert_eq!(
            o.notes,
            vec![
                "Logger `appinsights-logger` (applicationInsights) is not one gw writes: left alone."
            ]
        );
        // Neither carries gw's tag: adopting them marks them.
        assert_eq!(
            o.foreign,
            vec!["workspace law-a", "Application Insights appi-a"]
        );
    }

    #[test]
    fn llm_logs_read_as_gw_writes_them_and_one_size_is_kept() {
        let mut e = estate();
        e.diagnostic_settings = vec![json!({ "name": "gw-gateway-logs",
            "properties": { "workspaceId": format!("{RG}/providers/Microsoft.OperationalInsights/workspaces/law") } })];
        e.diagnostics = vec![
            json!({ "name": "azuremonitor", "properties": { "largeLanguageModel": {
            "logs": "enabled",
            "requests": { "messages": "all", "maxSizeInBytes": 1024 },
            "responses": { "messages": "all", "maxSizeInBytes": 2048 } } } }),
        ];
        let o = Observability::read(&e);
        // The workspace is not in the group's list: named by id.
        assert!(
            matches!(o.workspace, Some(Workspace::Id(_))),
            "{:?}",
            o.workspace
        );
        assert_eq!(
            o.llm_logs,
            Some(LlmLogs {
                prompts: true,
                completions: true,
                max_bytes: Some(1024)
            })
        );
        assert!(
            o.notes[0]
                .starts_with("Prompts are logged up to 1024 bytes and completions up to 2048"),
            "{:?}",
            o.notes
        );
        // Logging off, or no workspace to send it to: no llm_logs.
        e.diagnostics[0]["properties"]["largeLanguageModel"]["logs"] = json!("disabled");
        assert_eq!(Observability::read(&e).llm_logs, None);
        e.diagnostics[0]["properties"]["largeLanguageModel"]["logs"] = json!("enabled");
        e.diagnostic_settings.clear();
        let o = Observability::read(&e);
        assert_eq!(o.llm_logs, None);
        assert!(
            o.notes.iter().any(|n| n.contains("`llm_logs` is left out")),
            "{:?}",
            o.notes
        );
    }

    #[test]
    fn odd_shapes_from_azure_are_left_out_not_a_panic() {
        let mut e = estate();
        e.workspaces = vec![workspace("law-b", json!("ninety")), json!(42)];
        e.components = vec![json!({ "name": ["x"] })];
        e.loggers = vec![
            json!({ "properties": { "loggerType": "applicationInsights", "resourceId": 7 } }),
            json!(null),
        ];
        e.diagnostic_settings =
            vec![json!({ "name": "s", "properties": { "workspaceId": "not an id" } })];
        e.diagnostics =
            vec![json!({ "name": "azuremonitor", "properties": { "largeLanguageModel": "on" } })];
        let o = Observability::read(&e);
        assert_eq!(o.workspace, None);
        assert_eq!(o.app_insights, None);
        assert_eq!(o.llm_logs, None);
        assert!(
            o.notes
                .iter()
                .any(|n| n.contains("not a workspace id a spec can hold")),
            "{:?}",
            o.notes
        );
        let mut y = Yaml::default();
        o.write(&mut y);
        assert!(
            y.finish()
                .lines()
                .all(|l| l.is_empty() || l.starts_with("# Observability: "))
        );
    }
}
