//! `gw render --out DIR`

use crate::cli::{Global, RenderArgs};
use std::process::ExitCode;

pub fn run(g: &Global, a: &RenderArgs) -> anyhow::Result<ExitCode> {
    let source = super::read_source(g)?;
    let model = match super::load_model(&source, &super::offline_context(g)) {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    if !model.subscription_known {
        eprintln!(
            "warning: no subscription given (spec, --subscription or AZURE_SUBSCRIPTION_ID): `naming.suffix: auto` names use a placeholder subscription and will differ in Azure"
        );
    }
    let graph = crate::graph::build(&model);
    crate::render::policies::check_all(&graph)?;
    let spec_name = g
        .file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut files = crate::render::render(&model, &graph, &spec_name);
    if a.requests {
        files.insert(
            "requests.jsonl".into(),
            crate::render::requests::jsonl(&graph),
        );
    }
    for (path, text) in &files {
        let full = a.out.join(path);
        if let Some(parent) = full.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::write(&full, text)?;
        eprintln!("wrote {}", full.display());
    }
    Ok(ExitCode::SUCCESS)
}
