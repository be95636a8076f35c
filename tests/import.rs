//! `gw import` against the ARM emulator: estates gw created (every example), estates shaped
//! like the AI-Gateway labs' Bicep, and a policy gw does not understand.

use crate::support::azure::Azure;
use crate::support::cli::{EXAMPLES, Run, example};

/// The example's resource group name, read from its spec.
fn group_of(name: &str) -> String {
    let text = std::fs::read_to_string(example(name)).unwrap();
    let after = text.split("resource_group:").nth(1).unwrap();
    let line = after
        .lines()
        .find(|l| l.trim_start().starts_with("name:"))
        .unwrap();
    line.split(':').nth(1).unwrap().trim().to_string()
}

fn import(az: &Azure, dir: &std::path::Path, rg: &str, extra: &[&str]) -> Run {
    az.gw()
        .args(["import", "--resource-group", rg, "--out"])
        .args([dir.join("gw.yaml")])
        .args(extra)
        .run()
}

fn plan(az: &Azure, dir: &std::path::Path) -> Run {
    az.gw()
        .args(["plan", "--detailed-exitcode", "-f"])
        .args([dir.join("gw.yaml")])
        .run()
}

#[test]
fn an_estate_gw_created_imports_to_a_spec_that_plans_no_changes() {
    for name in EXAMPLES {
        let az = Azure::deployed(name);
        let dir = tempfile::tempdir().unwrap();
        let run = import(&az, dir.path(), &group_of(name), &[]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        assert!(
            run.stderr.contains("should show no changes"),
            "{name}: {}",
            run.stderr
        );
        let yaml = std::fs::read_to_string(dir.path().join("gw.yaml")).unwrap();
        // gw's own policy is recognised, not kept as a file.
        assert!(!yaml.contains("policy:"), "{name}:\n{yaml}");
        assert!(!dir.path().join("policies").exists());
        let p = plan(&az, dir.path());
        assert_eq!(p.code, 0, "{name}:\n{yaml}\n{}\n{}", p.stdout, p.stderr);
        assert!(p.stdout.contains("No changes."), "{name}: {}", p.stdout);
        if *name == "token-governance" {
            // Observability and token governance are read back, not left to a policy file.
            for line in [
                "observability:\n  log_analytics:\n    name: law-gateway\n",
                "  app_insights:\n    name: appi-gateway\n",
                "  llm_logs:\n    enabled: true\n",
                "    token_limit:\n",
                "      quota_period: monthly\n",
                "    token_metrics:\n      dimensions: [api, subscription, model, region]\n",
            ] {
                assert!(yaml.contains(line), "{line}\n{yaml}");
            }
            insta::assert_snapshot!("gw_token_governance_yaml", yaml);
        }
    }
}

/// A resource group shaped like an AI-Gateway lab's Bicep left it: accounts
/// `NAME-{uniqueString}` with one deployment each, the APIM service `apim-{uniqueString}`,
/// a backend per account (description 'backend description', URL `{endpoint}openai`,
/// breaker rule 'openAIBreakerRule'), pools without gw's marker, the inference API imported
/// from an OpenAPI document with the lab's operation ids, its policy.xml, one subscription.
struct Lab {
    rg: &'static str,
    location: &'static str,
    /// Account name (before the suffix), region, deployment (name, model version).
    accounts: &'static [(&'static str, &'static str, &'static str, &'static str)],
    /// Pool name, members (account, priority, weight), affinity cookie.
    pools: &'static [LabPool],
    /// Breaker (count, interval, accept Retry-After) on every account's backend.
    breaker: (u32, &'static str, Option<bool>),
    policy: &'static str,
}

/// A pool: name, members (account, priority, weight), affinity cookie.
type LabPool = (
    &'static str,
    &'static [(&'static str, Option<u32>, Option<u32>)],
    Option<&'static str>,
);

const SUFFIX: &str = "x3kq7mfa2bz4c";

