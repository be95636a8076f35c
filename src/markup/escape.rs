//! One escaper per output context. Every value a template writes goes through exactly one of
//! these (the template environment refuses a value that did not: `templates.rs`), so a spec
//! value can never end a string, a comment or an element early, nor start an expression.
//!
//! Validation (`model/text.rs`) already refuses control characters and `{{`; these escapers do
//! not rely on it: each is total and keeps its output inert whatever the input.

/// A character XML 1.0 allows at all (`Char` production); the others cannot even be written as
/// character references, so they become U+FFFD.
fn xml_char(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'.. => c,
        _ => '\u{FFFD}',
    }
}

/// Escapes for XML text and attributes. A leading `@` is a character reference so that APIM's
/// rawxml reader (which looks for `@(`/`@{` at the start of a value) never sees an expression.
fn xml_escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        match xml_char(c) {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '@' if i == 0 => out.push_str("&#64;"),
            // Attribute-value normalisation would turn these into spaces.
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            // `{{` would be replaced by APIM with a named value.
            '{' => out.push_str("&#123;"),
            '}' => out.push_str("&#125;"),
            c => out.push(c),
        }
    }
    out
}

/// A value inside `attr="..."`.
pub fn xml_attr(s: &str) -> String {
    xml_escape(s, true)
}

/// Element text.
pub fn xml_text(s: &str) -> String {
    xml_escape(s, false)
}

/// Text inside `<!-- ... -->`: no `--` (split by a space), no trailing `-`, no `{{`.
pub fn xml_comment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(xml_char) {
        if c == '-' && out.ends_with('-') {
            out.push(' ');
        }
        if c == '{' && out.ends_with('{') || c == '}' && out.ends_with('}') {
            out.push(' ');
        }
        out.push(c);
    }
    if out.ends_with('-') {
        out.push(' ');
    }
    out
}

/// A C# string literal, quotes included, for a policy expression in a rawxml document.
/// Only printable ASCII other than `\ " { } &` is written as itself; everything else is a `\u`
/// escape, so the literal holds no line break, no `{{` for APIM to substitute and no `&` that
/// APIM's entity decoding could join with what follows.
pub fn cs_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            ' '..='~' if !"{}&".contains(c) => out.push(c),
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// A Bicep string literal: `'`, `\` and `${` escaped, line breaks and other control
/// characters as `\u{..}` escapes, so the literal stays on one line.
pub fn bicep_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' => out.push_str("\\$"),
            c if breaks_line(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A Bicep object key: bare when it is an identifier, else a string.
pub fn bicep_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !k.starts_with(|c: char| c.is_ascii_digit())
    {
        k.to_string()
    } else {
        bicep_string(k)
    }
}

/// Control characters and Unicode line/paragraph separators: anything an editor, a terminal or
/// a lexer might treat as the end of a line.
fn breaks_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Text for a `//` comment: a line break would end the comment and make the rest code, so
/// every control character is written as a visible `\u{..}`.
pub fn bicep_comment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if breaks_line(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// An ARM template string that must stay literal. ARM evaluates a string that starts with `[`
/// and ends with `]` as an expression (property names too: Bicep writes interpolated keys that
/// way); its escape is a second `[` at the start, which ARM removes. A string that starts
/// with `[` but does not end with `]` is already literal, and escaping it would add a `[`
/// (Bicep fixed exactly that in Azure/bicep#2006).
pub fn arm_literal(s: &str) -> String {
    if s.starts_with('[') && s.ends_with(']') {
        format!("[{s}")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapers_keep_markup_out() {
        assert_eq!(
            xml_attr("a\"<b>&'\n{{x}}"),
            "a&quot;&lt;b&gt;&amp;&apos;&#10;&#123;&#123;x&#125;&#125;"
        );
        assert_eq!(xml_text("@(1)"), "&#64;(1)");
        assert_eq!(xml_text("a\u{1}b"), "a\u{FFFD}b");
        let doc = format!("<a x=\"{}\">{}</a>", xml_attr("\"/><b"), xml_text("</a>"));
        let parsed = roxmltree::Document::parse(&doc).unwrap();
        assert_eq!(parsed.root_element().attribute("x"), Some("\"/><b"));
        assert_eq!(parsed.root_element().text(), Some("</a>"));
    }

    #[test]
    fn xml_comments_never_close_early() {
        assert_eq!(xml_comment("a--b"), "a- -b");
        assert_eq!(xml_comment("x-"), "x- ");
        assert_eq!(xml_comment("--->"), "- - ->");
        for s in ["a--b", "-", "--->", "-- -", "{{n}}"] {
            let doc = format!("<!-- {} --><a/>", xml_comment(s));
            roxmltree::Document::parse(&doc).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!(!doc.contains("{{"));
        }
    }

    #[test]
    fn cs_strings_hold_no_line_break_quote_or_named_value() {
        assert_eq!(cs_string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(cs_string("x\ny"), r#""x\u000ay""#);
        assert_eq!(
            cs_string("{{secret}}"),
            r#""\u007b\u007bsecret\u007d\u007d""#
        );
        assert_eq!(cs_string("😀"), r#""\U0001f600""#);
        assert_eq!(cs_string("gpt-4o*"), r#""gpt-4o*""#);
    }

    #[test]
    fn bicep_strings_and_comments_stay_on_their_line() {
        assert_eq!(bicep_string("it's ${x}\\"), r"'it\'s \${x}\\'");
        assert_eq!(bicep_string("a\u{2028}b"), r"'a\u{2028}b'");
        assert_eq!(
            bicep_comment("a.yaml\noutput x string = 'y'"),
            r"a.yaml\u{a}output x string = 'y'"
        );
        assert_eq!(bicep_key("env"), "env");
        assert_eq!(bicep_key("cost-center"), "'cost-center'");
    }

    #[test]
    fn arm_strings_starting_with_a_bracket_are_literal() {
        assert_eq!(arm_literal("[concat('a')]"), "[[concat('a')]");
        assert_eq!(arm_literal("[[x]"), "[[[x]");
        assert_eq!(arm_literal("a[b]"), "a[b]");
        assert_eq!(
            arm_literal("[ChefInSpec]Resource1"),
            "[ChefInSpec]Resource1"
        );
    }
}
