//! `gw apply` against the ARM emulator: from nothing to the spec, converging, in the order
//! Azure needs, through faults, and without leaking a secret.

use crate::support::azure::{Azure, assert_no_secrets};
use crate::support::cli::{EXAMPLES, example};
use crate::support::emulator::Fault;

fn apply(az: &Azure, name: &str) -> crate::support::cli::Run {
    az.gw()
        .args(["apply", "--auto-approve", "-f"])
        .args([example(name)])
        .run()
}

/// Subscription keys the emulator handed out (to prove none reached any output).
fn keys(az: &Azure) -> Vec<String> {
    let mut out = Vec::new();
    for e in az
        .arm
        .journal()
        .iter()
        .filter(|e| e.path().ends_with("/listSecrets"))
    {
        let id = e.path().trim_end_matches("/listSecrets");
        if let Some(k) = az.arm.secrets_of(id) {
            out.extend(k);
        }
    }
    out
}

#[test]
fn every_example_applies_converges_and_reapplies_without_writes() {
    for name in EXAMPLES {
        let az = Azure::new();
        let run = apply(&az, name);
        assert_eq!(run.code, 0, "{name}:\n{}\n{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("Apply complete"), "{}", run.stderr);
        assert!(
            run.stdout.contains("Gateway: https://apim-"),
            "{}",
            run.stdout
        );
        assert!(
            run.stdout.contains("Subscription key subscription1: ****"),
            "{}",
            run.stdout
        );
        // What a v1 client must send, since APIM reads the key from `api-key` only.
        assert!(
            run.stdout.contains(r#"default_headers={"api-key": KEY}"#),
            "{}",
            run.stdout
        );
        assert!(
            !az.arm.journal().iter().any(|e| e.status == 409),
            "{name}: no write collided"
        );
        let secrets = keys(&az);
        assert!(!secrets.is_empty());
        assert_no_secrets(&format!("{}{}", run.stdout, run.stderr), &secrets);

        let plan = az
            .gw()
            .args(["plan", "--detailed-exitcode", "-f"])
            .args([example(name)])
            .run();
        assert_eq!(plan.code, 0, "{name} converged:\n{}", plan.stdout);

        az.arm.clear_journal();
        let again = apply(&az, name);
        assert_eq!(again.code, 0, "{}", again.stderr);
        assert_eq!(
            az.writes(),
            Vec::<String>::new(),
            "{name}: a second apply writes nothing"
        );
    }
}

#[test]
fn model_deployments_on_one_account_never_overlap() {
    let az = Azure::new();
    assert_eq!(apply(&az, "model-routing").code, 0);
    let journal = az.arm.journal();
    // For each account, each deployment's PUT starts after the previous one's final read.
    let accounts: std::collections::BTreeSet<String> = journal
        .iter()
        .filter(|e| e.method == "PUT" && e.path().contains("/deployments/"))
        .map(|e| e.path().split("/deployments/").next().unwrap().to_string())
        .collect();
    assert_eq!(accounts.len(), 3);
    for account in accounts {
        let puts: Vec<_> = journal
            .iter()
            .filter(|e| {
                e.method == "PUT" && e.path().starts_with(&format!("{account}/deployments/"))
            })
            .collect();
        for pair in puts.windows(2) {
            let done = journal
                .iter()
                .filter(|e| e.method == "GET" && e.path() == pair[0].path())
                .map(|e| e.ended)
                .max()
                .expect("final read");
            assert!(
                pair[1].started >= done,
                "{} started before {} finished",
                pair[1].path(),
                pair[0].path()
            );
        }
    }
}

#[test]
fn faults_are_survived_or_reported_and_a_rerun_converges() {
    let az = Azure::new();
    az.arm.set_throttle_every(Some(5));
    az.arm
        .add_fault(Fault::new("PUT", "/backends/foundry1").times(2));
    az.arm.add_fault(
        Fault::new("GET", "/providers/Microsoft.ApiManagement/service/")
            .nth(2)
            .drop_connection(),
    );
    az.arm.set_principal_not_found(3);
    // A deployment whose operation ends Failed: reported, its dependants skipped.
    az.arm.fail_next_lro(
        "/deployments/gpt-4o-mini",
        "InsufficientQuota",
        "Insufficient quota for gpt-4o-mini in eastus",
    );
    let run = apply(&az, "load-balancing");
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("InsufficientQuota"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("hint: quota and model availability differ by region"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Apply incomplete"), "{}", run.stderr);
    assert!(run.stderr.contains("1 failed"), "{}", run.stderr);

    // Fix nothing but time: the re-run converges, creating only what is missing.
    let rerun = apply(&az, "load-balancing");
    assert_eq!(rerun.code, 0, "{}\n{}", rerun.stdout, rerun.stderr);
    let plan = az.run(&["plan", "--detailed-exitcode"], "load-balancing");
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    // The deployment whose operation failed was left Failed; the re-run repaired it.
    assert_eq!(az.not_succeeded("lab-load-balancing"), Vec::<String>::new());
    assert!(
        rerun.stderr.contains("replaced: foundries."),
        "{}",
        rerun.stderr
    );
    // No duplicates: one deployment per foundry, one role assignment per foundry.
    let rg = az.rg_id("lab-load-balancing");
    let listed = az.arm.list_ids(&rg);
    assert_eq!(
        listed
            .iter()
            .filter(|id| id.contains("/deployments/"))
            .count(),
        4
    );
    assert_eq!(
        listed
            .iter()
            .filter(|id| id.contains("roleAssignments"))
            .count(),
        4
    );
}

#[test]
fn re_apply_after_delete_restores_or_purges() {
    let az = Azure::new();
    assert_eq!(apply(&az, "session-affinity").code, 0);
    let destroy = az.run(&["destroy", "--auto-approve"], "session-affinity");
    assert_eq!(destroy.code, 0, "{}", destroy.stderr);
    let plan = az.run(&["plan"], "session-affinity");
    assert!(
        plan.stdout.contains("restores the soft-deleted one"),
        "{}",
        plan.stdout
    );
    let run = apply(&az, "session-affinity");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("3 restored"), "{}", run.stderr);
    assert!(az.arm.journal().iter().any(|e| {
        e.method == "PUT"
            && e.request_body
                .as_ref()
                .is_some_and(|b| b["properties"]["restore"] == true)
    }));

    let destroy = az.run(&["destroy", "--auto-approve"], "session-affinity");
    assert_eq!(destroy.code, 0);
    az.arm.clear_journal();
    let run = az.run(
        &["apply", "--auto-approve", "--purge-soft-deleted"],
        "session-affinity",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        az.arm
            .journal()
            .iter()
            .any(|e| e.method == "DELETE" && e.path().contains("deleted")),
        "purged"
    );
    assert!(!az.arm.journal().iter().any(|e| {
        e.request_body
            .as_ref()
            .is_some_and(|b| b["properties"]["restore"] == true)
    }));
}

#[test]
fn unattended_apply_needs_auto_approve() {
    let az = Azure::new();
    let run = az.run(&["apply"], "session-affinity");
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("--auto-approve"), "{}", run.stderr);
    assert!(az.writes().is_empty());
}

#[test]
fn a_saved_plan_is_refused_when_azure_changed() {
    let az = Azure::new();
    assert_eq!(apply(&az, "load-balancing").code, 0);
    let pool_id = az.put_id("/backends/inference-backend-pool");
    let mut pool = az.arm.get_resource(&pool_id).unwrap();
    pool["properties"]["pool"]["services"][1]["weight"] = serde_json::json!(30);
    az.arm.set_resource(&pool_id, pool.clone());
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("plan.json");
    let run = az
        .gw()
        .args(["plan", "--out"])
        .args([&saved])
        .args(["-f"])
        .args([example("load-balancing")])
        .run();
    assert_eq!(run.code, 0);
    // Someone changes the pool again after the plan.
    pool["properties"]["pool"]["services"][1]["weight"] = serde_json::json!(10);
    az.arm.set_resource(&pool_id, pool);
    az.arm.clear_journal();
    let run = az
        .gw()
        .args(["apply"])
        .args([&saved])
        .args(["--auto-approve", "-f"])
        .args([example("load-balancing")])
        .run();
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("changed since the plan was made"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("backends/inference-backend-pool"),
        "{}",
        run.stderr
    );
    assert!(az.writes().is_empty(), "nothing was written");

    // A fresh saved plan applies.
    let run = az
        .gw()
        .args(["plan", "--out"])
        .args([&saved])
        .args(["-f"])
        .args([example("load-balancing")])
        .run();
    assert_eq!(run.code, 0);
    let run = az
        .gw()
        .args(["apply"])
        .args([&saved])
        .args(["--auto-approve", "-f"])
        .args([example("load-balancing")])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        az.writes().iter().filter(|w| w.starts_with("PUT")).count(),
        1,
        "{:?}",
        az.writes()
    );
}

#[test]
fn json_result_and_no_secrets_in_files() {
    let az = Azure::new();
    let dir = tempfile::tempdir().unwrap();
    let run = az
        .gw()
        .args(["apply", "--auto-approve", "-o", "json", "-f"])
        .args([example("load-balancing")])
        .dir(dir.path())
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["outcomes"].as_array().unwrap().len(), 42);
    assert!(
        v["outputs"]["subscriptions"][0]["primary_key"]
            .as_str()
            .unwrap()
            .starts_with("****")
    );
    let secrets = keys(&az);
    assert_no_secrets(&run.stdout, &secrets);
    assert_no_secrets(&run.stderr, &secrets);
    // The journal redacts key fields on the way in, so a `***` in what gw sent means gw sent a
    // key somewhere (keys are only ever read, with listSecrets).
    for e in az.arm.journal() {
        let sent = e
            .request_body
            .as_ref()
            .map(|b| b.to_string())
            .unwrap_or_default();
        assert!(
            !sent.contains("***"),
            "{} {} sent a key: {sent}",
            e.method,
            e.path()
        );
    }
    let saved = dir.path().join("plan.json");
    assert_eq!(
        az.gw()
            .args(["plan", "--out"])
            .args([&saved])
            .args(["-f"])
            .args([example("load-balancing")])
            .run()
            .code,
        0
    );
    assert_no_secrets(&std::fs::read_to_string(saved).unwrap(), &secrets);
}

