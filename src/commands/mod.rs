//! One file per command: each reads the parsed arguments, runs the engine, and draws the
//! result. Only this layer prints.

mod affinity;
mod apply;
mod completions;
mod connect;
mod destroy;
mod import;
mod plan;
mod render;
mod saved_plan;
mod schema;
mod serve;
mod usage;
mod usage_report;
mod validate;
mod verify;

use crate::cli::{Cli, Command, Global, Output};
use crate::diag::{Source, render_all};
use crate::model::{Context, Model};
use std::process::ExitCode;

pub fn run(cli: Cli) -> ExitCode {
    if cli.global.output == Output::Markdown && !matches!(cli.command, Command::Plan(_)) {
        eprintln!("error: `-o markdown` is a view of a plan only");
        eprintln!("hint: use it with `gw plan`; other commands print `-o text` or `-o json`");
        return ExitCode::FAILURE;
    }
    let result = match &cli.command {
        Command::Validate(a) => validate::run(&cli.global, a),
        Command::Render(a) => render::run(&cli.global, a),
        Command::Schema => schema::run(),
        Command::Plan(a) => plan::run(&cli.global, a),
        Command::Apply(a) => apply::run(&cli.global, a),
        Command::Affinity(a) => affinity::run(&cli.global, a),
        Command::Destroy(a) => destroy::run(&cli.global, a),
        Command::Serve(a) => serve::run(&cli.global, a),
        Command::Verify(a) => verify::run(&cli.global, a),
        Command::Import(a) => import::run(&cli.global, a),
        Command::Completions(a) => completions::completions(a),
        Command::Man => completions::man(),
        Command::Usage(a) => usage::run(&cli.global, a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The spec file as the user named it, read.
pub fn read_source(g: &Global) -> anyhow::Result<Source> {
    let name = g.file.display().to_string();
    let text = fs_err::read_to_string(&g.file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!("{e}\nhint: run gw in the folder that holds gw.yaml, or name the spec with `-f PATH`")
        } else {
            anyhow::anyhow!("{e}\nhint: the spec must be a UTF-8 text file")
        }
    })?;
    Ok(Source::new(name, text))
}

/// The subscription known without asking Azure: `--subscription`, then AZURE_SUBSCRIPTION_ID.
/// (The spec's own `subscription:` wins over both inside `model::build`.)
pub fn offline_context(g: &Global) -> Context {
    Context {
        subscription: g
            .subscription
            .clone()
            .or_else(|| crate::env::var(crate::env::AZURE_SUBSCRIPTION_ID)),
    }
}

/// Loads the model, or prints every problem and gives the exit code.
pub fn load_model(source: &Source, ctx: &Context) -> Result<Model, ExitCode> {
    crate::model::load(source, ctx).map_err(|diags| {
        eprint!("{}", render_all(&diags, source));
        ExitCode::FAILURE
    })
}

/// Writes data to stdout. A closed pipe (`gw schema | head`) is not an error.
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Colour on a terminal unless `--no-color` or NO_COLOR.
pub fn color(g: &Global) -> bool {
    use std::io::IsTerminal;
    !g.no_color
        && crate::env::var(crate::env::NO_COLOR).is_none()
        && std::io::stdout().is_terminal()
}

/// Asks on a terminal for a literal `yes`; refuses when nobody can answer (CI without
/// `--auto-approve`). `what` is the action ("apply these changes"), `unattended` the hint.
///
/// `CI` set means "never prompt" even on a terminal: CI runners (and `docker run -t`) can
/// hand a job a pseudo-terminal, and a pipeline blocked on a prompt nobody sees hangs until
/// its timeout instead of failing with the hint.
pub fn confirm(what: &str, unattended: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    let why_not = if crate::env::var(crate::env::CI).is_some() {
        Some("CI is set, so gw never prompts")
    } else if !std::io::stdin().is_terminal() {
        Some("there is no terminal to ask on")
    } else {
        None
    };
    if let Some(why_not) = why_not {
        eprintln!("error: about to {what}, which needs a confirmation, but {why_not}");
        eprintln!("hint: {unattended}");
        return Ok(false);
    }
    let mut question = what.to_string();
    if let Some(first) = question.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    eprint!("\n{question}? Only 'yes' will be accepted: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() == "yes" {
        Ok(true)
    } else {
        eprintln!("Cancelled; nothing was changed.");
        Ok(false)
    }
}
