//! Draws a verify `Report`: plain text for the terminal, or one self-contained HTML page
//! with an inline SVG bar chart per burst (no scripts, fonts or external assets).

use super::{Burst, Report};
use std::fmt::Write as _;

/// Plain text, one table per burst and one line per check.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "gateway {}", r.gateway);
    for a in &r.apis {
        let _ = writeln!(out, "\nAPI {} ({})", a.name, a.base_url);
        for b in &a.bursts {
            let _ = writeln!(
                out,
                "  {}  model {} -> {}, {} requests{}",
                verdict(b.ok),
                b.model,
                b.target,
                b.requests,
                if b.expect_exhausted {
                    " (every member down: expect busy answers)"
                } else {
                    ""
                }
            );
            let _ = writeln!(
                out,
                "        {:<20} {:<24} {:>8} {:>9} {:>9}",
                "region", "foundries", "priority", "expected", "observed"
            );
            for row in &b.rows {
                let _ = writeln!(
                    out,
                    "        {:<20} {:<24} {:>8} {:>9} {:>9}",
                    row.region,
                    row.foundries.join(","),
                    row.priority,
                    format!("{:.0}", row.expected_share * f64::from(b.requests)),
                    row.observed
                );
            }
            for (k, v) in &b.other {
                let _ = writeln!(out, "        {v} answered {k}");
            }
        }
        for c in &a.checks {
            let _ = writeln!(out, "  {}  {}: {}", verdict(c.ok), c.name, c.detail);
        }
    }
    let checks: usize = r.apis.iter().map(|a| a.bursts.len() + a.checks.len()).sum();
    if r.ok {
        let _ = writeln!(out, "\nverify: all {checks} checks passed");
    } else {
        let _ = writeln!(
            out,
            "\nverify: {} of {checks} checks failed:",
            r.problems.len()
        );
        for p in &r.problems {
            let _ = writeln!(out, "  - {p}");
        }
    }
    out
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok  " } else { "FAIL" }
}

/// One HTML page: per API, a chart and a table per burst, then the checks.
pub fn html(r: &Report) -> String {
    let mut out = String::new();
    out.push_str(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        "<title>gw verify</title>\n<style>\n",
        "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}\n",
        "table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #ccc;padding:.2rem .6rem;text-align:left}\n",
        ".ok{color:#1a7f37}.fail{color:#cf222e;font-weight:bold}svg{display:block;margin:.5rem 0}\n",
        "</style>\n</head>\n<body>\n"
    ));
    let _ = writeln!(out, "<h1>gw verify: {}</h1>", esc(&r.gateway));
    let _ = writeln!(
        out,
        "<p class=\"{}\">{}</p>",
        if r.ok { "ok" } else { "fail" },
        if r.ok {
            "Every check passed.".to_string()
        } else {
            format!("{} check(s) failed.", r.problems.len())
        }
    );
    if !r.problems.is_empty() {
        out.push_str("<ul>\n");
        for p in &r.problems {
            let _ = writeln!(out, "<li class=\"fail\">{}</li>", esc(p));
        }
        out.push_str("</ul>\n");
    }
    for a in &r.apis {
        let _ = writeln!(
            out,
            "<h2>API {}</h2>\n<p><code>{}</code></p>",
            esc(&a.name),
            esc(&a.base_url)
        );
        for b in &a.bursts {
            let _ = writeln!(
                out,
                "<h3 class=\"{}\">model {} &rarr; {} ({} requests)</h3>",
                if b.ok { "ok" } else { "fail" },
                esc(&b.model),
                esc(&b.target),
                b.requests
            );
            out.push_str(&chart(b));
            out.push_str(&timeline(b));
            out.push_str("<table>\n<tr><th>region</th><th>foundries</th><th>priority</th><th>expected</th><th>observed</th></tr>\n");
            for row in &b.rows {
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{}</td></tr>",
                    esc(&row.region),
                    esc(&row.foundries.join(", ")),
                    row.priority,
                    row.expected_share * f64::from(b.requests),
                    row.observed
                );
            }
            for (k, v) in &b.other {
                let _ = writeln!(
                    out,
                    "<tr><td colspan=\"4\">{}</td><td>{v}</td></tr>",
                    esc(k)
                );
            }
            out.push_str("</table>\n");
        }
        if !a.checks.is_empty() {
            out.push_str("<table>\n<tr><th></th><th>check</th><th>detail</th></tr>\n");
            for c in &a.checks {
                let _ = writeln!(
                    out,
                    "<tr><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
                    if c.ok { "ok" } else { "fail" },
                    if c.ok { "ok" } else { "FAIL" },
                    esc(&c.name),
                    esc(&c.detail)
                );
            }
            out.push_str("</table>\n");
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// Expected (outlined) and observed (filled) requests per region, plus one bar for answers
/// that came from no member.
fn chart(b: &Burst) -> String {
    const H: f64 = 160.0;
    const SLOT: f64 = 120.0;
    let mut bars: Vec<(String, f64, u32)> = b
        .rows
        .iter()
        .map(|r| {
            (
                r.region.clone(),
                r.expected_share * f64::from(b.requests),
                r.observed,
            )
        })
        .collect();
    let other: u32 = b.other.values().sum();
    if other > 0 || b.expect_exhausted {
        let expected = if b.expect_exhausted {
            f64::from(b.requests)
        } else {
            0.0
        };
        bars.push(("other answers".into(), expected, other));
    }
    let max = f64::from(b.requests.max(1));
    let width = 40.0 + SLOT * bars.len() as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg width=\"{width}\" height=\"{}\" role=\"img\" aria-label=\"requests per region\">",
        H + 50.0
    );
    let _ = writeln!(
        s,
        "<line x1=\"30\" y1=\"{H}\" x2=\"{width}\" y2=\"{H}\" stroke=\"#888\"/>"
    );
    for (i, (label, expected, observed)) in bars.iter().enumerate() {
        let x = 40.0 + SLOT * i as f64;
        let eh = expected / max * (H - 10.0);
        let oh = f64::from(*observed) / max * (H - 10.0);
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"{:.1}\" width=\"40\" height=\"{eh:.1}\" fill=\"#eee\" stroke=\"#999\"><title>expected {expected:.0}</title></rect>",
            H - eh
        );
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"40\" height=\"{oh:.1}\" fill=\"#2f6fbd\"><title>observed {observed}</title></rect>",
            x + 44.0,
            H - oh
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\">{observed}</text>",
            x + 64.0,
            H - oh - 3.0
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\">{}</text>",
            x + 42.0,
            H + 18.0,
            esc(label)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"30\" y=\"{:.1}\" font-size=\"11\" fill=\"#555\">outlined: predicted by the spec; filled: observed</text>",
        H + 40.0
    );
    s.push_str("</svg>\n");
    s
}

