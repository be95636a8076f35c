//! The one integration-test binary.

mod support;
