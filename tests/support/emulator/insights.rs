//! Azure Monitor in the emulator: what Application Insights components and Log Analytics
//! workspaces show that Azure assigns, and the Log Analytics query endpoint ARM offers
//! (`POST {workspace id}/api/query`), answering what a test scripted for the workspace.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

use super::Emulator;
use super::server::lock;
use super::store::Reply;

pub const COMPONENTS: &str = "microsoft.insights/components";
pub const WORKSPACES: &str = "microsoft.operationalinsights/workspaces";

/// Values Azure assigns: a component's instrumentation key, connection string and app id; a
/// workspace's customer id. Stable per resource id, as Azure keeps them.
pub fn decorate(ty: &str, id: &str, props: &mut Map<String, Value>) {
    let guid = |what: &str| {
        uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            format!("{}#{what}", id.to_ascii_lowercase()).as_bytes(),
        )
        .to_string()
    };
    match ty {
        COMPONENTS => {
            let ikey = guid("ikey");
            props.insert("InstrumentationKey".into(), json!(ikey));
            props.insert(
                "ConnectionString".into(),
                json!(format!(
                    "InstrumentationKey={ikey};IngestionEndpoint=https://eastus-8.in.applicationinsights.azure.com/"
                )),
            );
            props.insert("AppId".into(), json!(guid("app")));
        }
        WORKSPACES => {
            props.insert("customerId".into(), json!(guid("customer")));
        }
        _ => {}
    }
}

/// The status a create answers: the specs of components and diagnostic settings define 200
/// only.
pub fn created_status(ty: &str) -> u16 {
    match ty {
        COMPONENTS | "microsoft.insights/diagnosticsettings" => 200,
        _ => 201,
    }
}

/// Types whose `properties` have no `provisioningState` in the specs gw uses: APIM loggers
/// and diagnostics, diagnostic settings.
pub fn no_provisioning_state(ty: &str) -> bool {
    matches!(
        ty,
        "microsoft.apimanagement/service/loggers"
            | "microsoft.apimanagement/service/diagnostics"
            | "microsoft.insights/diagnosticsettings"
    )
}

/// What the query endpoint answers for a workspace.
#[derive(Clone, Debug)]
pub enum LogAnswer {
    /// One `PrimaryResult` table.
    Table {
        columns: Vec<(String, String)>,
        rows: Vec<Vec<Value>>,
    },
    /// An error as Log Analytics words it.
    Error {
        status: u16,
        code: String,
        inner: String,
        message: String,
    },
}

#[derive(Default)]
pub struct Logs {
    answers: BTreeMap<String, LogAnswer>,
}

impl Emulator {
    /// What queries of the workspace `id` get from now on.
    pub fn set_log_answer(&self, id: &str, answer: LogAnswer) {
        lock(&self.shared)
            .logs
            .answers
            .insert(id.to_ascii_lowercase(), answer);
    }
}

/// `POST …/workspaces/{name}/api/query`: the workspace must exist; with nothing scripted it
/// has no tables yet, as a new workspace before any ingestion: the query fails to resolve.
pub fn query(shared: &mut super::server::Shared, method: &str, path: &str) -> Option<Reply> {
    let ws = path.strip_suffix("/api/query")?;
    if method != "POST"
        || !ws
            .to_ascii_lowercase()
            .contains("/microsoft.operationalinsights/workspaces/")
    {
        return None;
    }
    if shared.state.get(ws).is_none() {
        return Some(Reply::error(
            404,
            "ResourceNotFound",
            &format!("The Resource '{ws}' was not found."),
        ));
    }
    let answer = shared.logs.answers.get(&ws.to_ascii_lowercase()).cloned().unwrap_or(
        LogAnswer::Error {
            status: 400,
            code: "BadArgumentError".into(),
            inner: "SemanticError".into(),
            message: "'where' operator: Failed to resolve table or column expression named 'ApiManagementGatewayLlmLog'".into(),
        },
    );
    Some(match answer {
        LogAnswer::Table { columns, rows } => Reply::json(
            200,
            json!({ "tables": [{
                "name": "PrimaryResult",
                "columns": columns.iter().map(|(n, t)| json!({ "name": n, "type": t })).collect::<Vec<_>>(),
                "rows": rows,
            }]}),
        ),
        LogAnswer::Error {
            status,
            code,
            inner,
            message,
        } => Reply::json(
            status,
            json!({ "error": {
                "message": "The request had some invalid properties",
                "code": code,
                "correlationId": "00000000-0000-0000-0000-000000000000",
                "innererror": { "code": inner, "message": message },
            }}),
        ),
    })
}
