//! One integration-test binary (faster to link than one per file).

mod support;

mod render;
mod serve;
mod validate;
