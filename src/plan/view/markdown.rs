//! The plan as a pull-request comment: a summary table, then each change with its field
//! diffs, policy diffs in ```diff blocks (long ones collapsed in `<details>`), and the notes
//! (why a resource is replaced, deleted or restored). Sized for GitHub's comment limit: past
//! it the changes that do not fit are named in one line that points to the full JSON plan.

use super::super::diff::{FieldDiff, policy_line_diff};
use super::super::types::*;
use super::{policy_texts, short};
use std::fmt::Write as _;

/// GitHub refuses a comment longer than this many characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// A policy diff longer than this many lines is collapsed.
const COLLAPSE_LINES: usize = 20;

/// Room kept for the truncation notice and the closing lines.
const RESERVE: usize = 1_024;

/// Renders `plan`; `full_plan` says where the whole plan is when the comment is truncated
/// (a saved plan's path, else how to print it).
pub fn render(plan: &Plan, full_plan: &str) -> String {
    render_within(plan, full_plan, COMMENT_LIMIT)
}

fn render_within(plan: &Plan, full_plan: &str, limit: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### gw plan for resource group `{}`\n\nSubscription `{}`.\n",
        plan.resource_group, plan.subscription
    );
    let changes: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .collect();
    if changes.is_empty() {
        let _ = writeln!(out, "**No changes.** {}", super::no_changes(&plan.summary));
        return out;
    }
    let _ = writeln!(out, "**{}**\n", super::summary_line(&plan.summary));
    out.push_str("| | address | resource | action |\n|---|---|---|---|\n");
    for c in &changes {
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {} | {} |",
            c.action.symbol(),
            cell(&c.address),
            cell(&what(c)),
            action_word(c.action)
        );
    }
    let notes = notes(&changes);
    // Creates and deletes are whole resources (the JSON plan has their fields): the table
    // says it all, and the notes say why.
    let mut sections: Vec<String> = changes.iter().filter_map(|c| section(c)).collect();
    if !notes.is_empty() {
        sections.push(format!("#### Notes\n\n{notes}"));
    }
    out.push('\n');
    let count = sections.len();
    for (i, sec) in sections.into_iter().enumerate() {
        if out.chars().count() + sec.chars().count() + RESERVE > limit {
            let _ = writeln!(
                out,
                "**Truncated:** {} more section{} did not fit in a comment ({limit} characters). The full plan: {full_plan}.",
                count - i,
                if count - i == 1 { "" } else { "s" },
            );
            return out;
        }
        out.push_str(&sec);
    }
    out
}

fn action_word(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
        Action::Replace => "replace",
        Action::NoOp => "no change",
    }
}

fn what(c: &Change) -> String {
    let label = c.kind.map(|k| k.label()).unwrap_or("resource");
    format!("{label} {}", c.id.rsplit('/').next().unwrap_or_default())
}

/// Text safe inside a table cell (a `|` would end it, a newline the row).
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A value as inline code, fenced with more backticks than it holds.
fn code(s: &str) -> String {
    let run = longest_run(s, '`');
    let fence = "`".repeat(run + 1);
    let pad = if run > 0 { " " } else { "" };
    cell(&format!("{fence}{pad}{s}{pad}{fence}"))
}

fn longest_run(s: &str, ch: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for c in s.chars() {
        cur = if c == ch { cur + 1 } else { 0 };
        best = best.max(cur);
    }
    best
}

fn section(c: &Change) -> Option<String> {
    if matches!(c.action, Action::Create | Action::Delete) || c.diff.is_empty() {
        return None;
    }
    let mut out = format!(
        "#### `{} {}` ({})\n\n",
        c.action.symbol(),
        c.address,
        what(c)
    );
    let (policies, fields): (Vec<&FieldDiff>, Vec<&FieldDiff>) =
        c.diff.iter().partition(|d| policy_texts(d).is_some());
    if !fields.is_empty() {
        out.push_str("| field | before | after |\n|---|---|---|\n");
        for d in fields {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                code(&d.path),
                code(&short(&d.before)),
                code(&short(&d.after))
            );
        }
        out.push('\n');
    }
    for d in policies {
        let (before, after) = policy_texts(d).unwrap_or_default();
        let diff = policy_line_diff(before, after);
        let fence = "`".repeat(longest_run(&diff, '`').max(2) + 1);
        let block = format!("{fence}diff\n{}{fence}\n", ensure_newline(&diff));
        let lines = diff.lines().count();
        if lines > COLLAPSE_LINES {
            let _ = writeln!(
                out,
                "<details><summary>Policy XML changed ({lines} diff lines)</summary>\n\n{block}\n</details>\n"
            );
        } else {
            let _ = writeln!(out, "Policy XML changed:\n\n{block}");
        }
    }
    Some(out)
}

