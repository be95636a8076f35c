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
