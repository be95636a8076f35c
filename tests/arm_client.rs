//! The ARM client against the emulator: long-running operations, retries, ETags, paging,
//! soft delete, and credentials through a fake `az`.

use std::time::Duration;

use gw::arm::auth::{AuthOptions, DEFAULT_SCOPE, default_subscription_with};
use gw::arm::{ArmClient, ArmConfig, ArmError, AuthError, AuthMethod, TokenSource};
use serde_json::{Value, json};

use crate::support::emulator::{ApimLroHeader, Emulator, Fault};
use crate::support::fake_az::{FAKE_SUBSCRIPTION, FAKE_TOKEN, FakeAz};

const RG_API: &str = "2025-04-01";
const CS_API: &str = "2025-06-01";
const APIM_API: &str = "2024-05-01";
const POOL_API: &str = "2024-10-01-preview";
const RA_API: &str = "2022-04-01";

fn config(emu: &Emulator) -> ArmConfig {
    let mut config = ArmConfig::default()
        .with_endpoint(emu.url())
        .expect("loopback http is accepted");
    // What GW_MAX_RETRY_WAIT=0 does: no test waits for real.
    config.max_retry_wait = Duration::ZERO;
    config
}

fn client(emu: &Emulator) -> ArmClient {
    ArmClient::new(config(emu), TokenSource::fixed(FAKE_TOKEN)).expect("client")
}

/// An emulator and a client of it.
fn start() -> (Emulator, ArmClient) {
    let emu = Emulator::start();
    let c = client(&emu);
    (emu, c)
}

fn rg() -> String {
    format!("/subscriptions/{FAKE_SUBSCRIPTION}/resourceGroups/rg-gw")
}

fn account() -> String {
    format!(
        "{}/providers/Microsoft.CognitiveServices/accounts/foundry1",
        rg()
    )
}

fn apim() -> String {
    format!("{}/providers/Microsoft.ApiManagement/service/apim-gw", rg())
}

fn account_body() -> Value {
    json!({
        "location": "eastus2", "kind": "AIServices", "sku": {"name": "S0"},
        "identity": {"type": "SystemAssigned"},
        "properties": {"customSubDomainName": "foundry1-abc", "publicNetworkAccess": "Enabled"}
    })
}

fn apim_body() -> Value {
    json!({
        "location": "eastus2", "sku": {"name": "BasicV2", "capacity": 1},
        "identity": {"type": "SystemAssigned"},
        "properties": {"publisherEmail": "a@example.com", "publisherName": "gw"}
    })
}

async fn with_rg(c: &ArmClient) {
    c.put(&rg(), RG_API, &json!({"location": "eastus2"}), None)
        .await
        .expect("resource group");
}

async fn with_apim(c: &ArmClient) {
    with_rg(c).await;
    c.put(&apim(), APIM_API, &apim_body(), None)
        .await
        .expect("apim");
}

fn api_code(e: &ArmError) -> &str {
    e.code().unwrap_or("<none>")
}

#[tokio::test]
async fn put_with_azure_async_operation_returns_the_final_state() {
    let emu = Emulator::start();
    emu.set_lro_polls(3);
    let c = client(&emu);
    with_rg(&c).await;
    let live = c
        .put(&account(), CS_API, &account_body(), None)
        .await
        .unwrap();
    assert_eq!(live.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        live.body["properties"]["endpoint"],
        "https://foundry1-abc.cognitiveservices.azure.com/"
    );
    assert!(live.body["identity"]["principalId"].is_string());
    assert!(live.etag.is_some());
    assert_eq!(emu.count("GET", "/operationStatuses/"), 4);
    // After the operation, the client reads the resource for its final state.
    assert_eq!(emu.count("GET", "/accounts/foundry1"), 1);
}

