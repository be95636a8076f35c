//! `gw import` against the ARM emulator: estates gw created (every example), estates shaped
//! like the AI-Gateway labs' Bicep, and a policy gw does not understand.

use crate::support::azure::Azure;
use crate::support::cli::{EXAMPLES, Run, example};

/// The example's resource group name, read from its spec.
fn group_of(name: &str) -> String {
    let text = std::fs::read_to_string(example(name)).unwrap();
    let after = text.split("resource_group:").nth(1).unwrap();
    let line = after
        .lines()
        .find(|l| l.trim_start().starts_with("name:"))
        .unwrap();
    line.split(':').nth(1).unwrap().trim().to_string()
}

fn import(az: &Azure, dir: &std::path::Path, rg: &str, extra: &[&str]) -> Run {
    az.gw()
        .args(["import", "--resource-group", rg, "--out"])
        .args([dir.join("gw.yaml")])
        .args(extra)
        .run()
}

fn plan(az: &Azure, dir: &std::path::Path) -> Run {
    az.gw()
        .args(["plan", "--detailed-exitcode", "-f"])
        .args([dir.join("gw.yaml")])
        .run()
}

#[test]
fn an_estate_gw_created_imports_to_a_spec_that_plans_no_changes() {
    for name in EXAMPLES {
        let az = Azure::deployed(name);
        let dir = tempfile::tempdir().unwrap();
        let run = import(&az, dir.path(), &group_of(name), &[]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        assert!(
            run.stderr.contains("should show no changes"),
            "{name}: {}",
            run.stderr
        );
        let yaml = std::fs::read_to_string(dir.path().join("gw.yaml")).unwrap();
        // gw's own policy is recognised, not kept as a file.
        assert!(!yaml.contains("policy:"), "{name}:\n{yaml}");
        assert!(!dir.path().join("policies").exists());
        let p = plan(&az, dir.path());
        assert_eq!(p.code, 0, "{name}:\n{yaml}\n{}\n{}", p.stdout, p.stderr);
        assert!(p.stdout.contains("No changes."), "{name}: {}", p.stdout);
    }
}
