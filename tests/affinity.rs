//! `gw affinity` against the ARM emulator: one conditional write, nothing else touched, a
//! concurrent change never lost.

use crate::support::azure::Azure;
use crate::support::emulator::Fault;
use serde_json::{Value, json};

fn pool_id(az: &Azure) -> String {
    az.put_id("/backends/inference-backend-pool")
}

fn services(v: &Value) -> Value {
    v["properties"]["pool"]["services"].clone()
}

#[test]
fn enable_sends_one_conditional_write_and_keeps_the_members() {
    let az = Azure::deployed("load-balancing");
    let id = pool_id(&az);
    let before = az.arm.get_resource(&id).unwrap();
    az.arm.clear_journal();
    let run = az.run(
        &["affinity", "enable", "--pool", "inference-backend-pool"],
        "load-balancing",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let writes: Vec<_> = az
        .arm
        .journal()
        .into_iter()
        .filter(|e| e.is_write())
        .collect();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(writes[0].method, "PUT");
    assert!(
        writes[0].if_match.as_deref().is_some_and(|m| m != "*"),
        "the write carries the ETag it read"
    );
    let after = az.arm.get_resource(&id).unwrap();
    assert_eq!(
        services(&after),
        services(&before),
        "members, priorities and weights as they were"
    );
    assert_eq!(
        after["properties"]["pool"]["sessionAffinity"],
        json!({ "sessionId": { "source": "cookie", "name": "APIM-Backend-Affinity" } })
    );
    // The spec has no affinity for this pool: the user is told apply would undo it.
    assert!(
        run.stderr.contains("the next `gw apply` will revert this"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("session_affinity:"), "{}", run.stderr);
    // And plan shows the drift like any other.
    let plan = az.run(&["plan"], "load-balancing");
    assert!(
        plan.stdout.contains("~ pools.inference-backend-pool"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("properties.pool.sessionAffinity"),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_concurrent_change_is_retried_and_preserved() {
    let az = Azure::deployed("load-balancing");
    let id = pool_id(&az);
    // Someone changes a weight between gw's read and its write.
    let meddle_id = id.clone();
    az.arm.add_fault(
        Fault::new("PUT", "/backends/inference-backend-pool").before(move |state| {
            let mut pool = state.get(&meddle_id).unwrap();
            pool["properties"]["pool"]["services"][3]["weight"] = json!(7);
            state.set(&meddle_id, pool);
        }),
    );
    az.arm.clear_journal();
    let run = az.run(
        &[
            "affinity",
            "enable",
            "--pool",
            "inference-backend-pool",
            "--cookie",
            "sticky",
        ],
        "load-balancing",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let puts: Vec<_> = az
        .arm
        .journal()
        .into_iter()
        .filter(|e| e.method == "PUT")
        .collect();
    assert_eq!(
        puts.iter().map(|e| e.status).collect::<Vec<_>>(),
        [412, 200]
    );
    let after = az.arm.get_resource(&id).unwrap();
    assert_eq!(
        after["properties"]["pool"]["services"][3]["weight"], 7,
        "the other change survived"
    );
    assert_eq!(
        after["properties"]["pool"]["sessionAffinity"]["sessionId"]["name"],
        "sticky"
    );
}

#[test]
fn enable_twice_writes_once_disable_removes_status_reports() {
    let az = Azure::deployed("session-affinity");
    let id = pool_id(&az);
    // The example declares affinity: already on, nothing to write.
    az.arm.clear_journal();
    let run = az.run(
        &["affinity", "enable", "--pool", "inference-backend-pool"],
        "session-affinity",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("already enabled"), "{}", run.stderr);
    assert!(az.arm.journal().iter().all(|e| !e.is_write()));
    assert!(
        !run.stderr.contains("revert"),
        "the spec agrees: no warning"
    );

    let run = az.run(
        &["affinity", "disable", "--pool", "inference-backend-pool"],
        "session-affinity",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        az.arm.get_resource(&id).unwrap()["properties"]["pool"]
            .get("sessionAffinity")
            .is_none()
    );
    assert!(
        run.stdout.contains("inference-backend-pool: disabled"),
        "{}",
        run.stdout
    );

    let run = az.run(&["affinity", "status", "-o", "json"], "session-affinity");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["pools"][0]["name"], "inference-backend-pool");
    assert_eq!(v["pools"][0]["affinity"], Value::Null);
    assert_eq!(
        v["pools"][0]["members"],
        json!([{ "backend": "foundry1", "priority": 1, "weight": 50 }, { "backend": "foundry2", "priority": 1, "weight": 50 }])
    );

    az.arm.clear_journal();
    assert_eq!(
        az.run(
            &["affinity", "enable", "--pool", "inference-backend-pool"],
            "session-affinity"
        )
        .code,
        0
    );
    assert_eq!(
        az.run(
            &["affinity", "enable", "--pool", "inference-backend-pool"],
            "session-affinity"
        )
        .code,
        0
    );
    assert_eq!(
        az.arm.journal().iter().filter(|e| e.is_write()).count(),
        1,
        "the second enable sends no write"
    );
    let run = az.run(&["affinity", "status"], "session-affinity");
    assert!(run.stdout.starts_with("inference-backend-pool: enabled (cookie APIM-Backend-Affinity)\n  foundry1 priority 1 weight 50\n"), "{}", run.stdout);
}

#[test]
fn an_instance_without_the_feature_is_reported() {
    let az = Azure::deployed("load-balancing");
    // The service accepts the write but the pool reads back without affinity.
    let id = pool_id(&az);
    let before = az.arm.get_resource(&id).unwrap();
    let mut reply = before.clone();
    reply["etag"] = json!("\"x\"");
    az.arm.add_fault(
        Fault::new("GET", "/backends/inference-backend-pool")
            .nth(2)
            .respond(200, Some(reply)),
    );
    let run = az.run(
        &["affinity", "enable", "--pool", "inference-backend-pool"],
        "load-balancing",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("reads back without it"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("AI Gateway Early"), "{}", run.stderr);
}

#[test]
fn unknown_pool_gets_a_suggestion() {
    let az = Azure::deployed("session-affinity");
    let run = az.run(
        &["affinity", "enable", "--pool", "inference-backend-pol"],
        "session-affinity",
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("did you mean `inference-backend-pool`?"),
        "{}",
        run.stderr
    );
}
