//! What `gw usage` shows: its rows as a text table, or (`--report FILE.html`) one
//! self-contained page, a bar per subscription and model. Every value from the logs is
//! escaped in the page: subscription ids and model names are caller input.

use crate::markup::escape::xml_attr as esc;
use std::fmt::Write as _;

/// One line of the usage table.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Row {
    pub subscription: String,
    pub model: String,
    pub region: String,
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

pub fn text_table(rows: &[Row]) -> String {
    let head = [
        "SUBSCRIPTION",
        "MODEL",
        "REGION",
        "REQUESTS",
        "PROMPT",
        "COMPLETION",
        "TOTAL",
    ];
    let total = Row {
        subscription: "total".into(),
        model: String::new(),
        region: String::new(),
        requests: rows.iter().map(|r| r.requests).sum(),
        prompt_tokens: rows.iter().map(|r| r.prompt_tokens).sum(),
        completion_tokens: rows.iter().map(|r| r.completion_tokens).sum(),
        total_tokens: rows.iter().map(|r| r.total_tokens).sum(),
    };
    let cells = |r: &Row| {
        [
            or_none(&r.subscription),
            r.model.clone(),
            r.region.clone(),
            r.requests.to_string(),
            r.prompt_tokens.to_string(),
            r.completion_tokens.to_string(),
            r.total_tokens.to_string(),
        ]
    };
    let mut lines: Vec<[String; 7]> = vec![head.map(str::to_string)];
    lines.extend(rows.iter().map(cells));
    lines.push(cells(&total));
    let widths: Vec<usize> = (0..7)
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in &lines {
        let mut line = String::new();
        for (i, c) in l.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            // Names left, numbers right.
            if i < 3 {
                line.push_str(&format!("{c}{}  ", " ".repeat(pad)));
            } else {
                line.push_str(&format!("{}{c}  ", " ".repeat(pad)));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A request without an APIM subscription (an API that requires none).
fn or_none(s: &str) -> String {
    if s.is_empty() {
        "(none)".into()
    } else {
        s.to_string()
    }
}

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
