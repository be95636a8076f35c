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

#[test]
fn in_a_group_gw_created_what_others_added_stays_unless_include_foreign() {
    let az = Azure::deployed("session-affinity");
    let rg = az.rg_id("lab-session-affinity");
    // Added later by someone else: a storage account, and an AI account without gw's tag.
    // Three foreign resources beside gw's, so the group listing spans pages (2 per page).
    let storage = format!("{rg}/providers/Microsoft.Storage/storageAccounts/teamdata");
    let account = format!("{rg}/providers/Microsoft.CognitiveServices/accounts/theirs");
    az.arm.set_resource(
        &storage,
        serde_json::json!({ "location": "swedencentral", "kind": "StorageV2" }),
    );
    az.arm.set_resource(
        &account,
        serde_json::json!({ "location": "swedencentral", "kind": "AIServices", "tags": { "owner": "someone" } }),
    );

    // The confirmation (here refused: CI) lists what goes and what stays.
    az.arm.clear_journal();
    let asked = az.run(&["destroy"], "session-affinity");
    assert_eq!(asked.code, 1, "{}", asked.stderr);
    for stays in [
        "It keeps:",
        "Microsoft.Storage/storageAccounts teamdata (not gw's): gw did not create it",
        "Microsoft.CognitiveServices/accounts theirs (not gw's): gw did not create it",
        "resource group lab-session-affinity: gw created it, but it holds 2 resources gw did not create; `--include-foreign`",
    ] {
        assert!(
            asked.stderr.contains(stays),
            "`{stays}` in:\n{}",
            asked.stderr
        );
    }
    assert!(
        !asked.stderr.contains("everything in it goes"),
        "{}",
        asked.stderr
    );
    assert!(az.writes().is_empty());

    let run = az.run(&["destroy", "--auto-approve"], "session-affinity");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let left = az.arm.list_ids(&rg);
    assert!(
        az.arm.get_resource(&rg).is_some(),
        "the group stays: {left:?}"
    );
    assert!(az.arm.get_resource(&storage).is_some(), "{left:?}");
    assert!(az.arm.get_resource(&account).is_some(), "{left:?}");
    assert!(
        !left
            .iter()
            .any(|id| id.contains("apim-affinity") || id.contains("foundry1-")),
        "gw's are gone: {left:?}"
    );

    // Asked for explicitly, the group goes whole, theirs with it, and the listing says so.
    assert_eq!(
        az.run(&["apply", "--auto-approve"], "session-affinity")
            .code,
        0
    );
    let run = az.run(
        &["destroy", "--auto-approve", "--include-foreign"],
        "session-affinity",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "Microsoft.Storage/storageAccounts teamdata (not gw's) because of --include-foreign"
        ),
        "{}",
        run.stderr
    );
    assert!(az.arm.list_ids(&rg).is_empty());
}
