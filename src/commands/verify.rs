//! `gw verify`: runs the probes and draws the report (text on stderr, `-o json` on stdout,
//! `--report FILE.html`). Exit 1 when anything did not match.

use crate::cli::{Global, Output, VerifyArgs};
use crate::verify::{self, GatewayTarget, VerifyOptions, report};
use std::process::ExitCode;

pub fn run(g: &Global, a: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let source = super::read_source(g)?;
    let rt = super::connect::runtime()?;
    let (model, url, key) = match &a.gateway {
        Some(url) => match super::load_model(&source, &super::offline_context(g)) {
            Ok(m) => (m, url.clone(), a.key.clone().filter(|k| !k.is_empty())),
            Err(code) => return Ok(code),
        },
        // No gateway named: the deployed APIM's, and a key of one of its subscriptions.
        None => {
            let client = super::connect::client(g)?;
            let found = rt.block_on(async {
                let model = match super::connect::load_online(g, &source).await {
                    Ok(m) => m,
                    Err(code) => return Ok(Err(code)),
                };
                let graph = crate::graph::build(&model);
                super::connect::locate_gateway(&client, &graph)
                    .await
                    .map(|(url, key)| {
                        Ok((model, url, a.key.clone().filter(|k| !k.is_empty()).or(key)))
                    })
            });
            match found {
                Ok(Ok(x)) => x,
                Ok(Err(code)) => return Ok(code),
                Err(e) => {
                    eprintln!("error: {e}");
                    eprintln!(
                        "hint: run `gw apply` first, or name a gateway with --gateway URL --key KEY (`gw serve --mock` prints a local one)"
                    );
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    };
    let opts = VerifyOptions {
        gateway: GatewayTarget {
            url: url.clone(),
            key: key.clone(),
        },
        requests: a.requests,
        down: a.down.clone(),
        api_version: a.api_version.clone(),
    };
    let key_note = key
        .as_deref()
        .map_or("no key".to_string(), super::serve::mask);
    eprintln!(
        "gw verify: {} against {url} ({key_note}, {} requests per burst)",
        source.name, a.requests
    );
    let r = rt.block_on(verify::verify(&model, &opts))?;
    if let Some(path) = &a.report {
        fs_err::write(path, report::html(&r))?;
        eprintln!("wrote {}", path.display());
    }
    if g.output == Output::Json {
        super::print_stdout(&format!("{}\n", serde_json::to_string_pretty(&r)?))?;
    } else {
        eprint!("{}", report::text(&r));
    }
    Ok(if r.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
