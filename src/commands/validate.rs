//! `gw validate`

use crate::cli::{Global, Output};
use crate::diag::render_all;
use std::process::ExitCode;

pub fn run(g: &Global) -> anyhow::Result<ExitCode> {
    let source = super::read_source(g)?;
    let ctx = super::offline_context(g);
    match crate::model::load(&source, &ctx) {
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

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