const LABS: &[(&str, Lab)] = &[
    (
        "backend-pool-load-balancing",
        Lab {
            rg: "lab-backend-pool-load-balancing",
            location: "eastus",
            accounts: &[
                ("foundry1", "eastus", "gpt-4o-mini", "2024-07-18"),
                ("foundry2", "swedencentral", "gpt-4o-mini", "2024-07-18"),
                ("foundry3", "westus", "gpt-4o-mini", "2024-07-18"),
            ],
            pools: &[(
                "openai-backend-pool",
                &[
                    ("foundry1", Some(1), None),
                    ("foundry2", Some(2), Some(50)),
                    ("foundry3", Some(2), Some(50)),
                ],
                None,
            )],
            breaker: (1, "PT5M", Some(true)),
            policy: include_str!("fixtures/labs/load-balancing.xml"),
        },
    ),
    (
        "model-routing",
        Lab {
            rg: "lab-model-routing",
            location: "eastus",
            accounts: &[
                ("foundry1", "eastus", "gpt-4o-mini", "2024-07-18"),
                ("foundry2", "swedencentral", "gpt-4o-mini", "2024-07-18"),
                ("foundry3", "westus", "gpt-4.1", "2025-04-14"),
                ("foundry4", "eastus2", "gpt-4.1", "2025-04-14"),
            ],
            pools: &[
                (
                    "openai-backend-pool-1",
                    &[("foundry1", None, None), ("foundry2", None, None)],
                    None,
                ),
                (
                    "openai-backend-pool-2",
                    &[("foundry3", None, None), ("foundry4", None, None)],
                    None,
                ),
            ],
            breaker: (3, "PT5M", None),
            policy: include_str!("fixtures/labs/model-routing.xml"),
        },
    ),
    (
        "session-affinity",
        Lab {
            rg: "lab-session-affinity",
            location: "eastus",
            accounts: &[
                ("foundry1", "eastus", "gpt-4o-mini", "2024-07-18"),
                ("foundry2", "swedencentral", "gpt-4o-mini", "2024-07-18"),
            ],
            pools: &[(
                "openai-backend-pool",
                &[
                    ("foundry1", Some(1), Some(50)),
                    ("foundry2", Some(1), Some(50)),
                ],
                Some("APIM-Backend-Affinity"),
            )],
            breaker: (1, "PT1M", Some(true)),
            policy: include_str!("fixtures/labs/session-affinity.xml"),
        },
    ),
];

/// PUTs through the emulator's HTTP API, as the Bicep deployment would, waits for each, and
/// returns what it reads once it is done.
async fn put(
    http: &reqwest::Client,
    az: &Azure,
    id: &str,
    api: &str,
    body: &serde_json::Value,
) -> serde_json::Value {
    use crate::support::fake_az::FAKE_TOKEN;
    let url = format!("{}{id}?api-version={api}", az.arm.url());
    let resp = http
        .put(&url)
        .bearer_auth(FAKE_TOKEN)
        .json(body)
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "PUT {id}: {}",
        resp.text().await.unwrap()
    );
    for _ in 0..20 {
        let got: serde_json::Value = http
            .get(&url)
            .bearer_auth(FAKE_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let state = got
            .pointer("/properties/provisioningState")
            .and_then(|s| s.as_str());
        if matches!(state, None | Some("Succeeded")) {
            return got;
        }
    }
    panic!("{id} never finished");
}

