//! `gw import --resource-group RG [--apim NAME] [--out FILE] [--adopt]`

use super::connect;
use crate::cli::{Global, ImportArgs};
use crate::diag::Source;
use crate::import::{describe, ownerless};
use crate::model::Context;
use crate::plan::{self, Options};
use serde_json::Value;
use std::path::Path;
use std::process::ExitCode;

pub fn run(g: &Global, a: &ImportArgs) -> anyhow::Result<ExitCode> {
    if a.out.exists() && !a.force {
        anyhow::bail!(
            "{} exists\nhint: name another file with `--out FILE`, or pass `--force` to write over it",
            a.out.display()
        );
    }
    let client = connect::client(g)?;
    let rt = connect::runtime()?;
    let subscription = match super::offline_context(g).subscription {
        Some(s) => s,
        None => rt
            .block_on(crate::arm::default_subscription())
            .map_err(|e| {
                anyhow::anyhow!(
                    "no subscription: pass --subscription or set AZURE_SUBSCRIPTION_ID ({e})"
                )
            })?,
    };
    let rg_id = format!(
        "/subscriptions/{subscription}/resourceGroups/{}",
        a.resource_group
    );
    let wanted = a.apim.clone();
    let mut names: Vec<String> = Vec::new();
    let read = rt.block_on(plan::read::read_estate(&client, &rg_id, |services| {
        names = services
            .iter()
            .filter_map(|s| s.get("name")?.as_str().map(str::to_string))
            .collect();
        let by_name = |s: &&Value| {
            s.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| wanted.as_ref().is_some_and(|w| n.eq_ignore_ascii_case(w)))
        };
        match &wanted {
            Some(_) => services.iter().find(by_name).cloned(),
            None if services.len() == 1 => services.first().cloned(),
            None => None,
        }
    }));
    let estate = match read {
        Ok(e) => e,
        Err(e) => {
            connect::print_arm_error("could not read the resource group", &e);
            return Ok(ExitCode::FAILURE);
        }
    };
    if estate.apim.is_none() && !names.is_empty() {
        let which = match &a.apim {
            Some(w) => format!("no APIM service named `{w}` in {}", a.resource_group),
            None => format!("{} holds several APIM services", a.resource_group),
        };
        anyhow::bail!(
            "{which}\nhint: name one with `--apim NAME`: {}",
            names.join(", ")
        );
    }
    let imported = describe(&estate, &rg_id)?;
    let dir = a.out.parent().unwrap_or(Path::new("")).to_path_buf();
    check_policy_files(&imported.policies)?;
    fs_err::write(&a.out, &imported.yaml)?;
    for (file, xml) in &imported.policies {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::write(&path, xml)?;
        eprintln!("Kept the live policy verbatim in {}", path.display());
    }
    eprintln!("Wrote {}.", a.out.display());
    if let Some(problems) = &imported.problems {
        eprint!("{problems}");
        eprintln!(
            "error: the imported spec does not validate; the comments in {} say what the estate holds that a spec cannot express",
            a.out.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let foreign = ownerless(&estate);
    if foreign.is_empty() {
        eprintln!(
            "Every resource carries gw's ownership marker: `gw plan` should show no changes."
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "{} resources were not created by gw ({}): `gw plan` shows gw's ownership markers (tag `managed-by: gw`, descriptions \"Managed by gw\") added to them.",
        foreign.len(),
        foreign.join(", ")
    );
    if !a.adopt {
        eprintln!(
            "hint: `gw import --adopt` also saves that plan, so the first apply marks them as gw's and nothing else"
        );
        return Ok(ExitCode::SUCCESS);
    }
    adopt(g, a, &client, &rt, &subscription)
}

/// Saves the plan of the imported spec beside it, for `gw apply PLAN.json`: the first apply
/// then does exactly what the plan shows, and refuses if the estate changed meanwhile.
fn adopt(
    g: &Global,
    a: &ImportArgs,
    client: &crate::arm::ArmClient,
    rt: &tokio::runtime::Runtime,
    subscription: &str,
) -> anyhow::Result<ExitCode> {
    let text = fs_err::read_to_string(&a.out)?;
    let source = Source::new(a.out.display().to_string(), text);
    let ctx = Context {
        subscription: Some(subscription.to_string()),
    };
    let Ok(model) = super::load_model(&source, &ctx) else {
        return Ok(ExitCode::FAILURE);
    };
    let graph = crate::graph::build(&model);
    let reporter = connect::reporter();
    let live = match rt.block_on(plan::read::read(client, &graph, reporter.as_ref())) {
        Ok(l) => l,
        Err(e) => {
            connect::print_arm_error("could not read the live state", &e);
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut p = plan::assemble(&model, &graph, &source.text, &live, Options::default());
    p.read = plan::read::stamps(&graph, &live);
    let path = a.out.with_file_name("adopt.plan.json");
    fs_err::write(&path, format!("{}\n", serde_json::to_string_pretty(&p)?))?;
    super::plan::show(g, &p, &source)?;
    eprintln!(
        "Saved the adoption plan to {}. Review it above, then: gw apply -f {} {}",
        path.display(),
        a.out.display(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A kept policy's file is named after its API, a name Azure's answer gives: it must stay one
/// plain file under policies/ (APIM ids are letters, digits and hyphens anyway).
fn check_policy_files(policies: &[(String, String)]) -> anyhow::Result<()> {
    for (file, _) in policies {
        let name = file
            .strip_prefix("policies/")
            .and_then(|f| f.strip_suffix(".xml"))
            .unwrap_or_default();
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !plain {
            anyhow::bail!(
                "the live API `{name}` has a name gw will not use as a file name, so its policy cannot be kept beside the spec; nothing was written\nhint: APIM API ids are letters, digits and hyphens; check what the resource group holds"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_policy_files;

    #[test]
    fn policy_files_stay_plain_names_under_policies() {
        let ok = vec![("policies/inference-api.xml".to_string(), String::new())];
        assert!(check_policy_files(&ok).is_ok());
        for bad in [
            "policies/../../x.xml",
            "policies/.hidden.xml",
            "policies/a/b.xml",
            "policies/.xml",
        ] {
            let files = vec![(bad.to_string(), String::new())];
            assert!(check_policy_files(&files).is_err(), "{bad}");
        }
    }
}
