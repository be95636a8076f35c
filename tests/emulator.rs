//! The ARM emulator answers as real Azure does (docs/azure-behaviours.md lists each behaviour
//! with its public source). These tests drive it over plain HTTP, without gw, so each pins
//! the emulator's answer itself: status, error code, message and headers.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::emulator::{CALLER_OID, Emulator, LOCKED_MESSAGE, RateLimits};
use crate::support::fake_az::{FAKE_SUBSCRIPTION, FAKE_TOKEN};

const RG_API: &str = "2025-04-01";
const CS_API: &str = "2025-06-01";
const APIM_API: &str = "2024-05-01";
const RA_API: &str = "2022-04-01";

/// An answer: status, headers (lower-cased names) and the JSON body (`Null` when empty).
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("<none>")
    }

    fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("<none>")
    }

    /// The URL to poll, when this answer started an operation.
    fn operation(&self) -> Option<String> {
        self.header("azure-asyncoperation")
            .or_else(|| self.header("location"))
            .map(str::to_string)
    }
}

/// An emulator and an HTTP client of it.
struct Arm {
    emu: Emulator,
    http: reqwest::Client,
}

impl Arm {
    fn start() -> Self {
        Arm {
            emu: Emulator::start(),
            http: reqwest::Client::new(),
        }
    }

    /// `path` is an ARM id (or a URL the emulator handed out); `api` the api-version, empty
    /// when `path` already has its query.
    async fn send(
        &self,
        method: &str,
        path: &str,
        api: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Answer {
        let mut url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.emu.url())
        };
        if !api.is_empty() {
            let sep = if url.contains('?') { '&' } else { '?' };
            url = format!("{url}{sep}api-version={api}");
        }
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, url).bearer_auth(FAKE_TOKEN);
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(m) = if_match {
            req = req.header("If-Match", m);
        }
        let resp = req.send().await.expect("the emulator answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str, api: &str) -> Answer {
        self.send("GET", path, api, None, None).await
    }

    async fn put(&self, path: &str, api: &str, body: &Value) -> Answer {
        self.send("PUT", path, api, Some(body), None).await
    }

    async fn delete(&self, path: &str, api: &str, if_match: Option<&str>) -> Answer {
        self.send("DELETE", path, api, None, if_match).await
    }

    /// Polls an operation to its end; the last answer of the operation URL.
    async fn finish(&self, started: &Answer) -> Answer {
        let url = started.operation().expect("an operation URL");
        loop {
            let a = self.get(&url, "").await;
            if a.status != 202 && a.body["status"] != "InProgress" {
                return a;
            }
        }
    }

    /// PUT and poll to the end; the resource as a GET then shows it.
    async fn create(&self, path: &str, api: &str, body: &Value) -> Answer {
        let a = self.put(path, api, body).await;
        assert!(matches!(a.status, 200 | 201), "PUT {path}: {}", a.body);
        if a.operation().is_some() {
            self.finish(&a).await;
        }
        self.get(path, api).await
    }

    async fn with_apim(&self) {
        self.create(&rg(), RG_API, &json!({"location": "eastus2"}))
            .await;
        let svc = self.create(&apim(), APIM_API, &apim_body()).await;
        assert_eq!(svc.body["properties"]["provisioningState"], "Succeeded");
    }

    async fn with_account(&self) {
        self.create(&rg(), RG_API, &json!({"location": "eastus2"}))
            .await;
        self.create(&account("foundry1"), CS_API, &account_body("foundry1-abc"))
            .await;
    }
}

fn rg() -> String {
    format!("/subscriptions/{FAKE_SUBSCRIPTION}/resourceGroups/rg-gw")
}

fn account(name: &str) -> String {
    format!(
        "{}/providers/Microsoft.CognitiveServices/accounts/{name}",
        rg()
    )
}

fn apim() -> String {
    format!("{}/providers/Microsoft.ApiManagement/service/apim-gw", rg())
}

fn api(name: &str) -> String {
    format!("{}/apis/{name}", apim())
}

fn account_body(subdomain: &str) -> Value {
    json!({
        "location": "eastus2", "kind": "AIServices", "sku": {"name": "S0"},
        "identity": {"type": "SystemAssigned"},
        "properties": {"customSubDomainName": subdomain}
    })
}

fn apim_body() -> Value {
    json!({
        "location": "eastus2", "sku": {"name": "BasicV2", "capacity": 1},
        "identity": {"type": "SystemAssigned"},
        "properties": {"publisherEmail": "a@example.com", "publisherName": "gw"}
    })
}

