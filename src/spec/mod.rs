//! The raw spec: gw.yaml as written, with the location of every value.

mod fields;
mod map;
mod observability;
mod scalar;
mod spanned;
mod types;

pub use map::NamedMap;
pub use scalar::{AffinitySpec, Scalar};
pub use spanned::{Loc, Req, Sp};
pub use types::*;

use crate::diag::{Diagnostic, Source};

/// Parses gw.yaml: the spec, and every unknown, missing or empty field (the parse goes on
/// past them, so `model::build` can still report the semantic problems). A syntax or type
/// error stops at the first, with the field problems found before it: the YAML parser
/// cannot go on.
pub fn parse(source: &Source) -> Result<(Spec, Vec<Diagnostic>), Vec<Diagnostic>> {
    let yaml = |e: serde_saphyr::Error| vec![Diagnostic::from_yaml(&e)];
    let tree = serde_saphyr::from_str::<Sp<fields::Node>>(&source.text).map_err(yaml)?;
    if matches!(tree.value, fields::Node::Null) {
        let start = Loc { line: 1, column: 1 };
        return Err(vec![
            Diagnostic::new(start, "", "the spec is empty")
                .hint("start from one of `examples/*/gw.yaml`"),
        ]);
    }
    let mut problems = fields::check(&json_schema(), &tree);
    match serde_saphyr::from_str::<Spec>(&source.text) {
        Ok(spec) => Ok((spec, problems)),
        Err(e) => {
            problems.push(Diagnostic::from_yaml(&e));
            problems.sort_by_key(|d| d.loc);
            Err(problems)
        }
    }
}

/// The JSON Schema of gw.yaml, for editors (`gw schema`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Spec)).unwrap_or_default()
}
