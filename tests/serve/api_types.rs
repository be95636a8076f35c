//! Each API type reaches its real Foundry path: `azure-openai` `/openai/deployments/...`,
//! `openai` (v1) `/openai/v1/...`, `azure-ai` `/models/...`, in what gw deploys (backend URL
//! and policy) and in `gw serve`, whose mocks answer only those paths.

use super::{assert_ok, edit, example_text, model, run_verify, start};
use crate::support::azure::Azure;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_azure_ai_example_applies_and_each_api_reaches_its_foundry_path() {
    // Applied to the emulator; a second plan finds nothing to do.
    let az = tokio::task::spawn_blocking(|| Azure::deployed("azure-ai"))
        .await
        .expect("apply");
    let backend = az.put_id("/backends/foundry1");
    let account = az
        .arm
        .journal()
        .iter()
        .find(|e| {
            e.method == "PUT"
                && e.path().contains("/accounts/foundry1-")
                && !e.path().contains("/deployments/")
        })
        .map(|e| e.path().to_string())
        .expect("the account was written");
    let url = az.arm.get_resource(&backend).expect("backend")["properties"]["url"].clone();
    let endpoint =
        az.arm.get_resource(&account).expect("account")["properties"]["endpoint"].clone();
    assert!(endpoint.as_str().is_some_and(|e| e.starts_with("https://")));
    assert_eq!(url, endpoint, "the backend is the account's root");
    let policy = |api: &str| {
        let id = az.put_id(&format!("/apis/{api}/policies/policy"));
        az.arm.get_resource(&id).expect("policy")["properties"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        policy("models")
            .contains(r#"<rewrite-uri template="@("/models" + context.Operation.UrlTemplate)" />"#),
        "{}",
        policy("models")
    );
    assert!(policy("v1").contains(r#"@("/openai" + context.Operation.UrlTemplate)"#));
    let plan =
        tokio::task::spawn_blocking(move || az.run(&["plan", "--detailed-exitcode"], "azure-ai"))
            .await
            .expect("plan");
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);

    // Served through the mocks, which answer 404 to any other path.
    let m = model(&example_text("azure-ai"));
    let h = start(&m, None, None).await;
    let mocks = h.mocks().expect("mocks");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let cases = [
        (
            "ai/models/chat/completions?api-version=2024-05-01-preview",
            "DeepSeek-V3-0324",
            "/models/chat/completions?api-version=2024-05-01-preview",
        ),
        (
            "ai/models/embeddings?api-version=2024-05-01-preview",
            "DeepSeek-V3-0324",
            "/models/embeddings?api-version=2024-05-01-preview",
        ),
        (
            "v1api/v1/chat/completions",
            "DeepSeek-V3-0324",
            "/openai/v1/chat/completions",
        ),
        (
            "v1api/v1/responses",
            "DeepSeek-V3-0324",
            "/openai/v1/responses",
        ),
    ];
    for (path, model_name, forwarded) in cases {
        let r = client
            .post(format!("{}/{path}", h.url()))
            .json(&json!({ "model": model_name, "messages": [], "input": "hi" }))
            .send()
            .await
            .expect("answer");
        assert_eq!(r.status(), 200, "{path}");
        let body: serde_json::Value = r.json().await.expect("JSON");
        assert_eq!(body["served_by"]["foundry"], "foundry1", "{path}");
        let last = mocks.journal("foundry1").pop().expect("forwarded");
        assert_eq!(last.path, forwarded, "{path}");
    }
    // The path a gateway with every backend at `.../openai` used to send is not a Foundry one.
    let mock = h.mock_addrs["foundry1"];
    let wrong = client
        .post(format!("http://{mock}/openai/chat/completions"))
        .json(&json!({ "model": "DeepSeek-V3-0324" }))
        .send()
        .await
        .expect("answer");
    assert_eq!(wrong.status(), 404);
    assert_ok(&run_verify(&m, &h, 20, &[]).await);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reaches_the_foundry_path_whatever_the_backend_path() {
    // serve forwards from the account root, as a policy on root backends does; a spec whose
    // backends point at /openai must reach the same Foundry URLs.
    let text = edit(
        &example_text("load-balancing"),
        "  publisher_name: Platform team\n",
        "  publisher_name: Platform team\n  backend_path: /openai\n",
    );
    let m = model(&text);
    assert_eq!(m.apim.backend_path, "/openai");
    let h = start(&m, None, None).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let r = client
        .post(format!(
            "{}/inference/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
            h.url()
        ))
        .json(&json!({ "messages": [] }))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.expect("JSON");
    let foundry = body["served_by"]["foundry"]
        .as_str()
        .expect("served")
        .to_string();
    let last = h
        .mocks()
        .expect("mocks")
        .journal(&foundry)
        .pop()
        .expect("forwarded");
    assert_eq!(
        last.path,
        "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"
    );
    assert_ok(&run_verify(&m, &h, 20, &[]).await);
    h.stop().await;
}