fn api_body() -> Value {
    json!({"properties": {"displayName": "chat", "path": "chat", "protocols": ["https"]}})
}

fn operation_body() -> Value {
    json!({"properties": {"displayName": "c", "method": "POST", "urlTemplate": "/c"}})
}

fn deployment_body() -> Value {
    json!({"sku": {"name": "GlobalStandard", "capacity": 10},
        "properties": {"model": {"format": "OpenAI", "name": "gpt-4o", "version": "2024-11-20"}}})
}

const ROLE: &str = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd";
const P1: &str = "11111111-1111-1111-1111-111111111111";
const P2: &str = "22222222-2222-2222-2222-222222222222";

fn assignment(scope: &str, name: &str) -> String {
    format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}")
}

fn assignment_body(principal: &str) -> Value {
    json!({"properties": {
        "roleDefinitionId": format!("/subscriptions/{FAKE_SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{ROLE}"),
        "principalId": principal,
        "principalType": "ServicePrincipal",
    }})
}

fn provisioning(a: &Answer) -> &str {
    a.body["properties"]["provisioningState"]
        .as_str()
        .unwrap_or("<none>")
}

#[tokio::test]
async fn the_api_lock_refuses_overlapping_writes_to_one_api_only() {
    let arm = Arm::start();
    arm.with_apim().await;
    // Off by default: back-to-back writes to one API go through.
    arm.create(&api("free"), APIM_API, &api_body()).await;
    let op = arm
        .put(
            &format!("{}/operations/c", api("free")),
            APIM_API,
            &operation_body(),
        )
        .await;
    assert_eq!(op.status, 201);

    let settle = Duration::from_millis(300);
    arm.emu.set_api_lock(Some(settle));
    let started = arm.put(&api("chat"), APIM_API, &api_body()).await;
    assert!(started.operation().is_some(), "an API PUT is long-running");
    // While the API's write runs: its operations, policy, and product/tag links are refused.
    let blocked = [
        format!("{}/operations/c", api("chat")),
        format!("{}/policies/policy", api("chat")),
        format!("{}/products/p/apis/chat", apim()),
        format!("{}/tags/t/apis/chat;rev=1", apim()),
    ];
    let mut codes = Vec::new();
    for path in &blocked {
        let a = arm.put(path, APIM_API, &operation_body()).await;
        assert_eq!(a.status, 409, "{path}: {}", a.body);
        assert_eq!(a.message(), LOCKED_MESSAGE);
        assert_eq!(a.body["error"]["details"], Value::Null);
        codes.push(a.code().to_string());
    }
    // Azure uses both spellings: every third refusal is `Conflict`.
    assert_eq!(
        codes,
        [
            "PessimisticConcurrencyConflict",
            "PessimisticConcurrencyConflict",
            "Conflict",
            "PessimisticConcurrencyConflict"
        ]
    );
    // Another API is not blocked.
    let other = arm.put(&api("embeddings"), APIM_API, &api_body()).await;
    assert_eq!(other.status, 201, "{}", other.body);

    // Polled to completion, the API still settles for a while.
    arm.finish(&started).await;
    let settling = arm
        .put(
            &format!("{}/operations/c", api("chat")),
            APIM_API,
            &operation_body(),
        )
        .await;
    assert_eq!(settling.status, 409);
    tokio::time::sleep(settle + Duration::from_millis(50)).await;
    let op = arm
        .put(
            &format!("{}/operations/c", api("chat")),
            APIM_API,
            &operation_body(),
        )
        .await;
    assert_eq!(op.status, 201, "{}", op.body);
    // A synchronous write settles too: the next one right after it is refused.
    let policy = arm
        .put(
            &format!("{}/policies/policy", api("chat")),
            APIM_API,
            &json!({"properties": {"format": "rawxml", "value": "<policies/>"}}),
        )
        .await;
    assert_eq!(policy.status, 409);
    assert_eq!(arm.emu.api_lock_refusals(), 6);
    // Reads are never refused.
    assert_eq!(arm.get(&api("chat"), APIM_API).await.status, 200);
}

fn openapi(paths: Value) -> Value {
    json!({"properties": {
        "displayName": "chat", "path": "chat", "protocols": ["https"],
        "format": "openapi+json",
        "value": json!({"openapi": "3.0.1", "info": {"title": "t", "version": "1"}, "paths": paths}).to_string(),
    }})
}

