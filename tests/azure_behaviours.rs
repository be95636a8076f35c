//! What real Azure does to a deployment tool, and gw's answer to each (`docs/azure-behaviours.md`):
//! APIM's per-API lock, resources left Failed, a re-created APIM identity, grants that exist
//! under another name, accounts that bounce back to Accepted, names taken elsewhere, missing
//! rights, and ARM's throttling. Each behaviour is switched on in the emulator; gw is driven
//! only through settings a user has too.

use crate::support::azure::Azure;
use crate::support::cli::{EXAMPLES, Run, example};
use crate::support::emulator::{Fault, RateLimits};
use std::path::Path;
use std::time::Duration;

#[path = "../benches/common/estate.rs"]
mod estate;

/// The lock's settle time in these tests, and a retry cap above it so gw's backoff (full
/// jitter, capped by GW_MAX_RETRY_WAIT) can outwait it in a few tries.
const SETTLE: Duration = Duration::from_millis(60);

fn gw_on(az: &Azure, spec: &Path, args: &[&str]) -> Run {
    az.gw()
        .env("GW_MAX_RETRY_WAIT", "0.1")
        .args(args)
        .args(["-f"])
        .args([spec])
        .run()
}

fn converges(az: &Azure, spec: &Path, what: &str) {
    let plan = gw_on(az, spec, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{what}: plan after apply:\n{}", plan.stdout);
    az.arm.clear_journal();
    let again = gw_on(az, spec, &["apply", "--auto-approve"]);
    assert_eq!(again.code, 0, "{what}: {}", again.stderr);
    assert_eq!(
        az.writes(),
        Vec::<String>::new(),
        "{what}: a second apply writes nothing"
    );
}

#[test]
fn with_the_api_lock_on_every_example_and_a_big_estate_apply_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("gw.yaml");
    std::fs::write(&big, estate::spec(50)).unwrap();
    let mut specs: Vec<(String, std::path::PathBuf)> = EXAMPLES
        .iter()
        .map(|n| (n.to_string(), example(n)))
        .collect();
    specs.push(("50 foundries".into(), big));
    let mut refusals = 0;
    for (what, spec) in specs {
        let az = Azure::new();
        az.arm.set_api_lock(Some(SETTLE));
        let run = gw_on(&az, &spec, &["apply", "--auto-approve"]);
        assert_eq!(run.code, 0, "{what}:\n{}", run.stderr);
        refusals += az.arm.api_lock_refusals();
        // An API's operations come with its import: never one write each.
        assert_eq!(
            az.arm.count("PUT", "/operations/"),
            0,
            "{what}: operations are imported with their API"
        );
        converges(&az, &spec, &what);
    }
    // The lock was really in the way (a policy follows its API's import closely), and gw
    // waited it out instead of failing.
    assert!(refusals > 0, "the lock never engaged");
}

#[test]
fn failed_resources_are_planned_as_repairs_and_repaired() {
    let az = Azure::new();
    let spec = example("model-routing");
    // A quarter of the long-running operations (accounts, deployments, APIM) end Failed.
    az.arm.set_lro_failure_every(Some(4));
    let first = gw_on(&az, &spec, &["apply", "--auto-approve"]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    let failed = az.not_succeeded("lab-model-routing");
    assert!(!failed.is_empty(), "the fault run left something Failed");
    az.arm.set_lro_failure_every(None);

    let plan = gw_on(&az, &spec, &["plan", "-o", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let repairs: Vec<&serde_json::Value> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("repair: provisioningState Failed"))
        })
        .collect();
    let mut repaired_ids: Vec<String> = repairs
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_lowercase())
        .collect();
    repaired_ids.sort();
    let mut failed_ids: Vec<String> = failed.iter().map(|id| id.to_lowercase()).collect();
    failed_ids.sort();
    assert_eq!(
        repaired_ids, failed_ids,
        "the plan names every Failed resource"
    );
    for c in &repairs {
        let expected = if c["type"] == "Microsoft.CognitiveServices/accounts/deployments" {
            "replace"
        } else {
            "update"
        };
        assert_eq!(c["action"], expected, "{c}");
    }
    let text = gw_on(&az, &spec, &["plan"]);
    assert!(
        text.stderr.contains("repair: provisioningState Failed")
            || text.stdout.contains("repair: provisioningState Failed"),
        "{}{}",
        text.stdout,
        text.stderr
    );

    // At most two applies to converge.
    let mut applies = 0;
    loop {
        applies += 1;
        let run = gw_on(&az, &spec, &["apply", "--auto-approve"]);
        if run.code == 0 {
            break;
        }
        assert!(applies < 2, "two applies did not converge:\n{}", run.stderr);
    }
    assert_eq!(az.not_succeeded("lab-model-routing"), Vec::<String>::new());
    converges(&az, &spec, "after repair");
}