#[tokio::test]
async fn put_with_location_returns_the_final_state() {
    let emu = Emulator::start();
    emu.set_lro_polls(2);
    let c = client(&emu);
    with_rg(&c).await;
    let live = c.put(&apim(), APIM_API, &apim_body(), None).await.unwrap();
    assert_eq!(live.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        live.body["properties"]["gatewayUrl"],
        "https://apim-gw.azure-api.net"
    );
    assert_eq!(emu.count("GET", "/operationResults/"), 3);

    emu.set_apim_lro_header(ApimLroHeader::AsyncOperation);
    let live = c.put(&apim(), APIM_API, &apim_body(), None).await.unwrap();
    assert_eq!(live.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(emu.count("GET", "/operationStatuses/"), 3);
}

#[tokio::test]
async fn a_failed_operation_is_a_typed_error_with_a_hint() {
    let (emu, c) = start();
    with_rg(&c).await;
    c.put(&account(), CS_API, &account_body(), None)
        .await
        .unwrap();
    emu.fail_next_lro(
        "/deployments/",
        "InsufficientQuota",
        "This operation require 100 new capacity in quota Tokens Per Minute",
    );
    let deployment = format!("{}/deployments/gpt-4o", account());
    let body = json!({"sku": {"name": "GlobalStandard", "capacity": 100},
        "properties": {"model": {"format": "OpenAI", "name": "gpt-4o", "version": "2024-11-20"}}});
    let err = c.put(&deployment, CS_API, &body, None).await.unwrap_err();
    assert_eq!(api_code(&err), "InsufficientQuota");
    assert!(
        err.to_string()
            .starts_with("InsufficientQuota: This operation")
    );
    assert!(err.hint().unwrap().contains("region"));
}

#[tokio::test]
async fn throttling_with_retry_after_is_transparent() {
    let (emu, c) = start();
    with_rg(&c).await;
    emu.add_fault(
        Fault::new("GET", "/resourceGroups/rg-gw")
            .times(2)
            .error(429, "TooManyRequests", "slow down")
            .header("Retry-After", "30"),
    );
    let live = c.get(&rg(), RG_API).await.unwrap().expect("exists");
    assert_eq!(live.body["name"], "rg-gw");
    assert_eq!(emu.count("GET", "/resourceGroups/rg-gw"), 3);

    // Throttling mode: every 3rd request is a 429; none of it reaches the caller.
    emu.set_throttle_every(Some(3));
    for _ in 0..10 {
        c.get(&rg(), RG_API).await.unwrap().expect("exists");
    }
    assert!(emu.journal().iter().any(|e| e.status == 429));
}

#[tokio::test]
async fn server_errors_are_retried_and_client_errors_are_not() {
    let (emu, c) = start();
    emu.add_fault(Fault::new("PUT", "/resourceGroups/").times(2).error(
        503,
        "ServiceUnavailable",
        "busy",
    ));
    with_rg(&c).await;
    assert_eq!(emu.count("PUT", "/resourceGroups/"), 3);

    emu.add_fault(Fault::new("PUT", "/resourceGroups/").error(400, "InvalidParameter", "bad"));
    let err = c
        .put(&rg(), RG_API, &json!({"location": "x"}), None)
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), "InvalidParameter");
    assert_eq!(err.status(), Some(400));
    assert_eq!(emu.count("PUT", "/resourceGroups/"), 4);
}

#[tokio::test]
async fn attempts_are_bounded() {
    let emu = Emulator::start();
    let mut config = config(&emu);
    config.max_attempts = 3;
    let c = ArmClient::new(config, TokenSource::fixed(FAKE_TOKEN)).unwrap();
    emu.add_fault(Fault::new("GET", "/resourceGroups/").times(100).error(
        500,
        "InternalServerError",
        "down",
    ));
    let err = c.get(&rg(), RG_API).await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(emu.count("GET", "/resourceGroups/"), 3);
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let (emu, c) = start();
    with_rg(&c).await;
    emu.add_fault(Fault::new("GET", "/resourceGroups/rg-gw").drop_connection());
    let live = c.get(&rg(), RG_API).await.unwrap();
    assert!(live.is_some());
    let statuses: Vec<u16> = emu.journal().iter().map(|e| e.status).collect();
    assert_eq!(statuses, vec![201, 0, 200]);
}

#[tokio::test]
async fn a_stale_if_match_is_a_typed_412() {
    let (emu, c) = start();
    with_apim(&c).await;
    let backend = format!("{}/backends/foundry1", apim());
    let body = json!({"properties": {"url": "https://foundry1-abc.openai.azure.com/openai", "protocol": "http"}});
    let first = c.put(&backend, POOL_API, &body, None).await.unwrap();
    let etag = first.etag.clone().expect("APIM children carry ETags");

    // Someone changes it behind our back.
    let mut drifted = emu.get_resource(&backend).unwrap();
    drifted["properties"]["url"] = json!("https://elsewhere/openai");
    emu.set_resource(&backend, drifted);

    let err = c
        .put(&backend, POOL_API, &body, Some(&etag))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(412));
    assert_eq!(api_code(&err), "PreconditionFailed");
    assert!(err.hint().unwrap().contains("changed"));
    assert_eq!(emu.count("PUT", "/backends/"), 2, "412 is not retried");

    let current = c.get(&backend, POOL_API).await.unwrap().unwrap();
    let fixed = c
        .put(&backend, POOL_API, &body, current.etag.as_deref())
        .await
        .unwrap();
    assert_eq!(fixed.body["properties"]["url"], body["properties"]["url"]);
    c.put(&backend, POOL_API, &body, Some("*")).await.unwrap();
    let err = c.delete(&backend, POOL_API, Some(&etag)).await.unwrap_err();
    assert_eq!(err.status(), Some(412));
}

