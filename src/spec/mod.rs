//! The raw spec: gw.yaml as written, with the location of every value.

mod map;
mod scalar;
mod spanned;
mod types;

pub use map::NamedMap;
pub use scalar::{AffinitySpec, Scalar};
pub use spanned::{Loc, Sp};
pub use types::*;

use crate::diag::{Diagnostic, Source};

/// Parses gw.yaml. Syntax and type errors stop at the first (the YAML parser cannot
/// go on); semantic problems are all reported by `model::build`.
pub fn parse(source: &Source) -> Result<Spec, Diagnostic> {
    serde_saphyr::from_str::<Spec>(&source.text).map_err(|e| Diagnostic::from_yaml(&e))
}

/// The JSON Schema of gw.yaml, for editors (`gw schema`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Spec)).unwrap_or_default()
}
