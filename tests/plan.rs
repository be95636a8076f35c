//! `gw plan` against the ARM emulator: exact, minimal in requests, and honest about what
//! it cannot read.

use crate::support::azure::Azure;
use crate::support::cli::{EXAMPLES, example};
use crate::support::emulator::Fault;
use serde_json::json;

#[test]
fn plan_on_nothing_is_all_creates() {
    let az = Azure::new();
    // Plan's own reads: pre-flight's (tests/preflight.rs) are left out.
    let run = az.run(
        &["plan", "--detailed-exitcode", "--skip-preflight"],
        "load-balancing",
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("Plan: 42 to add, 0 to change, 0 to destroy, 0 unchanged."),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("+ pools.inference-backend-pool"));
    // Nothing exists, so only the top level (and the soft-delete lists) are read.
    assert!(
        az.arm.journal().len() <= 5,
        "{:#?}",
        az.arm
            .journal()
            .iter()
            .map(|e| e.url.clone())
            .collect::<Vec<_>>()
    );
}

#[test]
fn plan_after_apply_is_no_changes_and_reads_each_resource_once() {
    for name in EXAMPLES {
        let az = Azure::deployed(name);
        az.arm.clear_journal();
        let run = az
            .gw()
            // Plan's own reads: pre-flight's name checks are POSTs (tests/preflight.rs).
            .args(["plan", "--detailed-exitcode", "--skip-preflight", "-f"])
            .args([example(name)])
            .run();
        assert_eq!(run.code, 0, "{name}: {}\n{}", run.stdout, run.stderr);
        assert!(run.stdout.contains("No changes."), "{name}: {}", run.stdout);
        let journal = az.arm.journal();
        assert!(
            journal.iter().all(|e| e.method == "GET"),
            "{name}: plan only reads"
        );
        let mut seen = std::collections::BTreeSet::new();
        for e in &journal {
            // A paged list reads its pages once each; a resource is never read twice.
            assert!(seen.insert(e.url.clone()), "{name}: {} read twice", e.url);
        }
    }
}

#[test]
fn a_drifted_pool_weight_is_exactly_that_change() {
    let az = Azure::deployed("load-balancing");
    let pool_id = az.put_id("/backends/inference-backend-pool");
    let mut pool = az.arm.get_resource(&pool_id).unwrap();
    pool["properties"]["pool"]["services"][1]["weight"] = json!(30);
    az.arm.set_resource(&pool_id, pool);
    let run = az.run(&["plan", "--detailed-exitcode"], "load-balancing");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stdout.contains("~ pools.inference-backend-pool"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("properties.pool.services[1].weight: 30 -> 50"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("Plan: 0 to add, 1 to change, 0 to destroy, 41 unchanged."),
        "{}",
        run.stdout
    );
    // The same, as data.
    let run = az.run(&["plan", "-o", "json"], "load-balancing");
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let changed: Vec<_> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no-op")
        .collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["address"], "pools.inference-backend-pool");
    assert_eq!(changed[0]["action"], "update");
    assert_eq!(
        changed[0]["diff"],
        json!([{ "path": "properties.pool.services[1].weight", "before": 30, "after": 50 }])
    );
    assert_eq!(
        plan["summary"],
        json!({ "create": 0, "update": 1, "delete": 0, "replace": 0, "no_op": 41 })
    );
}

#[test]
fn a_changed_policy_shows_as_a_line_diff() {
    let az = Azure::deployed("load-balancing");
    let policy_id = az.put_id("/policies/policy");
    let mut policy = az.arm.get_resource(&policy_id).unwrap();
    let xml = policy["properties"]["value"]
        .as_str()
        .unwrap()
        .replace(r#"count="3""#, r#"count="1""#);
    policy["properties"]["value"] = json!(xml);
    az.arm.set_resource(&policy_id, policy);
    let run = az.run(&["plan"], "load-balancing");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("~ apis.inference.policy"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(r#"-        <retry condition="@(context.Response.StatusCode == 429 || context.Response.StatusCode == 503)" count="1""#), "{}", run.stdout);
    assert!(run.stdout.contains(r#"+        <retry condition="@(context.Response.StatusCode == 429 || context.Response.StatusCode == 503)" count="3""#), "{}", run.stdout);
    assert!(run.stdout.contains("1 to change"), "{}", run.stdout);
}

#[test]
fn a_missing_backend_is_a_create() {
    let az = Azure::deployed("load-balancing");
    let id = az.put_id("/backends/foundry2");
    az.arm.remove_resource(&id).unwrap();
    let run = az.run(&["plan", "--detailed-exitcode"], "load-balancing");
    assert_eq!(run.code, 2);
    assert!(run.stdout.contains("+ backends.foundry2"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy, 41 unchanged."),
        "{}",
        run.stdout
    );
}

#[test]
fn throttling_and_server_errors_are_retried_transparently() {
    let az = Azure::deployed("session-affinity");
    az.arm.set_throttle_every(Some(3));
    az.arm.add_fault(Fault::new("GET", "/backends").times(2));
    az.arm
        .add_fault(Fault::new("GET", "/apis").drop_connection());
    let run = az.run(&["plan", "--detailed-exitcode"], "session-affinity");
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("No changes."));
    assert!(
        az.arm.journal().iter().any(|e| e.status == 429),
        "throttling happened"
    );
    assert!(
        az.arm.journal().iter().any(|e| e.status == 500),
        "a server error happened"
    );
}

#[test]
fn not_logged_in_says_az_login() {
    let az = Azure::logged_out();
    let run = az.run(&["plan"], "load-balancing");
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("az login"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"));
}

#[test]
fn removed_resources_gw_owns_show_as_deletes() {
    let az = Azure::deployed("model-routing");
    // The same spec without o4-mini (on foundry3 only) and with DeepSeek-R1 moved nowhere else.
    let text = std::fs::read_to_string(example("model-routing")).unwrap();
    let smaller: String = text
        .lines()
        .filter(|l| !l.contains("name: o4-mini"))
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.yaml");
    std::fs::write(&path, smaller).unwrap();
    let run = az.gw().args(["plan", "-f"]).args([&path]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("- foundries.foundry3.deployments.o4-mini"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("~ apis.inference.policy"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("1 to destroy"), "{}", run.stdout);
}

#[test]
fn offline_plan_needs_no_credentials() {
    let az = Azure::logged_out();
    let run = az.run(&["plan", "--offline", "-o", "json"], "model-routing");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(plan["format_version"], 1);
    assert!(plan["spec_digest"].as_str().unwrap().starts_with("sha256:"));
    let changes = plan["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 44, "every resource of the spec");
    assert!(changes.iter().all(|c| c["action"] == "create"));
    assert!(az.arm.journal().is_empty());
    assert!(az.az.calls().is_empty());
}

#[test]
fn verbose_plan_shows_what_a_create_sets() {
    let run = crate::support::cli::gw()
        .args(["plan", "--offline", "-v", "-f"])
        .args([example("model-routing")])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("  + foundries.foundry3.deployments.DeepSeek-R1"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("      properties.model.format = \"DeepSeek\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("      properties.principalId = \"(known after apply)\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("      properties.value = (1"),
        "a policy is summarised: {}",
        run.stdout
    );
    // Without -v, one line per resource.
    let run = crate::support::cli::gw()
        .args(["plan", "--offline", "-f"])
        .args([example("model-routing")])
        .run();
    assert!(
        !run.stdout.contains("properties.model.format"),
        "{}",
        run.stdout
    );
}
