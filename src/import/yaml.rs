//! A small writer for the spec `import` produces: deterministic text with comments, which a
//! YAML serialiser cannot place.

use std::fmt::Write as _;

#[derive(Default)]
pub struct Yaml {
    out: String,
}

impl Yaml {
    /// `key: value` at `indent` (spaces), with `value` quoted when YAML would read it as
    /// anything but this string.
    pub fn field(&mut self, indent: usize, key: &str, value: &str) {
        let _ = writeln!(self.out, "{:indent$}{key}: {}", "", scalar(value));
    }
    /// `key: value` for a value that is already YAML (a number, a boolean, a flow list).
    pub fn raw(&mut self, indent: usize, key: &str, value: impl std::fmt::Display) {
        let _ = writeln!(self.out, "{:indent$}{key}: {value}", "");
    }
    /// `key:` opening a block.
    pub fn open(&mut self, indent: usize, key: &str) {
        let _ = writeln!(self.out, "{:indent$}{}:", "", scalar(key));
    }
    /// `- ` starting a list item; the next field goes on the same line.
    pub fn item(&mut self, indent: usize, key: &str, value: &str) {
        let _ = writeln!(self.out, "{:indent$}- {key}: {}", "", scalar(value));
    }
    /// A comment, one `#` line per line of `text`.
    pub fn comment(&mut self, indent: usize, text: &str) {
        // Notes quote live values (names, URLs) that Azure's answers shape: a carriage return or
        // another line break would end the comment and turn the rest into YAML, so every break
        // starts a new comment line and other control characters are dropped.
        let text: String = text
            .chars()
            .map(|c| {
                if matches!(c, '\r' | '\u{85}' | '\u{2028}' | '\u{2029}') {
                    '\n'
                } else {
                    c
                }
            })
            .filter(|c| *c == '\n' || !c.is_control())
            .collect();
        for line in text.lines() {
            let _ = writeln!(self.out, "{:indent$}# {line}", "");
        }
    }
    pub fn blank(&mut self) {
        self.out.push('\n');
    }
    pub fn finish(self) -> String {
        self.out
    }
}

/// A flow list of scalars: `[a, "b c"]`.
pub fn list<S: AsRef<str>>(items: &[S]) -> String {
    let v: Vec<String> = items.iter().map(|s| scalar(s.as_ref())).collect();
    format!("[{}]", v.join(", "))
}

/// A string as a YAML scalar: plain when that reads back as the same string, else quoted.
pub fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '@'))
        // A letter, or a `/` (a URL path such as `backend_path: /openai`), starts a plain
        // string; a digit or other punctuation could read as a number, a date or a tag.
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '/')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        s.to_string()
    } else {
        // A JSON string is a valid double-quoted YAML scalar.
        serde_json::Value::String(s.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_yaml_would_misread_is_quoted() {
        assert_eq!(scalar("foundry1"), "foundry1");
        assert_eq!(scalar("2024-07-18"), "\"2024-07-18\"");
        assert_eq!(scalar("no"), "\"no\"");
        assert_eq!(scalar("Platform team"), "\"Platform team\"");
        assert_eq!(scalar("a: b # c"), "\"a: b # c\"");
        assert_eq!(scalar("/openai"), "/openai");
        for s in ["foundry1", "/openai", "/a/b.c-d_e"] {
            let back: String = serde_saphyr::from_str(&scalar(s)).unwrap();
            assert_eq!(back, s);
        }
    }
}

#[cfg(test)]
mod comment_tests {
    use super::Yaml;

    #[test]
    fn a_line_break_in_a_live_value_cannot_end_a_comment() {
        let mut y = Yaml::default();
        y.comment(
            2,
            "backend `a\rapim: { name: evil }` and\u{2028}more\u{1b}[31m",
        );
        let out = y.finish();
        for line in out.lines() {
            assert!(line.trim_start().starts_with('#'), "{out:?}");
        }
        assert!(!out.contains('\u{1b}'), "{out:?}");
    }
}
