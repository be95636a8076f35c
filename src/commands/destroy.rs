//! `gw destroy [--auto-approve] [--purge] [--include-foreign]`

use super::connect;
use crate::apply::Status;
use crate::cli::{DestroyArgs, Global, Output};
use crate::destroy::{self, DestroyPlan};
use crate::graph::{Graph, Kind, OWNER_TAG, OWNER_VALUE};
use crate::plan::LiveState;
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
        // Without the group's full contents gw cannot tell what is not its own: refuse
        // rather than guess.
        let contents = match destroy::group_contents(&client, &graph, &live).await {
            Ok(c) => c,
            Err(e) => {
                connect::print_arm_error("could not list what is in the resource group", &e);
                return Ok(ExitCode::FAILURE);
            }
        };
        let dplan = destroy::plan(&graph, &live, &contents, a.include_foreign);
        if dplan.is_empty() && !a.purge {
            eprintln!("Nothing to destroy: none of the spec's resources exist.");
            return Ok(ExitCode::SUCCESS);
        }
        if !dplan.is_empty() {
            eprint!("{}", describe(&model.resource_group.name, &graph, &live, &dplan, a.include_foreign));
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
            super::print_stdout(&format!("{}\n", serde_json::to_string_pretty(&json!({ "outcomes": outcomes, "kept": if dplan.whole_group { Vec::new() } else { dplan.foreign.clone() } }))?))?;
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

/// Exactly what goes and what stays, for the confirmation (and the log in CI).
fn describe(
    rg: &str,
    graph: &Graph,
    live: &LiveState,
    dplan: &DestroyPlan,
    include_foreign: bool,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("gw destroy will delete:\n");
    let foreign = |f: &destroy::Foreign| format!("{} {} (not gw's)", f.arm_type, f.name);
    if dplan.whole_group {
        let _ = writeln!(
            out,
            "  - resource_group  {rg} (gw created it: everything in it goes)"
        );
        for r in graph
            .resources
            .iter()
            .filter(|r| r.kind != Kind::ResourceGroup && live.get(&r.id).is_some())
        {
            let _ = writeln!(out, "      {} ({} {})", r.address, r.kind.label(), r.name);
        }
        for f in &dplan.undeclared {
            let _ = writeln!(
                out,
                "      {} {} (gw's, no longer in the spec)",
                f.arm_type, f.name
            );
        }
        for f in &dplan.foreign {
            let _ = writeln!(out, "      {} because of --include-foreign", foreign(f));
        }
        return out;
    }
    for t in dplan.targets() {
        let name = t.id.rsplit('/').next().unwrap_or_default();
        let _ = writeln!(out, "  - {}  {} {name}", t.address, t.kind.label());
    }
    out.push_str("  (and everything inside the accounts and the APIM service)\n");
    out.push_str("It keeps:\n");
    for f in &dplan.foreign {
        let _ = writeln!(
            out,
            "  = {}: gw did not create it (no `{OWNER_TAG}: {OWNER_VALUE}` tag, not in the spec)",
            foreign(f)
        );
    }
    let why = if !dplan.group_is_gws {
        "gw did not create it".to_string()
    } else {
        let n = dplan.foreign.len();
        format!(
            "gw created it, but it holds {n} resource{} gw did not create; `--include-foreign` deletes the group whole, with {}",
            if n == 1 { "" } else { "s" },
            if n == 1 { "it" } else { "them" }
        )
    };
    let _ = writeln!(out, "  = resource group {rg}: {why}");
    if include_foreign && !dplan.group_is_gws {
        let _ = writeln!(
            out,
            "note: --include-foreign deletes only a group gw created; {rg} and what others put in it stay"
        );
    }
    out
}
