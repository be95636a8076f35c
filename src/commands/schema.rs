//! `gw schema`

use std::process::ExitCode;

pub fn run() -> anyhow::Result<ExitCode> {
    let text = serde_json::to_string_pretty(&crate::spec::json_schema())?;
    super::print_stdout(&format!("{text}\n"))?;
    Ok(ExitCode::SUCCESS)
}