#[tokio::test]
async fn an_openapi_import_replaces_the_apis_operations() {
    let arm = Arm::start();
    arm.with_apim().await;
    let doc = openapi(json!({
        "/deployments/{deployment-id}/chat/completions": {
            "post": {"operationId": "chat", "summary": "Chat completions"},
            "parameters": [],
        },
        "/models": {"get": {"operationId": "models"}},
    }));
    let live = arm.create(&api("chat"), APIM_API, &doc).await;
    // `format` and `value` are write-only.
    assert_eq!(live.body["properties"].get("format"), None);
    assert_eq!(live.body["properties"].get("value"), None);
    let ops = arm
        .get(&format!("{}/operations", api("chat")), APIM_API)
        .await;
    let mut names: Vec<&str> = ops.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["chat", "models"]);
    let chat = arm
        .get(&format!("{}/operations/chat", api("chat")), APIM_API)
        .await;
    assert!(
        chat.header("etag").is_some(),
        "imported operations have ETags"
    );
    let props = &chat.body["properties"];
    assert_eq!(props["displayName"], "Chat completions");
    assert_eq!(props["method"], "POST");
    assert_eq!(
        props["urlTemplate"],
        "/deployments/{deployment-id}/chat/completions"
    );
    assert_eq!(
        props["templateParameters"],
        json!([{"name": "deployment-id", "type": "string", "required": true, "values": []}])
    );
    let models = arm
        .get(&format!("{}/operations/models", api("chat")), APIM_API)
        .await;
    assert_eq!(models.body["properties"]["displayName"], "models");
    assert_eq!(models.body["properties"]["method"], "GET");

    // A new document replaces the operations: those not in it are gone.
    arm.create(
        &api("chat"),
        APIM_API,
        &openapi(json!({"/embeddings": {"post": {"operationId": "embed"}}})),
    )
    .await;
    let ops = arm
        .get(&format!("{}/operations", api("chat")), APIM_API)
        .await;
    assert_eq!(ops.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(ops.body["value"][0]["name"], "embed");

    // A document APIM cannot read is a 400 ValidationError, and changes nothing.
    let mut bad = openapi(json!({}));
    bad["properties"]["value"] = json!("{not json");
    let a = arm.put(&api("chat"), APIM_API, &bad).await;
    assert_eq!((a.status, a.code()), (400, "ValidationError"));
    assert!(a.message().contains("not valid JSON"), "{}", a.message());
    bad["properties"]["value"] = json!(json!({"swagger": "2.0", "paths": {}}).to_string());
    let a = arm.put(&api("chat"), APIM_API, &bad).await;
    assert_eq!((a.status, a.code()), (400, "ValidationError"));
    assert!(a.message().contains("OpenAPI 3"), "{}", a.message());
    let ops = arm
        .get(&format!("{}/operations", api("chat")), APIM_API)
        .await;
    assert_eq!(ops.body["value"][0]["name"], "embed");
}

