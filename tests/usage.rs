//! `gw usage` against the emulator's Log Analytics query endpoint, answering as Log
//! Analytics does: a table, a workspace where nothing is ingested yet, a failed query.

use crate::support::azure::Azure;
use crate::support::emulator::LogAnswer;
use crate::support::fake_az::FAKE_SUBSCRIPTION;
use serde_json::{Value, json};

const EXAMPLE: &str = "token-governance";

fn workspace() -> String {
    format!(
        "/subscriptions/{FAKE_SUBSCRIPTION}/resourceGroups/lab-token-governance/providers/Microsoft.OperationalInsights/workspaces/law-gateway"
    )
}

fn table(rows: Vec<Vec<Value>>) -> LogAnswer {
    let columns = [
        ("ApimSubscriptionId", "string"),
        ("ModelName", "string"),
        ("Region", "string"),
        ("Requests", "long"),
        ("PromptTokens", "long"),
        ("CompletionTokens", "long"),
        ("TotalTokens", "long"),
    ];
    LogAnswer::Table {
        columns: columns
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect(),
        rows,
    }
}

#[test]
fn usage_per_subscription_model_and_region_in_text_json_and_html() {
    let az = Azure::deployed(EXAMPLE);
    az.arm.set_log_answer(
        &workspace(),
        table(vec![
            vec![
                json!("subscription1"),
                json!("gpt-4.1-mini"),
                json!("East US"),
                json!(12),
                json!(1200),
                json!(300),
                json!(1500),
            ],
            vec![
                json!("subscription2"),
                json!("<script>x</script>"),
                json!("Sweden Central"),
                json!(2),
                json!(80),
                json!(20),
                json!(100),
            ],
        ]),
    );
    let run = az.run(&["usage", "--since", "24h"], EXAMPLE);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("SUBSCRIPTION"), "{}", run.stdout);
    assert!(
        lines[1].contains("subscription1")
            && lines[1].contains("gpt-4.1-mini")
            && lines[1].contains("East US")
            && lines[1].ends_with("1500"),
        "{}",
        run.stdout
    );
    assert!(
        lines[3].starts_with("total") && lines[3].ends_with("1600"),
        "{}",
        run.stdout
    );

    // The query went to the workspace through ARM, joined for the subscription, over 24h.
    let posted = az
        .arm
        .journal()
        .into_iter()
        .find(|e| e.method == "POST" && e.path().ends_with("/workspaces/law-gateway/api/query"))
        .expect("a query was posted to the workspace");
    let body = posted.request_body.unwrap();
    let q = body["query"].as_str().unwrap();
    assert!(q.starts_with("ApiManagementGatewayLlmLog"), "{q}");
    assert!(
        q.contains("join kind=leftouter (ApiManagementGatewayLogs"),
        "{q}"
    );
    assert!(
        q.contains("by ApimSubscriptionId, ModelName, Region"),
        "{q}"
    );
    assert_eq!(body["timespan"], "PT86400S");

    let json_run = az.run(&["usage", "--since", "1h", "-o", "json"], EXAMPLE);
    assert_eq!(json_run.code, 0, "{}", json_run.stderr);
    let v: Value = serde_json::from_str(&json_run.stdout).unwrap();
    assert_eq!(v["ingested"], true);
    assert_eq!(v["rows"][0]["subscription"], "subscription1");
    assert_eq!(v["rows"][1]["total_tokens"], 100);
    assert_eq!(v["workspace_id"], workspace());

    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("usage.html");
    let html_run = az
        .gw()
        .args(["usage", "--report"])
        .args([&report])
        .args(["-f"])
        .args([crate::support::cli::example(EXAMPLE)])
        .run();
    assert_eq!(html_run.code, 0, "{}", html_run.stderr);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<svg") && html.contains("<rect"), "a chart");
    assert!(!html.contains("<script>"), "log values are escaped");
    assert!(html.contains("&lt;script&gt;"), "{html}");
}

#[test]
fn usage_says_when_nothing_is_ingested_when_nothing_was_used_and_when_the_query_fails() {
    let az = Azure::deployed(EXAMPLE);
    // A new workspace: the LLM log table does not exist yet.
    let run = az.run(&["usage", "-o", "json"], EXAMPLE);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("No LLM logs in the workspace yet"),
        "{}",
        run.stderr
    );
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["ingested"], false);
    assert_eq!(v["rows"], json!([]));

    az.arm.set_log_answer(&workspace(), table(vec![]));
    let run = az.run(&["usage", "--since", "30m"], EXAMPLE);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("No token usage in the last 30m"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");

    az.arm.set_log_answer(
        &workspace(),
        LogAnswer::Error {
            status: 403,
            code: "InsufficientAccessError".into(),
            inner: "AuthorizationFailed".into(),
            message: "The provided credentials have insufficient access to perform the requested operation".into(),
        },
    );
    let run = az.run(&["usage"], EXAMPLE);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains("error: the usage query failed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("InsufficientAccessError"),
        "{}",
        run.stderr
    );
}

#[test]
fn usage_refuses_a_spec_without_llm_logs_and_a_bad_window() {
    let az = Azure::new();
    let run = az.run(&["usage"], "load-balancing");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("LLM logs are not enabled"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: add `observability:"),
        "{}",
        run.stderr
    );
    let run = az.run(&["usage", "--since", "yesterday"], EXAMPLE);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("--since `yesterday` is not a duration"),
        "{}",
        run.stderr
    );
    assert!(az.arm.journal().is_empty(), "nothing was asked of Azure");
}
