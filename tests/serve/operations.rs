//! An API that declares its own operations (`operations:`, as `gw import` keeps a lab's):
//! the gateway answers those and nothing else, as APIM does.

use super::{chat_url, edit, empty, example_text, model, post, responses_url, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_operations_are_served_and_the_rest_is_404() {
    let text = edit(
        &example_text("load-balancing"),
        "    backend: inference-backend-pool\n",
        "    backend: inference-backend-pool\n    operations:\n      - { name: ChatCompletions_Create, method: POST, url: \"/deployments/{deployment-id}/chat/completions\" }\n",
    );
    let m = model(&text);
    let h = start(&m, None, None).await;
    let chat = post(&chat_url(&h, "gpt-4o-mini"), empty(), None, None).await;
    assert_eq!(chat.status, 200, "{:?}", chat.body);
    // The Responses API is in gw's table, not in this API's operations.
    let responses = post(&responses_url(&h), super::input("gpt-4o-mini"), None, None).await;
    assert_eq!(responses.status, 404, "{:?}", responses.body);
    h.stop().await;

    // The same spec without `operations:` serves the whole surface.
    let m = model(&example_text("load-balancing"));
    let h = start(&m, None, None).await;
    let responses = post(&responses_url(&h), super::input("gpt-4o-mini"), None, None).await;
    assert_eq!(responses.status, 200, "{:?}", responses.body);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_skips_what_the_declared_operations_leave_out_and_says_so() {
    // A lab-like API: chat completions only, on a pool with affinity.
    let text = edit(
        &example_text("session-affinity"),
        "    backend: inference-backend-pool\n",
        "    backend: inference-backend-pool\n    operations:\n      - { name: ChatCompletions_Create, method: POST, url: \"/deployments/{deployment-id}/chat/completions\" }\n",
    );
    let m = model(&text);
    let h = start(&m, None, None).await;
    let r = super::run_verify(&m, &h, 20, &[]).await;
    super::assert_ok(&r);
    let skipped: Vec<&str> = r.apis[0]
        .checks
        .iter()
        .filter(|c| c.detail.starts_with("skipped: the API's `operations:`"))
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        skipped,
        ["v1 path", "affinity inference-backend-pool"],
        "{r:#?}"
    );
    h.stop().await;
}
