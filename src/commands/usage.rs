//! `gw usage`: token usage per APIM subscription, model and region over a window, from the
//! LLM log tables (`../design/ai-gateway.md` §5) through ARM's Log Analytics query endpoint,
//! with the credential every other command uses. Also what `gw apply` prints about where
//! those logs go.

use super::connect;
use super::usage_report::{Row, text_table};
use crate::arm::{ArmClient, ArmError};
use crate::cli::{Global, Output, UsageArgs};
use crate::graph::{Graph, Kind};
use crate::plan::LiveState;
use serde_json::{Value, json};
use std::process::ExitCode;

/// ARM's route to the Log Analytics query API (`{workspace id}/api/query`).
const QUERY_API_VERSION: &str = "2017-01-01-preview";

/// The Log Analytics workspace id and the Application Insights name of a graph, when it has
/// them: `gw apply` prints them beside the gateway URL.
pub fn observability_outputs(graph: &Graph, live: &LiveState) -> (Option<String>, Option<String>) {
    let app_insights = graph
        .resources
        .iter()
        .find(|r| r.kind == Kind::Component)
        .map(|r| r.name.clone());
    (workspace_id(graph, live), app_insights)
}

/// The workspace the gateway's diagnostic setting sends logs to: the one gw creates, or the
/// id the spec names.
fn workspace_id(graph: &Graph, live: &LiveState) -> Option<String> {
    graph
        .resources
        .iter()
        .find(|r| r.kind == Kind::DiagnosticSetting)
        .and_then(|r| {
            crate::plan::resolve_refs(graph, live, &r.body)
                .pointer("/properties/workspaceId")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
}

/// Usage per APIM subscription, model and region. The LLM log has no subscription column:
/// it joins the gateway log on `CorrelationId`. Continuation rows of chunked messages have no
/// deployment name and are skipped, as the labs do.
pub fn query(since_secs: u64) -> String {
    format!(
        "ApiManagementGatewayLlmLog
| where TimeGenerated > ago({since_secs}s)
| where DeploymentName != \"\"
| join kind=leftouter (ApiManagementGatewayLogs | distinct CorrelationId, ApimSubscriptionId) on CorrelationId
| summarize Requests = count(), PromptTokens = sum(PromptTokens), CompletionTokens = sum(CompletionTokens), TotalTokens = sum(TotalTokens) by ApimSubscriptionId, ModelName, Region
| order by TotalTokens desc"
    )
}

/// The rows of a query answer (`tables[0]`), reading columns by name.
pub fn rows(answer: &Value) -> Result<Vec<Row>, String> {
    let table = answer
        .pointer("/tables/0")
        .ok_or("the answer has no table")?;
    let columns: Vec<&str> = table["columns"]
        .as_array()
        .ok_or("the table has no columns")?
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default())
        .collect();
    let at = |name: &str| {
        columns
            .iter()
            .position(|c| *c == name)
            .ok_or_else(|| format!("the answer has no column `{name}`"))
    };
    let idx = [
        at("ApimSubscriptionId")?,
        at("ModelName")?,
        at("Region")?,
        at("Requests")?,
        at("PromptTokens")?,
        at("CompletionTokens")?,
        at("TotalTokens")?,
    ];
    let text = |v: &Value| v.as_str().map_or_else(String::new, str::to_string);
    // Log Analytics types sums as long: numbers, or strings for big ones.
    let num = |v: &Value| {
        v.as_u64()
            .or_else(|| v.as_f64().map(|f| f.max(0.0) as u64))
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(0)
    };
    Ok(table["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .map(|r| {
            let v = |i: usize| r.get(idx[i]).unwrap_or(&Value::Null);
            Row {
                subscription: text(v(0)),
                model: text(v(1)),
                region: text(v(2)),
                requests: num(v(3)),
                prompt_tokens: num(v(4)),
                completion_tokens: num(v(5)),
                total_tokens: num(v(6)),
            }
        })
        .collect())
}

/// Whether a query failed because the LLM log table does not exist yet: nothing ingested.
fn not_ingested(e: &ArmError) -> bool {
    let ArmError::Api(a) = e else { return false };
    a.status == Some(400)
        && std::iter::once((a.code.as_str(), a.message.as_str()))
            .chain(a.details.iter().map(|(c, m)| (c.as_str(), m.as_str())))
            .any(|(c, m)| c == "SemanticError" && m.contains("ApiManagementGatewayLlmLog"))
}

