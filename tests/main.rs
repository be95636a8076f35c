//! One integration-test binary (faster to link than one per file).

mod support;

mod apply;
mod arm_client;
mod plan;
mod render;
mod serve;
mod validate;
