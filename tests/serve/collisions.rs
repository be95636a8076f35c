//! Two models whose derived pool names would collide (`gpt-4.1` and `gpt-4-1`): validation
//! refuses the spec, and the fix its hint suggests routes every request to a host of its model.

use super::{chat_url, empty, model, post, start};
use gw::diag::Source;
use gw::model::Context;

const SPEC: &str = r#"
version: 1
resource_group: { name: rg-collide, location: eastus2 }
foundries:
  - { name: foundry1, location: eastus2 }
  - { name: foundry2, location: swedencentral }
  - { name: foundry3, location: westus3 }
models:
  - { name: gpt-4.1, publisher: OpenAI, version: "2025-04-14", sku: GlobalStandard, capacity: 20, foundries: [foundry1, foundry2] }
  - { name: gpt-4-1, publisher: OpenAI, version: "2025-04-14", sku: GlobalStandard, capacity: 20, foundries: [foundry2, foundry3] }
apim: { name: apim-collide, sku: BasicV2, publisher_email: a@example.com, publisher_name: A }
apis:
  inference: { path: inference, type: azure-openai, routing: by-model ROUTES }
"#;

#[test]
fn colliding_derived_pools_are_refused_with_both_places() {
    let text = SPEC.replace(" ROUTES", "");
    let err = gw::model::load(
        &Source::new("gw.yaml", text),
        &Context { subscription: None },
    )
    .expect_err("the derived pools collide");
    let all = format!("{err:?}");
    assert!(all.contains("gpt-4-1") && all.contains("gpt-4.1"), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fix_routes_20_of_20_requests_to_hosts_of_the_model() {
    // The hint's fix: name a pool for one of the two models.
    let text = SPEC
        .replace(" ROUTES", ", routes: { gpt-4-1: pool-b } ")
        .replace(
            "apis:",
            "pools:\n  pool-b:\n    members:\n      - { foundry: foundry2 }\n      - { foundry: foundry3 }\napis:",
        );
    let m = model(&text);
    let h = start(&m, None, None).await;
    for (name, hosts) in [
        ("gpt-4-1", ["foundry2", "foundry3"]),
        ("gpt-4.1", ["foundry1", "foundry2"]),
    ] {
        for i in 0..20 {
            let a = post(&chat_url(&h, name), empty(), None, None).await;
            assert_eq!(a.status, 200, "{name} request {i}: {:?}", a.body);
            assert!(
                hosts.contains(&a.served_by()),
                "{name} request {i} went to {}",
                a.served_by()
            );
        }
    }
    h.stop().await;
}
