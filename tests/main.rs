//! One integration-test binary (faster to link than one per file).

mod support;

mod affinity;
mod apply;
mod arm_client;
mod destroy;
mod plan;
mod proptest_render;
mod readme;
mod render;
mod secrets;
mod serve;
mod validate;