#[tokio::test]
async fn lists_follow_next_link() {
    let (emu, c) = start();
    with_apim(&c).await;
    for i in 0..5 {
        let id = format!("{}/backends/b{i}", apim());
        c.put(
            &id,
            POOL_API,
            &json!({"properties": {"url": format!("https://b{i}/openai"), "protocol": "http"}}),
            None,
        )
        .await
        .unwrap();
    }
    let items = c
        .list(&format!("{}/backends", apim()), POOL_API)
        .await
        .unwrap();
    let names: Vec<&str> = items.iter().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(names, ["b0", "b1", "b2", "b3", "b4"]);
    assert_eq!(emu.count("GET", "/backends"), 3, "pages of 2");
    let journal = emu.jsonl();
    assert!(
        journal.contains(r#""nextLink":"/subscriptions/"#),
        "{journal}"
    );
    assert!(!journal.contains(emu.url()));

    let groups = c
        .list(
            &format!("/subscriptions/{FAKE_SUBSCRIPTION}/resourcegroups"),
            RG_API,
        )
        .await
        .unwrap();
    assert_eq!(groups.len(), 1);
}

#[tokio::test]
async fn reads_and_deletes_of_missing_resources() {
    let (_emu, c) = start();
    with_rg(&c).await;
    assert!(c.get(&account(), CS_API).await.unwrap().is_none());
    c.delete(&account(), CS_API, None).await.unwrap();

    let err = c
        .put(
            &format!("{}/apis/x", apim()),
            APIM_API,
            &json!({"properties": {"path": "x"}}),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), "ParentResourceNotFound");
    let other_rg = format!(
        "/subscriptions/{FAKE_SUBSCRIPTION}/resourceGroups/nope/providers/Microsoft.ApiManagement/service/a"
    );
    let err = c
        .put(&other_rg, APIM_API, &apim_body(), None)
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), "ResourceGroupNotFound");
    assert!(err.hint().is_some());
}

#[tokio::test]
async fn soft_deleted_accounts_block_their_name_until_restored_or_purged() {
    let (_emu, c) = start();
    with_rg(&c).await;
    c.put(&account(), CS_API, &account_body(), None)
        .await
        .unwrap();
    let deployment = format!("{}/deployments/gpt-4o", account());
    c.put(&deployment, CS_API, &json!({"sku": {"name": "Standard", "capacity": 1}, "properties": {"model": {"format": "OpenAI", "name": "gpt-4o", "version": "1"}}}), None)
        .await
        .unwrap();
    c.delete(&account(), CS_API, None).await.unwrap();
    assert!(c.get(&account(), CS_API).await.unwrap().is_none());

    let deleted_list = format!(
        "/subscriptions/{FAKE_SUBSCRIPTION}/providers/Microsoft.CognitiveServices/deletedAccounts"
    );
    let deleted = c.list(&deleted_list, CS_API).await.unwrap();
    assert_eq!(deleted.len(), 1);
    let deleted_id = deleted[0]["id"].as_str().unwrap().to_string();
    assert!(
        deleted_id.contains("/locations/eastus2/resourceGroups/rg-gw/deletedAccounts/foundry1")
    );

    let err = c
        .put(&account(), CS_API, &account_body(), None)
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), "FlagMustBeSetForRestore");
    assert!(err.hint().unwrap().contains("purge"));

    let mut restore = account_body();
    restore["properties"]["restore"] = json!(true);
    c.put(&account(), CS_API, &restore, None).await.unwrap();
    assert!(
        c.get(&deployment, CS_API).await.unwrap().is_some(),
        "children come back"
    );

    c.delete(&account(), CS_API, None).await.unwrap();
    c.delete(&deleted_id, CS_API, None).await.unwrap();
    assert!(c.list(&deleted_list, CS_API).await.unwrap().is_empty());
    c.put(&account(), CS_API, &account_body(), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn soft_deleted_apim_and_resource_group_cascade() {
    let (emu, c) = start();
    with_apim(&c).await;
    c.delete(&rg(), RG_API, None).await.unwrap();
    assert!(emu.get_resource(&apim()).is_none());
    let deleted = c
        .list(&format!("/subscriptions/{FAKE_SUBSCRIPTION}/providers/Microsoft.ApiManagement/deletedservices"), APIM_API)
        .await
        .unwrap();
    assert_eq!(deleted[0]["name"], "apim-gw");
    with_rg(&c).await;
    let err = c
        .put(&apim(), APIM_API, &apim_body(), None)
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), "ServiceAlreadyExistsInSoftDeletedState");
}