#[test]
fn a_failed_model_deployment_is_deleted_then_created_again() {
    let az = Azure::deployed("load-balancing");
    let spec = example("load-balancing");
    let deployment = az.put_id("/deployments/gpt-4o-mini");
    let mut body = az.arm.get_resource(&deployment).unwrap();
    body["properties"]["provisioningState"] = serde_json::json!("Failed");
    az.arm.set_resource(&deployment, body);
    // The emulator, like Azure, refuses to write over it.
    let plan = gw_on(&az, &spec, &["plan"]);
    assert_eq!(plan.code, 0);
    assert!(
        format!("{}{}", plan.stdout, plan.stderr).contains("-/+"),
        "{}{}",
        plan.stdout,
        plan.stderr
    );
    az.arm.clear_journal();
    let run = gw_on(&az, &spec, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let writes = az.writes();
    let delete = writes
        .iter()
        .position(|w| *w == format!("DELETE {deployment}"));
    let put = writes
        .iter()
        .position(|w| *w == format!("PUT {deployment}"));
    assert!(
        matches!((delete, put), (Some(d), Some(p)) if d < p),
        "DELETE then PUT: {writes:#?}"
    );
    converges(&az, &spec, "after replacing the deployment");
}

#[test]
fn an_account_that_reports_failed_but_heals_is_not_written_again() {
    let az = Azure::deployed("load-balancing");
    let spec = example("load-balancing");
    az.arm.set_account_self_heal(true);
    let account = crate::apply_rules::account_id(&az, "lab-load-balancing", "foundry1");
    let mut body = az.arm.get_resource(&account).unwrap();
    body["properties"]["provisioningState"] = serde_json::json!("Failed");
    az.arm.set_resource(&account, body);
    az.arm.clear_journal();
    // Without pre-flight, whose account list is a read too, the plan's read is the first
    // after the failure (Failed) and apply's look the second (Succeeded).
    let run = gw_on(&az, &spec, &["apply", "--auto-approve", "--skip-preflight"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("healed"),
        "the heal path ran: {}",
        run.stderr
    );
    assert!(
        !az.writes().iter().any(|w| w.ends_with(&account)),
        "{:#?}",
        az.writes()
    );

    // Healing does not excuse a field that also drifted: that account is written.
    let mut body = az.arm.get_resource(&account).unwrap();
    body["properties"]["provisioningState"] = serde_json::json!("Failed");
    body["properties"]["disableLocalAuth"] = serde_json::json!(false);
    az.arm.set_resource(&account, body);
    az.arm.clear_journal();
    let run = gw_on(&az, &spec, &["apply", "--auto-approve", "--skip-preflight"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        az.writes().contains(&format!("PUT {account}")),
        "{:#?}",
        az.writes()
    );
    assert_eq!(
        az.arm.get_resource(&account).unwrap()["properties"]["disableLocalAuth"],
        true
    );
}

#[test]
fn a_recreated_apim_service_gets_its_grants_and_the_old_ones_go() {
    let az = Azure::deployed("load-balancing");
    let spec = example("load-balancing");
    let apim = az.put_id("/service/apim-lb-6kq11");
    assert!(az.arm.get_resource(&apim).is_some());
    let old = az.arm.get_resource(&apim).unwrap()["identity"]["principalId"].clone();
    assert!(az.arm.purge_apim(apim.rsplit('/').next().unwrap()));

    let run = gw_on(&az, &spec, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "one run converges:\n{}", run.stderr);
    let new = az.arm.get_resource(&apim).unwrap()["identity"]["principalId"].clone();
    assert_ne!(old, new, "the service came back with a new identity");
    let grants: Vec<serde_json::Value> = az
        .arm
        .list_ids(&az.rg_id("lab-load-balancing"))
        .into_iter()
        .filter(|id| id.contains("/roleAssignments/"))
        .filter_map(|id| az.arm.get_resource(&id))
        .collect();
    let accounts = az
        .arm
        .list_ids(&az.rg_id("lab-load-balancing"))
        .into_iter()
        .filter(|id| {
            id.rsplit_once("/accounts/")
                .is_some_and(|(_, n)| !n.contains('/'))
        })
        .count();
    assert_eq!(grants.len(), accounts, "one grant per account: {grants:#?}");
    for g in &grants {
        assert_eq!(g["properties"]["principalId"], new, "{g}");
    }
    assert!(run.stderr.contains("replac"), "{}", run.stderr);
    converges(&az, &spec, "after the re-created service");
}

#[test]
fn a_grant_that_exists_under_another_name_is_adopted() {
    let az = Azure::deployed("load-balancing");
    let spec = example("load-balancing");
    let gws = az
        .arm
        .list_ids(&az.rg_id("lab-load-balancing"))
        .into_iter()
        .find(|id| id.contains("/roleAssignments/"))
        .unwrap();
    let body = az.arm.get_resource(&gws).unwrap();
    // Someone (the labs' Bicep) granted the same role to the same identity under another name
    // just before gw writes its own.
    let other = format!(
        "{}/11111111-2222-3333-4444-555555555555",
        gws.rsplit_once('/').unwrap().0
    );
    az.arm.remove_resource(&gws);
    let (meddle_id, meddle_body) = (other.clone(), body.clone());
    az.arm.add_fault(
        Fault::new("PUT", "/providers/Microsoft.Authorization/roleAssignments/")
            .before(move |state| state.set(&meddle_id, meddle_body.clone())),
    );
    let run = gw_on(&az, &spec, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        az.arm
            .journal()
            .iter()
            .any(|e| e.status == 409 && e.path() == gws),
        "Azure refused the second grant"
    );
    assert!(run.stderr.contains("adopted"), "{}", run.stderr);
    assert!(az.arm.get_resource(&gws).is_none(), "no duplicate grant");
    // Later plans count it as in place.
    let plan = gw_on(&az, &spec, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
}

#[test]
fn a_caller_without_rights_to_grant_roles_is_told_which_role_can() {
    let az = Azure::new();
    az.arm.set_deny_role_writes(true);
    // Azure's own answer to the write; pre-flight would stop apply first (tests/preflight.rs).
    let run = gw_on(
        &az,
        &example("load-balancing"),
        &["apply", "--auto-approve", "--skip-preflight"],
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("AuthorizationFailed"), "{}", run.stderr);
    for role in [
        "Owner",
        "User Access Administrator",
        "Role Based Access Control Administrator",
    ] {
        assert!(run.stderr.contains(role), "{role}: {}", run.stderr);
    }
}

#[test]
fn children_wait_for_an_account_that_bounces_back_to_accepted() {
    let az = Azure::new();
    az.arm.set_account_bounce(2);
    let spec = example("load-balancing");
    let run = gw_on(&az, &spec, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !az.arm
            .journal()
            .iter()
            .any(|e| e.status == 400 && e.path().contains("/deployments/")),
        "no deployment was written while its account read Accepted"
    );
    converges(&az, &spec, "bouncing accounts");
}

#[test]
fn a_subdomain_taken_elsewhere_in_azure_gets_a_hint() {
    let az = Azure::new();
    let spec = example("load-balancing");
    let plan = gw_on(&az, &spec, &["plan", "-o", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let subdomain = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Microsoft.CognitiveServices/accounts")
        .and_then(|c| {
            c["diff"]
                .as_array()?
                .iter()
                .find(|d| d["path"] == "properties.customSubDomainName")
        })
        .and_then(|d| d["after"].as_str())
        .unwrap()
        .to_string();
    az.arm.take_subdomain(&subdomain);
    // Azure's own answer to the write; pre-flight would stop apply first (tests/preflight.rs).
    let run = gw_on(&az, &spec, &["apply", "--auto-approve", "--skip-preflight"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("CustomDomainInUse"), "{}", run.stderr);
    assert!(run.stderr.contains("global"), "{}", run.stderr);
}

#[test]
fn arm_throttling_is_waited_out_and_a_big_apply_still_converges() {
    let az = Azure::new();
    az.arm.set_rate_limits(Some(RateLimits {
        reads: 40,
        writes: 30,
        deletes: 30,
        refill_per_sec: 1000.0,
    }));
    let spec = example("model-routing");
    let run = gw_on(&az, &spec, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    converges(&az, &spec, "under ARM throttling");
}
