//! Small value types of gw.yaml that YAML may write in more than one way.

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// A scalar written as a number or a string (`429`, `500-599`, `30s`, `PT1M`). Kept as text;
/// the model parses it, so a bad value gets a located, explained error rather than a type error.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Scalar {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NumberOrString".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": ["integer", "string"] })
    }
    fn inline_schema() -> bool {
        true
    }
}

/// `session_affinity:` is either `false`/absent (off), `true` (on, default cookie), or a
/// mapping `{ cookie: NAME }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AffinitySpec {
    Off,
    Cookie(Option<String>),
}

/// Other keys are reported by `fields` (the schema below denies them).
#[derive(Deserialize)]
struct AffinityMap {
    cookie: Option<String>,
}

impl<'de> Deserialize<'de> for AffinitySpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AffinitySpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`false`, `true` or a mapping `{ cookie: NAME }`")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<AffinitySpec, E> {
                Ok(if v {
                    AffinitySpec::Cookie(None)
                } else {
                    AffinitySpec::Off
                })
            }
            fn visit_unit<E: de::Error>(self) -> Result<AffinitySpec, E> {
                Ok(AffinitySpec::Off)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AffinitySpec, A::Error> {
                let m = AffinityMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(AffinitySpec::Cookie(m.cookie))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for AffinitySpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SessionAffinity".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Cookie-based session affinity: `false` (off), `true` (cookie APIM-Backend-Affinity) or `{ cookie: NAME }`.",
            "anyOf": [
                { "type": "boolean" },
                { "type": "object", "additionalProperties": false,
                  "properties": { "cookie": { "type": "string" } } }
            ]
        })
    }
}
