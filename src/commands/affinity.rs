//! `gw affinity enable|disable|status`

use super::connect;
use crate::affinity::{self, AffinityError, Outcome, PoolState};
use crate::cli::{AffinityCommand, Global, Output};
use crate::diag::did_you_mean;
use crate::graph::{Graph, Kind};
use crate::model::Model;
use serde_json::json;
use std::process::ExitCode;

fn pool_id(graph: &Graph, name: &str) -> String {
    let apim = graph.get("apim").map(|r| r.id.clone()).unwrap_or_default();
    format!("{apim}/backends/{name}")
}

fn describe(s: &PoolState) -> String {
    let mut out = match &s.affinity {
        Some(c) => format!("{}: enabled (cookie {c})\n", s.name),
        None => format!("{}: disabled\n", s.name),
    };
    for m in &s.members {
        let n = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
        out.push_str(&format!(
            "  {} priority {} weight {}\n",
            m.backend,
            n(m.priority),
            n(m.weight)
        ));
    }
    out
}

fn state_json(s: &PoolState) -> serde_json::Value {
    json!({ "name": s.name, "affinity": s.affinity.as_ref().map(|c| json!({ "cookie": c })), "members": s.members })
}

/// Warns when the spec says otherwise: the next apply would undo this.
fn spec_warning(model: &Model, pool: &str, cookie: Option<&str>) {
    let declared = model.pool(pool).and_then(|p| p.affinity.as_deref());
    if declared != cookie {
        eprintln!(
            "warning: gw.yaml says otherwise for pool `{pool}`: the next `gw apply` will revert this."
        );
        match cookie {
            Some(c) => eprintln!(
                "hint: to keep it, add under pools.{pool}:\n    session_affinity:\n      cookie: {c}"
            ),
            None => eprintln!(
                "hint: to keep it, remove `session_affinity` from pools.{pool} (or set it to false)"
            ),
        }
    }
}

pub fn run(g: &Global, cmd: &AffinityCommand) -> anyhow::Result<ExitCode> {
    let source = super::read_source(g)?;
    let client = connect::client(g)?;
    let rt = connect::runtime()?;
    rt.block_on(async {
        let model = match connect::load_online(g, &source).await {
            Ok(m) => m,
            Err(code) => return Ok(code),
        };
        let graph = crate::graph::build(&model);
        let known: Vec<&str> = graph.resources.iter().filter(|r| r.kind == Kind::Pool).map(|r| r.name.as_str()).collect();
        let check = |p: &str| -> bool {
            if known.contains(&p) {
                return true;
            }
            eprintln!("error: gw.yaml has no pool `{p}`");
            eprintln!("hint: {}", did_you_mean(p, known.iter().copied()).unwrap_or_else(|| format!("pools: {}", known.join(", "))));
            false
        };
        let (pool, cookie) = match cmd {
            AffinityCommand::Status { pool } => {
                let names: Vec<&str> = match pool {
                    Some(p) if !check(p) => return Ok(ExitCode::FAILURE),
                    Some(p) => vec![p.as_str()],
                    None => known.clone(),
                };
                let mut states = Vec::new();
                for n in names {
                    match affinity::read(&client, &pool_id(&graph, n), n).await {
                        Ok(s) => states.push(s),
                        Err(e) => return Ok(fail(&e)),
                    }
                }
                if g.output == Output::Json {
                    super::print_stdout(&format!("{}\n", serde_json::to_string_pretty(&json!({ "pools": states.iter().map(state_json).collect::<Vec<_>>() }))?))?;
                } else {
                    super::print_stdout(&states.iter().map(describe).collect::<String>())?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            AffinityCommand::Enable { pool, cookie } => {
                if let Err(e) = crate::model::names::cookie(cookie) {
                    eprintln!("error: {}\nhint: {}", e.message, e.rule);
                    return Ok(ExitCode::FAILURE);
                }
                (pool, Some(cookie.as_str()))
            }
            AffinityCommand::Disable { pool } => (pool, None),
        };
        if !check(pool) {
            return Ok(ExitCode::FAILURE);
        }
        let outcome = match affinity::set(&client, &pool_id(&graph, pool), pool, cookie).await {
            Ok(o) => o,
            Err(e) => return Ok(fail(&e)),
        };
        let (state, code) = match &outcome {
            Outcome::Unchanged(s) => {
                eprintln!("{pool}: already {}; nothing to change.", if cookie.is_some() { "enabled" } else { "disabled" });
                (s, ExitCode::SUCCESS)
            }
            Outcome::Changed(s) => {
                eprintln!("{pool}: session affinity {}.", if cookie.is_some() { "enabled" } else { "disabled" });
                (s, ExitCode::SUCCESS)
            }
            Outcome::NotApplied(s) => {
                eprintln!("error: {pool}: Azure accepted the change but the pool reads back without it");
                eprintln!("hint: session affinity for pools is in preview and reaches APIM instances on the \"AI Gateway Early\" update channel first; switch the instance's update channel (Azure portal: API Management > Settings) and try again");
                (s, ExitCode::FAILURE)
            }
        };
        if !matches!(outcome, Outcome::NotApplied(_)) {
            spec_warning(&model, pool, cookie);
        }
        if g.output == Output::Json {
            super::print_stdout(&format!("{}\n", serde_json::to_string_pretty(&json!({ "pools": [state_json(state)], "changed": matches!(outcome, Outcome::Changed(_)) }))?))?;
        } else {
            super::print_stdout(&describe(state))?;
        }
        Ok(code)
    })
}

fn fail(e: &AffinityError) -> ExitCode {
    eprintln!("error: {e}");
    match e {
        AffinityError::NotDeployed(_) => eprintln!("hint: run `gw apply` first"),
        AffinityError::Arm(a) => {
            if let Some(h) = a.hint() {
                eprintln!("hint: {h}");
            }
        }
        AffinityError::Contended(_) => {
            eprintln!("hint: something else is editing the pool; try again when it is done")
        }
        AffinityError::NotAPool(_) => {}
        AffinityError::NoEtag(_) => eprintln!(
            "hint: APIM normally sends an ETag with every entity; try again, and if it persists, make the change in the portal"
        ),
    }
    ExitCode::FAILURE
}
