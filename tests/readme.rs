//! The README keeps telling the truth: its set-up commands exist and every environment
//! variable gw reads is documented.

use crate::support::cli::root;

#[test]
fn every_environment_variable_is_documented() {
    let env = std::fs::read_to_string(root().join("src/env.rs")).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.strip_prefix("pub const "))
        .filter_map(|l| l.split('"').nth(1))
        .collect();
    assert!(names.len() > 10);
    for n in names {
        assert!(
            readme.contains(&format!("`{n}`")) || readme.contains(&format!("{n}`")),
            "README does not document {n}"
        );
    }
}

#[test]
fn the_set_up_commands_are_near_the_top() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let top: String = readme.lines().take(12).collect::<Vec<_>>().join("\n");
    assert!(
        top.contains("cargo run --release -- -f examples/load-balancing/gw.yaml plan --offline"),
        "{top}"
    );
    assert!(top.contains("cargo test"), "{top}");
}

#[test]
fn every_spec_in_the_readme_is_valid() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let specs: Vec<&str> = readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .filter(|b| b.starts_with("version:"))
        .collect();
    assert!(!specs.is_empty(), "the README shows a spec");
    for (i, text) in specs.iter().enumerate() {
        let source = gw::diag::Source::new(format!("README spec {i}"), text.to_string());
        let loaded = gw::model::load(&source, &gw::model::Context::default());
        assert!(loaded.is_ok(), "README spec {i}: {loaded:?}");
    }
}