#[tokio::test]
async fn concurrent_deployment_writes_are_serialised_by_retrying_conflicts() {
    let emu = Emulator::start();
    let mut config = config(&emu);
    // Instant retries would burn every attempt while the first write runs: keep a little backoff.
    config.max_retry_wait = Duration::from_millis(20);
    let c = ArmClient::new(config, TokenSource::fixed(FAKE_TOKEN)).unwrap();
    with_rg(&c).await;
    c.put(&account(), CS_API, &account_body(), None)
        .await
        .unwrap();
    let body = json!({"sku": {"name": "Standard", "capacity": 1}, "properties": {"model": {"format": "OpenAI", "name": "m", "version": "1"}}});
    let writes = (0..3).map(|i| {
        let c = c.clone();
        let body = body.clone();
        async move {
            c.put(
                &format!("{}/deployments/d{i}", account()),
                CS_API,
                &body,
                None,
            )
            .await
        }
    });
    for result in futures::future::join_all(writes).await {
        assert_eq!(
            result.unwrap().body["properties"]["provisioningState"],
            "Succeeded"
        );
    }
    assert!(emu.journal().iter().any(|e| e.status == 409));
}

#[tokio::test]
async fn principal_not_found_is_retried_while_the_identity_replicates() {
    let (emu, c) = start();
    with_rg(&c).await;
    c.put(&account(), CS_API, &account_body(), None)
        .await
        .unwrap();
    emu.set_principal_not_found(2);
    let ra = format!(
        "{}/providers/Microsoft.Authorization/roleAssignments/7f4b2c8e-0000-5000-8000-000000000001",
        account()
    );
    let live = c
        .put(&ra, RA_API, &json!({"properties": {"roleDefinitionId": "x", "principalId": "p", "principalType": "ServicePrincipal"}}), None)
        .await
        .unwrap();
    assert_eq!(live.body["properties"]["scope"], account());
    assert_eq!(emu.count("PUT", "/roleAssignments/"), 3);
}

