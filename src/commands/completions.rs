//! `gw completions SHELL` and `gw man`: generated from the same clap types that parse the
//! command line, so they cannot fall behind it.

use crate::cli::{Cli, CompletionsArgs};
use clap::CommandFactory;
use std::process::ExitCode;

pub fn completions(a: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "gw", &mut out);
    super::print_stdout(&String::from_utf8(out)?)?;
    Ok(ExitCode::SUCCESS)
}

pub fn man() -> anyhow::Result<ExitCode> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    super::print_stdout(&String::from_utf8(out)?)?;
    Ok(ExitCode::SUCCESS)
}
