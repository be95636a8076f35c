//! `gw plan -o markdown`: the plan as a pull-request comment, for each kind of change.

use crate::support::azure::Azure;
use crate::support::cli::example;

#[test]
fn a_create_is_a_row_per_resource_in_the_summary_table() {
    let az = Azure::new();
    let run = az.run(&["plan", "-o", "markdown"], "session-affinity");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("| `+` | `pools.inference-backend-pool` |"),
        "{}",
        run.stdout
    );
    insta::assert_snapshot!("markdown_create", run.stdout);
}

#[test]
fn an_update_shows_its_fields_and_the_policy_diff_in_a_diff_block() {
    let az = Azure::deployed("load-balancing");
    let pool_id = az.put_id("/backends/inference-backend-pool");
    let mut pool = az.arm.get_resource(&pool_id).unwrap();
    pool["properties"]["pool"]["services"][1]["weight"] = serde_json::json!(30);
    az.arm.set_resource(&pool_id, pool);
    let policy_id = az.put_id("/apis/inference/policies/policy");
    let mut policy = az.arm.get_resource(&policy_id).unwrap();
    let xml = policy["properties"]["value"]
        .as_str()
        .unwrap()
        .replace("count=\"3\"", "count=\"1\"");
    policy["properties"]["value"] = serde_json::json!(xml);
    az.arm.set_resource(&policy_id, policy);

    let run = az.run(
        &["plan", "-o", "markdown", "--detailed-exitcode"],
        "load-balancing",
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("| `properties.pool.services[1].weight` | `30` | `50` |"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("```diff\n"), "{}", run.stdout);
    assert!(run.stdout.contains("\n-        <retry"), "{}", run.stdout);
    insta::assert_snapshot!("markdown_update", run.stdout);
}

#[test]
fn a_delete_is_listed_with_why() {
    let az = Azure::deployed("model-routing");
    let dir = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(example("model-routing")).unwrap();
    let fewer: String = spec
        .lines()
        .filter(|l| !l.contains("DeepSeek-R1"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.path().join("gw.yaml"), fewer).unwrap();
    let run = az
        .gw()
        .args(["plan", "-o", "markdown", "-f"])
        .args([dir.path().join("gw.yaml")])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("| `-` | `foundries.foundry3.deployments.DeepSeek-R1` |"),
        "{}",
        run.stdout
    );
    insta::assert_snapshot!("markdown_delete", run.stdout);
}

#[test]
fn markdown_is_for_plans_only() {
    let az = Azure::new();
    let run = az.run(
        &["apply", "-o", "markdown", "--auto-approve"],
        "session-affinity",
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("`-o markdown` is a view of a plan only"),
        "{}",
        run.stderr
    );
    assert!(az.writes().is_empty());
}

// Completions and the man page are generated from the same clap types; they live here,
// beside the other output a user pastes somewhere (a shell profile, a man path).

#[test]
fn bash_completions_parse_and_register_gw() {
    let run = crate::support::cli::gw()
        .args(["completions", "bash"])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.bash");
    std::fs::write(&file, &run.stdout).unwrap();
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    // Loaded, it registers a completion for `gw` that knows the subcommands.
    let loaded = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(". {} && complete -p gw", file.display()))
        .output()
        .unwrap();
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    assert!(String::from_utf8_lossy(&loaded.stdout).contains("gw"));
    for sub in ["import", "plan", "completions", "man"] {
        assert!(run.stdout.contains(sub), "{sub} missing");
    }
}

#[test]
fn every_shell_gets_completions_and_the_man_page_is_roff() {
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let run = crate::support::cli::gw().args(["completions", shell]).run();
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        assert!(run.stdout.contains("import"), "{shell}");
    }
    let bad = crate::support::cli::gw()
        .args(["completions", "tcsh"])
        .run();
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr
            .contains("possible values: bash, elvish, fish, powershell, zsh"),
        "{}",
        bad.stderr
    );
    let man = crate::support::cli::gw().args(["man"]).run();
    assert_eq!(man.code, 0, "{}", man.stderr);
    assert!(man.stdout.contains("\n.TH gw 1 "), "{}", man.stdout);
    assert!(man.stdout.contains("import"));
}
