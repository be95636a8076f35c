//! Shared test support: running the gw binary.

#![allow(dead_code)]

pub mod cli;
