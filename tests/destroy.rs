//! `gw destroy`: what the spec manages goes; `--purge` frees the names; apply comes back.

use crate::support::azure::Azure;

#[test]
fn destroy_then_reapply_restores_and_purge_frees_the_names() {
    let az = Azure::new();
    assert_eq!(
        az.run(&["apply", "--auto-approve"], "model-routing").code,
        0
    );

    let unattended = az.run(&["destroy"], "model-routing");
    assert_eq!(unattended.code, 1);
    assert!(unattended.stderr.contains("--auto-approve"));

    let run = az.run(&["destroy", "--auto-approve"], "model-routing");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("resource_group"),
        "the group gw created goes whole: {}",
        run.stderr
    );
    assert!(az.arm.list_ids(&az.rg_id("lab-model-routing")).is_empty());

    // Names are held by soft-deleted records; apply restores them.
    let run = az.run(&["apply", "--auto-approve"], "model-routing");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("4 restored"),
        "3 accounts and the APIM service: {}",
        run.stderr
    );
    let plan = az.run(&["plan", "--detailed-exitcode"], "model-routing");
    assert_eq!(plan.code, 0, "{}", plan.stdout);

    let run = az.run(&["destroy", "--auto-approve", "--purge"], "model-routing");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("4 purged"), "{}", run.stderr);
    // No soft-deleted record is left: a new apply creates, it does not restore.
    let plan = az.run(&["plan"], "model-routing");
    assert!(plan.stdout.contains("+ apim "), "{}", plan.stdout);
    assert!(!plan.stdout.contains("soft-deleted"), "{}", plan.stdout);
}

#[test]
fn in_a_group_gw_did_not_create_only_gws_resources_go() {
    let az = Azure::new();
    let rg = az.rg_id("lab-session-affinity");
    // The group exists already, with someone else's resource in it.
    az.arm.set_resource(
        &rg,
        serde_json::json!({ "location": "swedencentral", "tags": { "owner": "someone" } }),
    );
    let other = format!("{rg}/providers/Microsoft.CognitiveServices/accounts/theirs");
    az.arm.set_resource(
        &other,
        serde_json::json!({ "location": "swedencentral", "kind": "AIServices" }),
    );
    assert_eq!(
        az.run(&["apply", "--auto-approve"], "session-affinity")
            .code,
        0
    );
    let run = az.run(&["destroy", "--auto-approve"], "session-affinity");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let left = az.arm.list_ids(&rg);
    assert!(
        left.iter().any(|id| id.eq_ignore_ascii_case(&rg)),
        "the group stays: {left:?}"
    );
    assert!(
        left.iter().any(|id| id.ends_with("/accounts/theirs")),
        "theirs stays: {left:?}"
    );
    assert!(
        !left
            .iter()
            .any(|id| id.contains("apim-affinity") || id.contains("foundry1-")),
        "gw's are gone: {left:?}"
    );
}
