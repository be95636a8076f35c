//! Pre-flight: what Azure would refuse, found before apply writes anything. The models and
//! quota each region offers, the global names gw would claim, the caller's permissions and
//! the APIM service's diagnostic settings are read (`read`, in parallel with plan's own
//! reads) and checked against the spec (`models`, `names`, `permissions`, `diagnostics`:
//! pure, so every rule is testable without Azure). Each finding is located in the spec
//! through the model's spans, like a validation error.

mod diagnostics;
mod models;
mod names;
mod permissions;
mod read;

pub use read::{Answers, Permissions, RegionAnswers, read};

use super::compute::LiveState;
use super::types::{Change, Finding, Severity};
use crate::graph::Graph;
use crate::model::Model;
use crate::spec::Loc;

/// What the checks look at besides Azure's answers.
pub struct Input<'a> {
    pub model: &'a Model,
    pub graph: &'a Graph,
    pub live: &'a LiveState,
    /// The plan's changes: what apply will write (and so needs the right to write).
    pub changes: &'a [Change],
    pub purge_soft_deleted: bool,
    /// The spec's file name, for `file:line:column`.
    pub file: &'a str,
    /// Today, for deprecation dates.
    pub today: time::Date,
}

/// Every finding, errors first, then in spec order.
pub fn check(input: &Input<'_>, answers: &Answers) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(models::check(input, answers));
    out.extend(names::check(input, answers));
    out.extend(permissions::check(input, answers));
    out.extend(diagnostics::check(input, answers));
    out.sort_by(|a, b| {
        (a.severity, a.loc, &a.path, &a.region, &a.message)
            .cmp(&(b.severity, b.loc, &b.path, &b.region, &b.message))
    });
    out
}

/// Whether any finding makes apply certain to fail.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

/// A finding at `loc` (an unknown location points at the file).
pub(crate) struct At<'a> {
    pub file: &'a str,
    pub loc: Loc,
    pub path: String,
    pub region: Option<&'a str>,
}

impl At<'_> {
    pub fn finding(
        &self,
        severity: Severity,
        code: &str,
        message: String,
        hint: Option<String>,
    ) -> Finding {
        Finding {
            severity,
            code: code.to_string(),
            location: if self.loc.is_known() {
                format!("{}:{}:{}", self.file, self.loc.line, self.loc.column)
            } else {
                self.file.to_string()
            },
            path: self.path.clone(),
            region: self.region.map(str::to_string),
            message,
            hint,
            loc: self.loc,
        }
    }
}

/// A read pre-flight could not make: a warning, since the check it feeds is then unknown
/// (not failed), and plan goes on.
fn unavailable(file: &str, what: &str, error: &str, region: Option<&str>) -> Finding {
    At {
        file,
        loc: Loc::default(),
        path: String::new(),
        region,
    }
    .finding(
        Severity::Warning,
        "preflight_unavailable",
        format!("could not check {what}: {error}"),
        Some("pre-flight is advisory here: apply will still try; `--skip-preflight` skips these reads".into()),
    )
}

/// The items of the array at `key` (none when it is absent or not an array).
fn items<'a>(v: &'a serde_json::Value, key: &str) -> impl Iterator<Item = &'a serde_json::Value> {
    v.get(key)
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
}

