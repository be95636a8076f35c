//! `gw validate`

use crate::cli::{Global, Output, ValidateArgs};
use crate::diag::{Source, render_all};
use std::process::ExitCode;

pub fn run(g: &Global, a: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let source = super::read_source(g)?;
    let ctx = super::offline_context(g);
    match crate::model::load(&source, &ctx) {
        Ok(_) if a.online => online(g, &source),
        Ok(model) => {
            let graph = crate::graph::build(&model);
            if g.output == Output::Json {
                super::print_stdout(&format!(
                    "{}\n",
                    serde_json::json!({ "valid": true, "problems": [], "resources": graph.resources.len() })
                ))?;
            }
            eprintln!(
                "{}: valid ({} foundr{}, {} model{}, {} pool{}, {} API{}: {} Azure resources)",
                source.name,
                model.foundries.len(),
                if model.foundries.len() == 1 {
                    "y"
                } else {
                    "ies"
                },
                model.deployments.len(),
                plural(model.deployments.len()),
                model.pools.len(),
                plural(model.pools.len()),
                model.apis.len(),
                plural(model.apis.len()),
                graph.resources.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(diags) => {
            if g.output == Output::Json {
                let problems: Vec<_> = diags
                    .iter()
                    .map(|d| serde_json::json!({ "file": source.name, "line": d.loc.line, "column": d.loc.column, "path": d.path, "message": d.message, "hint": d.hint, "note": d.note.as_ref().map(|n| serde_json::json!({ "line": n.loc.line, "column": n.loc.column, "message": n.message })) }))
                    .collect();
                super::print_stdout(&format!(
                    "{}\n",
                    serde_json::json!({ "valid": false, "problems": problems })
                ))?;
            }
            eprint!("{}", render_all(&diags, &source));
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The spec is valid: now what Azure would refuse. Pre-flight needs what is live (what
/// exists keeps its names; what apply writes decides the permissions it needs), so the live
/// state is read too, but no plan is shown.
fn online(g: &Global, source: &Source) -> anyhow::Result<ExitCode> {
    let client = super::connect::client(g)?;
    let rt = super::connect::runtime()?;
    let reporter = super::connect::reporter();
    let read = super::plan::read_live(g, source, &client, reporter.as_ref(), true, false);
    let (model, graph, live, answers) = match rt.block_on(read) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let mut plan = crate::plan::assemble(
        &model,
        &graph,
        &source.text,
        &live,
        crate::plan::Options::default(),
    );
    super::plan::attach_preflight(
        &mut plan,
        &model,
        &graph,
        &live,
        answers.as_ref(),
        false,
        source,
        None,
    );
    let ok = !crate::plan::preflight::has_errors(&plan.preflight);
    if g.output == Output::Json {
        super::print_stdout(&format!(
            "{}\n",
            serde_json::json!({ "valid": ok, "problems": [], "preflight": plan.preflight })
        ))?;
    }
    eprint!(
        "{}",
        crate::plan::view::render_preflight(&plan, Some(source))
    );
    if ok {
        eprintln!(
            "{}: valid, and pre-flight found nothing Azure would refuse",
            source.name
        );
        Ok(ExitCode::SUCCESS)
    } else {
        super::plan::refuse_preflight(&plan, "`gw apply` would refuse to start");
        Ok(ExitCode::FAILURE)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
