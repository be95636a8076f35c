//! One integration-test binary (faster to link than one per file).

mod support;

mod affinity;
mod apply;
mod apply_rules;
mod arm_client;
mod azure_behaviours;
mod destroy;
mod emulator;
mod import;
mod markdown;
mod plan;
mod pool_shares;
mod preflight;
#[cfg(unix)] // A pseudo-terminal stands in for the user.
mod prompt;
mod proptest_render;
mod readme;
mod render;
mod saved_plan;
mod secrets;
mod serve;
mod tokens;
mod usage;
mod validate;
