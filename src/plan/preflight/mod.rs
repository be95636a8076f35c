//! Pre-flight: what Azure would refuse, found before apply writes anything. The models and
//! quota each region offers, the global names gw would claim, and the caller's permissions
//! are read (`read`, in parallel with plan's own reads) and checked against the spec
//! (`models`, `names`, `permissions`: pure, so every rule is testable without Azure). Each
//! finding is located in the spec through the model's spans, like a validation error.

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

/// `a, b and c`.
fn listing(items: &[String]) -> String {
    match items {
        [] => "none".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