#[tokio::test]
async fn failed_operations_leave_resources_failed_and_a_failed_deployment_must_be_deleted() {
    let arm = Arm::start();
    // Counted across accounts, deployments and APIM services: the 2nd, 4th ... fail.
    arm.emu.set_lro_failure_every(Some(2));
    arm.with_account().await;
    let deployment = format!("{}/deployments/gpt-4o", account("foundry1"));
    let started = arm.put(&deployment, CS_API, &deployment_body()).await;
    let end = arm.finish(&started).await;
    assert_eq!(end.body["status"], "Failed");
    assert_eq!(end.body["error"]["code"], "InternalServerError");
    assert_eq!(provisioning(&arm.get(&deployment, CS_API).await), "Failed");

    // A Failed deployment cannot be re-PUT, however often it is tried.
    arm.emu.set_lro_failure_every(None);
    for _ in 0..2 {
        let again = arm.put(&deployment, CS_API, &deployment_body()).await;
        assert_eq!((again.status, again.code()), (400, "BadRequest"));
        assert_eq!(
            again.message(),
            "The deployment 'gpt-4o' is in 'Failed' state, please delete it before creating a new one."
        );
    }
    // DELETE then PUT repairs it.
    let deleted = arm.delete(&deployment, CS_API, None).await;
    arm.finish(&deleted).await;
    let live = arm.create(&deployment, CS_API, &deployment_body()).await;
    assert_eq!(provisioning(&live), "Succeeded");

    // An account whose operation fails stays Failed, with the RP's message; its re-PUT is
    // accepted and runs a normal operation (unconfirmed in the catalogue).
    arm.emu.set_lro_failure_every(Some(1));
    let started = arm
        .put(&account("foundry2"), CS_API, &account_body("foundry2-abc"))
        .await;
    let end = arm.finish(&started).await;
    assert_eq!(end.body["error"]["code"], "BadRequest");
    assert_eq!(
        end.body["error"]["message"],
        "Parent account does not provision correctly, please retry creating the account."
    );
    for _ in 0..2 {
        assert_eq!(
            provisioning(&arm.get(&account("foundry2"), CS_API).await),
            "Failed"
        );
    }
    arm.emu.set_lro_failure_every(None);
    let live = arm
        .create(&account("foundry2"), CS_API, &account_body("foundry2-abc"))
        .await;
    assert_eq!(provisioning(&live), "Succeeded");

    // An APIM service too (its operation is polled through Location: a 400 with the error).
    arm.emu.set_lro_failure_every(Some(1));
    let started = arm.put(&apim(), APIM_API, &apim_body()).await;
    let end = arm.finish(&started).await;
    assert_eq!(end.body["error"]["code"], "InternalServerError");
    assert_eq!(provisioning(&arm.get(&apim(), APIM_API).await), "Failed");
    arm.emu.set_lro_failure_every(None);
    assert_eq!(
        provisioning(&arm.create(&apim(), APIM_API, &apim_body()).await),
        "Succeeded"
    );

    // A scripted failure (fail_next_lro) leaves the resource Failed in the same way.
    arm.emu
        .fail_next_lro("/deployments/gpt-4o-mini", "InsufficientQuota", "no quota");
    let mini = format!("{}/deployments/gpt-4o-mini", account("foundry1"));
    let started = arm.put(&mini, CS_API, &deployment_body()).await;
    assert_eq!(
        arm.finish(&started).await.body["error"]["code"],
        "InsufficientQuota"
    );
    let live = arm.get(&mini, CS_API).await;
    assert_eq!(provisioning(&live), "Failed");
    assert_eq!(arm.put(&mini, CS_API, &deployment_body()).await.status, 400);
}

#[tokio::test]
async fn a_failed_account_heals_itself_when_asked_to() {
    let arm = Arm::start();
    arm.create(&rg(), RG_API, &json!({"location": "eastus2"}))
        .await;
    arm.emu.set_account_self_heal(true);
    arm.emu.set_lro_failure_every(Some(1));
    let started = arm
        .put(&account("foundry1"), CS_API, &account_body("f1"))
        .await;
    assert_eq!(arm.finish(&started).await.body["status"], "Failed");
    let first = arm.get(&account("foundry1"), CS_API).await;
    assert_eq!(provisioning(&first), "Failed");
    let second = arm.get(&account("foundry1"), CS_API).await;
    assert_eq!(provisioning(&second), "Succeeded");
    assert_eq!(second.body["properties"].get("error"), None);
}

#[tokio::test]
async fn an_account_bounces_to_accepted_and_refuses_children_meanwhile() {
    let arm = Arm::start();
    arm.create(&rg(), RG_API, &json!({"location": "eastus2"}))
        .await;
    arm.emu.set_account_bounce(2);
    let started = arm
        .put(&account("foundry1"), CS_API, &account_body("f1"))
        .await;
    assert_eq!(arm.finish(&started).await.body["status"], "Succeeded");

    let id = account("foundry1");
    let expected = format!(
        "Call to Microsoft.CognitiveServices/accounts failed. Error message: Account {id} in state Accepted"
    );
    let deployment = format!("{id}/deployments/gpt-4o");
    let ra = assignment(&id, "8d1a0c3e-0000-4000-8000-000000000001");
    for (path, api, body) in [
        (&deployment, CS_API, deployment_body()),
        (&ra, RA_API, assignment_body(P1)),
    ] {
        let refused = arm.put(path, api, &body).await;
        assert_eq!(refused.status, 400, "{path}");
        assert_eq!(refused.code(), "AccountProvisioningStateInvalid");
        assert_eq!(refused.message(), expected);
        assert_eq!(refused.body["error"]["details"], json!([]));
    }
    assert_eq!(provisioning(&arm.get(&id, CS_API).await), "Accepted");
    assert_eq!(provisioning(&arm.get(&id, CS_API).await), "Accepted");
    assert_eq!(provisioning(&arm.get(&id, CS_API).await), "Succeeded");
    let live = arm.create(&deployment, CS_API, &deployment_body()).await;
    assert_eq!(provisioning(&live), "Succeeded");
}

