//! Diagnostics about the spec: what is wrong, where (file:line:column and the field path),
//! and how to fix it, drawn with an excerpt and a caret under the offending value.

use std::fmt::Write as _;

/// A 1-based line and column in the spec file. `Loc::default()` (0:0) means "unknown",
/// e.g. a default that was never written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Loc {
    pub line: u32,
    pub column: u32,
}

impl Loc {
    pub fn is_known(&self) -> bool {
        self.line > 0
    }
}

/// The spec file's name (as the user gave it) and its text.
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub loc: Loc,
    /// Field path such as `pools.inference-backend-pool.members[2].foundry`; empty for
    /// syntax errors.
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
    /// A second place the problem involves (the first of two names that collide), drawn
    /// with its own excerpt so both places are shown.
    pub note: Option<Note>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub loc: Loc,
    pub message: String,
}

impl Diagnostic {
    pub fn new(loc: Loc, path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            loc,
            path: path.into(),
            message: message.into(),
            hint: None,
            note: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A YAML syntax or type error from the parser, which stops at the first one.
    pub fn from_yaml(e: &serde_saphyr::Error) -> Self {
        let loc = e.location().map(Loc::from).unwrap_or_default();
        let options = serde_saphyr::render_options! {
            snippets: serde_saphyr::SnippetMode::Off,
        };
        let mut message = e.render_with_options(options);
        // The plain rendering ends with its own location; ours is drawn separately.
        if let Some(i) = message.rfind(" at line ") {
            message.truncate(i);
        }
        // serde-saphyr's advice is for programmers, not for people editing gw.yaml.
        if let Some(i) = message.find(", set DuplicateKeyPolicy") {
            message.truncate(i);
        }
        let hint = yaml_hint(&message);
        Diagnostic {
            loc,
            path: String::new(),
            message,
            hint,
            note: None,
        }
    }

    /// Renders `error: ...`, ` --> file:line:col`, the source line with a caret, `hint: ...`.
    pub fn render(&self, source: &Source) -> String {
        let mut out = String::new();
        if self.path.is_empty() {
            let _ = writeln!(out, "error: {}", self.message);
        } else {
            let _ = writeln!(out, "error: {}: {}", self.path, self.message);
        }
        excerpt(&mut out, source, self.loc);
        if let Some(n) = &self.note {
            let _ = writeln!(out, "note: {}", n.message);
            excerpt(&mut out, source, n.loc);
        }
        if let Some(h) = &self.hint {
            let _ = writeln!(out, "hint: {h}");
        }
        out
    }
}

/// ` --> file:line:col` and the source line with a caret under `loc`.
fn excerpt(out: &mut String, source: &Source, loc: Loc) {
    if !loc.is_known() {
        let _ = writeln!(out, "  --> {}", source.name);
        return;
    }
    let num = loc.line.to_string();
    let pad = " ".repeat(num.len());
    let _ = writeln!(out, "{pad}--> {}:{}:{}", source.name, loc.line, loc.column);
    if let Some(line) = source.text.lines().nth(loc.line as usize - 1) {
        let col = loc.column.max(1) as usize - 1;
        let width = token_width(line, col);
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{num} | {line}");
        let lead: String = line
            .chars()
            .take(col)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = writeln!(out, "{pad} | {lead}{}", "^".repeat(width));
    }
}

/// Width of the YAML token starting at `col` (a scalar up to `,`, `}`, `]`, `#` or the end).
fn token_width(line: &str, col: usize) -> usize {
    let rest: String = line.chars().skip(col).collect();
    let rest = rest.trim_end();
    let quoted = rest.starts_with('"') || rest.starts_with('\'');
    let n = if quoted {
        let q = rest.chars().next().unwrap_or('"');
        rest[1..].find(q).map(|i| i + 2).unwrap_or(rest.len())
    } else {
        // A key alone on its line (`pool1:`) is underlined without its colon.
        let key_end = rest.strip_suffix(':').map_or(rest.len(), str::len);
        rest.find([',', '}', ']', '#'])
            .unwrap_or(rest.len())
            .min(rest.find(": ").unwrap_or(rest.len()))
            .min(key_end)
    };
    rest[..n].trim_end().chars().count().max(1)
}

fn yaml_hint(message: &str) -> Option<String> {
    // "unknown field `bakend`, expected one of path, type, backend, ..."
    if let (Some(field), Some((_, expected))) = (
        message.split('`').nth(1),
        message.split_once("expected one of "),
    ) && message.starts_with("unknown field")
    {
        let valid: Vec<&str> = expected.split(", ").map(|s| s.trim_matches('`')).collect();
        if let Some(h) = did_you_mean(field, valid.iter().copied()) {
            return Some(h);
        }
    }
    if message.contains("unexpected end of input") {
        return Some(
            "the spec is empty or cut short; start from one of `examples/*/gw.yaml`".into(),
        );
    }
    if message.contains("expected mapping") {
        return Some(
            "write a mapping here (`key: value` lines), e.g. `version: 1` at the top level".into(),
        );
    }
    if message.contains("expected sequence") {
        return Some("write a list here: `- item` lines or `[a, b]`".into());
    }
    if ["invalid u32", "invalid i64", "expected u32", "expected i64"]
        .iter()
        .any(|m| message.contains(m))
    {
        return Some("write a whole number here, without quotes".into());
    }
    if message.contains("duplicate") {
        Some("each key may appear once in a mapping; remove or rename the second one".into())
    } else if message.contains("unknown field") {
        Some("check the spelling against `gw schema` or the README's spec reference".into())
    } else {
        None
    }
}

/// Renders many diagnostics and a closing count line.
pub fn render_all(diags: &[Diagnostic], source: &Source) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.render(source));
        out.push('\n');
    }
    let n = diags.len();
    let _ = writeln!(
        out,
        "{}: {n} problem{} found",
        source.name,
        if n == 1 { "" } else { "s" }
    );
    out
}

/// The closest valid name to a typo, if one is close enough to be a likely intent.
pub fn did_you_mean<'a>(
    typo: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&typo.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, c)| (*d, c.to_string()))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}
