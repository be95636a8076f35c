//! Pre-flight in `gw plan`, `gw apply` and `gw validate --online`: one test per problem kind
//! Azure would otherwise report 30 minutes into an apply, each located at its spec line; and
//! the defaults (everything offered, ample quota, free names, Owner) leave plans clean.

use crate::support::azure::Azure;
use crate::support::emulator::offered_model;
use serde_json::{Value, json};
use std::path::Path;

/// A spec with these foundries (name, region) and `models:` lines; names end in `-t1`.
fn spec(foundries: &[(&str, &str)], models: &[&str]) -> String {
    let mut s = String::from(
        "version: 1\nresource_group: { name: rg-pre, location: eastus }\nnaming: { suffix: t1 }\nfoundries:\n",
    );
    for (name, region) in foundries {
        s.push_str(&format!("  - {{ name: {name}, location: {region} }}\n"));
    }
    s.push_str("models:\n");
    for m in models {
        s.push_str(&format!("  - {m}\n"));
    }
    s.push_str("apim: { name: apim-pre, sku: BasicV2, publisher_email: a@example.com, publisher_name: A }\n");
    s.push_str(&format!(
        "apis:\n  inference: {{ path: inference, backend: {} }}\n",
        foundries[0].0
    ));
    s
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn gw(az: &Azure, dir: &Path, args: &[&str]) -> Run {
    let r = az.gw().dir(dir).args(["-f", "gw.yaml"]).args(args).run();
    Run {
        code: r.code,
        stdout: r.stdout,
        stderr: r.stderr,
    }
}

fn write(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gw.yaml"), text).unwrap();
    dir
}

/// The plan's pre-flight section and what plan said on stderr about it.
fn preflight_text(run: &Run) -> String {
    let at = run
        .stdout
        .find("\nPre-flight")
        .expect("a pre-flight section");
    let refusal: String = run
        .stderr
        .lines()
        .filter(|l| l.contains("pre-flight") || l.starts_with("hint:"))
        .map(|l| format!("{l}\n"))
        .collect();
    format!(
        "{}\n--- stderr ---\n{refusal}",
        run.stdout[at..].trim_start()
    )
}

/// Plans `text`; expects exit 1 and returns the pre-flight text to snapshot.
fn plan_fails(az: &Azure, text: &str) -> String {
    let dir = write(text);
    let run = gw(az, dir.path(), &["plan"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    preflight_text(&run)
}

/// `gw plan --detailed-exitcode` exits `code` and pre-flight finds nothing.
fn plan_clean(az: &Azure, dir: &Path, code: i32) -> Run {
    let run = gw(az, dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, code, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Pre-flight: no problems found"),
        "{}",
        run.stdout
    );
    run
}

const MINI: &str = "{ name: gpt-4o-mini, publisher: OpenAI, version: \"2024-07-18\", sku: GlobalStandard, capacity: 10 }";

#[test]
fn a_model_version_absent_from_a_region_is_located_at_its_version() {
    let az = Azure::new();
    az.arm.set_region_models(
        "westus",
        vec![offered_model(
            "OpenAI",
            "gpt-4o",
            "2024-05-13",
            &["GlobalStandard"],
        )],
    );
    let text = plan_fails(
        &az,
        &spec(
            &[("foundry1", "westus")],
            &[
                "{ name: gpt-4o, publisher: OpenAI, version: \"2024-11-20\", sku: GlobalStandard, capacity: 10 }",
            ],
        ),
    );
    assert!(text.contains("gw.yaml:7:"), "{text}");
    insta::assert_snapshot!("version_not_offered", text);
}

#[test]
fn a_sku_not_offered_for_a_model_in_a_region_names_the_skus_that_are() {
    let az = Azure::new();
    az.arm.set_region_models(
        "eastus2",
        vec![offered_model(
            "OpenAI",
            "gpt-4o-mini",
            "2024-07-18",
            &["GlobalStandard", "DataZoneStandard"],
        )],
    );
    let text = plan_fails(
        &az,
        &spec(
            &[("foundry1", "eastus2"), ("foundry2", "westus")],
            &[
                "{ name: gpt-4o-mini, publisher: OpenAI, version: \"2024-07-18\", sku: Standard, capacity: 10 }",
            ],
        ),
    );
    // westus offers Standard (the default catalogue): named as the way out.
    assert!(
        text.contains("Standard is offered for it in: westus"),
        "{text}"
    );
    insta::assert_snapshot!("sku_not_offered", text);
}

#[test]
fn a_deprecated_version_is_refused_with_its_date_and_the_current_versions() {
    let az = Azure::new();
    let mut old = offered_model("OpenAI", "gpt-35-turbo", "0613", &["Standard"]);
    old["model"]["lifecycleStatus"] = json!("Deprecated");
    old["model"]["deprecation"] =
        json!({"inference": "2025-02-13T00:00:00Z", "fineTune": "2025-02-13T00:00:00Z"});
    let current = offered_model("OpenAI", "gpt-35-turbo", "0125", &["Standard"]);
    az.arm.set_region_models("eastus", vec![old, current]);
    let text = plan_fails(
        &az,
        &spec(
            &[("foundry1", "eastus")],
            &[
                "{ name: chat, model: gpt-35-turbo, publisher: OpenAI, version: \"0613\", sku: Standard, capacity: 10 }",
            ],
        ),
    );
    assert!(text.contains("since 2025-02-13"), "{text}");
    insta::assert_snapshot!("model_deprecated", text);
}

#[test]
fn two_placements_that_each_fit_the_quota_but_not_together_are_refused() {
    let az = Azure::new();
    // 50 of 100 used by others: 30 fits, 30 + 30 does not.
    az.arm
        .set_quota("eastus", "OpenAI.GlobalStandard.gpt-4o-mini", 100.0, 50.0);
    let one = "{ name: gpt-4o-mini, publisher: OpenAI, version: \"2024-07-18\", sku: GlobalStandard, capacity: 30, foundries: [foundry1] }";
    let dir = write(&spec(
        &[("foundry1", "eastus"), ("foundry2", "eastus")],
        &[one],
    ));
    assert_eq!(gw(&az, dir.path(), &["plan"]).code, 0, "one placement fits");
    let text = plan_fails(
        &az,
        &spec(
            &[("foundry1", "eastus"), ("foundry2", "eastus")],
            &[
                "{ name: gpt-4o-mini, publisher: OpenAI, version: \"2024-07-18\", sku: GlobalStandard, capacity: 30 }",
            ],
        ),
    );
    assert!(text.contains("asks for 60 more"), "{text}");
    insta::assert_snapshot!("quota_exceeded", text);
}

#[test]
fn quota_counts_only_what_gw_does_not_already_hold() {
    let az = Azure::new();
    az.arm
        .set_quota("eastus", "OpenAI.GlobalStandard.gpt-4o-mini", 40.0, 0.0);
    let at = |capacity: u32| {
        spec(
            &[("foundry1", "eastus")],
            &[&format!(
                "{{ name: gpt-4o-mini, publisher: OpenAI, version: \"2024-07-18\", sku: GlobalStandard, capacity: {capacity} }}"
            )],
        )
    };
    let dir = write(&at(30));
    let run = gw(&az, dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Live: 30 of 40 in use, all of it gw's. The same 30 asks for nothing new; 35 asks for
    // 5 more (fits the 10 free); 45 asks for 15 (does not).
    plan_clean(&az, dir.path(), 0);
    std::fs::write(dir.path().join("gw.yaml"), at(35)).unwrap();
    assert_eq!(
        gw(&az, dir.path(), &["plan", "--detailed-exitcode"]).code,
        2
    );
    std::fs::write(dir.path().join("gw.yaml"), at(45)).unwrap();
    let run = gw(&az, dir.path(), &["plan"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("asks for 15 more") && run.stdout.contains("10 is free"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_subdomain_taken_elsewhere_is_located_at_the_foundry() {
    let az = Azure::new();
    az.arm.take_subdomain("foundry2-t1");
    let text = plan_fails(
        &az,
        &spec(&[("foundry1", "eastus"), ("foundry2", "westus")], &[MINI]),
    );
    assert!(text.contains("gw.yaml:6:"), "{text}");
    insta::assert_snapshot!("subdomain_taken", text);
}

#[test]
fn a_taken_apim_name_is_located_at_apim_name() {
    let az = Azure::new();
    az.arm.take_apim_name("apim-pre-t1");
    let text = plan_fails(&az, &spec(&[("foundry1", "eastus")], &[MINI]));
    insta::assert_snapshot!("apim_name_taken", text);
}

#[test]
fn a_caller_without_rights_to_create_role_assignments_is_told_which_role_grants_it() {
    let az = Azure::new();
    az.arm.set_deny_role_writes(true);
    let text = plan_fails(&az, &spec(&[("foundry1", "eastus")], &[MINI]));
    assert!(
        text.contains("Microsoft.Authorization/roleAssignments/write"),
        "{text}"
    );
    assert!(
        !text.contains("Microsoft.CognitiveServices/accounts/write"),
        "Contributor may write resources: {text}"
    );
    insta::assert_snapshot!("permission_missing", text);
}

#[test]
fn problems_in_three_regions_are_reported_in_one_plan() {
    let az = Azure::new();
    az.arm.set_region_models("westus", vec![]);
    az.arm.set_region_models(
        "swedencentral",
        vec![offered_model(
            "OpenAI",
            "gpt-4o-mini",
            "2024-07-18",
            &["Standard"],
        )],
    );
    az.arm
        .set_quota("uksouth", "OpenAI.GlobalStandard.gpt-4o-mini", 5.0, 0.0);
    let dir = write(&spec(
        &[
            ("foundry1", "westus"),
            ("foundry2", "swedencentral"),
            ("foundry3", "uksouth"),
        ],
        &[MINI],
    ));
    let run = gw(&az, dir.path(), &["plan", "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let plan: Value = serde_json::from_str(&run.stdout).unwrap();
    let found: Vec<(String, String, String, String)> = plan["preflight"]
        .as_array()
        .expect("preflight[] in the JSON plan")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("severity"), s("code"), s("region"), s("location"))
        })
        .collect();
    let e = |code: &str, region: &str, loc: &str| {
        (
            "error".to_string(),
            code.to_string(),
            region.to_string(),
            loc.to_string(),
        )
    };
    assert_eq!(
        found,
        vec![
            e("model_not_offered", "westus", "gw.yaml:9:13"),
            e("sku_not_offered", "swedencentral", "gw.yaml:9:73"),
            e("quota_exceeded", "uksouth", "gw.yaml:9:99"),
        ]
    );
    for f in plan["preflight"].as_array().unwrap() {
        assert!(f["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(f["hint"].as_str().is_some_and(|h| !h.is_empty()), "{f}");
    }
}

#[test]
fn apply_refuses_to_start_on_preflight_errors_unless_skipped() {
    let az = Azure::new();
    az.arm.take_apim_name("apim-pre-t1");
    let dir = write(&spec(&[("foundry1", "eastus")], &[MINI]));
    let run = gw(&az, dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("apim_name_taken"), "{}", run.stdout);
    assert!(run.stderr.contains("--skip-preflight"), "{}", run.stderr);
    assert!(
        az.arm.writes().is_empty(),
        "nothing was written: {:?}",
        az.writes()
    );
    let run = gw(
        &az,
        dir.path(),
        &["apply", "--auto-approve", "--skip-preflight"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("Pre-flight: skipped (--skip-preflight)"),
        "{}",
        run.stdout
    );
}

#[test]
fn offline_and_skip_say_preflight_did_not_run_and_read_nothing_for_it() {
    let az = Azure::new();
    let dir = write(&spec(&[("foundry1", "eastus")], &[MINI]));
    let run = gw(&az, dir.path(), &["plan", "--offline"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("Pre-flight: skipped (--offline"),
        "{}",
        run.stdout
    );
    let run = gw(&az, dir.path(), &["plan", "--skip-preflight", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(plan["preflight_skipped"], "--skip-preflight");
    assert!(plan.get("preflight").is_none());
    for read in ["/models", "/usages", "Availability", "/permissions"] {
        assert_eq!(az.arm.count("*", read), 0, "{read} was read");
    }
}

#[test]
fn the_defaults_leave_every_example_clean_and_cost_no_round_trip() {
    for name in crate::support::cli::EXAMPLES {
        let az = Azure::new();
        let run = az.run(&["plan", "--detailed-exitcode"], name);
        assert_eq!(run.code, 2, "{name}: {}\n{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains("Pre-flight: no problems found"),
            "{name}: {}",
            run.stdout
        );
        // One models and one usages read per region, one name check per account and for
        // APIM, permissions once at the group (then at the subscription: no group yet).
        let regions = az.arm.count("GET", "/models");
        assert!(regions >= 2, "{name}");
        assert_eq!(az.arm.count("GET", "/usages"), regions, "{name}");
        assert_eq!(az.arm.count("POST", "/checkNameAvailability"), 1, "{name}");
        assert_eq!(az.arm.count("GET", "/permissions"), 2, "{name}");
        // The APIM service's diagnostic settings once, only where gw puts one (the service
        // does not exist yet: 404, so none).
        let lists = az
            .arm
            .journal()
            .iter()
            .filter(|e| e.method == "GET" && e.path().ends_with("/diagnosticSettings"))
            .map(|e| e.status)
            .collect::<Vec<_>>();
        let expected: Vec<u16> = if *name == "token-governance" {
            vec![404]
        } else {
            vec![]
        };
        assert_eq!(lists, expected, "{name}");
    }
}

#[test]
fn a_version_retiring_soon_is_a_warning_with_its_date() {
    let az = Azure::new();
    let soon = time::OffsetDateTime::now_utc().date() + time::Duration::days(30);
    let mut m = offered_model("OpenAI", "gpt-4o-mini", "2024-07-18", &["GlobalStandard"]);
    m["model"]["deprecation"] = json!({"inference": format!("{soon}T00:00:00Z")});
    az.arm.set_region_models("eastus", vec![m]);
    let dir = write(&spec(&[("foundry1", "eastus")], &[MINI]));
    let run = gw(&az, dir.path(), &["plan"]);
    assert_eq!(
        run.code, 0,
        "a warning does not fail the plan: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("warning[model_retiring]"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("on {soon}, in 30 days")),
        "{}",
        run.stdout
    );
}

#[test]
fn validate_online_runs_the_preflight() {
    let az = Azure::new();
    az.arm.take_subdomain("foundry1-t1");
    let dir = write(&spec(&[("foundry1", "eastus")], &[MINI]));
    let run = gw(&az, dir.path(), &["validate"]);
    assert_eq!(
        run.code, 0,
        "offline validate does not ask Azure: {}",
        run.stderr
    );
    let run = gw(&az, dir.path(), &["validate", "--online", "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["preflight"][0]["code"], "subdomain_taken");
    assert!(run.stderr.contains("gw.yaml:5:"), "{}", run.stderr);
}

#[test]
fn names_held_by_your_own_soft_deleted_resources_are_the_restore_case_not_a_problem() {
    let az = Azure::new();
    let dir = write(&spec(&[("foundry1", "eastus")], &[MINI]));
    assert_eq!(gw(&az, dir.path(), &["apply", "--auto-approve"]).code, 0);
    let run = gw(&az, dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Azure says both names are taken (by the soft-deleted account and service)...
    let run = gw(&az, dir.path(), &["plan", "-o", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let plan: Value = serde_json::from_str(&run.stdout).unwrap();
    let restores = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["soft_deleted"]["action"] == "restore")
        .count();
    assert_eq!(restores, 2, "{}", run.stdout);
    // ...but they are the user's own: restored, not reported.
    assert!(plan.get("preflight").is_none(), "{}", run.stdout);
    assert!(az.arm.count("POST", "/checkDomainAvailability") > 0);
}

#[test]
fn purging_needs_the_purge_right_on_the_subscription() {
    let az = Azure::new();
    let dir = write(&spec(&[("foundry1", "eastus")], &[MINI]));
    assert_eq!(gw(&az, dir.path(), &["apply", "--auto-approve"]).code, 0);
    assert_eq!(gw(&az, dir.path(), &["destroy", "--auto-approve"]).code, 0);
    // Everything but purging soft-deleted accounts.
    az.arm.set_permissions(Some(vec![json!({
        "actions": ["*"],
        "notActions": ["Microsoft.CognitiveServices/locations/resourceGroups/deletedAccounts/delete"],
    })]));
    let run = gw(&az, dir.path(), &["plan"]);
    assert_eq!(run.code, 0, "restoring needs no purge: {}", run.stdout);
    let run = gw(&az, dir.path(), &["plan", "--purge-soft-deleted"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("error[permission_missing]"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "`Microsoft.CognitiveServices/locations/resourceGroups/deletedAccounts/delete`"
        ) && !run.stdout.contains("deletedservices/delete"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Contributor on the subscription"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_read_pre_flight_cannot_make_is_a_warning_and_the_plan_goes_on() {
    let az = Azure::new();
    az.arm.add_fault(
        crate::support::emulator::Fault::new("GET", "/locations/eastus/usages")
            .error(
                403,
                "AuthorizationFailed",
                "The client may not read usages.",
            )
            .times(10),
    );
    let dir = write(&spec(&[("foundry1", "eastus")], &[MINI]));
    let run = gw(&az, dir.path(), &["plan"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "warning[preflight_unavailable] [eastus]: could not check the quota in eastus"
        ) && run.stdout.contains("AuthorizationFailed"),
        "{}",
        run.stdout
    );
}

/// The token-governance example applied, then its diagnostic setting gone and a lab's in its
/// place (as when gw adopts an estate whose service already sends gateway logs): `lab-logs`
/// sends `logs` and AllMetrics to workspace `ws` (`None`: the example's own). Returns the
/// Azure and a directory holding the example's spec.
fn lab_setting_beside_gw(logs: Value, ws: Option<&str>) -> (Azure, tempfile::TempDir) {
    lab_setting(logs, ws, false)
}

/// As [`lab_setting_beside_gw`]; `keep_ours` leaves gw's setting in place too.
fn lab_setting(logs: Value, ws: Option<&str>, keep_ours: bool) -> (Azure, tempfile::TempDir) {
    let az = Azure::new();
    let dir =
        write(&std::fs::read_to_string(crate::support::cli::example("token-governance")).unwrap());
    let run = gw(&az, dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ours = az.put_id("/diagnosticSettings/gw-gateway-logs");
    let law = az.put_id("/workspaces/law-gateway");
    if !keep_ours {
        az.arm.remove_resource(&ours).expect("gw's setting");
    }
    let lab = ours.replace("gw-gateway-logs", "lab-logs");
    az.arm.set_resource(
        &lab,
        json!({"id": lab, "name": "lab-logs", "type": "Microsoft.Insights/diagnosticSettings",
        "properties": {
            "workspaceId": ws.map_or_else(|| law.to_ascii_lowercase(), str::to_string),
            "logs": logs,
            "metrics": [{"category": "AllMetrics", "enabled": false}],
        }}),
    );
    (az, dir)
}

#[test]
fn a_lab_setting_sending_gateway_logs_to_the_same_workspace_is_located_at_log_analytics() {
    let (az, dir) = lab_setting_beside_gw(
        json!([{"category": "GatewayLogs", "enabled": true}, {"category": "WebSocketConnectionLogs", "enabled": true}]),
        None,
    );
    let run = gw(&az, dir.path(), &["plan"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let text = preflight_text(&run);
    assert!(
        text.contains("error[diagnostic_sink_in_use]") && text.contains("gw.yaml:35:5"),
        "{text}"
    );
    insta::assert_snapshot!("diagnostic_sink_in_use", text);
    // The list was read once, beside the other pre-flight reads.
    assert_eq!(
        az.arm
            .journal()
            .iter()
            .filter(|e| e.method == "GET" && e.path().ends_with("/diagnosticSettings"))
            .count(),
        2,
        "one list per plan (apply's and this one)"
    );
}

#[test]
fn a_category_group_holding_gw_s_categories_conflicts_too_and_another_workspace_does_not() {
    let (az, dir) =
        lab_setting_beside_gw(json!([{"categoryGroup": "allLogs", "enabled": true}]), None);
    let run = gw(&az, dir.path(), &["plan", "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let plan: Value = serde_json::from_str(&run.stdout).unwrap();
    let f = &plan["preflight"][0];
    assert_eq!(f["code"], "diagnostic_sink_in_use", "{f}");
    let message = f["message"].as_str().unwrap();
    assert!(
        message
            .contains("`GatewayLogs` and `GatewayLlmLogs` (through its category group `allLogs`)"),
        "{message}"
    );
    assert!(
        f["hint"]
            .as_str()
            .unwrap()
            .starts_with("in diagnostic setting `lab-logs`, replace category group `allLogs`"),
        "{f}"
    );

    let other = format!(
        "{}/providers/Microsoft.OperationalInsights/workspaces/law-lab",
        az.rg_id("lab-token-governance")
    );
    let (az, dir) = lab_setting_beside_gw(
        json!([{"categoryGroup": "allLogs", "enabled": true}]),
        Some(&other),
    );
    let run = gw(&az, dir.path(), &["plan", "-o", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let plan: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(plan.get("preflight").is_none(), "{}", run.stdout);
    // And apply gets through: Azure accepts the setting beside the lab's.
    let run = gw(&az, dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn apply_skipping_preflight_fails_at_the_diagnostic_setting_with_the_hint() {
    let (az, dir) =
        lab_setting_beside_gw(json!([{"category": "GatewayLogs", "enabled": true}]), None);
    let run = gw(
        &az,
        dir.path(),
        &["apply", "--auto-approve", "--skip-preflight"],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("error: observability.diagnostic_setting failed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "is already used in diagnostic setting 'lab-logs' for category 'GatewayLogs'"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: another diagnostic setting on this resource already sends this category to the same workspace"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_lab_setting_beside_gw_s_unchanged_setting_blocks_nothing_since_nothing_is_written() {
    // Azure checks the rule when a setting is written; gw's is in place and stays so.
    let (az, dir) = lab_setting(
        json!([{"category": "GatewayLogs", "enabled": true}]),
        None,
        true,
    );
    plan_clean(&az, dir.path(), 0);
    // gw's own setting, drifted and so rewritten, does not conflict with itself.
    let ours = az.put_id("/diagnosticSettings/gw-gateway-logs");
    az.arm
        .remove_resource(&ours.replace("gw-gateway-logs", "lab-logs"))
        .expect("the lab's setting");
    let mut drifted = az.arm.get_resource(&ours).unwrap();
    drifted["properties"]["logs"][1]["enabled"] = json!(false);
    az.arm.set_resource(&ours, drifted);
    let run = plan_clean(&az, dir.path(), 2);
    assert!(
        run.stdout.contains("~ observability.diagnostic_setting"),
        "{}",
        run.stdout
    );
}