#[tokio::test]
async fn role_assignments_keep_their_principal_and_exist_once() {
    let arm = Arm::start();
    arm.with_account().await;
    arm.emu.set_page_size(1);
    let scope = account("foundry1");
    let first = "0a1b2c3d-0000-4000-8000-00000000000a";
    let created = arm
        .put(&assignment(&scope, first), RA_API, &assignment_body(P1))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    // Re-PUT of the same assignment is fine.
    let same = arm
        .put(&assignment(&scope, first), RA_API, &assignment_body(P1))
        .await;
    assert_eq!(same.status, 200);
    // Another principal under the same name (a re-created identity): refused.
    let moved = arm
        .put(&assignment(&scope, first), RA_API, &assignment_body(P2))
        .await;
    assert_eq!(
        (moved.status, moved.code()),
        (400, "RoleAssignmentUpdateNotPermitted")
    );
    assert_eq!(
        moved.message(),
        "Tenant ID, application ID, principal ID, and scope are not allowed to be updated."
    );
    // The same name at another scope is a scope change: refused too.
    let elsewhere = arm
        .put(&assignment(&rg(), first), RA_API, &assignment_body(P1))
        .await;
    assert_eq!(elsewhere.code(), "RoleAssignmentUpdateNotPermitted");
    // The same grant under a new name: 409 naming the existing one.
    let twin = arm
        .put(
            &assignment(&scope, "0a1b2c3d-0000-4000-8000-00000000000b"),
            RA_API,
            &assignment_body(P1),
        )
        .await;
    assert_eq!((twin.status, twin.code()), (409, "RoleAssignmentExists"));
    assert_eq!(
        twin.message(),
        "The role assignment already exists. The ID of the existing role assignment is 0a1b2c3d00004000800000000000000a."
    );
    // A second principal, and one on the resource group.
    let second = "0a1b2c3d-0000-4000-8000-00000000000c";
    arm.create(&assignment(&scope, second), RA_API, &assignment_body(P2))
        .await;
    arm.create(
        &assignment(&rg(), "0a1b2c3d-0000-4000-8000-00000000000d"),
        RA_API,
        &assignment_body(P2),
    )
    .await;

    // At the account: its own and the inherited one; pages of one keep the filter.
    assert_eq!(short(list(&arm, &scope, "").await), ["a", "c", "d"]);
    assert_eq!(
        short(list(&arm, &scope, "atScope()").await),
        ["a", "c", "d"]
    );
    let p2 = format!("principalId eq '{P2}'");
    assert_eq!(short(list(&arm, &scope, &p2).await), ["c", "d"]);
    // At the group: below it too, unless atScope().
    assert_eq!(short(list(&arm, &rg(), "").await), ["a", "c", "d"]);
    assert_eq!(short(list(&arm, &rg(), "atScope()").await), ["d"]);
    // A scope body shows where the assignment lives.
    let live = arm.get(&assignment(&scope, first), RA_API).await;
    assert_eq!(live.body["properties"]["scope"], scope);

    // A caller without Microsoft.Authorization/roleAssignments/write.
    arm.emu.set_deny_role_writes(true);
    let path = assignment(&scope, "0a1b2c3d-0000-4000-8000-00000000000e");
    let denied = arm.put(&path, RA_API, &assignment_body(P1)).await;
    assert_eq!((denied.status, denied.code()), (403, "AuthorizationFailed"));
    assert_eq!(denied.header("x-ms-failure-cause"), Some("gateway"));
    assert_eq!(
        denied.message(),
        format!(
            "The client '{CALLER_OID}' with object id '{CALLER_OID}' does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/write' over scope '{path}' or the scope is invalid. If access was recently granted, please refresh your credentials."
        )
    );
    let delete = arm.delete(&assignment(&scope, first), RA_API, None).await;
    assert_eq!(delete.status, 403);
    assert!(delete.message().contains("roleAssignments/delete"));
}

/// The names of the role assignments listed at `scope`, following every page.
async fn list(arm: &Arm, scope: &str, filter: &str) -> Vec<String> {
    let mut url =
        format!("{scope}/providers/Microsoft.Authorization/roleAssignments?api-version={RA_API}");
    if !filter.is_empty() {
        url = format!("{url}&$filter={}", urlencode(filter));
    }
    let mut names = Vec::new();
    let mut next = Some(url);
    let mut pages = 0;
    while let Some(u) = next {
        let page = arm.get(&u, "").await;
        assert_eq!(page.status, 200, "{}", page.body);
        for item in page.body["value"].as_array().unwrap() {
            names.push(item["name"].as_str().unwrap().to_string());
        }
        next = page.body["nextLink"].as_str().map(str::to_string);
        pages += 1;
    }
    assert_eq!(pages, names.len().max(1), "pages of one");
    names.sort();
    names
}

