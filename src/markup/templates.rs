//! The minijinja environment every template renders in.
//!
//! Delimiters are square brackets (`[% %]`, `[[ ]]`, `[# #]`): APIM's `{{named-value}}`, C#
//! braces and Bicep's `${}` all stay literal. Undefined variables are errors, not empty
//! strings.
//!
//! Escaping is explicit and enforced: every `[[ value ]]` must go through one of the escaper
//! filters below (one per output context, `escape.rs`), or be code the renderer built itself
//! and passed as a safe string. Anything else, including a plain string, fails the render:
//! a template edit that forgets to escape is caught by the first test that renders it.

use super::escape;
use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind, syntax::SyntaxConfig};

pub const POLICY: &str = include_str!("../../templates/policy.xml.j2");
pub const BICEP: &str = include_str!("../../templates/main.bicep.j2");
pub const TOKENS: &str = include_str!("../../templates/tokens.xml.j2");

/// One output context's escaper.
pub type Escaper = fn(&str) -> String;

/// The escaper filters templates may use, by name.
pub const FILTERS: &[(&str, Escaper)] = &[
    ("xml_attr", escape::xml_attr),
    ("xml_text", escape::xml_text),
    ("xml_comment", escape::xml_comment),
    ("cs", escape::cs_string),
    ("bicep", escape::bicep_string),
    ("bicep_key", escape::bicep_key),
    ("bicep_comment", escape::bicep_comment),
];

/// Built once: parsing the templates is most of the cost of rendering.
pub fn env() -> &'static Environment<'static> {
    static ENV: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        let syntax = SyntaxConfig::builder()
            .block_delimiters("[%", "%]")
            .variable_delimiters("[[", "]]")
            .comment_delimiters("[#", "#]")
            .build()
            .expect("static delimiters are valid");
        env.set_syntax(syntax);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_keep_trailing_newline(true);
        // No way for a template to declare a value safe on its own.
        env.remove_filter("safe");
        for (name, f) in FILTERS {
            let f = *f;
            env.add_filter(*name, move |s: &str| Value::from_safe_string(f(s)));
        }
        env.set_formatter(|out, _state, value| {
            if value.is_safe() || value.is_number() {
                out.write_str(&value.to_string())
                    .map_err(|_| Error::new(ErrorKind::WriteFailure, "cannot write output"))
            } else {
                Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "the value `{value}` reaches the output without an escaper: pipe it through one of {}",
                        FILTERS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                    ),
                ))
            }
        });
        env.add_template("policy.xml", POLICY)
            .expect("the policy template parses");
        env.add_template("tokens.xml", TOKENS)
            .expect("the token policies template parses");
        env.add_template("main.bicep", BICEP)
            .expect("the Bicep template parses");
        env
    })
}

/// Code the renderer built itself (already escaped where it holds values), for the template
/// to write as is.
pub fn code(s: impl Into<String>) -> Value {
    Value::from_safe_string(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn an_unescaped_string_fails_the_render() {
        let mut e = env().clone();
        e.add_template("t", "<a>[[ x ]]</a>").unwrap();
        let err = e
            .get_template("t")
            .unwrap()
            .render(context! { x => "</a>" });
        assert!(err.unwrap_err().to_string().contains("without an escaper"));
        e.add_template("u", "<a>[[ x | xml_text ]] [[ n ]]</a>")
            .unwrap();
        let ok = e
            .get_template("u")
            .unwrap()
            .render(context! { x => "</a>", n => 3 });
        assert_eq!(ok.unwrap(), "<a>&lt;/a&gt; 3</a>");
        assert!(e.add_template("v", "[[ x | safe ]]").is_ok());
        assert!(
            e.get_template("v")
                .unwrap()
                .render(context! { x => "<" })
                .is_err()
        );
    }
}
