//! Observability resources (`../design/ai-gateway.md` §4, §5): the Log Analytics workspace,
//! the Application Insights component and the APIM identity's right to publish metrics to
//! it, APIM's loggers and All-APIs diagnostics, and the service's diagnostic setting that
//! sends gateway and LLM logs to dedicated tables.

use super::OWNER_DESCRIPTION;
use super::builder::{Builder, role_assignment_name, tags};
use super::kind::Kind;
use super::refs::{id_of, output_of};
use crate::model::Model;
use serde_json::{Value, json};

/// Monitoring Metrics Publisher: lets the APIM identity send token metrics to App Insights.
pub const MONITORING_METRICS_PUBLISHER: &str = "3913510d-42f4-4e42-8a64-420c390055eb";
/// The diagnostic setting gw puts on the APIM service.
pub const DIAGNOSTIC_SETTING: &str = "gw-gateway-logs";

const WORKSPACE: &str = "observability.log_analytics";
const COMPONENT: &str = "observability.app_insights";
const COMPONENT_ROLE: &str = "role_assignments.app_insights";
const MONITOR_LOGGER: &str = "apim.loggers.azuremonitor";
const INSIGHTS_LOGGER: &str = "apim.loggers.appinsights";

pub(super) fn build(b: &mut Builder, model: &Model, rg_id: &str, apim_id: &str) {
    let o = &model.observability;
    let location = &model.resource_group.location;
    // The workspace: an id written in the spec, or the one gw creates.
    let workspace: Option<(Value, Vec<String>)> = o.workspace.as_ref().map(|w| match &w.name {
        Some(name) => {
            b.add(
                WORKSPACE.into(),
                Kind::Workspace,
                format!("{rg_id}/providers/Microsoft.OperationalInsights/workspaces/{name}"),
                json!({
                    "location": location,
                    "tags": tags(model),
                    "properties": { "retentionInDays": w.retention_days, "sku": { "name": "PerGB2018" } },
                }),
                vec!["resource_group".into()],
            );
            (id_of(WORKSPACE), vec![WORKSPACE.to_string()])
        }
        None => (json!(w.id.clone().unwrap_or_default()), Vec::new()),
    });

    if let (Some(name), Some((ws, ws_deps))) = (&o.app_insights, &workspace) {
        let id = format!("{rg_id}/providers/Microsoft.Insights/components/{name}");
        let mut deps = vec!["resource_group".to_string()];
        deps.extend(ws_deps.iter().cloned());
        b.add(
            COMPONENT.into(),
            Kind::Component,
            id.clone(),
            json!({
                "location": location,
                "kind": "web",
                "tags": tags(model),
                "properties": {
                    "Application_Type": "web",
                    "WorkspaceResourceId": ws,
                    // Token metrics carry dimensions only with this on (not in the published
                    // type: Bicep warns BCP037, as in the labs).
                    "CustomMetricsOptedInType": "WithDimensions",
                },
            }),
            deps,
        );
        let role = role_assignment_name(&id, apim_id, MONITORING_METRICS_PUBLISHER);
        b.add(
            COMPONENT_ROLE.into(),
            Kind::RoleAssignment,
            format!("{id}/providers/Microsoft.Authorization/roleAssignments/{role}"),
            json!({ "properties": {
                "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{MONITORING_METRICS_PUBLISHER}", model.subscription),
                "principalId": output_of("apim", "identity.principalId", ""),
                "principalType": "ServicePrincipal",
            }}),
            vec![COMPONENT.into(), "apim".into()],
        );
        b.add(
            INSIGHTS_LOGGER.into(),
            Kind::Logger,
            format!("{apim_id}/loggers/appinsights"),
            json!({ "properties": {
                "loggerType": "applicationInsights",
                "description": format!("{OWNER_DESCRIPTION}: token metrics to Application Insights {name}"),
                "isBuffered": false,
                "resourceId": id_of(COMPONENT),
                // The connection string with the APIM identity, as Learn recommends: no
                // instrumentation key to keep secret in APIM.
                "credentials": {
                    "connectionString": output_of(COMPONENT, "properties.ConnectionString", ""),
                    "identityClientId": "SystemAssigned",
                },
            }}),
            vec!["apim".into(), COMPONENT.into(), COMPONENT_ROLE.into()],
        );
        let mut props = diagnostic_base(INSIGHTS_LOGGER);
        props["httpCorrelationProtocol"] = json!("W3C");
        props["metrics"] = json!(true);
        b.add(
            "apim.diagnostics.applicationinsights".into(),
            Kind::Diagnostic,
            format!("{apim_id}/diagnostics/applicationinsights"),
            json!({ "properties": props }),
            vec!["apim".into(), INSIGHTS_LOGGER.into()],
        );
    }

    if let (Some(llm), Some(_)) = (&o.llm_logs, &workspace) {
        b.add(
            MONITOR_LOGGER.into(),
            Kind::Logger,
            format!("{apim_id}/loggers/azuremonitor"),
            json!({ "properties": {
                "loggerType": "azureMonitor",
                "description": format!("{OWNER_DESCRIPTION}: gateway and LLM logs to Azure Monitor"),
                "isBuffered": false,
            }}),
            vec!["apim".into()],
        );
        let messages =
            |on: bool| on.then(|| json!({ "messages": "all", "maxSizeInBytes": llm.max_bytes }));
        let mut lm = json!({ "logs": "enabled" });
        if let Some(m) = messages(llm.prompts) {
            lm["requests"] = m;
        }
        if let Some(m) = messages(llm.completions) {
            lm["responses"] = m;
        }
        let mut props = diagnostic_base(MONITOR_LOGGER);
        props["largeLanguageModel"] = lm;
        b.add(
            "apim.diagnostics.azuremonitor".into(),
            Kind::Diagnostic,
            format!("{apim_id}/diagnostics/azuremonitor"),
            json!({ "properties": props }),
            vec!["apim".into(), MONITOR_LOGGER.into()],
        );
    }

    if let Some((ws, ws_deps)) = &workspace {
        let mut deps = vec!["apim".to_string()];
        deps.extend(ws_deps.iter().cloned());
        b.add(
            "observability.diagnostic_setting".into(),
            Kind::DiagnosticSetting,
            format!(
                "{apim_id}/providers/Microsoft.Insights/diagnosticSettings/{DIAGNOSTIC_SETTING}"
            ),
            json!({ "properties": {
                "workspaceId": ws,
                // Resource-specific tables (ApiManagementGatewayLogs, ApiManagementGatewayLlmLog),
                // which `gw usage` joins, rather than AzureDiagnostics.
                "logAnalyticsDestinationType": "Dedicated",
                "logs": [
                    { "category": "GatewayLogs", "enabled": true },
                    { "category": "GatewayLlmLogs", "enabled": true },
                ],
                "metrics": [{ "category": "AllMetrics", "enabled": true }],
            }}),
            deps,
        );
    }
}

/// What both diagnostics share. Bodies are never logged (0 bytes): streamed answers must not
/// be buffered, and prompts go to the LLM log only when the spec asks.
fn diagnostic_base(logger: &str) -> Value {
    let message = json!({ "headers": [], "body": { "bytes": 0 } });
    let pipeline = json!({ "request": message, "response": message });
    json!({
        "loggerId": id_of(logger),
        "alwaysLog": "allErrors",
        "verbosity": "information",
        "logClientIp": true,
        "sampling": { "samplingType": "fixed", "percentage": 100 },
        "frontend": pipeline,
        "backend": pipeline,
    })
}
