//! `Sp<T>`: a value from gw.yaml together with where it was written.
//!
//! serde-saphyr's `Spanned<T>` carries the location; this wrapper adds what the spec types
//! need on top: a JSON Schema that is just `T`'s (editors should not see the span), and a
//! compact `Loc` that the diagnostics can point at.

pub use crate::diag::Loc;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

impl From<serde_saphyr::Location> for Loc {
    fn from(l: serde_saphyr::Location) -> Self {
        Loc {
            line: u32::try_from(l.line()).unwrap_or(u32::MAX),
            column: u32::try_from(l.column()).unwrap_or(u32::MAX),
        }
    }
}

/// A spec value and its location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sp<T> {
    pub value: T,
    pub loc: Loc,
}

impl<T> Sp<T> {
    pub fn new(value: T, loc: Loc) -> Self {
        Sp { value, loc }
    }
}

impl<T> std::ops::Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<T>::deserialize(d)?;
        Ok(Sp {
            value: s.value,
            loc: s.referenced.into(),
        })
    }
}

/// The schema of a located value is its value's: editors should not see the span.
macro_rules! schema_of_value {
    ($wrapper:ident) => {
        impl<T: JsonSchema> JsonSchema for $wrapper<T> {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                T::schema_name()
            }
            fn schema_id() -> std::borrow::Cow<'static, str> {
                T::schema_id()
            }
            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                T::json_schema(generator)
            }
            fn inline_schema() -> bool {
                T::inline_schema()
            }
        }
    };
}
schema_of_value!(Sp);
// Not an `Option` to schemars, so a `Req` field stays in the schema's `required`.
schema_of_value!(Req);

/// A required field. A missing one does not stop the parse: it reads as the type's default
/// with no location, so the other problems are still found; `spec::fields` reports it
/// (located at its mapping) from the schema, which lists the field as required. Everything
/// else reads through it as the `Sp<T>` it holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Req<T>(pub Sp<T>);

impl<T: Default> Default for Sp<T> {
    fn default() -> Self {
        Sp::new(T::default(), Loc::default())
    }
}

impl<T> std::ops::Deref for Req<T> {
    type Target = Sp<T>;
    fn deref(&self) -> &Sp<T> {
        &self.0
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Req<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // serde asks a missing field for an option (that is how `Option` fields may be left
        // out): answer "none" with the default. An explicit `null` also lands here, and
        // `spec::fields` reports it as a field without a value.
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Default> serde::de::Visitor<'de> for V<T> {
            type Value = Req<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a value")
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Req<T>, E> {
                Ok(Req(Sp::default()))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Req<T>, E> {
                Ok(Req(Sp::default()))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Req<T>, D::Error> {
                Sp::<T>::deserialize(d).map(Req)
            }
        }
        d.deserialize_option(V(std::marker::PhantomData))
    }
}
