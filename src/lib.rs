//! gw: an AI gateway on Azure API Management, declared in one YAML file.
//!
//! The pipeline: `spec` (raw YAML) -> `model` (validated) -> `render` (Bicep, ARM JSON,
//! policy XML) and `graph` (Azure resources) -> `plan` (diff against live) -> `apply`.
//! Only `arm` touches the network.

pub mod arm;
pub mod cli;
pub mod commands;
pub mod diag;
pub mod env;
pub mod graph;
pub mod import;
pub mod markup;
pub mod model;
pub mod policy;
pub mod render;
pub mod serve;
pub mod spec;
pub mod verify;

use clap::Parser;
use std::ffi::OsString;
use std::process::ExitCode;

/// Runs gw with these arguments (the program name first). Re-entrant: tests call it.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match cli::Cli::try_parse_from(args) {
        Ok(cli) => commands::run(cli),
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
pub mod affinity;
pub mod apply;
pub mod destroy;
pub mod plan;
pub mod report;