fn ensure_newline(s: &str) -> String {
    if s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}

/// Why things happen that the action alone does not say: reasons and soft-deleted names.
fn notes(changes: &[&Change]) -> String {
    let mut out = String::new();
    for c in changes {
        if let Some(sd) = &c.soft_deleted {
            let how = match sd.action {
                SoftDeleteAction::Restore => "restores the soft-deleted one that holds its name",
                SoftDeleteAction::Purge => "purges the soft-deleted one that holds its name first",
            };
            let _ = writeln!(out, "- `{}` {how} ({}).", c.address, sd.location);
        }
        if let Some(r) = &c.reason {
            let _ = writeln!(out, "- `{}`: {r}.", c.address);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(i: usize, action: Action, diff: Vec<FieldDiff>) -> Change {
        Change {
            address: format!("apis.api{i}.policy"),
            arm_type: "Microsoft.ApiManagement/service/apis/policies".into(),
            id: format!("/s/apis/api{i}/policies/policy"),
            action,
            diff,
            soft_deleted: None,
            reason: None,
            kind: None,
        }
    }

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            format_version: 1,
            spec_digest: "sha256:0".into(),
            subscription: "sub".into(),
            resource_group: "rg".into(),
            summary: Plan::summarise(&changes),
            changes,
            read: Vec::new(),
            preflight: Vec::new(),
            preflight_skipped: None,
        }
    }

    #[test]
    fn a_plan_over_the_limit_stops_whole_sections_and_points_to_the_json() {
        let big = |n: usize| {
            (0..n)
                .map(|i| format!("<x n=\"{i}\"/>\n"))
                .collect::<String>()
        };
        let changes: Vec<Change> = (0..100)
            .map(|i| {
                change(
                    i,
                    Action::Update,
                    vec![FieldDiff {
                        path: "properties.value".into(),
                        before: Some(json!(format!("<policies>\n{}</policies>", big(100)))),
                        after: Some(json!(format!("<policies>\n{}</policies>", big(140)))),
                    }],
                )
            })
            .collect();
        let md = render_within(&plan(changes.clone()), "`plan.json`", 20_000);
        assert!(md.chars().count() <= 20_000, "{}", md.chars().count());
        // At GitHub's own limit too.
        let full = render(&plan(changes), "`plan.json`");
        assert!(full.chars().count() <= COMMENT_LIMIT);
        assert!(full.contains("**Truncated:**"), "{full}");
        // What a reader sees: whole sections, then the pointer (a small limit keeps it short).
        let short = render_within(&plan(changes_small()), "`plan.json`", 2_000);
        insta::assert_snapshot!("markdown_over_the_limit", short);
        assert!(md.contains("The full plan: `plan.json`."), "{md}");
        // Every change is still in the summary table, and no diff block is cut open.
        assert_eq!(md.matches("| update |").count(), 100);
        assert_eq!(
            md.matches("```diff").count(),
            md.matches("</details>").count()
        );
    }

    fn changes_small() -> Vec<Change> {
        (0..4)
            .map(|i| {
                change(
                    i,
                    Action::Update,
                    vec![FieldDiff {
                        path: "properties.value".into(),
                        before: Some(json!("<policies>\n<a/>\n</policies>")),
                        after: Some(json!(format!(
                            "<policies>\n{}</policies>",
                            "<b/>\n".repeat(30)
                        ))),
                    }],
                )
            })
            .collect()
    }

    #[test]
    fn a_pipe_in_a_value_stays_inside_its_cell() {
        let c = change(
            0,
            Action::Update,
            vec![FieldDiff {
                path: "properties.displayName".into(),
                before: Some(json!("a|b")),
                after: Some(json!("c")),
            }],
        );
        let md = render_within(&plan(vec![c]), "x", COMMENT_LIMIT);
        assert!(md.contains(r#"| `"a\|b"` | `"c"` |"#), "{md}");
    }
}
