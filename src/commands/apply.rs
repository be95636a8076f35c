//! `gw apply [PLAN.json]`

use super::connect;
use super::saved_plan;
use crate::apply::{self, Applied, Status};
use crate::cli::{ApplyArgs, Global, Output};
use crate::graph::{Graph, Kind};
use crate::plan::{self, Options, Plan, SoftDeleteAction};
use serde_json::{Value, json};
use std::process::ExitCode;

pub fn run(g: &Global, a: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let source = super::read_source(g)?;
    let saved: Option<Plan> = match &a.plan {
        Some(p) => Some(saved_plan::load(p)?),
        None => None,
    };
    if let Some(p) = &saved {
        let problems = saved_plan::unusable(p, &plan::spec_digest(&source.text));
        if !problems.is_empty() {
            return Ok(refuse_saved(
                &format!("cannot apply {}", plan_name(a)),
                &problems,
            ));
        }
    }
    let client = connect::client(g)?;
    let rt = connect::runtime()?;
    let reporter = connect::reporter();
    rt.block_on(async {
        let (model, graph, live, answers) = match super::plan::read_live(g, &source, &client, reporter.as_ref(), !a.skip_preflight, a.purge_soft_deleted).await {
            Ok(x) => x,
            Err(code) => return Ok(code),
        };
        crate::render::policies::check_all(&graph)?;
        // With or without a saved plan, what runs is computed here from the spec and what is
        // live now; a saved plan only has to agree with it.
        let mut plan = plan::assemble(&model, &graph, &source.text, &live, Options { purge_soft_deleted: a.purge_soft_deleted });
        // Pre-flight runs on what is live now, for a saved plan too: quota and names may have
        // gone since it was made.
        let skipped = a.skip_preflight.then_some("--skip-preflight");
        super::plan::attach_preflight(&mut plan, &model, &graph, &live, answers.as_ref(), a.purge_soft_deleted, &source, skipped);
        match &saved {
            Some(p) => {
                let other = saved_plan::other_target(p, &model.subscription, &model.resource_group.name);
                if !other.is_empty() {
                    return Ok(refuse_saved(&format!("{} was made for another target", plan_name(a)), &other));
                }
                let changed = saved_plan::stale(&p.read, &plan::read::stamps(&graph, &live));
                if !changed.is_empty() {
                    let lines: Vec<String> = changed.iter().map(|id| format!("changed: {id}")).collect();
                    return Ok(refuse_saved("Azure changed since the plan was made; refusing to apply it", &lines));
                }
                let differences = saved_plan::differences(&p.changes, &plan.changes);
                if !differences.is_empty() {
                    let lines: Vec<String> = differences.iter().map(ToString::to_string).collect();
                    eprintln!("error: {} does not match the plan recomputed from the spec and Azure; refusing to apply it", plan_name(a));
                    for l in &lines {
                        eprintln!("  {l}");
                    }
                    if p.changes.iter().any(|c| c.soft_deleted.as_ref().is_some_and(|sd| sd.action == SoftDeleteAction::Purge)) && !a.purge_soft_deleted {
                        eprintln!("hint: a plan that purges soft-deleted records applies only with `--purge-soft-deleted` given to apply too");
                    } else {
                        eprintln!("hint: the file was edited, or made by another gw version: run `gw plan --out PLAN.json` again, review it, and apply the new plan");
                    }
                    return Ok(ExitCode::FAILURE);
                }
            }
            None => {
                if g.output == Output::Text {
                    super::plan::show(g, &plan, &source)?;
                }
            }
        }
        if crate::plan::preflight::has_errors(&plan.preflight) {
            // A saved plan or JSON output did not show the findings: say them on stderr.
            if a.plan.is_some() || g.output == Output::Json {
                eprint!("{}", crate::plan::view::render_preflight(&plan, Some(&source)));
            }
            super::plan::refuse_preflight(&plan, "apply did not start; nothing was written");
            return Ok(ExitCode::FAILURE);
        }
        if !plan.has_changes() {
            if g.output == Output::Json {
                let out = outputs(&client, &graph, &live, a.show_secrets).await;
                super::print_stdout(&format!("{}\n", serde_json::to_string_pretty(&json!({ "plan": plan.summary, "outcomes": [], "outputs": out }))?))?;
            } else if a.plan.is_some() {
                eprintln!("The plan has no changes.");
            }
            return Ok(ExitCode::SUCCESS);
        }
        if !a.auto_approve
            && !super::confirm(
                "apply these changes",
                "review the plan above and run `gw apply --auto-approve` (in CI: apply a saved plan, `gw apply PLAN.json --auto-approve`)",
            )?
        {
            return Ok(ExitCode::FAILURE);
        }
        let opts = apply::Options {
            principal_wait: std::time::Duration::from_secs(crate::env::var(crate::env::GW_PRINCIPAL_WAIT).and_then(|v| v.parse().ok()).unwrap_or(300)),
            max_retry_wait: client.config().max_retry_wait,
            settle_wait: std::time::Duration::from_secs(600),
        };
        let applied = apply::apply(&client, &graph, &plan, live, reporter.as_ref(), &opts).await;
        let out = if applied.ok() { outputs(&client, &graph, &applied.live, a.show_secrets).await } else { Value::Null };
        if g.output == Output::Json {
            super::print_stdout(&format!("{}\n", serde_json::to_string_pretty(&json!({ "plan": plan.summary, "outcomes": applied.outcomes, "outputs": out }))?))?;
        } else {
            eprint!("{}", summary(&applied));
            if applied.ok() {
                super::print_stdout(&outputs_text(&out))?;
            }
        }
        Ok(if applied.ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    })
}

fn plan_name(a: &ApplyArgs) -> String {
    a.plan
        .as_ref()
        .map_or_else(|| "the plan".to_string(), |p| p.display().to_string())
}

/// Prints why a saved plan is refused, with the way out, and gives the exit code.
fn refuse_saved(headline: &str, problems: &[String]) -> ExitCode {
    eprintln!("error: {headline}");
    for p in problems {
        eprintln!("  {p}");
    }
    eprintln!("hint: run `gw plan --out PLAN.json` again, review it, and apply the new plan");
    ExitCode::FAILURE
}

/// What happened, resource by resource for anything that did not simply succeed.
pub fn summary(applied: &Applied) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let failed: Vec<_> = applied
        .outcomes
        .iter()
        .filter(|o| o.status == Status::Failed)
        .collect();
    let skipped: Vec<_> = applied
        .outcomes
        .iter()
        .filter(|o| o.status == Status::Skipped)
        .collect();
    for f in &failed {
        let e = f.error.as_ref();
        let _ = writeln!(out, "\nerror: {} failed", f.address);
        if let Some(e) = e {
            let _ = writeln!(out, "  caused by: {}", e.message);
            if let Some(h) = &e.hint {
                let _ = writeln!(out, "hint: {h}");
            }
        }
    }
    for s in &skipped {
        let _ = writeln!(
            out,
            "skipped: {} ({})",
            s.address,
            s.skipped_because.clone().unwrap_or_default()
        );
    }
    // How something unusual was done: adopted grants, repairs, replacements.
    for o in &applied.outcomes {
        let how = match o.status {
            Status::Adopted => "adopted",
            Status::Repaired => "repaired",
            Status::Replaced => "replaced",
            Status::Healed => "healed on its own (read Succeeded again; nothing written)",
            _ => continue,
        };
        match &o.note {
            Some(note) => {
                let _ = writeln!(out, "{how}: {} ({note})", o.address);
            }
            None => {
                let _ = writeln!(out, "{how}: {}", o.address);
            }
        }
    }
    let unusual: String = [
        (Status::Replaced, "replaced"),
        (Status::Repaired, "repaired"),
        (Status::Healed, "healed"),
        (Status::Adopted, "adopted"),
    ]
    .iter()
    .filter(|(s, _)| applied.count(*s) > 0)
    .map(|(s, w)| format!("{} {w}, ", applied.count(*s)))
    .collect();
    let _ = writeln!(
        out,
        "\n{}: {} created, {} restored, {} updated, {unusual}{} deleted, {} failed, {} skipped.",
        if failed.is_empty() && skipped.is_empty() {
            "Apply complete"
        } else {
            "Apply incomplete"
        },
        applied.count(Status::Created),
        applied.count(Status::Restored),
        applied.count(Status::Updated),
        applied.count(Status::Deleted),
        failed.len(),
        skipped.len()
    );
    if !failed.is_empty() {
        let _ = writeln!(
            out,
            "Everything not listed as failed or skipped is in place. Fix the cause and run `gw apply` again: it continues from here."
        );
    }
    out
}