pub fn run(g: &Global, args: &UsageArgs) -> anyhow::Result<ExitCode> {
    let since = match crate::model::duration::parse(&args.since) {
        Ok(s) if s > 0 => s,
        _ => {
            eprintln!("error: --since `{}` is not a duration", args.since);
            eprintln!("hint: e.g. `--since 30m`, `--since 24h`, `--since 7d`");
            return Ok(ExitCode::FAILURE);
        }
    };
    let source = super::read_source(g)?;
    let client = connect::client(g)?;
    let rt = connect::runtime()?;
    rt.block_on(async {
        let model = match connect::load_online(g, &source).await {
            Ok(m) => m,
            Err(code) => return Ok(code),
        };
        let graph = crate::graph::build(&model);
        let workspace = workspace_id(&graph, &LiveState::default());
        let (Some(workspace), Some(_)) = (workspace, model.observability.llm_logs.as_ref()) else {
            eprintln!("error: LLM logs are not enabled in {}", source.name);
            eprintln!(
                "hint: add `observability: {{ log_analytics: {{ name: ... }}, llm_logs: {{ enabled: true }} }}` and run `gw apply`"
            );
            return Ok(ExitCode::FAILURE);
        };
        usage(g, args, &client, &workspace, since).await
    })
}

async fn usage(
    g: &Global,
    args: &UsageArgs,
    client: &ArmClient,
    workspace: &str,
    since: u64,
) -> anyhow::Result<ExitCode> {
    let body = json!({ "query": query(since), "timespan": format!("PT{since}S") });
    let answer = client
        .post_read(&format!("{workspace}/api/query"), QUERY_API_VERSION, &body)
        .await;
    let (rows, ingested) = match answer {
        Ok(v) => match rows(&v) {
            Ok(r) => (r, true),
            Err(e) => {
                eprintln!("error: Log Analytics answered something gw cannot read: {e}");
                return Ok(ExitCode::FAILURE);
            }
        },
        Err(e) if not_ingested(&e) => (Vec::new(), false),
        Err(e) if e.status() == Some(404) => {
            eprintln!("error: the workspace {workspace} does not exist");
            eprintln!("hint: run `gw apply` first");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => {
            connect::print_arm_error("the usage query failed", &e);
            return Ok(ExitCode::FAILURE);
        }
    };
    if !ingested {
        eprintln!(
            "No LLM logs in the workspace yet: Azure Monitor ingests them a few minutes after the first requests through the gateway. Try again later."
        );
    } else if rows.is_empty() {
        eprintln!("No token usage in the last {}.", args.since);
    }
    if let Some(path) = &args.report {
        std::fs::write(
            path,
            super::usage_report::html(&rows, &args.since, ingested),
        )?;
        eprintln!("wrote {}", path.display());
    }
    match g.output {
        Output::Json => super::print_stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&json!({
                "since": args.since,
                "workspace_id": workspace,
                "ingested": ingested,
                "rows": rows,
            }))?
        ))?,
        // Markdown is refused before any command but plan runs; a table is the text view.
        Output::Text | Output::Markdown if !rows.is_empty() => {
            super::print_stdout(&text_table(&rows))?
        }
        Output::Text | Output::Markdown => {}
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_by_column_name_and_the_table_sums_them() {
        let answer = json!({ "tables": [{ "name": "PrimaryResult",
            "columns": [
                {"name": "ApimSubscriptionId", "type": "string"}, {"name": "ModelName", "type": "string"},
                {"name": "Region", "type": "string"}, {"name": "Requests", "type": "long"},
                {"name": "PromptTokens", "type": "long"}, {"name": "CompletionTokens", "type": "long"},
                {"name": "TotalTokens", "type": "long"}],
            "rows": [["team-a", "gpt-4.1-mini", "East US", 3, 30, 12, 42], ["", "gpt-4.1", "East US", 1, "5", 5, 10]] }]});
        let r = rows(&answer).unwrap();
        assert_eq!(r[1].prompt_tokens, 5);
        let t = text_table(&r);
        assert!(t.contains("(none)"), "{t}");
        let last = t.lines().last().unwrap();
        assert!(last.starts_with("total") && last.ends_with("52"), "{t}");
        assert!(rows(&json!({"tables": [{"columns": [], "rows": []}]})).is_err());
    }
}
