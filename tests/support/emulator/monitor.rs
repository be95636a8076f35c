//! Azure Monitor's rule for diagnostic settings: a data sink (here a Log Analytics
//! workspace) receives a resource's category from one setting only. A PUT of a setting that
//! would send a category some other setting on the same resource already sends to the same
//! workspace is refused with 409 `Conflict` "Data sink '…' is already used in diagnostic
//! setting '…' for category '…'" (terraform-azurerm-avm-ptn-aiml-landing-zone #19, verbatim,
//! with a bare `{"code","message"}` body; bicep-registry-modules #3407; azurerm #21161).
//!
//! Whether Azure expands a `categoryGroup` is not published: here a group covers the
//! categories it contains (`allLogs` every log category, `audit` the audit ones), and two
//! settings naming the same group overlap on it.

use serde_json::{Value, json};
use std::collections::BTreeMap;

use super::ids;
use super::store::{Reply, State};

pub const DIAGNOSTIC_SETTINGS: &str = "microsoft.insights/diagnosticsettings";

/// APIM's log categories (the only resource gw puts a setting on).
const APIM_LOG_CATEGORIES: [&str; 4] = [
    "GatewayLogs",
    "GatewayLlmLogs",
    "WebSocketConnectionLogs",
    "DeveloperPortalAuditLogs",
];

/// What a setting sends: lower-cased category (or group) -> its spelling in the setting.
type Sent = BTreeMap<String, String>;

fn enabled(entries: Option<&Value>) -> impl Iterator<Item = &Value> {
    entries
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.get("enabled") != Some(&json!(false)))
}

/// Every category a setting's body sends, a group expanded into its categories (and kept
/// itself, so two settings with the same group overlap whatever the resource's categories).
fn sent(body: &Value) -> Sent {
    let props = body.get("properties").unwrap_or(&Value::Null);
    let mut out = Sent::new();
    let mut add = |name: &str| {
        out.entry(name.to_ascii_lowercase())
            .or_insert_with(|| name.to_string());
    };
    for e in enabled(props.get("logs")) {
        if let Some(c) = e.get("category").and_then(Value::as_str) {
            add(c);
        }
        if let Some(g) = e.get("categoryGroup").and_then(Value::as_str) {
            let all = g.eq_ignore_ascii_case("allLogs");
            if all {
                add("audit");
            }
            let audit = g.eq_ignore_ascii_case("audit");
            APIM_LOG_CATEGORIES
                .iter()
                .filter(|c| all || (audit && c.contains("Audit")))
                .for_each(|c| add(c));
            add(g);
        }
    }
    for e in enabled(props.get("metrics")) {
        if let Some(c) = e.get("category").and_then(Value::as_str) {
            add(c);
        }
    }
    out
}

fn workspace(body: &Value) -> Option<&str> {
    body.pointer("/properties/workspaceId")
        .and_then(Value::as_str)
        .filter(|w| !w.is_empty())
}

impl State {
    /// 409 `Conflict` when another setting on the same resource sends one of this setting's
    /// categories to the same workspace; a re-PUT of the same setting is its own business.
    pub(super) fn data_sink_refusal(&self, path: &str, desired: &Value) -> Option<Reply> {
        let sink = workspace(desired)?;
        let own = path.to_ascii_lowercase();
        let (scope, _) = own.rsplit_once('/')?;
        let prefix = format!("{scope}/");
        let mine = sent(desired);
        self.resources
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, s)| **k != own && s.ty == DIAGNOSTIC_SETTINGS)
            .filter(|(_, s)| workspace(&s.body).is_some_and(|w| w.eq_ignore_ascii_case(sink)))
            .find_map(|(_, s)| {
                let theirs = sent(&s.body);
                let category = mine.iter().find(|(k, _)| theirs.contains_key(*k))?.1;
                Some(Reply::json(
                    409,
                    json!({
                        "code": "Conflict",
                        "message": format!(
                            "Data sink '{sink}' is already used in diagnostic setting '{}' for category '{category}'. Data sinks can't be reused in different settings on the same category for the same resource.",
                            ids::name(&s.id)
                        ),
                    }),
                ))
            })
    }
}
