//! Test helpers shared by the integration tests: running the gw binary.

#![allow(dead_code)]

pub mod cli;
