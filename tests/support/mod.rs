//! Test helpers shared by the integration tests: running the gw binary, the ARM emulator,
//! a fake `az`, and the two wired together.

#![allow(dead_code)]

pub mod azure;
pub mod cli;
pub mod emulator;
pub mod fake_az;
