//! Secrets never reach output: a failed call that returns keys does not echo its body.

use gw::arm::{ArmClient, ArmConfig, TokenSource};
use serde_json::json;
use std::time::Duration;

use crate::support::emulator::{Emulator, Fault};
use crate::support::fake_az::{FAKE_SUBSCRIPTION, FAKE_TOKEN};

#[tokio::test]
async fn a_failed_list_secrets_does_not_print_the_key_in_its_body() {
    let emu = Emulator::start();
    let mut config = ArmConfig::default().with_endpoint(emu.url()).unwrap();
    config.max_retry_wait = Duration::ZERO;
    config.max_attempts = 1;
    let client = ArmClient::new(config, TokenSource::fixed(FAKE_TOKEN)).unwrap();
    let key = "5f0c2a9e7b3d4c1a8e6f0b2d4a6c8e0f";
    // A proxy or a broken backend answering with a body that is not an ARM error, and that
    // carries the key the call was meant to return.
    emu.add_fault(
        Fault::new("POST", "/listSecrets").respond(400, Some(json!(format!("primaryKey={key}")))),
    );
    let id = format!(
        "/subscriptions/{FAKE_SUBSCRIPTION}/resourceGroups/rg-gw/providers/Microsoft.ApiManagement/service/apim-gw/subscriptions/s1/listSecrets"
    );
    let err = client
        .post_read(&id, "2024-05-01", &json!({}))
        .await
        .expect_err("the fault answers 400");
    let shown = format!("{err} {err:?} {}", err.hint().unwrap_or_default());
    assert!(!shown.contains(key), "{shown}");
    assert!(
        shown.contains("is not shown: this call returns secrets"),
        "{shown}"
    );
    assert!(shown.contains("bytes"), "{shown}");
}
