//! `gw plan`

use super::connect;
use crate::cli::{Global, Output, PlanArgs};
use crate::plan::{self, LiveState, Options, view};
use std::process::ExitCode;

pub fn run(g: &Global, a: &PlanArgs) -> anyhow::Result<ExitCode> {
    let source = super::read_source(g)?;
    let opts = Options {
        purge_soft_deleted: a.purge_soft_deleted,
    };
    let (model, live) = if a.offline {
        let model = match super::load_model(&source, &super::offline_context(g)) {
            Ok(m) => m,
            Err(code) => return Ok(code),
        };
        if !model.subscription_known {
            eprintln!(
                "note: no subscription given: names that use `naming.suffix: auto` are computed for a placeholder subscription"
            );
        }
        (model, LiveState::default())
    } else {
        let client = connect::client(g)?;
        let rt = connect::runtime()?;
        let reporter = connect::reporter();
        match rt.block_on(connect::read_live(g, &source, &client, reporter.as_ref())) {
            Ok((model, _, live)) => (model, live),
            Err(code) => return Ok(code),
        }
    };
    let graph = crate::graph::build(&model);
    let mut plan = plan::assemble(&model, &graph, &source.text, &live, opts);
    // An online plan carries stamps of what it read, in `-o json` as in `--out`: both are
    // plans `gw apply PLAN.json` accepts. An offline plan read nothing, so it has none and
    // apply refuses it rather than pretend Azure was empty.
    if !a.offline {
        plan.read = plan::read::stamps(&graph, &live);
    }
    if g.output == Output::Markdown {
        let full = match &a.out {
            // The saved plan: a CI job keeps it as an artifact beside the comment.
            Some(p) => format!("`{}`", p.display()),
            None => "`gw plan -o json` prints it".to_string(),
        };
        super::print_stdout(&view::markdown(&plan, &full))?;
    } else {
        show(g, &plan)?;
    }
    if let Some(path) = &a.out {
        fs_err::write(path, format!("{}\n", serde_json::to_string_pretty(&plan)?))?;
        if a.offline {
            eprintln!(
                "Saved the plan to {}. It was made offline, so `gw apply` will not accept it: plan online to apply a saved plan.",
                path.display()
            );
        } else {
            eprintln!(
                "Saved the plan to {}. Apply exactly this plan with: gw apply {}",
                path.display(),
                path.display()
            );
        }
    }
    Ok(if a.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn show(g: &Global, plan: &plan::Plan) -> anyhow::Result<()> {
    if g.output == Output::Json {
        super::print_stdout(&format!("{}\n", serde_json::to_string_pretty(plan)?))?;
    } else {
        let style = view::Style {
            color: super::color(g),
            verbose: g.verbose,
        };
        super::print_stdout(&view::render(plan, &style))?;
    }
    Ok(())
}
