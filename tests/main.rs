//! One integration-test binary (faster to link than one per file).

mod support;

mod affinity;
mod apply;
mod apply_rules;
mod arm_client;
mod azure_behaviours;
mod destroy;
mod emulator;
mod plan;
mod readme;
mod render;
mod serve;
mod validate;
