//! Reading policy XML the way APIM reads a `rawxml` document: a value that starts with
//! `@(` or `@{` is C# up to its matching bracket (strings, chars and comments respected), and
//! the XML parser never sees it. Used to check well-formedness and to compare documents.

/// Replaces every policy expression with a placeholder (`@(...)` -> `@(EXPR0)`), returning
/// the masked XML and the expressions in order.
pub fn mask_expressions(xml: &str) -> Result<(String, Vec<String>), String> {
    let b = xml.as_bytes();
    let mut out = String::with_capacity(xml.len());
    let mut exprs = Vec::new();
    let mut i = 0;
    let mut copied = 0;
    while i + 1 < b.len() {
        // An expression starts a value: right after `="` / `='` or after `>` (element text,
        // leading whitespace allowed).
        if b[i] == b'@' && (b[i + 1] == b'(' || b[i + 1] == b'{') && starts_value(b, i) {
            let end = expression_end(b, i + 1)
                .ok_or_else(|| format!("unterminated policy expression at byte {i}"))?;
            out.push_str(&xml[copied..i]);
            out.push_str(&format!("@(EXPR{})", exprs.len()));
            exprs.push(xml[i..=end].to_string());
            i = end + 1;
            copied = i;
            continue;
        }
        i += 1;
    }
    out.push_str(&xml[copied..]);
    Ok((out, exprs))
}

fn starts_value(b: &[u8], at: usize) -> bool {
    let mut j = at;
    while j > 0 {
        j -= 1;
        match b[j] {
            b'"' | b'\'' => return j > 0 && b[j - 1] == b'=',
            b'>' => return true,
            c if c.is_ascii_whitespace() => continue,
            _ => return false,
        }
    }
    false
}

/// Index of the bracket closing the one at `open`, skipping C# strings, chars and comments.
fn expression_end(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'(' | b'{' | b'[' => depth += 1,
            b')' | b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            b'"' => {
                // verbatim string @"..." uses "" as an escaped quote
                let verbatim = i > 0 && b[i - 1] == b'@';
                i += 1;
                while i < b.len() {
                    if verbatim && b[i] == b'"' && b.get(i + 1) == Some(&b'"') {
                        i += 2;
                        continue;
                    }
                    if !verbatim && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == b'"' {
                        break;
                    }
                    i += 1;
                }
            }
            b'\'' => {
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Parses a policy document as APIM would (expressions masked); errors name the problem.
pub fn check_well_formed(xml: &str) -> Result<(), String> {
    let (masked, _) = mask_expressions(xml)?;
    roxmltree::Document::parse(&masked)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_expressions_with_raw_characters() {
        let xml = r#"<a x="@(1 < 2 && "s)".Length > 0)"><b>@{ return "}"; }</b></a>"#;
        let (masked, exprs) = mask_expressions(xml).unwrap();
        assert_eq!(masked, r#"<a x="@(EXPR0)"><b>@(EXPR1)</b></a>"#);
        assert_eq!(exprs.len(), 2);
        assert!(check_well_formed(xml).is_ok());
    }

    #[test]
    fn text_before_an_expression_is_literal() {
        let (masked, exprs) = mask_expressions(r#"<a x="Bearer @(x)" />"#).unwrap();
        assert!(exprs.is_empty());
        assert_eq!(masked, r#"<a x="Bearer @(x)" />"#);
    }

    #[test]
    fn unbalanced_expression_is_an_error() {
        assert!(mask_expressions(r#"<a x="@(foo(" />"#).is_err());
    }
}
