//! `gw apply PLAN.json` treats the file as untrusted: a tampered plan (an added delete, a
//! changed body or action, stamps removed, another target) is refused with the difference
//! named, before anything is written; an untouched one applies.

use crate::support::azure::Azure;
use crate::support::cli::Run;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const SPEC: &str = "load-balancing";
const RG: &str = "lab-load-balancing";

/// A deployed example whose pool drifted (so the plan has one update), a foreign account in
/// its group, another team's group beside it, and a saved plan of that state.
struct Setup {
    az: Azure,
    _dir: tempfile::TempDir,
    saved: PathBuf,
    pool_id: String,
}

fn setup() -> Setup {
    let az = Azure::deployed(SPEC);
    let pool_id = az.put_id("/backends/inference-backend-pool");
    let mut pool = az.arm.get_resource(&pool_id).unwrap();
    pool["properties"]["pool"]["services"][1]["weight"] = json!(30);
    az.arm.set_resource(&pool_id, pool);
    az.arm.set_resource(
        &az.rg_id("prod-data"),
        json!({ "location": "westeurope", "tags": { "owner": "data-team" } }),
    );
    az.arm.set_resource(
        &theirs(&az),
        json!({ "location": "eastus", "kind": "AIServices", "tags": { "owner": "someone" } }),
    );
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("plan.json");
    let run = az.run(&["plan", "--out", path_str(&saved)], SPEC);
    assert_eq!(run.code, 0, "{}", run.stderr);
    Setup {
        az,
        _dir: dir,
        saved,
        pool_id,
    }
}

