//! `gw plan`

use super::connect;
use crate::arm::ArmClient;
use crate::cli::{Global, Output, PlanArgs};
use crate::diag::Source;
use crate::graph::Graph;
use crate::model::Model;
use crate::plan::{self, LiveState, Options, Plan, preflight, view};
use crate::report::Reporter;
use std::process::ExitCode;

pub fn run(g: &Global, a: &PlanArgs) -> anyhow::Result<ExitCode> {
    let source = super::read_source(g)?;
    let opts = Options {
        purge_soft_deleted: a.purge_soft_deleted,
    };
    let (model, live, answers) = if a.offline {
        let model = match super::load_model(&source, &super::offline_context(g)) {
            Ok(m) => m,
            Err(code) => return Ok(code),
        };
        if !model.subscription_known {
            eprintln!(
                "note: no subscription given: names that use `naming.suffix: auto` are computed for a placeholder subscription"
            );
        }
        (model, LiveState::default(), None)
    } else {
        let client = connect::client(g)?;
        let rt = connect::runtime()?;
        let reporter = connect::reporter();
        let read = read_live(
            g,
            &source,
            &client,
            reporter.as_ref(),
            !a.skip_preflight,
            a.purge_soft_deleted,
        );
        match rt.block_on(read) {
            Ok((model, _, live, answers)) => (model, live, answers),
            Err(code) => return Ok(code),
        }
    };
    let graph = crate::graph::build(&model);
    crate::render::policies::check_all(&graph)?;
    let mut plan = plan::assemble(&model, &graph, &source.text, &live, opts);
    let skipped = if a.offline {
        Some("--offline: nothing was read from Azure")
    } else if a.skip_preflight {
        Some("--skip-preflight")
    } else {
        None
    };
    attach_preflight(
        &mut plan,
        &model,
        &graph,
        &live,
        answers.as_ref(),
        a.purge_soft_deleted,
        &source,
        skipped,
    );
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
        show(g, &plan, &source)?;
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
    if preflight::has_errors(&plan.preflight) {
        refuse_preflight(&plan, "apply would refuse to start");
        return Ok(ExitCode::FAILURE);
    }
    Ok(if a.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The model, graph and live state (as `connect::read_live`), and when asked the pre-flight
/// answers, read in parallel with the live state so they add no round trip of their own.
pub async fn read_live(
    g: &Global,
    source: &Source,
    client: &ArmClient,
    reporter: &dyn Reporter,
    run_preflight: bool,
    purge: bool,
) -> Result<(Model, Graph, LiveState, Option<preflight::Answers>), ExitCode> {
    let model = connect::load_online(g, source).await?;
    let graph = crate::graph::build(&model);
    let live_read = plan::read::read(client, &graph, reporter);
    let (live, answers) = if run_preflight {
        let (live, answers) =
            tokio::join!(live_read, preflight::read(client, &model, &graph, purge));
        (live, Some(answers))
    } else {
        (live_read.await, None)
    };
    match live {
        Ok(live) => Ok((model, graph, live, answers)),
        Err(e) => {
            connect::print_arm_error("could not read the live state", &e);
            Err(ExitCode::FAILURE)
        }
    }
}

/// Runs the pre-flight checks over what was read (they need the plan's changes: what apply
/// will write decides the permissions it needs), or records why they did not run.
#[allow(clippy::too_many_arguments)]
pub fn attach_preflight(
    plan: &mut Plan,
    model: &Model,
    graph: &Graph,
    live: &LiveState,
    answers: Option<&preflight::Answers>,
    purge: bool,
    source: &Source,
    skipped: Option<&str>,
) {
    match (answers, skipped) {
        (Some(answers), None) => {
            let input = preflight::Input {
                model,
                graph,
                live,
                changes: &plan.changes,
                purge_soft_deleted: purge,
                file: &source.name,
                today: time::OffsetDateTime::now_utc().date(),
            };
            plan.preflight = preflight::check(&input, answers);
        }
        (_, why) => plan.preflight_skipped = Some(why.unwrap_or("not run").to_string()),
    }
}

/// Says on stderr that pre-flight found what makes apply fail, and the way past it. `what`
/// is what happens because of it (`apply refuses to start`).
pub fn refuse_preflight(plan: &Plan, what: &str) {
    let n = plan
        .preflight
        .iter()
        .filter(|f| f.severity == plan::Severity::Error)
        .count();
    eprintln!(
        "error: pre-flight found {n} problem{} that would make apply fail: {what}",
        if n == 1 { "" } else { "s" }
    );
    eprintln!(
        "hint: fix the spec at the places shown (or the quota, names or rights it names); `--skip-preflight` tries anyway"
    );
}

pub fn show(g: &Global, plan: &plan::Plan, source: &Source) -> anyhow::Result<()> {
    if g.output == Output::Json {
        super::print_stdout(&format!("{}\n", serde_json::to_string_pretty(plan)?))?;
    } else {
        let style = view::Style {
            color: super::color(g),
            verbose: g.verbose,
        };
        super::print_stdout(&format!(
            "{}{}",
            view::render(plan, &style),
            view::render_preflight(plan, Some(source))
        ))?;
    }
    Ok(())
}