/// The last character of each name (the test's assignments differ only there).
fn short(names: Vec<String>) -> Vec<String> {
    names.iter().map(|n| n[n.len() - 1..].to_string()).collect()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn an_apim_delete_runs_on_after_get_says_404_and_a_new_service_has_a_new_identity() {
    let arm = Arm::start();
    arm.with_apim().await;
    let old = arm.get(&apim(), APIM_API).await.body["identity"]["principalId"].clone();
    let deleting = arm.delete(&apim(), APIM_API, None).await;
    assert_eq!(deleting.status, 202);
    assert_eq!(arm.get(&apim(), APIM_API).await.status, 404);
    // The delete still runs: a create of that name, and a purge, are refused.
    let early = arm.put(&apim(), APIM_API, &apim_body()).await;
    assert_eq!(
        (early.status, early.code()),
        (409, "EmulatorServiceDeleteInProgress")
    );
    let purge = format!(
        "/subscriptions/{FAKE_SUBSCRIPTION}/providers/Microsoft.ApiManagement/locations/eastus2/deletedservices/apim-gw"
    );
    let early = arm.delete(&purge, APIM_API, None).await;
    assert_eq!(early.code(), "EmulatorServiceDeleteInProgress");
    arm.finish(&deleting).await;
    // Then the soft-deleted record holds the name, worded as Azure does.
    let held = arm.put(&apim(), APIM_API, &apim_body()).await;
    assert_eq!(
        (held.status, held.code()),
        (409, "ServiceAlreadyExistsInSoftDeletedState")
    );
    assert_eq!(
        held.message(),
        "Api service apim-gw was soft-deleted. In order to create the new service with the same name, you have to either undelete the service or purge it. See https://aka.ms/apimsoftdelete."
    );
    let purged = arm.delete(&purge, APIM_API, None).await;
    arm.finish(&purged).await;
    let new = arm.create(&apim(), APIM_API, &apim_body()).await;
    let new_id = new.body["identity"]["principalId"].clone();
    assert!(new_id.is_string());
    assert_ne!(
        new_id, old,
        "a re-created service has a new managed identity"
    );
    // A re-PUT of the same service keeps its identity.
    let again = arm.create(&apim(), APIM_API, &apim_body()).await;
    assert_eq!(again.body["identity"]["principalId"], new_id);

    // Behind the client's back: gone at once, no soft-deleted record, a third identity.
    assert!(arm.emu.purge_apim("APIM-gw"));
    assert_eq!(arm.get(&apim(), APIM_API).await.status, 404);
    let third = arm.create(&apim(), APIM_API, &apim_body()).await;
    let third_id = third.body["identity"]["principalId"].clone();
    assert_ne!(third_id, new_id);
    assert_ne!(third_id, old);
}

#[tokio::test]
async fn custom_subdomains_are_global_and_soft_deleted_names_need_restore() {
    let arm = Arm::start();
    arm.with_account().await;
    let in_use = |name: &str| {
        format!(
            "Please pick a different name. The subdomain name '{name}' is not available as it's already used by a resource. If the resource using the name was deleted in the last 48 hours, you may need to purge the deleted resource. Learn more at \"https://go.microsoft.com/fwlink/?linkid=2215493\""
        )
    };
    arm.emu.take_subdomain("Taken-Elsewhere");
    let a = arm
        .put(
            &account("foundry2"),
            CS_API,
            &account_body("taken-elsewhere"),
        )
        .await;
    assert_eq!((a.status, a.code()), (409, "CustomDomainInUse"));
    assert_eq!(a.message(), in_use("taken-elsewhere"));
    // Another live account's subdomain.
    let a = arm
        .put(&account("foundry2"), CS_API, &account_body("FOUNDRY1-abc"))
        .await;
    assert_eq!(a.code(), "CustomDomainInUse");

    // A soft-deleted account keeps its subdomain from other names ...
    let deleting = arm.delete(&account("foundry1"), CS_API, None).await;
    arm.finish(&deleting).await;
    let a = arm
        .put(&account("foundry3"), CS_API, &account_body("foundry1-abc"))
        .await;
    assert_eq!(a.code(), "CustomDomainInUse");
    // ... and its own name needs restore.
    let a = arm
        .put(&account("foundry1"), CS_API, &account_body("foundry1-abc"))
        .await;
    assert_eq!((a.status, a.code()), (409, "FlagMustBeSetForRestore"));
    assert_eq!(
        a.message(),
        format!(
            "An existing resource with ID '{}' has been soft-deleted. To restore the resource, you must specify 'restore' to be 'true' in the property. If you don't want to restore existing resource, please purge it first.",
            account("foundry1")
        )
    );
    let mut restore = account_body("foundry1-abc");
    restore["properties"]["restore"] = json!(true);
    let live = arm.create(&account("foundry1"), CS_API, &restore).await;
    assert_eq!(provisioning(&live), "Succeeded");
}

#[tokio::test]
async fn arm_throttles_as_a_token_bucket() {
    let arm = Arm::start();
    arm.create(&rg(), RG_API, &json!({"location": "eastus2"}))
        .await;
    // Without buckets: the old model's counters, never empty.
    let a = arm.get(&rg(), RG_API).await;
    assert!(
        a.header("x-ms-ratelimit-remaining-subscription-reads")
            .is_some()
    );

    arm.emu.set_rate_limits(Some(RateLimits {
        reads: 3,
        writes: 2,
        deletes: 2,
        refill_per_sec: 0.5,
    }));
    let mut left = Vec::new();
    for _ in 0..3 {
        let a = arm.get(&rg(), RG_API).await;
        assert_eq!(a.status, 200);
        left.push((
            a.header("x-ms-ratelimit-remaining-subscription-reads")
                .unwrap()
                .to_string(),
            a.header("x-ms-ratelimit-remaining-subscription-global-reads")
                .unwrap()
                .to_string(),
        ));
    }
    assert_eq!(
        left,
        [("2", "44"), ("1", "43"), ("0", "42")].map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let throttled = arm.get(&rg(), RG_API).await;
    assert_eq!(
        (throttled.status, throttled.code()),
        (429, "SubscriptionRequestsThrottled")
    );
    // One token back at 0.5 per second: 2 seconds (whole seconds, at least 1).
    assert_eq!(throttled.header("retry-after"), Some("2"));
    assert_eq!(
        throttled.message(),
        format!(
            "Number of 'read' requests for subscription '{FAKE_SUBSCRIPTION}' actor '{CALLER_OID}' exceeded. Please try again after '2' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information."
        )
    );
    // Writes and deletes have their own buckets.
    let w = arm
        .put(&rg(), RG_API, &json!({"location": "eastus2"}))
        .await;
    assert_eq!(w.status, 200);
    assert_eq!(
        w.header("x-ms-ratelimit-remaining-subscription-writes"),
        Some("1")
    );
    assert_eq!(
        w.header("x-ms-ratelimit-remaining-subscription-global-writes"),
        Some("29")
    );
    let d = arm
        .delete(
            &format!(
                "{}/providers/Microsoft.CognitiveServices/accounts/none",
                rg()
            ),
            CS_API,
            None,
        )
        .await;
    assert_eq!(
        d.header("x-ms-ratelimit-remaining-subscription-deletes"),
        Some("1")
    );
}

#[tokio::test]
async fn patch_replaces_tags_and_apim_child_deletes_need_if_match() {
    let arm = Arm::start();
    arm.with_apim().await;
    let tagged = json!({"location": "eastus2", "tags": {"owner": "gw", "cost": "lab"}});
    arm.create(&rg(), RG_API, &tagged).await;
    let patched = arm
        .send(
            "PATCH",
            &rg(),
            RG_API,
            Some(&json!({"tags": {"owner": "someone"}})),
            None,
        )
        .await;
    assert_eq!(patched.status, 200);
    assert_eq!(patched.body["tags"], json!({"owner": "someone"}));
    // Other objects still merge.
    let patched = arm
        .send(
            "PATCH",
            &apim(),
            APIM_API,
            Some(&json!({"properties": {"publisherName": "other"}})),
            None,
        )
        .await;
    assert_eq!(patched.body["properties"]["publisherName"], "other");
    assert_eq!(
        patched.body["properties"]["publisherEmail"],
        "a@example.com"
    );

    let backend = format!("{}/backends/foundry1", apim());
    let body = json!({"properties": {"url": "https://f1.example/openai", "protocol": "http"}});
    let etag = arm
        .put(&backend, APIM_API, &body)
        .await
        .header("etag")
        .unwrap()
        .to_string();
    arm.create(&api("chat"), APIM_API, &api_body()).await;
    let op = format!("{}/operations/c", api("chat"));
    arm.put(&op, APIM_API, &operation_body()).await;
    for path in [&backend, &op, &api("chat")] {
        let a = arm.delete(path, APIM_API, None).await;
        assert_eq!(
            (a.status, a.code()),
            (400, "EmulatorIfMatchRequired"),
            "{path}"
        );
    }
    let stale = arm.delete(&backend, APIM_API, Some("\"stale\"")).await;
    assert_eq!((stale.status, stale.code()), (412, "PreconditionFailed"));
    let gone = arm.delete(&backend, APIM_API, Some(&etag)).await;
    assert_eq!(gone.status, 200);
    assert_eq!(arm.delete(&op, APIM_API, Some("*")).await.status, 200);
    assert_eq!(arm.get(&backend, APIM_API).await.status, 404);
}

const DS_API: &str = "2021-05-01-preview";

fn setting(name: &str) -> String {
    format!(
        "{}/providers/Microsoft.Insights/diagnosticSettings/{name}",
        apim()
    )
}

fn workspace_id(name: &str) -> String {
    format!(
        "{}/providers/Microsoft.OperationalInsights/workspaces/{name}",
        rg()
    )
}

/// A setting sending `logs` (`category` or `categoryGroup` entries) and AllMetrics when
/// `metrics`, to the workspace `ws`.
fn setting_body(ws: &str, logs: Value, metrics: bool) -> Value {
    json!({"properties": {
        "workspaceId": ws,
        "logs": logs,
        "metrics": [{"category": "AllMetrics", "enabled": metrics}],
    }})
}

#[tokio::test]
async fn a_workspace_takes_a_category_of_a_resource_from_one_diagnostic_setting_only() {
    let arm = Arm::start();
    arm.with_apim().await;
    let law = workspace_id("law-gateway");
    let gateway = json!([{"category": "GatewayLogs", "enabled": true}]);
    arm.create(
        &setting("lab-logs"),
        DS_API,
        &setting_body(&law, gateway.clone(), false),
    )
    .await;
    // Azure's answer (terraform-azurerm-avm-ptn-aiml-landing-zone #19): a bare code and message.
    let refused = |a: &Answer, category: &str| {
        assert_eq!(a.status, 409, "{}", a.body);
        assert_eq!(a.body["code"], "Conflict", "{}", a.body);
        assert_eq!(
            a.body["message"],
            format!(
                "Data sink '{}' is already used in diagnostic setting 'lab-logs' for category '{category}'. Data sinks can't be reused in different settings on the same category for the same resource.",
                law.to_ascii_uppercase()
            )
        );
    };
    // The same workspace (compared ignoring case) and category from another setting.
    let theirs = setting_body(&law.to_ascii_uppercase(), gateway.clone(), false);
    refused(
        &arm.put(&setting("gw-gateway-logs"), DS_API, &theirs).await,
        "GatewayLogs",
    );
    // A category group covers its categories: allLogs holds GatewayLogs.
    let all = setting_body(
        &law.to_ascii_uppercase(),
        json!([{"categoryGroup": "allLogs", "enabled": true}]),
        false,
    );
    refused(
        &arm.put(&setting("gw-gateway-logs"), DS_API, &all).await,
        "GatewayLogs",
    );
    assert!(arm.emu.get_resource(&setting("gw-gateway-logs")).is_none());

    // Accepted: the same setting again, another workspace, a disjoint category, a disabled one.
    let again = setting_body(&law, gateway.clone(), true);
    assert_eq!(
        arm.put(&setting("lab-logs"), DS_API, &again).await.status,
        200
    );
    let elsewhere = setting_body(&workspace_id("law-other"), gateway.clone(), true);
    assert_eq!(
        arm.put(&setting("other-ws"), DS_API, &elsewhere)
            .await
            .status,
        200
    );
    let disjoint = setting_body(
        &law,
        json!([{"category": "GatewayLlmLogs", "enabled": true}, {"category": "GatewayLogs", "enabled": false}]),
        false,
    );
    assert_eq!(
        arm.put(&setting("llm-only"), DS_API, &disjoint)
            .await
            .status,
        200
    );
    // lab-logs now sends AllMetrics too: a metric category conflicts the same way.
    let metrics = setting_body(&law, json!([]), true);
    let a = arm.put(&setting("metrics"), DS_API, &metrics).await;
    assert_eq!(a.status, 409);
    assert!(
        a.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("'lab-logs' for category 'AllMetrics'")),
        "{}",
        a.body
    );
}