fn build_lab(az: &Azure, lab: &Lab) {
    use serde_json::json;
    let rg = az.rg_id(lab.rg);
    let apim = format!("{rg}/providers/Microsoft.ApiManagement/service/apim-{SUFFIX}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = reqwest::Client::new();
    rt.block_on(async {
        put(&http, az, &rg, "2025-04-01", &json!({ "location": lab.location })).await;
        let service = put(&http, az, &apim, "2024-05-01", &json!({
            "location": lab.location,
            "sku": { "name": "BasicV2", "capacity": 1 },
            "identity": { "type": "SystemAssigned" },
            "properties": { "publisherEmail": "noreply@microsoft.com", "publisherName": "Microsoft" }
        })).await;
        let principal = service["identity"]["principalId"].as_str().unwrap().to_string();
        for (name, region, model, version) in lab.accounts {
            let account = format!("{name}-{SUFFIX}");
            let id = format!("{rg}/providers/Microsoft.CognitiveServices/accounts/{account}");
            put(&http, az, &id, "2025-06-01", &json!({
                "location": region, "kind": "AIServices", "sku": { "name": "S0" },
                "identity": { "type": "SystemAssigned" },
                "properties": { "customSubDomainName": account, "publicNetworkAccess": "Enabled", "disableLocalAuth": false }
            })).await;
            // The lab's foundry module grants APIM's identity Cognitive Services User on each
            // account, named guid(subscription().id, resourceGroup().id, config.name, role):
            // the same grant gw makes, under another name.
            let role = format!(
                "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/a97b65f3-24c7-4388-baec-2e87135dc908",
                crate::support::fake_az::FAKE_SUBSCRIPTION
            );
            let guid = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("{rg}/{name}/{role}").as_bytes());
            put(&http, az, &format!("{id}/providers/Microsoft.Authorization/roleAssignments/{guid}"), "2022-04-01", &json!({
                "properties": { "roleDefinitionId": role, "principalId": principal, "principalType": "ServicePrincipal" }
            })).await;
            put(&http, az, &format!("{id}/deployments/{model}"), "2025-06-01", &json!({
                "sku": { "name": "Standard", "capacity": 20 },
                "properties": { "model": { "format": "OpenAI", "name": model, "version": version } }
            })).await;
            let (count, interval, accept) = lab.breaker;
            let mut rule = json!({
                "name": "openAIBreakerRule",
                "failureCondition": { "count": count, "errorReasons": ["Server errors"], "interval": interval, "statusCodeRanges": [{ "min": 429, "max": 429 }] },
                "tripDuration": "PT1M",
            });
            if let Some(a) = accept {
                rule["acceptRetryAfter"] = json!(a);
            }
            put(&http, az, &format!("{apim}/backends/{name}"), "2024-10-01-preview", &json!({ "properties": {
                "description": "backend description",
                "url": format!("https://{account}.cognitiveservices.azure.com/openai"),
                "protocol": "http",
                "circuitBreaker": { "rules": [rule] },
            }})).await;
        }
        for (pool, members, cookie) in lab.pools {
            let services: Vec<_> = members.iter().map(|(m, p, w)| {
                let mut s = json!({ "id": format!("/backends/{m}") });
                if let Some(p) = p { s["priority"] = json!(p); }
                if let Some(w) = w { s["weight"] = json!(w); }
                s
            }).collect();
            let mut body = json!({ "properties": { "description": "Load balancer for multiple OpenAI endpoints", "type": "Pool", "pool": { "services": services } } });
            if let Some(c) = cookie {
                body["properties"]["pool"]["sessionAffinity"] = json!({ "sessionId": { "source": "Cookie", "name": c } });
            }
            put(&http, az, &format!("{apim}/backends/{pool}"), "2024-10-01-preview", &body).await;
        }
        let op = |id: &str| json!({ "operationId": id, "parameters": [{ "name": "deployment-id", "in": "path", "required": true, "schema": { "type": "string" } }], "responses": { "200": { "description": "OK" } } });
        let doc = json!({
            "openapi": "3.0.1",
            "info": { "title": "Azure OpenAI Service API", "version": "2024-10-21" },
            "paths": {
                "/deployments/{deployment-id}/chat/completions": { "post": op("ChatCompletions_Create") },
                "/deployments/{deployment-id}/completions": { "post": op("Completions_Create") },
                "/deployments/{deployment-id}/embeddings": { "post": op("embeddings_create") },
            }
        });
        let api = format!("{apim}/apis/inference-api");
        put(&http, az, &api, "2024-05-01", &json!({ "properties": {
            "displayName": "Inference API", "description": "Inferencing API for AI models",
            "path": "inference/openai", "protocols": ["https"], "subscriptionRequired": true,
            "subscriptionKeyParameterNames": { "header": "api-key", "query": "api-key" },
            "format": "openapi+json", "value": doc.to_string(),
        }})).await;
        put(&http, az, &format!("{api}/policies/policy"), "2024-05-01", &json!({ "properties": { "format": "rawxml", "value": lab.policy } })).await;
        put(&http, az, &format!("{apim}/subscriptions/openai-subscription"), "2024-05-01", &json!({ "properties": {
            "displayName": "OpenAI Subscription", "scope": "/apis/inference-api", "state": "active", "allowTracing": true,
        }})).await;
    });
}