/// `a, b and c`.
fn listing(items: &[String]) -> String {
    match items {
        [] => "none".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Source;
    use crate::plan::{LiveResource, Options};
    use serde_json::{Value, json};

    const SPEC: &str = "version: 1
resource_group: { name: rg, location: eastus }
naming: { suffix: t }
foundries:
  - { name: foundry1, location: eastus }
  - { name: foundry2, location: eastus }
models:
  - { name: gpt, publisher: OpenAI, version: \"1\", sku: GlobalStandard, capacity: 30 }
apim: { name: apim1, sku: BasicV2, publisher_email: a@example.com, publisher_name: A }
apis:
  inference: { path: inference, backend: foundry1 }
";

    fn answers(limit: f64, used: f64, deprecation: Option<&str>) -> Answers {
        let mut model = json!({"model": {"format": "OpenAI", "name": "gpt", "version": "1", "lifecycleStatus": "GenerallyAvailable",
            "skus": [{"name": "GlobalStandard", "usageName": "OpenAI.GlobalStandard.gpt"}]}});
        if let Some(d) = deprecation {
            model["model"]["deprecation"] = json!({ "inference": d });
        }
        let usage = json!({"name": {"value": "OpenAI.GlobalStandard.gpt"}, "currentValue": used, "limit": limit});
        Answers {
            regions: [(
                "eastus".to_string(),
                RegionAnswers {
                    models: Ok(vec![model]),
                    usages: Ok(vec![usage]),
                },
            )]
            .into_iter()
            .collect(),
            domains: Default::default(),
            apim: Ok(json!({"nameAvailable": true})),
            permissions: Ok(Permissions {
                scope: "/subscriptions/s".into(),
                entries: vec![json!({"actions": ["*"], "notActions": []})],
            }),
            subscription_permissions: None,
            diagnostic_settings: None,
            requests: 0,
        }
    }

    fn findings(live: &LiveState, a: &Answers, today: time::Date) -> Vec<(String, String)> {
        let source = Source::new("gw.yaml", SPEC);
        let ctx = crate::model::Context {
            subscription: Some("00000000-0000-0000-0000-000000000001".into()),
        };
        let model = crate::model::load(&source, &ctx).expect("valid");
        let graph = crate::graph::build(&model);
        let plan = crate::plan::assemble(&model, &graph, SPEC, live, Options::default());
        let input = Input {
            model: &model,
            graph: &graph,
            live,
            changes: &plan.changes,
            purge_soft_deleted: false,
            file: "gw.yaml",
            today,
        };
        check(&input, a)
            .into_iter()
            .map(|f| (f.code, f.location))
            .collect()
    }

    fn day(y: i32, m: u8, d: u8) -> time::Date {
        time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap()
    }

    #[test]
    fn two_placements_in_one_region_share_its_quota() {
        let today = day(2026, 1, 1);
        let live = LiveState::default();
        // 30 + 30 asked: 60 free fits, 59 does not.
        assert!(findings(&live, &answers(100.0, 40.0, None), today).is_empty());
        assert_eq!(
            findings(&live, &answers(100.0, 41.0, None), today),
            vec![("quota_exceeded".into(), "gw.yaml:8:82".into())]
        );
    }

    #[test]
    fn capacity_gw_already_holds_is_not_asked_for_again() {
        let today = day(2026, 1, 1);
        let source = Source::new("gw.yaml", SPEC);
        let ctx = crate::model::Context {
            subscription: Some("00000000-0000-0000-0000-000000000001".into()),
        };
        let model = crate::model::load(&source, &ctx).unwrap();
        let graph = crate::graph::build(&model);
        let mut live = LiveState::default();
        // foundry1's deployment is live with 20 of the 30: only 10 + 30 are new.
        let id = graph
            .get("foundries.foundry1.deployments.gpt")
            .unwrap()
            .id
            .clone();
        let body: Value = json!({"sku": {"name": "GlobalStandard", "capacity": 20},
            "properties": {"model": {"format": "OpenAI", "name": "gpt", "version": "1"}}});
        live.insert(LiveResource {
            id,
            body,
            etag: None,
        });
        assert!(findings(&live, &answers(100.0, 60.0, None), today).is_empty());
        assert_eq!(findings(&live, &answers(100.0, 61.0, None), today).len(), 1);
    }

    #[test]
    fn deprecation_dates_decide_between_error_warning_and_nothing() {
        let live = LiveState::default();
        let a = answers(100.0, 0.0, Some("2026-03-01T00:00:00Z"));
        let codes = |today| {
            findings(&live, &a, today)
                .into_iter()
                .map(|(c, _)| c)
                .collect::<Vec<_>>()
        };
        assert_eq!(codes(day(2026, 3, 1)), vec!["model_deprecated"]);
        assert_eq!(codes(day(2026, 1, 1)), vec!["model_retiring"]);
        assert!(codes(day(2025, 11, 1)).is_empty(), "more than 90 days away");
    }
}
