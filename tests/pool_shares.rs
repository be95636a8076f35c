//! gw writes a pool member's priority and weight only where the spec declares them. Estates an
//! older gw wrote with `1`s everywhere plan no changes when those values mean what absence
//! means, and a truthful change when not. A breaker's `acceptRetryAfter` is always written
//! (default on); live without it is off.

use crate::support::azure::Azure;
use crate::support::cli::{Run, example};
use serde_json::{Value, json};
use std::path::Path;

/// `gw ARGS -f SPEC` against `az`.
fn run(az: &Azure, args: &[&str], spec: &Path) -> Run {
    az.gw().args(args).args(["-f"]).args([spec]).run()
}

/// Sets `key` to `value` on every member of the live pool `id`.
fn set_members(az: &Azure, id: &str, key: &str, values: &[Value]) {
    let mut pool = az.arm.get_resource(id).unwrap();
    let services = pool["properties"]["pool"]["services"]
        .as_array_mut()
        .unwrap();
    assert_eq!(services.len(), values.len());
    for (s, v) in services.iter_mut().zip(values) {
        s[key] = v.clone();
    }
    az.arm.set_resource(id, pool);
}

/// model-routing, applied, with its derived pool's members given `priorities` and weight 1
/// each (as an older gw wrote them). Returns the pool's id.
fn derived_pool_with(az: &Azure, priorities: [u8; 2]) -> String {
    let derived = az.put_id("/backends/gpt-4-1-mini-pool");
    set_members(az, &derived, "priority", &priorities.map(|p| json!(p)));
    set_members(az, &derived, "weight", &[json!(1), json!(1)]);
    derived
}

#[test]
fn a_derived_pool_is_written_without_priority_or_weight() {
    let az = Azure::deployed("model-routing");
    let pool = az
        .arm
        .get_resource(&az.put_id("/backends/gpt-4-1-mini-pool"))
        .unwrap();
    let services = pool["properties"]["pool"]["services"].as_array().unwrap();
    assert_eq!(services.len(), 2);
    for s in services {
        assert_eq!(s.get("priority"), None, "{s}");
        assert_eq!(s.get("weight"), None, "{s}");
    }
    // A declared pool keeps its declared priorities; its one-member groups get no weight.
    let pool = az
        .arm
        .get_resource(&az.put_id("/backends/gpt41-pool"))
        .unwrap();
    let written: Vec<_> = pool["properties"]["pool"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s.get("priority").cloned(), s.get("weight").cloned()))
        .collect();
    assert_eq!(written, [(Some(json!(1)), None), (Some(json!(2)), None)]);
}

#[test]
fn an_estate_an_older_gw_wrote_with_ones_plans_no_changes() {
    let az = Azure::deployed("model-routing");
    // What gw wrote before it wrote only what the spec declares: 1 wherever the spec was silent.
    derived_pool_with(&az, [1, 1]);
    set_members(
        &az,
        &az.put_id("/backends/gpt41-pool"),
        "weight",
        &[json!(1), json!(1)],
    );
    let run = az.run(&["plan", "--detailed-exitcode"], "model-routing");
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
}

#[test]
fn live_priorities_the_spec_leaves_out_are_a_change_that_apply_removes() {
    let az = Azure::deployed("model-routing");
    // Two groups live, one (unset) in the spec: not the same pool.
    let derived = derived_pool_with(&az, [1, 2]);
    let plan = az.run(&["plan", "--detailed-exitcode"], "model-routing");
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    for line in [
        "properties.pool.services[0].priority: 1 -> (absent)",
        "properties.pool.services[1].priority: 2 -> (absent)",
    ] {
        assert!(plan.stdout.contains(line), "{line}:\n{}", plan.stdout);
    }
    // Equal weights are an even split already: not a change.
    assert!(!plan.stdout.contains(".weight"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );

    let apply = az.run(&["apply", "--auto-approve"], "model-routing");
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    let pool = az.arm.get_resource(&derived).unwrap();
    for s in pool["properties"]["pool"]["services"].as_array().unwrap() {
        assert_eq!(s.get("priority"), None, "{s}");
    }
    let again = az.run(&["plan", "--detailed-exitcode"], "model-routing");
    assert_eq!(again.code, 0, "{}", again.stdout);
}

#[test]
fn a_breaker_honours_retry_after_unless_told_not_to_and_absent_live_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("gw.yaml");
    let text = std::fs::read_to_string(example("model-routing")).unwrap();
    let from = "trip: 1m, accept_retry_after: true }";
    assert!(text.contains(from));
    // Unset: on (the default), written out.
    std::fs::write(&spec, text.replace(from, "trip: 1m }")).unwrap();
    let az = Azure::new();
    let apply = run(&az, &["apply", "--auto-approve"], &spec);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    let backend = az.put_id("/backends/foundry1");
    let rule = |az: &Azure| {
        az.arm.get_resource(&backend).unwrap()["properties"]["circuitBreaker"]["rules"][0].clone()
    };
    assert_eq!(rule(&az)["acceptRetryAfter"], json!(true), "{}", rule(&az));

    // Told not to: gw writes false, and a live rule without the flag (as the labs leave it)
    // means the same, so it is no change.
    std::fs::write(
        &spec,
        text.replace(from, "trip: 1m, accept_retry_after: false }"),
    )
    .unwrap();
    let apply = run(&az, &["apply", "--auto-approve"], &spec);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert_eq!(rule(&az)["acceptRetryAfter"], json!(false), "{}", rule(&az));
    let mut body = az.arm.get_resource(&backend).unwrap();
    body["properties"]["circuitBreaker"]["rules"][0]
        .as_object_mut()
        .unwrap()
        .remove("acceptRetryAfter");
    az.arm.set_resource(&backend, body.clone());
    let plan = run(&az, &["plan", "--detailed-exitcode"], &spec);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);

    // On live, where the spec says off, is a change.
    body["properties"]["circuitBreaker"]["rules"][0]["acceptRetryAfter"] = json!(true);
    az.arm.set_resource(&backend, body);
    let plan = run(&az, &["plan", "--detailed-exitcode"], &spec);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("properties.circuitBreaker.rules[0].acceptRetryAfter: true -> false"),
        "{}",
        plan.stdout
    );
}