/// The gateway URL, API base URLs, and subscription keys (masked unless asked).
async fn outputs(
    client: &crate::arm::ArmClient,
    graph: &Graph,
    live: &plan::LiveState,
    show_secrets: bool,
) -> Value {
    let gateway = graph
        .get("apim")
        .and_then(|r| live.get(&r.id))
        .and_then(|l| l.body.pointer("/properties/gatewayUrl"))
        .and_then(Value::as_str)
        .map(|s| s.trim_end_matches('/').to_string());
    let apis: Vec<Value> = graph
        .resources
        .iter()
        .filter(|r| r.kind == Kind::Api)
        .map(|r| {
            let path = r
                .body
                .pointer("/properties/path")
                .and_then(Value::as_str)
                .unwrap_or_default();
            json!({ "name": r.name, "url": gateway.as_ref().map(|g| format!("{g}/{path}")) })
        })
        .collect();
    let mut keys = Vec::new();
    for s in graph
        .resources
        .iter()
        .filter(|r| r.kind == Kind::Subscription)
    {
        let key = connect::subscription_key(client, s).await.ok().flatten();
        let shown = key.map(|k| {
            if show_secrets {
                k
            } else {
                super::serve::mask(&k)
            }
        });
        keys.push(json!({ "name": s.name, "primary_key": shown }));
    }
    let (workspace, app_insights) = super::usage::observability_outputs(graph, live);
    json!({ "gateway_url": gateway, "apis": apis, "subscriptions": keys,
        "log_analytics_workspace_id": workspace, "app_insights": app_insights })
}

fn outputs_text(out: &Value) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if let Some(g) = out["gateway_url"].as_str() {
        let _ = writeln!(s, "\nGateway: {g}");
    }
    for a in out["apis"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "API {}: {}",
            a["name"].as_str().unwrap_or_default(),
            a["url"].as_str().unwrap_or("(unknown)")
        );
    }
    if let Some(w) = out["log_analytics_workspace_id"].as_str() {
        let _ = writeln!(s, "Log Analytics workspace: {w}");
    }
    if let Some(a) = out["app_insights"].as_str() {
        let _ = writeln!(s, "Application Insights: {a}");
    }
    for k in out["subscriptions"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "Subscription key {}: {}",
            k["name"].as_str().unwrap_or_default(),
            k["primary_key"].as_str().unwrap_or("(not readable)")
        );
    }
    if out["apis"].as_array().is_some_and(|a| !a.is_empty()) {
        let _ = writeln!(s, "{}", crate::model::surface::CLIENT_KEY_NOTE);
    }
    s
}