/// Colours for regions, in the order of the burst's rows; answers from no region are grey.
const PALETTE: &[&str] = &[
    "#2f6fbd", "#e8702a", "#2e9e5b", "#8e44ad", "#c0392b", "#16a2b8", "#b8860b", "#7f8c8d",
];

/// Each request of the burst in the order sent, its latency as the bar's height, coloured
/// by the region that served it (grey: no backend answered), as the lab notebooks draw it:
/// a failover shows as the request where the colour changes.
fn timeline(b: &Burst) -> String {
    const H: f64 = 120.0;
    if b.samples.is_empty() {
        return String::new();
    }
    let colour = |region: Option<&str>| {
        region
            .and_then(|r| b.rows.iter().position(|row| row.region == r))
            .map_or("#bbbbbb", |i| PALETTE[i % PALETTE.len()])
    };
    let max = b
        .samples
        .iter()
        .map(|x| x.latency_ms)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let step = (600.0 / b.samples.len() as f64).clamp(2.0, 24.0);
    let width = 50.0 + step * b.samples.len() as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg width=\"{width:.0}\" height=\"{}\" role=\"img\" aria-label=\"each request in order: latency and region\">",
        H + 60.0
    );
    let _ = writeln!(
        s,
        "<text x=\"0\" y=\"12\" font-size=\"11\" fill=\"#555\">{max:.1} ms</text>\n<line x1=\"40\" y1=\"{H}\" x2=\"{width:.0}\" y2=\"{H}\" stroke=\"#888\"/>"
    );
    for (i, x) in b.samples.iter().enumerate() {
        let h = (x.latency_ms / max * (H - 16.0)).max(1.0);
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>request {}: {} {} in {:.1} ms</title></rect>",
            45.0 + step * i as f64,
            H - h,
            (step - 1.0).max(1.0),
            colour(x.region.as_deref()),
            i + 1,
            x.status,
            esc(x.region.as_deref().unwrap_or("no backend")),
            x.latency_ms
        );
    }
    let mut lx = 45.0;
    for (i, row) in b.rows.iter().enumerate() {
        let _ = writeln!(
            s,
            "<rect x=\"{lx:.0}\" y=\"{:.0}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\">{}</text>",
            H + 14.0,
            PALETTE[i % PALETTE.len()],
            lx + 14.0,
            H + 23.0,
            esc(&row.region)
        );
        lx += 20.0 + 7.0 * row.region.len() as f64;
    }
    let _ = writeln!(
        s,
        "<text x=\"45\" y=\"{:.0}\" font-size=\"11\" fill=\"#555\">each request in order: height is its latency, colour the region that served it</text>",
        H + 45.0
    );
    s.push_str("</svg>\n");
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
