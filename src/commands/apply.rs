//! `gw apply [PLAN.json]`

use super::connect;
use crate::apply::{self, Applied, Status};
use crate::cli::{ApplyArgs, Global, Output};
use crate::graph::{Graph, Kind};
use crate::plan::{self, Options, Plan};
use serde_json::{Value, json};
use std::process::ExitCode;

pub fn run(g: &Global, a: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let source = super::read_source(g)?;
    let saved: Option<Plan> = match &a.plan {
        Some(p) => {
            let text = fs_err::read_to_string(p)?;
            Some(serde_json::from_str(&text).map_err(|e| {
                anyhow::anyhow!(
                    "{} is not a plan saved by `gw plan --out`: {e}",
                    p.display()
                )
            })?)
        }
        None => None,
    };
    if let Some(p) = &saved
        && p.spec_digest != plan::spec_digest(&source.text)
    {
        eprintln!("error: {} changed since the plan was made", source.name);
        eprintln!("hint: run `gw plan --out PLAN.json` again and apply the new plan");
        return Ok(ExitCode::FAILURE);
    }
    let client = connect::client(g)?;
    let rt = connect::runtime()?;
    let reporter = connect::reporter();
    rt.block_on(async {
        let (model, graph, live) = match connect::read_live(g, &source, &client, reporter.as_ref()).await {
            Ok(x) => x,
            Err(code) => return Ok(code),
        };
        crate::render::policy::check_all(&graph)?;
        let plan = match saved {
            Some(p) => {
                let now = plan::read::stamps(&graph, &live);
                let changed: Vec<&str> = p.read.iter().filter(|s| !now.contains(s)).map(|s| s.id.as_str()).collect();
                if !changed.is_empty() {
                    eprintln!("error: Azure changed since the plan was made; refusing to apply it");
                    for id in changed {
                        eprintln!("  changed: {id}");
                    }
                    eprintln!("hint: run `gw plan --out PLAN.json` again, review it, and apply the new plan");
                    return Ok(ExitCode::FAILURE);
                }
                p
            }
            None => {
                let p = plan::assemble(&model, &graph, &source.text, &live, Options { purge_soft_deleted: a.purge_soft_deleted });
                if g.output == Output::Text {
                    super::plan::show(g, &p)?;
                }
                p
            }
        };
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
    let _ = writeln!(
        out,
        "\n{}: {} created, {} restored, {} updated, {} deleted, {} failed, {} skipped.",
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
    json!({ "gateway_url": gateway, "apis": apis, "subscriptions": keys })
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
    for k in out["subscriptions"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "Subscription key {}: {}",
            k["name"].as_str().unwrap_or_default(),
            k["primary_key"].as_str().unwrap_or("(not readable)")
        );
    }
    s
}
