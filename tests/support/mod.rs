//! Test helpers shared by the integration tests: the ARM emulator and a fake `az`.

pub mod emulator;
pub mod fake_az;