#[tokio::test]
async fn policies_read_back_raw_only_when_asked() {
    let (_emu, c) = start();
    with_apim(&c).await;
    let api = format!("{}/apis/openai", apim());
    let api_live = c
        .put(
            &api,
            APIM_API,
            &json!({"properties": {"path": "openai", "protocols": ["https"]}}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(api_live.body["properties"]["isCurrent"], true);
    let policy = format!("{api}/policies/policy");
    let xml = "<policies>\n  <inbound>\n    <base />\n  </inbound>\n</policies>";
    let body = json!({"properties": {"format": "rawxml", "value": xml}});
    let live = c
        .put_with_read_query(&policy, APIM_API, &body, None, &[("format", "rawxml")])
        .await
        .unwrap();
    assert_eq!(live.body["properties"]["value"], xml);
    let escaped = c.get(&policy, APIM_API).await.unwrap().unwrap();
    assert_eq!(escaped.body["properties"]["format"], "xml");
    assert_ne!(escaped.body["properties"]["value"], xml);
}

#[tokio::test]
async fn list_secrets_is_a_read_and_the_journal_redacts_keys() {
    let (emu, c) = start();
    with_apim(&c).await;
    let sub = format!("{}/subscriptions/gw-key", apim());
    c.put(
        &sub,
        APIM_API,
        &json!({"properties": {"scope": "/apis", "displayName": "gw"}}),
        None,
    )
    .await
    .unwrap();
    emu.add_fault(Fault::new("POST", "/listSecrets").error(503, "ServiceUnavailable", "busy"));
    let keys = c
        .post_read(&format!("{sub}/listSecrets"), APIM_API, &json!({}))
        .await
        .unwrap();
    let primary = keys["primaryKey"].as_str().unwrap();
    assert_eq!(primary.len(), 32);
    let journal = emu.jsonl();
    assert!(!journal.contains(primary));
    assert!(journal.contains(r#""primaryKey":"***""#));
    assert!(!journal.contains(FAKE_TOKEN));
    for line in journal.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert!(v["url"].as_str().unwrap().starts_with("/subscriptions/"));
    }

    // An unsafe POST is sent once.
    emu.add_fault(Fault::new("POST", "/listSecrets").error(503, "ServiceUnavailable", "busy"));
    let before = emu.count("POST", "/listSecrets");
    let err = c
        .post(&format!("{sub}/listSecrets"), APIM_API, &json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(emu.count("POST", "/listSecrets"), before + 1);
}

#[tokio::test]
async fn operations_that_outlast_the_timeout_fail() {
    let emu = Emulator::start();
    emu.set_lro_polls(1_000_000);
    let mut config = config(&emu);
    config.lro_timeout = Duration::from_millis(200);
    let c = ArmClient::new(config, TokenSource::fixed(FAKE_TOKEN)).unwrap();
    with_rg(&c).await;
    let err = c
        .put(&apim(), APIM_API, &apim_body(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ArmError::LroTimeout { .. }), "{err}");
    assert!(err.hint().unwrap().contains("GW_LRO_TIMEOUT"));
}

#[tokio::test]
async fn a_rejected_token_is_an_auth_error_with_a_hint() {
    let emu = Emulator::start();
    emu.set_token("another-token");
    let c = client(&emu);
    let err = c.get(&rg(), RG_API).await.unwrap_err();
    assert_eq!(api_code(&err), "AuthenticationFailed");
    assert!(err.hint().unwrap().contains("az login"));
    assert_eq!(emu.count("GET", "/"), 2, "one retry with a fresh token");
    assert_eq!(c.request_count(), 2);
}

fn cli_source(az: &FakeAz) -> TokenSource {
    TokenSource::new(&AuthOptions {
        method: AuthMethod::Cli,
        scope: DEFAULT_SCOPE.to_string(),
        az_search_path: Some(az.path_with_system()),
    })
    .expect("cli credential")
}

#[tokio::test]
async fn not_logged_in_says_run_az_login() {
    let emu = Emulator::start();
    let az = FakeAz::logged_out();
    let c = ArmClient::new(config(&emu), cli_source(&az)).unwrap();
    let err = c.get(&rg(), RG_API).await.unwrap_err();
    assert!(
        matches!(err, ArmError::Auth(AuthError::NotLoggedIn)),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "not logged in to Azure");
    assert!(err.hint().unwrap().contains("run `az login`"));
    assert_eq!(emu.journal().len(), 0, "nothing is sent without a token");

    let err = default_subscription_with(Some(&az.path_with_system()))
        .await
        .unwrap_err();
    assert_eq!(err, AuthError::NotLoggedIn);
}

#[tokio::test]
async fn the_cli_token_is_fetched_once_and_shared() {
    let emu = Emulator::start();
    let az = FakeAz::new();
    let c = ArmClient::new(config(&emu), cli_source(&az)).unwrap();
    with_rg(&c).await;
    let reads = (0..20).map(|_| {
        let c = c.clone();
        async move { c.get(&rg(), RG_API).await }
    });
    for r in futures::future::join_all(reads).await {
        assert!(r.unwrap().is_some());
    }
    assert_eq!(az.token_calls(), 1);
    assert!(az.calls()[0].contains("--scope https://management.azure.com/.default"));
    assert_eq!(c.request_count(), 21);
    assert_eq!(
        default_subscription_with(Some(&az.path_with_system()))
            .await
            .unwrap(),
        FAKE_SUBSCRIPTION
    );
}

#[tokio::test]
async fn the_emulator_requires_a_token_and_an_api_version() {
    let emu = Emulator::start();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("{}{}", emu.url(), rg());
    let no_token = http
        .get(format!("{url}?api-version={RG_API}"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    let body: Value = no_token.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AuthenticationFailed");
    let no_version = http.get(&url).bearer_auth(FAKE_TOKEN).send().await.unwrap();
    assert_eq!(no_version.status(), 400);
    let body: Value = no_version.json().await.unwrap();
    assert_eq!(body["error"]["code"], "MissingApiVersionParameter");
    assert!(!emu.jsonl().contains(FAKE_TOKEN));
}
