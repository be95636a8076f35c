//! `gw validate`: every example is valid; every invalid fixture (one per rule) reports its
//! problem at the right place, with the fix.

use crate::support::cli::{EXAMPLES, example, gw, root};
use gw::diag::{Source, render_all};
use gw::model::{Context, load};

#[test]
fn examples_are_valid() {
    for name in EXAMPLES {
        let run = gw().args(["validate", "-f"]).arg_path(&example(name)).run();
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        assert!(run.stderr.contains("valid ("), "{}", run.stderr);
    }
}

trait ArgPath {
    fn arg_path(self, p: &std::path::Path) -> Self;
}
impl ArgPath for crate::support::cli::Gw {
    fn arg_path(self, p: &std::path::Path) -> Self {
        self.args([p])
    }
}

/// Each fixture's rendered errors, with the file named relative to the fixture folder.
#[test]
fn invalid_fixtures() {
    insta::glob!("fixtures/invalid/*.yaml", |path| {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let source = Source::new(name, std::fs::read_to_string(path).unwrap());
        let diags = load(&source, &Context::default()).expect_err("the fixture is invalid");
        for d in &diags {
            assert!(
                d.loc.is_known(),
                "{}: every problem has a location: {d:?}",
                source.name
            );
            assert!(
                d.hint.is_some() || d.message.contains("expected"),
                "{}: every problem says how to fix it: {d:?}",
                source.name
            );
            // A hint that lists nothing (`name a pool or a foundry: `) says nothing.
            if let Some(h) = &d.hint {
                assert!(
                    !h.trim().is_empty() && !h.trim_end().ends_with(':'),
                    "{}: an empty hint: {d:?}",
                    source.name
                );
            }
        }
        insta::assert_snapshot!(render_all(&diags, &source));
    });
}

#[test]
fn five_problems_are_reported_at_once() {
    let path = root().join("tests/fixtures/invalid/five-problems.yaml");
    let run = gw().args(["validate", "-f"]).arg_path(&path).run();
    assert_eq!(run.code, 1);
    let errors = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .count();
    assert_eq!(errors, 5, "{}", run.stderr);
    assert!(run.stderr.contains("5 problems found"));
    // In file order, each pointing at its line.
    for line in [":4:13", ":9:73", ":21:20", ":22:34", ":26:14"] {
        assert!(
            run.stderr.contains(line),
            "missing {line} in {}",
            run.stderr
        );
    }
}

/// An unknown field and a missing one no longer stop the parse: they are reported with the
/// three rule violations in the same file, each at its place.
#[test]
fn unknown_and_missing_fields_are_reported_with_the_rest() {
    let path = root().join("tests/fixtures/invalid/all-at-once.yaml");
    let run = gw().args(["validate", "-f"]).arg_path(&path).run();
    assert_eq!(run.code, 1);
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(
        errors,
        [
            "error: resource_group.location: unknown Azure region `eastus9`",
            "error: models[0].sku: unknown deployment sku `Global`",
            "error: apim.publisher_name: missing field `publisher_name`",
            "error: apis.inference.backend: unknown backend `pool9`",
            "error: apis.inference.subscription_requird: unknown field `subscription_requird`",
        ],
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("5 problems found"));
    for line in [":4:13", ":9:73", ":10:1", ":25:14", ":26:5"] {
        assert!(
            run.stderr.contains(line),
            "missing {line} in {}",
            run.stderr
        );
    }
}

#[test]
fn json_output_lists_problems() {
    let path = root().join("tests/fixtures/invalid/unknown-region.yaml");
    let run = gw()
        .args(["validate", "-o", "json", "-f"])
        .arg_path(&path)
        .run();
    assert_eq!(run.code, 1);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["problems"][0]["path"], "foundries[1].location");
    assert_eq!(v["problems"][0]["line"], 7);
    assert_eq!(v["problems"][0]["hint"], "did you mean `westus`?");
}

#[test]
fn missing_file_says_how_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let run = gw().args(["validate"]).dir(dir.path()).run();
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("gw.yaml"), "{}", run.stderr);
    assert!(run.stderr.contains("-f PATH"), "{}", run.stderr);
}

/// Names that APIM or Azure would treat as one id are rejected, and the error shows both
/// places: the name reported and the one it collides with, each as file:line:col.
#[test]
fn collisions_name_both_places() {
    let cases = [
        // (fixture, reported at, collides with)
        ("collide-derived-pools.yaml", ":11:", ":10:"),
        ("collide-derived-user-pool.yaml", ":9:", ":16:"),
        ("collide-pool-foundry-case.yaml", ":16:", ":6:"),
        ("collide-pool-case.yaml", ":20:", ":16:"),
        ("collide-api-case.yaml", ":24:", ":21:"),
        ("collide-subscription-case.yaml", ":17:", ":16:"),
        ("collide-model-case.yaml", ":10:", ":9:"),
        ("collide-tag-case.yaml", ":5:28", ":5:11"),
    ];
    for (fixture, at, first) in cases {
        let path = root().join("tests/fixtures/invalid").join(fixture);
        let run = gw().args(["validate", "-f"]).arg_path(&path).run();
        assert_eq!(run.code, 1, "{fixture}: {}", run.stderr);
        let errors: Vec<&str> = run.stderr.split("\nerror: ").collect();
        assert_eq!(errors.len(), 1, "{fixture}: one problem: {}", run.stderr);
        let locs: Vec<&str> = run
            .stderr
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("--> "))
            .collect();
        assert_eq!(locs.len(), 2, "{fixture}: two places: {}", run.stderr);
        assert!(
            locs[0].contains(&format!("{fixture}{at}")),
            "{fixture}: {locs:?}"
        );
        assert!(
            locs[1].contains(&format!("{fixture}{first}")),
            "{fixture}: {locs:?}"
        );
        assert!(run.stderr.contains("\nnote: "), "{}", run.stderr);
    }
}
