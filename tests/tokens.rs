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
        v["outputs"]["log_analytics_workspace_id"],
        ws.as_str(),
        "{v}"
    );
    assert_eq!(v["outputs"]["app_insights"], "appi-gateway", "{v}");

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

// `gw serve`: the limit as APIM enforces it.

mod serve_limits {
    use gw::diag::Source;
    use gw::model::{Context, Model};
    use gw::serve::{self, ManualClock, ServeHandle, ServeOptions};
    use serde_json::{Value, json};
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Duration;

    pub const KEY: &str = "k-0123456789abcdef";

    pub fn spec_text(limit: &str) -> Model {
        spec(limit)
    }

    /// Serve with mocks, time standing still.
    pub async fn start_with(m: &Model) -> ServeHandle {
        start(m, Arc::new(ManualClock::default()), None).await
    }

    fn spec(limit: &str) -> Model {
        let text = format!(
            "version: 1
resource_group: {{ name: rg-tokens, location: eastus }}
foundries:
  - {{ name: foundry1, location: eastus }}
models:
  - {{ name: gpt-4.1-mini, publisher: OpenAI, version: \"2025-04-14\", sku: GlobalStandard, capacity: 10 }}
apim: {{ name: apim-tokens, sku: BasicV2, publisher_email: a@example.com, publisher_name: P }}
apis:
  inference:
    path: inference
    backend: foundry1
    token_limit:
{limit}
"
        );
        gw::model::load(
            &Source::new("t.yaml", text),
            &Context { subscription: None },
        )
        .unwrap_or_else(|d| panic!("{d:?}"))
    }

    async fn start(model: &Model, clock: Arc<ManualClock>, backend: Option<String>) -> ServeHandle {
        let mut backends = BTreeMap::new();
        if let Some(b) = backend {
            backends.insert("foundry1".to_string(), b.parse().unwrap());
        }
        let o = ServeOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            mock: backends.is_empty(),
            backends,
            seed: Some(1),
            key: Some(KEY.into()),
            clock,
            ..ServeOptions::default()
        };
        serve::start(model.clone(), o).await.expect("serve starts")
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    async fn chat(h: &ServeHandle, stream: bool) -> reqwest::Response {
        client()
            .post(format!("{}/inference/openai/deployments/gpt-4.1-mini/chat/completions?api-version=2024-10-21", h.url()))
            .header("api-key", KEY)
            .json(&json!({ "messages": [{ "role": "user", "content": "12345678" }], "stream": stream }))
            .send()
            .await
            .unwrap()
    }

    async fn usage(h: &ServeHandle) -> Value {
        let r = client()
            .get(format!("{}/_gw/usage", h.url()))
            .header("api-key", KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    fn header(r: &reqwest::Response, n: &str) -> Option<String> {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    }

    #[tokio::test]
    async fn the_rate_trips_at_the_configured_count_with_retry_after_and_resets_next_minute() {
        // The mock reports 6 tokens a chat: 5 fit in 30, the 6th is refused.
        let m = spec(
            "      tokens_per_minute: 30\n      estimate_prompt_tokens: false\n      remaining_tokens_header: x-ratelimit-remaining-tokens",
        );
        let clock = Arc::new(ManualClock::default());
        clock.advance(Duration::from_secs(10));
        let h = start(&m, clock.clone(), None).await;
        for left in [24, 18, 12, 6, 0] {
            let r = chat(&h, false).await;
            assert_eq!(r.status(), 200);
            assert_eq!(
                header(&r, "x-ratelimit-remaining-tokens").as_deref(),
                Some(left.to_string().as_str())
            );
        }
        let r = chat(&h, false).await;
        assert_eq!(r.status(), 429);
        assert_eq!(
            header(&r, "retry-after").as_deref(),
            Some("50"),
            "seconds to the minute's end"
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["message"],
            "Token limit is exceeded. Try again in 50 seconds."
        );
        let u = usage(&h).await;
        let c = &u["counters"][0];
        assert_eq!(
            (
                c["requests"].as_u64(),
                c["refused"].as_u64(),
                c["total_tokens"].as_u64()
            ),
            (Some(5), Some(1), Some(30))
        );
        assert!(
            c["counter"]
                .as_str()
                .unwrap()
                .starts_with("subscription key sha256:")
        );
        assert!(!u.to_string().contains(KEY), "the key never shows");
        clock.advance(Duration::from_secs(50));
        assert_eq!(chat(&h, false).await.status(), 200, "a new minute");
    }

    #[tokio::test]
    async fn the_quota_answers_403_and_reports_what_is_left() {
        let m = spec(
            "      quota: 12\n      quota_period: monthly\n      estimate_prompt_tokens: false\n      remaining_quota_header: x-quota-remaining-tokens",
        );
        let h = start(&m, Arc::new(ManualClock::default()), None).await;
        let r = chat(&h, false).await;
        assert_eq!(header(&r, "x-quota-remaining-tokens").as_deref(), Some("6"));
        assert_eq!(chat(&h, false).await.status(), 200);
        let r = chat(&h, false).await;
        assert_eq!(r.status(), 403);
        let body: Value = r.json().await.unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("Token quota is exceeded. Try again in "),
            "{body}"
        );
    }

    /// A backend that streams a chat completion: three deltas of 4 characters, no usage.
    async fn sse_backend() -> String {
        use axum::response::IntoResponse;
        let app = axum::Router::new().fallback(|| async {
            let chunk = |s: &str| {
                format!(
                    "data: {}\n\n",
                    json!({ "choices": [{ "index": 0, "delta": { "content": s } }] })
                )
            };
            let body = format!(
                "{}{}{}data: [DONE]\n\n",
                chunk("abcd"),
                chunk("efgh"),
                chunk("ijkl")
            );
            (
                [
                    ("content-type", "text/event-stream"),
                    ("x-ms-region", "eastus"),
                ],
                body,
            )
                .into_response()
        });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        url
    }

    #[tokio::test]
    async fn a_streamed_chat_is_estimated_and_trips_the_limit_at_the_right_count() {
        // Each streamed chat: prompt estimated at 5 (8 characters + 3 of framing), completion
        // at 3 (12 characters): 8 tokens. Two fit in 20; the third's prompt would not.
        let m = spec("      tokens_per_minute: 20\n      estimate_prompt_tokens: false");
        let h = start(
            &m,
            Arc::new(ManualClock::default()),
            Some(sse_backend().await),
        )
        .await;
        for n in 1..=2u64 {
            let r = chat(&h, true).await;
            assert_eq!(r.status(), 200);
            let text = r.text().await.unwrap();
            assert!(
                text.contains("ijkl") && text.ends_with("[DONE]\n\n"),
                "{text}"
            );
            // The stream is counted when it ends.
            let mut total = 0;
            for _ in 0..100 {
                total = usage(&h).await["counters"][0]["total_tokens"]
                    .as_u64()
                    .unwrap();
                if total == 8 * n {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(total, 8 * n);
        }
        assert_eq!(chat(&h, true).await.status(), 429);
    }
}

mod verify_limit {
    use super::serve_limits::{spec_text, start_with};
    use gw::verify::{self, GatewayTarget, VerifyOptions};

    fn opts(url: String) -> VerifyOptions {
        VerifyOptions {
            gateway: GatewayTarget {
                url,
                key: Some(super::serve_limits::KEY.into()),
            },
            requests: 2,
            down: Vec::new(),
            api_version: verify::DEFAULT_API_VERSION.into(),
        }
    }

    #[tokio::test]
    async fn verify_passes_a_gateway_that_enforces_the_limit_and_fails_one_that_does_not() {
        let limited = spec_text("      tokens_per_minute: 30\n      estimate_prompt_tokens: false");
        let h = start_with(&limited).await;
        let r = verify::verify(&limited, &opts(h.url())).await.unwrap();
        let c = r.apis[0]
            .checks
            .iter()
            .find(|c| c.name == "token limit")
            .expect("a limit check");
        assert!(c.ok && r.ok, "{}", verify::report::text(&r));
        // 2 burst requests spent 12 of the 30 tokens: 3 more fit, the 4th is refused.
        assert_eq!(
            c.detail,
            "refused (429) after 18 tokens in 3 requests; the limit is 30 a minute"
        );

        // A gateway without the limit (the spec's policy was never deployed).
        let open = spec_text("      tokens_per_minute: 1000000");
        let h = start_with(&open).await;
        let r = verify::verify(&limited, &opts(h.url())).await.unwrap();
        let c = r.apis[0]
            .checks
            .iter()
            .find(|c| c.name == "token limit")
            .unwrap();
        assert!(!c.ok && !r.ok);
        assert!(
            c.detail.starts_with("not refused after 42 tokens"),
            "{}",
            c.detail
        );
        assert!(
            r.problems.iter().any(|p| p.contains("token limit")),
            "{:?}",
            r.problems
        );
    }
}

#[test]
fn destroy_deletes_the_workspace_and_component_gw_created() {
    // A group gw did not create: destroy deletes resource by resource, not the group.
    let az = Azure::new();
    az.arm.set_resource(
        &az.rg_id("lab-token-governance"),
        serde_json::json!({ "location": "eastus" }),
    );
    assert_eq!(az.run(&["apply", "--auto-approve"], EXAMPLE).code, 0);
    let ws = format!(
        "{}/providers/Microsoft.OperationalInsights/workspaces/law-gateway",
        az.rg_id("lab-token-governance")
    );
    let component = format!(
        "{}/providers/Microsoft.Insights/components/appi-gateway",
        az.rg_id("lab-token-governance")
    );
    assert!(az.arm.get_resource(&ws).is_some() && az.arm.get_resource(&component).is_some());
    let run = az.run(&["destroy", "--auto-approve"], EXAMPLE);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(az.arm.get_resource(&ws).is_none(), "{}", run.stderr);
    assert!(az.arm.get_resource(&component).is_none(), "{}", run.stderr);
    assert!(
        az.arm
            .get_resource(&az.rg_id("lab-token-governance"))
            .is_some(),
        "the group stays"
    );
}

#[test]
fn an_existing_workspace_is_referenced_never_created_and_llm_logs_go_there() {
    let text = std::fs::read_to_string(example(EXAMPLE)).unwrap();
    let theirs = "/subscriptions/00000000-0000-0000-0000-00000000c0de/resourceGroups/rg-monitoring/providers/Microsoft.OperationalInsights/workspaces/law-central";
    let from = "  log_analytics:\n    name: law-gateway\n    retention_days: 30\n  app_insights:\n    name: appi-gateway\n";
    assert!(text.contains(from));
    let spec = text
        .replace(from, &format!("  log_analytics:\n    id: {theirs}\n"))
        .replace(
            "    token_metrics:\n      dimensions: [api, subscription, model, region]\n",
            "",
        );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.yaml");
    std::fs::write(&path, spec).unwrap();
    let az = Azure::new();
    let run = az
        .gw()
        .args(["apply", "--auto-approve", "-f"])
        .args([&path])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains(&format!("Log Analytics workspace: {theirs}")),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("Application Insights:"),
        "{}",
        run.stdout
    );
    assert!(
        !az.writes().iter().any(|w| w.contains("/workspaces/")),
        "their workspace is not written: {:?}",
        az.writes()
    );
    let setting = az
        .arm
        .get_resource(&az.put_id("/diagnosticSettings/gw-gateway-logs"))
        .unwrap();
    assert_eq!(setting["properties"]["workspaceId"], theirs);
    assert_eq!(
        az.gw()
            .args(["plan", "--detailed-exitcode", "-f"])
            .args([&path])
            .run()
            .code,
        0
    );
    let render = az
        .gw()
        .args(["render", "--out"])
        .args([dir.path().join("out")])
        .args(["-f"])
        .args([&path])
        .run();
    assert_eq!(render.code, 0, "{}", render.stderr);
    let bicep = std::fs::read_to_string(dir.path().join("out/main.bicep")).unwrap();
    assert!(
        bicep.contains(&format!(
            "output logAnalyticsWorkspaceId string = '{theirs}'"
        )),
        "{bicep}"
    );
    assert!(!bicep.contains("Microsoft.OperationalInsights/workspaces@"));
}
