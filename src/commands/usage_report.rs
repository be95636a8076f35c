//! `gw usage --report FILE.html`: one self-contained page, a bar per subscription and model.
//! Every value from the logs is escaped: subscription ids and model names are caller input.

use super::usage::{Row, text_table};
use crate::render::escape::xml_attr as esc;
use std::fmt::Write as _;

pub fn html(rows: &[Row], since: &str, ingested: bool) -> String {
    let max = rows
        .iter()
        .map(|r| r.total_tokens)
        .max()
        .unwrap_or(0)
        .max(1);
    let bar_h = 26;
    let height = rows.len() * bar_h + 10;
    let mut svg = String::new();
    for (i, r) in rows.iter().enumerate() {
        let y = i * bar_h + 5;
        let w = (r.total_tokens as f64 / max as f64 * 500.0).round() as u64;
        let sub = if r.subscription.is_empty() {
            "(none)"
        } else {
            &r.subscription
        };
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{} · {}</text><rect x=\"260\" y=\"{y}\" width=\"{w}\" height=\"18\" fill=\"#3b6fb6\"><title>{} prompt, {} completion</title></rect><text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>",
            y + 13,
            esc(sub),
            esc(&r.model),
            r.prompt_tokens,
            r.completion_tokens,
            265 + w,
            y + 13,
            r.total_tokens
        );
    }
    let status = if !ingested {
        "No LLM logs in the workspace yet: Azure Monitor ingests them a few minutes after the first requests."
    } else if rows.is_empty() {
        "No token usage in this window."
    } else {
        ""
    };
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>gw usage</title></head>\n<body style=\"font-family: sans-serif\">\n<h1>Token usage, last {}</h1>\n<p>{}</p>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"{height}\">{svg}</svg>\n<pre>{}</pre>\n</body></html>\n",
        esc(since),
        esc(status),
        esc(&text_table(rows))
    )
}
