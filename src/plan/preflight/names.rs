//! Global names gw would claim: a Foundry account's custom subdomain (Azure answers
//! `CustomDomainInUse` otherwise) and the APIM service name. Only for what gw would create:
//! a live resource holds its own name, and a name held by the user's own soft-deleted
//! resource is the restore (or purge) case plan already shows.

use super::{Answers, At, Input, unavailable};
use crate::plan::types::{Finding, Severity};
use serde_json::Value;

fn exists(input: &Input<'_>, address: &str) -> bool {
    input
        .graph
        .get(address)
        .is_some_and(|r| input.live.get(&r.id).is_some())
}

fn soft_deleted(input: &Input<'_>, name: &str) -> bool {
    input.live.soft_deleted.contains_key(&name.to_lowercase())
}

pub(super) fn check(input: &Input<'_>, answers: &Answers) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, f) in input.model.foundries.iter().enumerate() {
        if exists(input, &format!("foundries.{}", f.name)) || soft_deleted(input, &f.account) {
            continue;
        }
        let at = At {
            file: input.file,
            loc: f.name_loc,
            path: format!("foundries[{i}].name"),
            region: Some(&f.location),
        };
        match answers.domains.get(&f.account) {
            Some(Ok(v)) if v.get("isSubdomainAvailable") == Some(&Value::Bool(false)) => {
                let reason = v.get("reason").and_then(Value::as_str).unwrap_or_default();
                out.push(at.finding(
                    Severity::Error,
                    "subdomain_taken",
                    format!(
                        "the custom subdomain `{}` is already used by another resource in Azure (subdomains are global){}",
                        f.account,
                        if reason.is_empty() { String::new() } else { format!(": {reason}") }
                    ),
                    Some("rename the foundry or change `naming.suffix`; if it is an account of yours deleted in the last 48 hours, purge it first".into()),
                ));
            }
            Some(Err(e)) => out.push(unavailable(
                input.file,
                &format!("whether the subdomain {} is free", f.account),
                e,
                None,
            )),
            _ => {}
        }
    }
    let apim = &input.model.apim;
    if !exists(input, "apim") && !soft_deleted(input, &apim.service) {
        match &answers.apim {
            Ok(v) if v.get("nameAvailable") == Some(&Value::Bool(false)) => {
                let message = v.get("message").and_then(Value::as_str).unwrap_or_default();
                let reason = v
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("AlreadyExists");
                out.push(
                    At {
                        file: input.file,
                        loc: apim.name_loc,
                        path: "apim.name".into(),
                        region: Some(&apim.location),
                    }
                    .finding(
                        Severity::Error,
                        "apim_name_taken",
                        format!(
                            "the API Management name `{}` is not available ({reason}){}",
                            apim.service,
                            if message.is_empty() { String::new() } else { format!(": {message}") }
                        ),
                        Some("APIM names are global (NAME.azure-api.net): rename `apim.name` or change `naming.suffix`".into()),
                    ),
                );
            }
            Err(e) => out.push(unavailable(
                input.file,
                &format!("whether the APIM name {} is free", apim.service),
                e,
                None,
            )),
            _ => {}
        }
    }
    out
}
