//! Property: an arbitrary string in any spec field that reaches a render is either refused by
//! validation or rendered inert: every policy parses as APIM reads it (no `{{` either), the
//! Bicep file has the statements gw wrote and no others, and every ARM JSON key and value that
//! gw did not write as an expression stays a literal.

use gw::diag::Source;
use gw::graph;
use gw::model::{self, Context};
use gw::render;
use proptest::prelude::*;
use serde_json::Value;

const SUB: &str = "11111111-2222-3333-4444-555555555555";

/// A spec with a placeholder in every field that reaches a render. One placeholder per case
/// takes the arbitrary string; the others keep their ordinary value, so a case is not refused
/// for an unrelated field.
const SPEC: &str = r#"version: 1
resource_group:
  name: @RG@
  location: eastus
  tags:
    @TAGK@: @TAGV@
foundries:
  - { name: foundry1, location: eastus }
  - { name: foundry2, location: westus }
models:
  - { name: @MODEL@, model: @MODELNAME@, publisher: @PUBLISHER@, version: @VERSION@, sku: GlobalStandard, capacity: 10 }
apim:
  name: apim-test
  sku: BasicV2
  publisher_email: @EMAIL@
  publisher_name: @PUBNAME@
  subscriptions:
    - { name: @SUBNAME@, display_name: @DISPLAY@ }
pools:
  @POOL@:
    members:
      - { foundry: foundry1, priority: 1 }
      - { foundry: foundry2, priority: 2 }
apis:
  @API@:
    path: @PATH@
    routing: by-model
    routes:
      @MODEL@: @POOL@
    deny: [@DENY@]
"#;

/// (placeholder, ordinary value); the spec file name is the last one.
const FIELDS: &[(&str, &str)] = &[
    ("@RG@", "rg-test"),
    ("@TAGK@", "owner"),
    ("@TAGV@", "platform"),
    ("@MODEL@", "gpt-4o"),
    ("@MODELNAME@", "gpt-4o"),
    ("@PUBLISHER@", "OpenAI"),
    ("@VERSION@", "2024-08-06"),
    ("@EMAIL@", "platform@example.com"),
    ("@PUBNAME@", "Platform"),
    ("@SUBNAME@", "subscription1"),
    ("@DISPLAY@", "Team A"),
    ("@POOL@", "pool1"),
    ("@API@", "inference"),
    ("@PATH@", "inference"),
    ("@DENY@", "o1*"),
    ("@FILE@", "gw.yaml"),
];

/// Strings rich in what breaks the output contexts; names that pass the naming rules but
/// hold `--` or a trailing `-` (XML comments); ARM expressions; arbitrary Unicode.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => r#"[a-z0-9\-\[\]{}<>&'"\\$@/*.:;!()\n\r\t #%?=`~\u{2028}\u{1b}]{0,16}"#,
        2 => "[a-z][a-z0-9.]{0,5}(--|-)[a-z0-9]{0,4}-?",
        2 => r"\[[a-z]{1,8}\('[a-z ]{0,6}'\)\]",
        1 => any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_string_is_refused_or_rendered_inert(field in 0..FIELDS.len(), s in hostile()) {
        let mut spec = SPEC.to_string();
        let mut file = "gw.yaml".to_string();
        for (i, (placeholder, ordinary)) in FIELDS.iter().enumerate() {
            let value = if i == field { s.as_str() } else { ordinary };
            if *placeholder == "@FILE@" {
                file = value.to_string();
            } else {
                // A JSON string is a YAML double-quoted scalar.
                spec = spec.replace(placeholder, &serde_json::to_string(value).unwrap());
            }
        }
        let source = Source::new(file.clone(), spec);
        let ctx = Context { subscription: Some(SUB.into()) };
        let Ok(m) = model::load(&source, &ctx) else {
            return Ok(()); // refused, with a located error (tests/validate.rs checks those)
        };
        let g = graph::build(&m);
        render::policies::check_all(&g).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let files = render::render(&m, &g, &file);
        for (path, text) in files.iter().filter(|(p, _)| p.ends_with(".xml")) {
            gw::policy::check(text).map_err(|e| TestCaseError::fail(format!("{path}: {e}\n{text}")))?;
        }
        let resources = g.written().count() - 1; // the resource group is not in the templates
        check_bicep(&files["main.bicep"], resources).map_err(|e| TestCaseError::fail(format!("main.bicep: {e}\n{}", files["main.bicep"])))?;
        let json: Value = serde_json::from_str(&files["main.json"]).unwrap();
        check_arm(&json, "$").map_err(|e| TestCaseError::fail(format!("main.json: {e}")))?;
    }
}