/// An account in the example's group that gw did not create.
fn theirs(az: &Azure) -> String {
    format!(
        "{}/providers/Microsoft.CognitiveServices/accounts/theirs",
        az.rg_id(RG)
    )
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn apply(az: &Azure, plan: &Path) -> Run {
    az.run(&["apply", path_str(plan), "--auto-approve"], SPEC)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// Applies a copy of the saved plan edited by `edit`; it must be refused with every one of
/// `named` in the error, and nothing written.
fn refused(s: &Setup, edit: impl FnOnce(&mut Value), named: &[&str]) {
    let mut plan = read(&s.saved);
    edit(&mut plan);
    let tampered = s.saved.with_file_name("tampered.json");
    std::fs::write(&tampered, serde_json::to_string_pretty(&plan).unwrap()).unwrap();
    s.az.arm.clear_journal();
    let run = apply(&s.az, &tampered);
    assert_eq!(run.code, 1, "{}", run.stderr);
    for n in named {
        assert!(
            run.stderr.contains(n),
            "`{n}` not named in:\n{}",
            run.stderr
        );
    }
    assert!(
        run.stderr.contains("gw plan --out"),
        "the way out: {}",
        run.stderr
    );
    assert!(s.az.writes().is_empty(), "{:?}", s.az.writes());
}

fn delete_of(id: &str) -> Value {
    json!({ "address": "resource_group", "type": "Microsoft.Resources/resourceGroups", "id": id,
            "action": "delete", "reason": "gw created it and the spec no longer has it" })
}

fn changes(plan: &mut Value) -> &mut Vec<Value> {
    plan["changes"].as_array_mut().unwrap()
}

#[test]
fn an_appended_delete_of_another_group_is_refused_and_the_group_survives() {
    let s = setup();
    let other = s.az.rg_id("prod-data");
    refused(
        &s,
        |p| changes(p).push(delete_of(&other)),
        &[&format!("added: delete {other}")],
    );
    assert!(s.az.arm.get_resource(&other).is_some());
}

#[test]
fn an_appended_delete_of_a_resource_gw_does_not_own_in_the_same_group_is_refused() {
    let s = setup();
    let theirs = theirs(&s.az);
    refused(
        &s,
        |p| changes(p).push(delete_of(&theirs)),
        &[&format!("added: delete {theirs}")],
    );
    assert!(s.az.arm.get_resource(&theirs).is_some());
}

#[test]
fn a_changed_body_or_action_is_refused_naming_the_resource_and_field() {
    let s = setup();
    refused(
        &s,
        |p| {
            let pool = changes(p)
                .iter_mut()
                .find(|c| c["address"] == "pools.inference-backend-pool")
                .unwrap();
            assert_eq!(pool["action"], "update");
            pool["diff"][0]["after"] = json!(100);
        },
        &["changed body: pools.inference-backend-pool: properties.pool.services[1].weight"],
    );
    refused(
        &s,
        |p| {
            let apim = changes(p)
                .iter_mut()
                .find(|c| c["address"] == "apim")
                .unwrap();
            apim["action"] = json!("delete");
        },
        &["changed action: apim: the file says delete, the recomputed plan no-op"],
    );
    refused(
        &s,
        |p| {
            changes(p).retain(|c| c["address"] != "pools.inference-backend-pool");
        },
        &["missing: update pools.inference-backend-pool"],
    );
}

#[test]
fn a_plan_without_stamps_or_missing_one_is_refused() {
    let s = setup();
    refused(
        &s,
        |p| {
            p.as_object_mut().unwrap().remove("read");
        },
        &["no stamps"],
    );
    let pool_id = s.pool_id.clone();
    refused(
        &s,
        |p| {
            p["read"]
                .as_array_mut()
                .unwrap()
                .retain(|r| !r["id"].as_str().unwrap().eq_ignore_ascii_case(&pool_id));
        },
        &[&format!("changed: {pool_id}")],
    );
}

#[test]
fn a_plan_for_another_subscription_or_group_is_refused() {
    let s = setup();
    refused(
        &s,
        |p| p["resource_group"] = json!("prod-data"),
        &["the plan is for resource group prod-data, the spec names lab-load-balancing"],
    );
    refused(
        &s,
        |p| p["subscription"] = json!("99999999-0000-0000-0000-000000000000"),
        &["the plan is for subscription 99999999-0000-0000-0000-000000000000"],
    );
}

#[test]
fn an_untouched_saved_plan_and_one_printed_with_json_apply() {
    let s = setup();
    // `plan -o json` prints the same document `--out` saves, stamps included.
    let run = s.az.run(&["plan", "-o", "json"], SPEC);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let printed: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(printed, read(&s.saved));
    assert!(!printed["read"].as_array().unwrap().is_empty());

    s.az.arm.clear_journal();
    let run = apply(&s.az, &s.saved);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(s.az.writes(), [format!("PUT {}", s.pool_id)]);
}

#[test]
fn an_offline_plan_is_never_applied() {
    let s = setup();
    let offline = s.saved.with_file_name("offline.json");
    let run =
        s.az.run(&["plan", "--offline", "--out", path_str(&offline)], SPEC);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("will not accept it"), "{}", run.stderr);
    s.az.arm.clear_journal();
    let run = apply(&s.az, &offline);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("no stamps"), "{}", run.stderr);
    assert!(
        s.az.arm.journal().is_empty(),
        "refused before reading Azure"
    );
}

#[test]
fn a_plan_that_purges_needs_the_flag_on_apply_too() {
    let az = Azure::deployed("session-affinity");
    assert_eq!(
        az.run(&["destroy", "--auto-approve"], "session-affinity")
            .code,
        0
    );
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("purge.json");
    let run = az.run(
        &["plan", "--purge-soft-deleted", "--out", path_str(&saved)],
        "session-affinity",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    az.arm.clear_journal();
    let plan = path_str(&saved);
    let run = az.run(&["apply", plan, "--auto-approve"], "session-affinity");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("changed soft_deleted: apim"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("applies only with `--purge-soft-deleted` given to apply too"),
        "{}",
        run.stderr
    );
    assert!(az.writes().is_empty(), "{:?}", az.writes());
    let run = az.run(
        &["apply", plan, "--auto-approve", "--purge-soft-deleted"],
        "session-affinity",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("0 restored"), "{}", run.stderr);
}