#[test]
fn updates_of_top_level_resources_keep_settings_made_elsewhere() {
    let az = Azure::new();
    assert_eq!(apply(&az, "session-affinity").code, 0);
    let apim_id = az
        .arm
        .journal()
        .iter()
        .find(|e| {
            e.method == "PUT"
                && e.path()
                    .rsplit_once("/service/")
                    .is_some_and(|(_, name)| !name.contains('/'))
        })
        .unwrap()
        .path()
        .to_string();
    // Someone put the gateway in a VNet and renamed the publisher.
    let mut apim = az.arm.get_resource(&apim_id).unwrap();
    apim["properties"]["virtualNetworkType"] = serde_json::json!("External");
    apim["properties"]["publisherName"] = serde_json::json!("Someone else");
    az.arm.set_resource(&apim_id, apim);
    az.arm.clear_journal();
    let run = apply(&az, "session-affinity");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let writes = az.writes();
    assert_eq!(
        writes,
        [format!("PATCH {apim_id}")],
        "only the drifted field is written, as a PATCH"
    );
    let after = az.arm.get_resource(&apim_id).unwrap();
    assert_eq!(after["properties"]["publisherName"], "Platform team");
    assert_eq!(
        after["properties"]["virtualNetworkType"], "External",
        "the VNet setting survived"
    );
}

#[test]
fn a_saved_plan_is_refused_when_the_spec_changed() {
    let az = Azure::new();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("gw.yaml");
    let text = std::fs::read_to_string(example("session-affinity")).unwrap();
    std::fs::write(&spec, &text).unwrap();
    let saved = dir.path().join("plan.json");
    let run = az
        .gw()
        .args(["plan", "--out"])
        .args([&saved])
        .args(["-f"])
        .args([&spec])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::fs::write(&spec, text.replace("capacity: 20", "capacity: 30")).unwrap();
    az.arm.clear_journal();
    let run = az
        .gw()
        .args(["apply"])
        .args([&saved])
        .args(["--auto-approve", "-f"])
        .args([&spec])
        .run();
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("changed since the plan was made"),
        "{}",
        run.stderr
    );
    assert!(az.arm.journal().is_empty(), "nothing was read or written");
}