/// The Bicep check: strings closed on their line and escapes valid, brackets balanced, and
/// exactly the top-level statements gw writes (`targetScope`, one `resource` per resource,
/// one `output`), so nothing that leaked out of a comment or a string became code.
fn check_bicep(text: &str, resources: usize) -> Result<(), String> {
    let mut depth: Vec<char> = Vec::new();
    let (mut resource, mut output, mut target) = (0, 0, 0);
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if depth.is_empty() {
            let word: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            match word.as_str() {
                "resource" => resource += 1,
                "output" => output += 1,
                "targetScope" => target += 1,
                "" if line.is_empty() || line.starts_with("//") => {}
                _ => return Err(format!("line {n}: unexpected top-level statement `{line}`")),
            }
        }
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '/' if chars.peek() == Some(&'/') => break, // comment to the end of the line
                '\'' => loop {
                    match chars.next() {
                        None => return Err(format!("line {n}: string not closed on its line")),
                        Some('\'') => break,
                        Some('\\') => match chars.next() {
                            Some('\\' | '\'' | 'n' | 'r' | 't' | '$') => {}
                            Some('u') => {
                                let esc: String =
                                    chars.by_ref().take_while(|c| *c != '}').collect();
                                if !esc.starts_with('{')
                                    || u32::from_str_radix(&esc[1..], 16).is_err()
                                {
                                    return Err(format!("line {n}: bad \\u escape"));
                                }
                            }
                            other => return Err(format!("line {n}: bad escape \\{other:?}")),
                        },
                        // `${` starts an interpolation only gw writes (references): none is
                        // expected inside a literal spec value, and those are escaped.
                        Some(_) => {}
                    }
                },
                '{' | '[' | '(' => depth.push(c),
                '}' | ']' | ')' => {
                    let open = depth.pop().ok_or(format!("line {n}: unbalanced `{c}`"))?;
                    if !matches!((open, c), ('{', '}') | ('[', ']') | ('(', ')')) {
                        return Err(format!("line {n}: `{open}` closed by `{c}`"));
                    }
                }
                _ => {}
            }
        }
    }
    if !depth.is_empty() {
        return Err(format!("unclosed {depth:?}"));
    }
    if (resource, output, target) != (resources, 1, 1) {
        return Err(format!(
            "{resource} resources, {output} outputs, {target} targetScope; expected {resources}, 1, 1"
        ));
    }
    Ok(())
}

/// ARM evaluates a string that starts with a single `[` and ends with `]` (keys too). The only
/// ones allowed are the expressions gw itself writes; no key is ever an expression.
fn check_arm(v: &Value, at: &str) -> Result<(), String> {
    const GW_EXPRESSIONS: &[&str] = &[
        "[resourceId(",
        "[reference(",
        "[concat(reference(",
        "[extensionResourceId(",
        "[subscriptionResourceId(",
    ];
    let live = |s: &str| s.starts_with('[') && s.ends_with(']') && !s.starts_with("[[");
    match v {
        Value::String(s) if live(s) && !GW_EXPRESSIONS.iter().any(|p| s.starts_with(p)) => {
            Err(format!("{at}: `{s}` would be evaluated"))
        }
        Value::Object(o) => o.iter().try_for_each(|(k, x)| {
            if live(k) {
                return Err(format!("{at}: key `{k}` would be evaluated"));
            }
            check_arm(x, &format!("{at}.{k}"))
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| check_arm(x, &format!("{at}[{i}]"))),
        _ => Ok(()),
    }
}

/// The checks catch what they are for.
#[test]
fn the_checks_catch_injections() {
    let ok = "targetScope = 'resourceGroup'\n// a\nresource x 'T@1' = {\n  name: 'it\\'s'\n}\noutput o string = x.id\n";
    assert_eq!(check_bicep(ok, 1), Ok(()));
    let leaked = ok.replace("// a", "// a\noutput leak string = 'x'");
    assert!(check_bicep(&leaked, 1).unwrap_err().contains("2 outputs"));
    let broken = ok.replace("'it\\'s'", "'it's'");
    assert!(check_bicep(&broken, 1).is_err());
    let json: Value = serde_json::json!({ "tags": { "[x()]": "y" } });
    assert!(check_arm(&json, "$").unwrap_err().contains("key"));
    let json: Value = serde_json::json!({ "tags": { "[[x()]": "[deployment()]" } });
    assert!(check_arm(&json, "$").unwrap_err().contains("evaluated"));
    let json: Value = serde_json::json!({ "tags": { "[[x()]": "[[deployment()]" } });
    assert!(check_arm(&json, "$").is_ok());
}
