//! Views of a plan: `text` for a terminal or log, `markdown` for a pull-request comment.
//! (JSON is the plan itself, serialised.)

mod markdown;
mod text;

pub use markdown::{COMMENT_LIMIT, render as markdown};
pub use text::{render, render_preflight};

use super::diff::FieldDiff;
use serde_json::Value;

pub struct Style {
    pub color: bool,
    /// Show unchanged resources too.
    pub verbose: bool,
}

/// Terraform's summary line; replacements are named only when there are some.
pub(crate) fn summary_line(s: &super::Summary) -> String {
    let replace = if s.replace > 0 {
        format!("{} to replace, ", s.replace)
    } else {
        String::new()
    };
    format!(
        "Plan: {} to add, {} to change, {replace}{} to destroy, {} unchanged.",
        s.create, s.update, s.delete, s.no_op
    )
}

/// What a plan without changes says (before the view's own emphasis).
pub(crate) fn no_changes(s: &super::Summary) -> String {
    format!("Azure matches the spec ({} resources).", s.no_op)
}

/// A value on one line: documents (policy XML) as their line count, everything else whole.
pub(crate) fn short(v: &Option<Value>) -> String {
    match v {
        None => "(absent)".into(),
        Some(Value::String(s)) if s.contains('\n') => format!("({} lines)", s.lines().count()),
        // A document on one line (an API's OpenAPI import): its size, not its text.
        Some(Value::String(s)) if s.len() > 160 => format!("({} characters)", s.len()),
        Some(v) => v.to_string(),
    }
}

/// The before and after texts of a changed policy document, when `d` is one.
pub(crate) fn policy_texts(d: &FieldDiff) -> Option<(&str, &str)> {
    let after = d.after.as_ref().and_then(Value::as_str)?;
    if d.path != "properties.value" || !after.contains("<policies") {
        return None;
    }
    Some((
        d.before.as_ref().and_then(Value::as_str).unwrap_or(""),
        after,
    ))
}