#[test]
fn a_lab_estate_imports_with_its_topology_and_plans_gws_additions() {
    for (name, lab) in LABS {
        let az = Azure::new();
        build_lab(&az, lab);
        let dir = tempfile::tempdir().unwrap();
        let run = import(&az, dir.path(), lab.rg, &[]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        let yaml = std::fs::read_to_string(dir.path().join("gw.yaml")).unwrap();
        // The suffix, the pools and the routing are recognised; the lab's policy is kept.
        assert!(
            yaml.contains(&format!("suffix: {SUFFIX}")),
            "{name}:\n{yaml}"
        );
        for (pool, _, _) in lab.pools {
            assert!(
                yaml.contains(&format!("  {pool}:\n    members:")),
                "{name}:\n{yaml}"
            );
        }
        assert!(
            yaml.contains("policy: policies/inference-api.xml"),
            "{name}:\n{yaml}"
        );
        let kept = std::fs::read_to_string(dir.path().join("policies/inference-api.xml")).unwrap();
        // The lab's backends end in /openai: the spec says so, and the policy is kept as is.
        assert_eq!(kept, lab.policy, "{name}: the policy is kept verbatim");
        assert!(
            yaml.contains("  backend_path: /openai\n"),
            "{name}:\n{yaml}"
        );
        assert!(
            run.stderr.contains("were not created by gw"),
            "{name}: {}",
            run.stderr
        );

        let p = plan(&az, dir.path());
        assert_eq!(p.code, 2, "{name}: {}\n{}", p.stdout, p.stderr);
        // Only what marks the estate as gw's: the owner tag, and APIM children's descriptions
        // (they take no tags). Nothing is created, replaced or deleted.
        let json = az
            .gw()
            .args(["plan", "-o", "json", "-f"])
            .args([dir.path().join("gw.yaml")])
            .run();
        let plan_json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        let changes = plan_json["changes"].as_array().unwrap();
        assert!(changes.iter().any(|c| c["action"] == "update"), "{name}");
        for c in changes {
            let action = c["action"].as_str().unwrap();
            assert!(matches!(action, "update" | "no-op"), "{name}: {c}");
            for d in c["diff"].as_array().into_iter().flatten() {
                let ownership = match d["path"].as_str().unwrap() {
                    "tags" => d["after"]["managed-by"] == "gw",
                    "properties.description" => d["after"]
                        .as_str()
                        .is_some_and(|s| s.starts_with("Managed by gw")),
                    _ => false,
                };
                assert!(ownership, "{name}: not an ownership change: {d}");
            }
        }
        // gw's backends point where the lab's do, and the lab's policy stays: neither changes.
        assert!(!p.stdout.contains("properties.url"), "{name}: {}", p.stdout);
        assert!(
            !p.stdout.contains("apis.inference-api.policy"),
            "{name}: {}",
            p.stdout
        );
        insta::assert_snapshot!(format!("lab_{name}_yaml"), yaml);
        insta::assert_snapshot!(format!("lab_{name}_plan"), p.stdout);

        // --adopt saves that plan; applying it makes the estate gw's.
        let run = import(&az, dir.path(), lab.rg, &["--adopt", "--force"]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        let saved = dir.path().join("adopt.plan.json");
        let apply = az
            .gw()
            .args(["apply", "--auto-approve", "-f"])
            .args([dir.path().join("gw.yaml"), saved])
            .run();
        assert_eq!(apply.code, 0, "{name}: {}\n{}", apply.stdout, apply.stderr);
        // The API's own properties changed, its operations did not: it is written without an
        // import, which would replace the lab's operations (and their request schemas).
        let api_put = az
            .arm
            .journal()
            .into_iter()
            .rfind(|e| e.method == "PUT" && e.path().ends_with("/apis/inference-api"))
            .unwrap();
        let props = &api_put.request_body.as_ref().unwrap()["properties"];
        assert!(
            props.get("value").is_none() && props.get("format").is_none(),
            "{name}: {props}"
        );
        let p = plan(&az, dir.path());
        assert_eq!(p.code, 0, "{name}: {}\n{}", p.stdout, p.stderr);
        // And a fresh import now finds nothing that is not gw's.
        let again = import(&az, dir.path(), lab.rg, &["--force"]);
        assert!(
            again.stderr.contains("should show no changes"),
            "{name}: {}",
            again.stderr
        );
    }
}

/// `examples/NAME` with `apim.backend_path: PATH`, written to `dir/gw.yaml`.
fn with_backend_path(name: &str, path: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let spec = std::fs::read_to_string(example(name)).unwrap();
    let line = "  publisher_name: Platform team\n";
    assert!(spec.contains(line), "{name}");
    let spec = spec.replace(line, &format!("{line}  backend_path: {path}\n"));
    let file = dir.join("gw.yaml");
    std::fs::write(&file, spec).unwrap();
    file
}

#[test]
fn an_estate_gw_created_with_a_backend_path_imports_it_and_plans_no_changes() {
    let az = Azure::new();
    let src = tempfile::tempdir().unwrap();
    let spec = with_backend_path("model-routing", "/openai", src.path());
    let apply = az
        .gw()
        .args(["apply", "--auto-approve", "-f"])
        .args([&spec])
        .run();
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    let backend = az
        .arm
        .get_resource(&az.put_id("/backends/foundry1"))
        .unwrap();
    let url = backend["properties"]["url"].as_str().unwrap();
    assert!(
        url.ends_with(".cognitiveservices.azure.com/openai"),
        "{url}"
    );

    let dir = tempfile::tempdir().unwrap();
    let run = import(&az, dir.path(), &group_of("model-routing"), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let yaml = std::fs::read_to_string(dir.path().join("gw.yaml")).unwrap();
    assert!(yaml.contains("  backend_path: /openai\n"), "{yaml}");
    // gw's own policy (no rewrite-uri on backends at /openai) is recognised, not kept.
    assert!(!yaml.contains("policy:"), "{yaml}");
    let p = plan(&az, dir.path());
    assert_eq!(p.code, 0, "{yaml}\n{}\n{}", p.stdout, p.stderr);
    assert!(p.stdout.contains("No changes."), "{}", p.stdout);
}

#[test]
fn backends_at_different_paths_move_to_the_root_and_the_kept_policy_gets_the_path() {
    let (name, lab) = &LABS[0];
    let az = Azure::new();
    build_lab(&az, lab);
    // One backend at the account root, the others at /openai: no single backend_path says that.
    let id = az.put_id("/backends/foundry2");
    let mut body = az.arm.get_resource(&id).unwrap();
    let root = format!("https://foundry2-{SUFFIX}.cognitiveservices.azure.com/");
    body["properties"]["url"] = serde_json::json!(root);
    az.arm.set_resource(&id, body);

    let dir = tempfile::tempdir().unwrap();
    let run = import(&az, dir.path(), lab.rg, &[]);
    assert_eq!(run.code, 0, "{name}: {}", run.stderr);
    let yaml = std::fs::read_to_string(dir.path().join("gw.yaml")).unwrap();
    assert!(!yaml.contains("  backend_path:"), "{yaml}");
    assert!(
        yaml.contains("  # The backends point at different paths on their accounts (foundry1: /openai, foundry2: /, foundry3: /openai)"),
        "{yaml}"
    );
    assert!(
        yaml.contains("    # One line is added to it: gw's backends point at the account root"),
        "{yaml}"
    );
    let kept = std::fs::read_to_string(dir.path().join("policies/inference-api.xml")).unwrap();
    let line = r#"<rewrite-uri template="@("/openai" + context.Operation.UrlTemplate)" />"#;
    assert!(kept.contains(line), "{kept}");
    let without: String = kept
        .lines()
        .filter(|l| !l.contains("<rewrite-uri") && !l.contains("Added by gw import"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(without, lab.policy, "otherwise the policy is kept verbatim");
    // The plan moves the /openai backends to the root; the kept policy adds the path back.
    let p = plan(&az, dir.path());
    assert_eq!(p.code, 2, "{}\n{}", p.stdout, p.stderr);
    assert!(
        p.stdout.contains(&format!(
            "properties.url: \"https://foundry1-{SUFFIX}.cognitiveservices.azure.com/openai\" -> \"https://foundry1-{SUFFIX}.cognitiveservices.azure.com/\""
        )),
        "{}",
        p.stdout
    );
}

#[test]
fn a_policy_gw_does_not_understand_is_kept_verbatim_and_the_yaml_says_why() {
    let az = Azure::deployed("load-balancing");
    let policy_id = az.put_id("/apis/inference/policies/policy");
    let hand_written = r#"<policies>
    <inbound>
        <base />
        <rate-limit-by-key calls="10" renewal-period="60" counter-key="@(context.Subscription.Id)" />
        <choose>
            <when condition="@(context.Request.Headers.ContainsKey("x-debug"))">
                <set-header name="x-debug-seen" exists-action="override"><value>1</value></set-header>
            </when>
        </choose>
        <set-backend-service backend-id="inference-backend-pool" />
    </inbound>
    <backend>
        <forward-request />
    </backend>
    <outbound>
        <base />
    </outbound>
    <on-error>
        <base />
    </on-error>
</policies>
"#;
    let mut body = az.arm.get_resource(&policy_id).unwrap();
    body["properties"]["value"] = serde_json::json!(hand_written);
    az.arm.set_resource(&policy_id, body);

    let dir = tempfile::tempdir().unwrap();
    let run = import(&az, dir.path(), "lab-load-balancing", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let yaml = std::fs::read_to_string(dir.path().join("gw.yaml")).unwrap();
    let kept = std::fs::read_to_string(dir.path().join("policies/inference.xml")).unwrap();
    assert_eq!(kept, hand_written);
    // The routing it does express is still read, so the pool stays declared.
    assert!(
        yaml.contains("    backend: inference-backend-pool\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains("    policy: policies/inference.xml\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains("# The live policy is kept verbatim in policies/inference.xml"),
        "{yaml}"
    );
    assert!(
        yaml.contains("# Its policy has a `when` on `context.Request.Headers.ContainsKey(\"x-debug\")` that names no model: not expressible in a spec."),
        "{yaml}"
    );
    let p = plan(&az, dir.path());
    assert_eq!(p.code, 0, "{yaml}\n{}\n{}", p.stdout, p.stderr);
}

#[test]
fn an_api_name_from_azure_never_escapes_the_policies_folder() {
    let az = Azure::deployed("load-balancing");
    // Azure's answer is input too: an API whose name would walk out of policies/.
    let policy_id = az.put_id("/apis/inference/policies/policy");
    let mut body = az.arm.get_resource(&policy_id).unwrap();
    body["properties"]["value"] = serde_json::json!(
        "<policies><inbound><base /><rate-limit calls=\"1\" renewal-period=\"60\" /></inbound><backend><forward-request /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>"
    );
    az.arm.set_resource(&policy_id, body);
    let api_id = policy_id.trim_end_matches("/policies/policy").to_string();
    let mut api = az.arm.get_resource(&api_id).unwrap();
    api["name"] = serde_json::json!("../../escaped");
    az.arm.set_resource(&api_id, api);

    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("a/b");
    std::fs::create_dir_all(&dir).unwrap();
    let run = import(&az, &dir, "lab-load-balancing", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("is not a valid API name"),
        "{}",
        run.stderr
    );
    assert!(!root.path().join("escaped.xml").exists());
    assert!(!root.path().join("a/escaped.xml").exists());
    assert!(!dir.join("policies").exists(), "no policy file was written");
}

#[test]
fn import_refuses_to_write_over_a_spec_and_names_the_service_to_pick() {
    let az = Azure::deployed("load-balancing");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gw.yaml"), "mine").unwrap();
    let run = import(&az, dir.path(), "lab-load-balancing", &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("exists") && run.stderr.contains("--force"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("gw.yaml")).unwrap(),
        "mine"
    );
    let run = import(
        &az,
        dir.path(),
        "lab-load-balancing",
        &["--force", "--apim", "nope"],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("no APIM service named `nope`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hint: name one with `--apim NAME`: apim-lb-"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_policy_file_the_spec_names_must_exist_and_be_xml() {
    let dir = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(example("load-balancing")).unwrap();
    let with_policy = spec.replace(
        "    path: inference\n",
        "    path: inference\n    policy: policies/inference.xml\n",
    );
    assert_ne!(with_policy, spec);
    std::fs::write(dir.path().join("gw.yaml"), &with_policy).unwrap();
    let validate = || {
        crate::support::cli::gw()
            .args(["validate", "-f"])
            .args([dir.path().join("gw.yaml")])
            .run()
    };
    let run = validate();
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("apis.inference.policy"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("cannot read"), "{}", run.stderr);
    assert!(
        run.stderr.contains("relative to the spec file"),
        "{}",
        run.stderr
    );
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::write(
        dir.path().join("policies/inference.xml"),
        "<policies><inbound>",
    )
    .unwrap();
    let run = validate();
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("not a well-formed policy document"),
        "{}",
        run.stderr
    );
    let mine = "<policies><inbound><base /></inbound></policies>";
    std::fs::write(dir.path().join("policies/inference.xml"), mine).unwrap();
    assert_eq!(validate().code, 0);
    // The file is what render writes and apply sends.
    let out = dir.path().join("out");
    let run = crate::support::cli::gw()
        .args(["render", "--out"])
        .args([&out])
        .args(["-f"])
        .args([dir.path().join("gw.yaml")])
        .env(
            "AZURE_SUBSCRIPTION_ID",
            "00000000-0000-0000-0000-000000000001",
        )
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(out.join("policies/inference.xml")).unwrap(),
        mine
    );
}

/// `examples/token-governance` with `from` replaced by `to` in its text, applied to a fresh
/// emulator, then imported into a new folder: the emulator, the folder and the YAML.
fn governed(edits: &[(&str, &str)]) -> (Azure, tempfile::TempDir, String) {
    let mut spec = std::fs::read_to_string(example("token-governance")).unwrap();
    for (from, to) in edits {
        assert!(spec.contains(from), "{from}");
        spec = spec.replace(from, to);
    }
    let az = Azure::new();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("gw.yaml"), &spec).unwrap();
    let apply = az
        .gw()
        .args(["apply", "--auto-approve", "-f"])
        .args([src.path().join("gw.yaml")])
        .run();
    assert_eq!(apply.code, 0, "{spec}\n{}\n{}", apply.stdout, apply.stderr);
    let dir = tempfile::tempdir().unwrap();
    let run = import(&az, dir.path(), "lab-token-governance", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let yaml = std::fs::read_to_string(dir.path().join("gw.yaml")).unwrap();
    (az, dir, yaml)
}

#[test]
fn each_token_limit_gw_writes_imports_to_the_same_spec_and_plans_no_changes() {
    // The example counts per subscription (the test above); here per caller IP and per
    // header, with the other knobs turned away from their defaults.
    // (edits to the example, what the imported YAML then says)
    type Shape = (
        &'static [(&'static str, &'static str)],
        &'static [&'static str],
    );
    let shapes: &[Shape] = &[
        (
            &[
                ("      per: subscription\n", "      per: ip\n"),
                (
                    "      estimate_prompt_tokens: true\n",
                    "      estimate_prompt_tokens: false\n",
                ),
                ("      quota: 2000000\n      quota_period: monthly\n", ""),
                (
                    "      remaining_quota_header: x-quota-remaining-tokens\n",
                    "",
                ),
                (
                    "      dimensions: [api, subscription, model, region]",
                    "      dimensions: [client_ip, operation, product, user]\n      namespace: team tokens",
                ),
            ],
            &[
                "    token_limit:\n      per: ip\n      tokens_per_minute: 10000\n      estimate_prompt_tokens: false\n      remaining_tokens_header: x-ratelimit-remaining-tokens\n",
                "    token_metrics:\n      dimensions: [client_ip, operation, product, user]\n      namespace: \"team tokens\"\n",
            ],
        ),
        (
            &[
                (
                    "      per: subscription\n",
                    "      per: \"header:x-team\"\n",
                ),
                ("      tokens_per_minute: 10000\n", ""),
                ("quota_period: monthly", "quota_period: daily"),
            ],
            &[
                "    token_limit:\n      per: \"header:x-team\"\n      quota: 2000000\n      quota_period: daily\n",
            ],
        ),
    ];
    for (edits, expected) in shapes {
        let (az, dir, yaml) = governed(edits);
        for e in *expected {
            assert!(yaml.contains(e), "{e}\n{yaml}");
        }
        // gw's own policy is recognised whole: no policy file.
        assert!(!yaml.contains("policy:"), "{yaml}");
        assert!(!dir.path().join("policies").exists());
        let p = plan(&az, dir.path());
        assert_eq!(p.code, 0, "{yaml}\n{}\n{}", p.stdout, p.stderr);
    }
}

#[test]
fn a_workspace_outside_the_group_imports_by_id_and_what_gw_does_not_write_is_a_comment() {
    let shared = format!(
        "/subscriptions/{}/resourceGroups/monitoring/providers/Microsoft.OperationalInsights/workspaces/law-shared",
        crate::support::fake_az::FAKE_SUBSCRIPTION
    );
    let (az, dir, yaml) = governed(&[
        (
            "    name: law-gateway\n    retention_days: 30\n",
            &format!("    id: {shared}\n"),
        ),
        ("    max_bytes: 32768\n", "    max_bytes: 8192\n"),
        ("    completions: true\n", "    completions: false\n"),
    ]);
    assert!(
        yaml.contains(&format!("  log_analytics:\n    id: {shared}\n")),
        "{yaml}"
    );
    assert!(
        yaml.contains(
            "  llm_logs:\n    enabled: true\n    completions: false\n    max_bytes: 8192\n"
        ),
        "{yaml}"
    );
    let p = plan(&az, dir.path());
    assert_eq!(p.code, 0, "{yaml}\n{}\n{}", p.stdout, p.stderr);

    // A logger gw does not write, a second workspace and a second diagnostic setting: each is
    // a comment, and the plan is still as it was.
    let apim = az
        .put_id("/loggers/appinsights")
        .replace("/loggers/appinsights", "");
    let rg = az.rg_id("lab-token-governance");
    let extra = [
        (
            format!("{apim}/loggers/events"),
            serde_json::json!({ "name": "events", "properties": { "loggerType": "azureEventHub" } }),
        ),
        (
            format!("{rg}/providers/Microsoft.OperationalInsights/workspaces/law-old"),
            serde_json::json!({ "name": "law-old", "location": "eastus", "properties": { "retentionInDays": 30 } }),
        ),
        (
            format!("{apim}/providers/Microsoft.Insights/diagnosticSettings/to-storage"),
            serde_json::json!({ "name": "to-storage", "properties": { "storageAccountId": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z" } }),
        ),
    ];
    for (id, mut body) in extra {
        body["id"] = serde_json::json!(id);
        az.arm.set_resource(&id, body);
    }
    let again = import(&az, dir.path(), "lab-token-governance", &["--force"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let yaml = std::fs::read_to_string(dir.path().join("gw.yaml")).unwrap();
    for note in [
        "  # Logger `events` (azureEventHub) is not one gw writes: left alone.",
        "  # Workspace `law-old` in the group is not where the service's logs go: not in the spec.",
        "  # The service's diagnostic setting `to-storage` sends to no Log Analytics workspace: left alone.",
    ] {
        assert!(yaml.contains(note), "{note}\n{yaml}");
    }
    let p = plan(&az, dir.path());
    assert_eq!(p.code, 0, "{yaml}\n{}\n{}", p.stdout, p.stderr);
}

#[test]
fn the_token_rate_limiting_labs_limit_is_read_and_its_policy_kept() {
    let az = Azure::deployed("load-balancing");
    let policy_id = az.put_id("/apis/inference/policies/policy");
    // The load-balancing lab's policy (on this estate's pool) with the token-rate-limiting
    // lab's limit after routing.
    let line = r#"<set-backend-service backend-id="inference-backend-pool" />"#;
    let lab = include_str!("fixtures/labs/load-balancing.xml")
        .replace("openai-backend-pool", "inference-backend-pool")
        .replacen(
        line,
        &format!("{line}\n        <llm-token-limit counter-key=\"@(context.Subscription.Id)\" tokens-per-minute=\"100\" estimate-prompt-tokens=\"false\" remaining-tokens-variable-name=\"remainingTokens\" />"),
        1,
    );
    let mut body = az.arm.get_resource(&policy_id).unwrap();
    body["properties"]["value"] = serde_json::json!(lab);
    az.arm.set_resource(&policy_id, body);

    let dir = tempfile::tempdir().unwrap();
    let run = import(&az, dir.path(), "lab-load-balancing", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let yaml = std::fs::read_to_string(dir.path().join("gw.yaml")).unwrap();
    assert!(
        yaml.contains(
            "    token_limit:\n      tokens_per_minute: 100\n      estimate_prompt_tokens: false\n"
        ),
        "{yaml}"
    );
    assert!(
        yaml.contains("    # Its policy has a `llm-token-limit` attribute `remaining-tokens-variable-name`: not expressible in a spec.\n"),
        "{yaml}"
    );
    // gw's key is per API (`"inference:" + ...`): not the lab's, so the lab's policy is kept.
    assert!(
        yaml.contains("    policy: policies/inference.xml\n"),
        "{yaml}"
    );
    let kept = std::fs::read_to_string(dir.path().join("policies/inference.xml")).unwrap();
    assert_eq!(kept, lab);
    let p = plan(&az, dir.path());
    assert_eq!(p.code, 0, "{yaml}\n{}\n{}", p.stdout, p.stderr);
}

#[test]
fn a_workspace_alone_imports_with_its_retention_and_plans_no_changes() {
    // No Application Insights (so no token metrics) and LLM logging off: gw writes only the
    // workspace and its diagnostic setting, and import reads back only that.
    let (az, dir, yaml) = governed(&[
        ("    retention_days: 30\n", "    retention_days: 90\n"),
        ("  app_insights:\n    name: appi-gateway\n", ""),
        ("    enabled: true\n", "    enabled: false\n"),
        (
            "    token_metrics:\n      dimensions: [api, subscription, model, region]",
            "",
        ),
    ]);
    assert!(
        yaml.contains(
            "observability:\n  log_analytics:\n    name: law-gateway\n    retention_days: 90\n\n"
        ),
        "{yaml}"
    );
    assert!(!yaml.contains("token_metrics"), "{yaml}");
    let p = plan(&az, dir.path());
    assert_eq!(p.code, 0, "{yaml}\n{}\n{}", p.stdout, p.stderr);
}
