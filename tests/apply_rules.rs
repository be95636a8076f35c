//! Rules of apply that a refactor could drop without any other test noticing: each test here
//! fails when the rule it names is removed (checked by removing each).

use crate::support::azure::Azure;
use crate::support::cli::example;

/// The ARM id of the account a foundry became (whatever the naming suffix).
pub fn account_id(az: &Azure, rg: &str, foundry: &str) -> String {
    az.arm
        .list_ids(&az.rg_id(rg))
        .into_iter()
        .find(|id| {
            id.rsplit_once("/accounts/").is_some_and(|(_, name)| {
                name.starts_with(&format!("{foundry}-")) && !name.contains('/')
            })
        })
        .unwrap_or_else(|| panic!("no account for {foundry}"))
}

#[test]
fn what_depends_on_a_failed_resource_is_skipped_and_never_sent() {
    let az = Azure::new();
    az.arm.fail_next_lro(
        "/accounts/foundry1-",
        "InternalServerError",
        "Parent account does not provision correctly, please retry creating the account.",
    );
    let run = az.run(&["apply", "--auto-approve"], "load-balancing");
    assert_eq!(run.code, 1, "{}", run.stderr);
    // The account's deployment and its role assignment wait for it: skipped, not attempted.
    assert!(
        run.stderr
            .contains("skipped: foundries.foundry1.deployments.gpt-4o-mini (foundries.foundry1 did not succeed)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("skipped: role_assignments.foundry1 (foundries.foundry1 did not succeed)"),
        "{}",
        run.stderr
    );
    let foundry1 = account_id(&az, "lab-load-balancing", "foundry1");
    let under_foundry1: Vec<String> = az
        .writes()
        .into_iter()
        .filter(|w| w.contains(&format!("{foundry1}/")))
        .collect();
    assert_eq!(
        under_foundry1,
        Vec::<String>::new(),
        "nothing under the failed account was sent"
    );
    // Everything independent finished: the other accounts' deployments are there.
    let foundry2 = account_id(&az, "lab-load-balancing", "foundry2");
    assert!(
        az.arm
            .get_resource(&format!("{foundry2}/deployments/gpt-4o-mini"))
            .is_some()
    );
}

#[test]
fn a_new_identity_is_waited_for_as_long_as_gw_principal_wait_allows() {
    // More PrincipalNotFound answers than the ARM client's own retries cover: only apply's
    // wait for the identity to replicate gets past them.
    let az = Azure::new();
    az.arm.set_principal_not_found(20);
    let run = az.run(&["apply", "--auto-approve"], "session-affinity");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        az.arm
            .journal()
            .iter()
            .filter(|e| e.status == 400 && e.path().contains("roleAssignments"))
            .count()
            >= 20
    );

    // With no time to wait, the same answers fail the assignment with the hint.
    let az = Azure::new();
    az.arm.set_principal_not_found(20);
    let run = az
        .gw()
        .env("GW_PRINCIPAL_WAIT", "0")
        .args(["apply", "--auto-approve", "-f"])
        .args([example("session-affinity")])
        .run();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("PrincipalNotFound"), "{}", run.stderr);
    assert!(run.stderr.contains("replicate"), "{}", run.stderr);
}

#[test]
fn tags_someone_else_added_survive_an_update() {
    let az = Azure::deployed("session-affinity");
    let account = account_id(&az, "lab-session-affinity", "foundry1");
    let mut body = az.arm.get_resource(&account).unwrap();
    // Someone tags the account for cost reporting, and changes one of gw's settings.
    body["tags"]["cost-center"] = serde_json::json!("ai-42");
    body["properties"]["disableLocalAuth"] = serde_json::json!(false);
    az.arm.set_resource(&account, body);
    let plan = az.run(&["plan"], "session-affinity");
    assert!(
        !plan.stdout.contains("cost-center"),
        "others' tags are not drift:\n{}",
        plan.stdout
    );
    az.arm.clear_journal();
    let run = az.run(&["apply", "--auto-approve"], "session-affinity");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(az.writes(), [format!("PATCH {account}")]);
    // ARM's PATCH replaces tags whole: gw sent the live ones with its own.
    let after = az.arm.get_resource(&account).unwrap();
    assert_eq!(after["tags"]["cost-center"], "ai-42", "{after:#}");
    assert_eq!(after["tags"]["managed-by"], "gw", "{after:#}");
}

#[test]
fn every_apim_child_update_and_delete_carries_the_entitys_etag() {
    let az = Azure::deployed("load-balancing");
    let rg = az.rg_id("lab-load-balancing");
    let ids = az.arm.list_ids(&rg);
    let find = |tail: &str| {
        ids.iter()
            .find(|id| id.ends_with(tail))
            .unwrap_or_else(|| panic!("{tail}"))
            .clone()
    };
    // Drift on a pool, a backend and the API; an orphan backend gw once created.
    let pool = find("/backends/inference-backend-pool");
    let mut body = az.arm.get_resource(&pool).unwrap();
    body["properties"]["pool"]["services"][1]["weight"] = serde_json::json!(1);
    az.arm.set_resource(&pool, body);
    let backend = find("/backends/foundry1");
    let mut body = az.arm.get_resource(&backend).unwrap();
    body["properties"]["protocol"] = serde_json::json!("soap");
    az.arm.set_resource(&backend, body.clone());
    let orphan = backend.replace("/backends/foundry1", "/backends/foundry9");
    body["id"] = serde_json::json!(orphan);
    body["name"] = serde_json::json!("foundry9");
    az.arm.set_resource(&orphan, body);
    let api = find("/apis/inference");
    let mut body = az.arm.get_resource(&api).unwrap();
    body["properties"]["subscriptionRequired"] = serde_json::json!(false);
    az.arm.set_resource(&api, body);

    az.arm.clear_journal();
    let run = az.run(&["apply", "--auto-approve"], "load-balancing");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let writes: Vec<_> = az
        .arm
        .journal()
        .into_iter()
        .filter(|e| matches!(e.method.as_str(), "PUT" | "PATCH" | "DELETE"))
        .filter(|e| {
            e.path().contains("/Microsoft.ApiManagement/service/")
                && e.path().matches('/').count() > 8
        })
        .collect();
    let touched: Vec<String> = writes
        .iter()
        .map(|e| format!("{} {}", e.method, e.path()))
        .collect();
    assert!(!touched.is_empty(), "{}\n{:#?}", run.stderr, az.writes());
    for want in [
        format!("PUT {pool}"),
        format!("PUT {backend}"),
        format!("PUT {api}"),
        format!("DELETE {orphan}"),
    ] {
        assert!(
            touched.contains(&want),
            "{want} in {touched:#?}\n{}",
            run.stderr
        );
    }
    for e in &writes {
        let tag = e.if_match.as_deref();
        assert!(
            tag.is_some_and(|t| t != "*" && !t.is_empty()),
            "{} {} without the entity's ETag ({tag:?})",
            e.method,
            e.path()
        );
        // The emulator refuses a stale one with 412: accepted means it was the current ETag.
        assert!(
            (200..300).contains(&e.status),
            "{} {}: {}",
            e.method,
            e.path(),
            e.status
        );
    }
}
