//! The one integration-test binary (see Cargo.toml: autotests = false).

mod support;

mod arm_client;
