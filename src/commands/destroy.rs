//! `gw destroy [--auto-approve] [--purge]`

use super::connect;
use crate::apply::Status;
use crate::cli::{DestroyArgs, Global, Output};
use crate::destroy;
use serde_json::json;
use std::process::ExitCode;

pub fn run(g: &Global, a: &DestroyArgs) -> anyhow::Result<ExitCode> {
    let source = super::read_source(g)?;
    let client = connect::client(g)?;
    let rt = connect::runtime()?;
    let reporter = connect::reporter();
    rt.block_on(async {
        let (model, graph, live) = match connect::read_live(g, &source, &client, reporter.as_ref()).await {
            Ok(x) => x,
            Err(code) => return Ok(code),
        };
        let dplan = destroy::plan(&graph, &live);
        if dplan.is_empty() && !a.purge {
            eprintln!("Nothing to destroy: none of the spec's resources exist.");
            return Ok(ExitCode::SUCCESS);
        }
        if !dplan.is_empty() {
            eprintln!("gw destroy will delete:");
            if dplan.whole_group {
                eprintln!("  - resource_group  {} (gw created it: everything in it goes)", model.resource_group.name);
                for r in graph.resources.iter().filter(|r| r.kind != crate::graph::Kind::ResourceGroup && live.get(&r.id).is_some()) {
                    eprintln!("      {} ({} {})", r.address, r.kind.label(), r.name);
                }
            } else {
                for t in dplan.targets() {
                    eprintln!("  - {}  {} {}", t.address, t.kind.label(), t.id.rsplit('/').next().unwrap_or_default());
                }
                eprintln!("  (and everything inside the accounts and the APIM service)");
            }
            if a.purge {
                eprintln!("then purge the soft-deleted accounts and APIM service, so their names are free at once.");
            } else {
                eprintln!("Deleted accounts and APIM services stay soft-deleted (APIM for 48 hours) and hold their names; `--purge` frees them, `gw apply` restores them.");
            }
            if !a.auto_approve && !super::confirm("delete these resources", "run `gw destroy --auto-approve`")? {
                return Ok(ExitCode::FAILURE);
            }
        }
        let mut outcomes = destroy::destroy(&client, &dplan, reporter.as_ref()).await;
        let deleted_ok = outcomes.iter().all(|o| o.status != Status::Failed);
        if a.purge && deleted_ok {
            match destroy::purge(&client, &graph, reporter.as_ref()).await {
                Ok(p) => outcomes.extend(p),
                Err(e) => {
                    connect::print_arm_error("could not list the soft-deleted resources", &e);
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        let failed: Vec<_> = outcomes.iter().filter(|o| o.status == Status::Failed).collect();
        if g.output == Output::Json {
            super::print_stdout(&format!("{}\n", serde_json::to_string_pretty(&json!({ "outcomes": outcomes }))?))?;
        }
        for f in &failed {
            eprintln!("error: {} was not deleted", f.address);
            if let Some(e) = &f.error {
                eprintln!("  caused by: {}", e.message);
                if let Some(h) = &e.hint {
                    eprintln!("hint: {h}");
                }
            }
        }
        let count = |s| outcomes.iter().filter(|o| o.status == s).count();
        eprintln!(
            "\nDestroy {}: {} deleted, {} purged, {} failed.",
            if failed.is_empty() { "complete" } else { "incomplete" },
            count(Status::Deleted),
            count(Status::Purged),
            failed.len()
        );
        Ok(if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    })
}
