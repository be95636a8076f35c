//! The minijinja environment every template renders in.
//!
//! Delimiters are square brackets (`[% %]`, `[[ ]]`, `[# #]`): APIM's `{{named-value}}`, C#
//! braces and Bicep's `${}` all stay literal. Undefined variables are errors, not empty
//! strings. No auto-escaping: HTML escaping would turn `/` into `&#x2f;`; values are escaped
//! for their target (Bicep strings, C# literals) where they are built.

use minijinja::{Environment, syntax::SyntaxConfig};

pub const POLICY: &str = include_str!("../../templates/policy.xml.j2");
pub const BICEP: &str = include_str!("../../templates/main.bicep.j2");

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
        env.add_template("policy.xml", POLICY)
            .expect("the policy template parses");
        env.add_template("main.bicep", BICEP)
            .expect("the Bicep template parses");
        env
    })
}
