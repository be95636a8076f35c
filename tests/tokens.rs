//! Token limits, token metrics and LLM logs: what the token-governance example renders, what
//! apply sends and prints, and that plan sees drift in what gw declares for them.

use crate::support::azure::Azure;
use crate::support::cli::{example, gw};
use serde_json::Value;

const EXAMPLE: &str = "token-governance";

fn rendered() -> (String, Value) {
    let dir = tempfile::tempdir().unwrap();
    let run = gw()
        .args([
            "render",
            "--subscription",
            "11111111-2222-3333-4444-555555555555",
            "--out",
        ])
        .args([dir.path()])
        .args(["-f"])
        .args([example(EXAMPLE)])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let xml = std::fs::read_to_string(dir.path().join("policies/inference.xml")).unwrap();
    let arm = serde_json::from_str(&std::fs::read_to_string(dir.path().join("main.json")).unwrap())
        .unwrap();
    (xml, arm)
}

#[test]
fn the_policy_limits_tokens_per_subscription_and_emits_metrics_in_inbound() {
    let (xml, _) = rendered();
    let inbound = &xml[xml.find("<inbound>").unwrap()..xml.find("</inbound>").unwrap()];
    assert!(inbound.contains(r#"<llm-token-limit counter-key="@("inference:" + context.Subscription?.Id)" tokens-per-minute="10000" token-quota="2000000" token-quota-period="Monthly" estimate-prompt-tokens="true" remaining-tokens-header-name="x-ratelimit-remaining-tokens" remaining-quota-tokens-header-name="x-quota-remaining-tokens" />"#), "{inbound}");
    let metric = &inbound[inbound.find("<llm-emit-token-metric").unwrap()..];
    for name in ["API ID", "Subscription ID", "Model", "Location"] {
        assert!(
            metric.contains(&format!("<dimension name=\"{name}\"")),
            "{name}: {metric}"
        );
    }
    assert_eq!(metric.matches("<dimension ").count(), 4);
    // After routing: the limit counts only requests that go to a backend.
    assert!(
        inbound.find("set-backend-service").unwrap() < inbound.find("llm-token-limit").unwrap()
    );
}

#[test]
fn the_template_declares_logs_metrics_and_the_publisher_role_scoped_where_azure_wants_them() {
    let (_, arm) = rendered();
    let resources = arm["resources"].as_array().unwrap();
    let of = |t: &str| {
        resources
            .iter()
            .filter(|r| r["type"] == t)
            .collect::<Vec<_>>()
    };
    let setting = of("Microsoft.Insights/diagnosticSettings")[0];
    assert!(
        setting["scope"]
            .as_str()
            .unwrap()
            .starts_with("Microsoft.ApiManagement/service/apim-tokens-"),
        "{setting}"
    );
    assert_eq!(
        setting["properties"]["logAnalyticsDestinationType"],
        "Dedicated"
    );
    let categories: Vec<&str> = setting["properties"]["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["category"].as_str().unwrap())
        .collect();
    assert_eq!(categories, ["GatewayLogs", "GatewayLlmLogs"]);
    let diags = of("Microsoft.ApiManagement/service/diagnostics");
    let llm = diags
        .iter()
        .find(|d| d["name"].as_str().unwrap().ends_with("/azuremonitor"))
        .unwrap();
    assert_eq!(
        llm["apiVersion"], "2024-06-01-preview",
        "largeLanguageModel needs the preview"
    );
    assert_eq!(
        llm["properties"]["largeLanguageModel"]["requests"]["maxSizeInBytes"],
        32768
    );
    let ai = diags
        .iter()
        .find(|d| {
            d["name"]
                .as_str()
                .unwrap()
                .ends_with("/applicationinsights")
        })
        .unwrap();
    assert_eq!(ai["properties"]["metrics"], true);
    for d in &diags {
        for side in ["frontend", "backend"] {
            for m in ["request", "response"] {
                assert_eq!(
                    d["properties"][side][m]["body"]["bytes"], 0,
                    "bodies are never logged: streams stay unbuffered"
                );
            }
        }
    }
    let component_role = of("Microsoft.Authorization/roleAssignments")
        .into_iter()
        .find(|r| r["scope"] == "Microsoft.Insights/components/appi-gateway")
        .expect("a role on the component");
    assert!(
        component_role["properties"]["roleDefinitionId"]
            .as_str()
            .unwrap()
            .contains("3913510d-42f4-4e42-8a64-420c390055eb")
    );
    let component = of("Microsoft.Insights/components")[0];
    assert_eq!(
        component["properties"]["CustomMetricsOptedInType"],
        "WithDimensions"
    );
}

#[test]
fn apply_prints_the_workspace_and_app_insights_and_plan_sees_llm_logs_turned_off() {
    let az = Azure::new();
    let run = az.run(&["apply", "--auto-approve"], EXAMPLE);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ws = format!(
        "{}/providers/Microsoft.OperationalInsights/workspaces/law-gateway",
        az.rg_id("lab-token-governance")
    );
    assert!(
        run.stdout
            .contains(&format!("Log Analytics workspace: {ws}")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Application Insights: appi-gateway"),
        "{}",
        run.stdout
    );
    // The logger got the component's connection string; no output shows it.
    let logger = az
        .arm
        .get_resource(&az.put_id("/loggers/appinsights"))
        .unwrap();
    let cs = logger["properties"]["credentials"]["connectionString"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(cs.starts_with("InstrumentationKey="), "{cs}");
    assert_eq!(
        logger["properties"]["credentials"]["identityClientId"],
        "SystemAssigned"
    );
    assert!(!run.stdout.contains(&cs) && !run.stderr.contains(&cs));
    let json_run = az.run(&["apply", "--auto-approve", "-o", "json"], EXAMPLE);
    let v: Value = serde_json::from_str(&json_run.stdout).unwrap();
    assert_eq!(
        v["outputs"]["log_analytics_workspace_id"]
            .as_str()
            .or(v["log_analytics_workspace_id"].as_str()),
        Some(ws.as_str()),
        "{v}"
    );

    // Someone turns LLM logging off in the portal: plan shows exactly that field.
    let diag_id = az.put_id("/diagnostics/azuremonitor");
    let mut live = az.arm.get_resource(&diag_id).unwrap();
    live["properties"]["largeLanguageModel"]["logs"] = "disabled".into();
    az.arm.set_resource(&diag_id, live);
    let plan = az.run(&["plan", "--detailed-exitcode", "-o", "json"], EXAMPLE);
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    let p: Value = serde_json::from_str(&plan.stdout).unwrap();
    let changes: Vec<&Value> = p["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no-op")
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["address"], "apim.diagnostics.azuremonitor");
    assert_eq!(
        changes[0]["diff"][0]["path"],
        "properties.largeLanguageModel.logs"
    );
    let fix = az.run(&["apply", "--auto-approve"], EXAMPLE);
    assert_eq!(fix.code, 0, "{}", fix.stderr);
    let put = az
        .arm
        .journal()
        .into_iter()
        .rev()
        .find(|e| e.method == "PUT" && e.path().ends_with("/diagnostics/azuremonitor"))
        .unwrap();
    assert!(
        put.if_match.is_some(),
        "an APIM diagnostic update carries If-Match"
    );
    assert_eq!(az.run(&["plan", "--detailed-exitcode"], EXAMPLE).code, 0);
}
