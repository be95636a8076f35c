//! The plan for people on a terminal: one line per resource that changes (`+` create, `~`
//! update with its fields, `-` delete, `-/+` replace), then Terraform's summary line.

use super::super::diff::policy_line_diff;
use super::super::types::*;
use super::{Style, policy_texts, short};
use std::fmt::Write as _;

fn paint(style: &Style, action: Action, text: &str) -> String {
    if !style.color {
        return text.to_string();
    }
    let code = match action {
        Action::Create => "32",
        Action::Update => "33",
        Action::Delete => "31",
        Action::Replace => "35",
        Action::NoOp => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

pub fn render(plan: &Plan, style: &Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan for resource group {} in subscription {}:",
        plan.resource_group, plan.subscription
    );
    let width = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp || style.verbose)
        .map(|c| c.address.len())
        .max()
        .unwrap_or(0);
    let mut any = false;
    for c in &plan.changes {
        if c.action == Action::NoOp && !style.verbose {
            continue;
        }
        any = true;
        let label = c.kind.map(|k| k.label()).unwrap_or("resource");
        let name = c.id.rsplit('/').next().unwrap_or_default();
        let mut what = format!("{label} {name}");
        if let Some(sd) = &c.soft_deleted {
            what.push_str(match sd.action {
                SoftDeleteAction::Restore => " (restores the soft-deleted one holding this name)",
                SoftDeleteAction::Purge => " (purges the soft-deleted one holding this name first)",
            });
        }
        if let Some(r) = &c.reason {
            let _ = write!(what, " ({r})");
        }
        let line = format!("  {} {:width$}  {what}", c.action.symbol(), c.address);
        let _ = writeln!(out, "{}", paint(style, c.action, line.trim_end()));
        // A create's fields are all new: shown with -v (the JSON plan always has them).
        let fields: &[_] = if c.action == Action::Create && !style.verbose {
            &[]
        } else {
            &c.diff
        };
        for d in fields {
            if c.action == Action::Create {
                let _ = writeln!(out, "      {} = {}", d.path, short(&d.after));
                continue;
            }
            if let Some((before, after)) = policy_texts(d) {
                let _ = writeln!(out, "      {}: policy XML changed:", d.path);
                for l in policy_line_diff(before, after).lines() {
                    let _ = writeln!(out, "        {l}");
                }
            } else {
                let _ = writeln!(
                    out,
                    "      {}: {} -> {}",
                    d.path,
                    short(&d.before),
                    short(&d.after)
                );
            }
        }
    }
    if !any {
        let _ = writeln!(out, "\nNo changes. {}", super::no_changes(&plan.summary));
        return out;
    }
    let _ = writeln!(out, "\n{}", super::summary_line(&plan.summary));
    out
}

/// The pre-flight section of the plan: each finding drawn like a validation error (with the
/// spec line and a caret when the spec is at hand), then a count; or why it did not run.
pub fn render_preflight(plan: &Plan, source: Option<&crate::diag::Source>) -> String {
    let mut out = String::new();
    if let Some(why) = &plan.preflight_skipped {
        let _ = writeln!(out, "\nPre-flight: skipped ({why}).");
        return out;
    }
    if plan.preflight.is_empty() {
        let _ = writeln!(
            out,
            "\nPre-flight: no problems found (models, quota, names, permissions)."
        );
        return out;
    }
    let errors = plan
        .preflight
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = plan.preflight.len() - errors;
    let _ = writeln!(out, "\nPre-flight:");
    for f in &plan.preflight {
        let label = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let region = f
            .region
            .as_ref()
            .map_or_else(String::new, |r| format!(" [{r}]"));
        match source.filter(|_| f.loc.is_known()) {
            Some(src) => {
                let mut d = crate::diag::Diagnostic::new(f.loc, f.path.clone(), f.message.clone());
                d.hint = f.hint.clone();
                let drawn = d.render(src);
                let drawn = drawn.strip_prefix("error: ").unwrap_or(&drawn).to_string();
                let _ = write!(out, "{label}[{}]{region}: {drawn}", f.code);
            }
            None => {
                let path = if f.path.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", f.path)
                };
                let _ = writeln!(out, "{label}[{}]{region}: {path}{}", f.code, f.message);
                let _ = writeln!(out, "  --> {}", f.location);
                if let Some(h) = &f.hint {
                    let _ = writeln!(out, "hint: {h}");
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "\nPre-flight: {errors} error{}, {warnings} warning{}.",
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" }
    );
    out
}
