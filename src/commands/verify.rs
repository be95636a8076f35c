//! `gw verify`: runs the probes and draws the report (text on stderr, `-o json` on stdout,
//! `--report FILE.html`). Exit 1 when anything did not match.

use crate::cli::{Global, Output, VerifyArgs};
use crate::verify::{self, GatewayTarget, VerifyOptions, report};
use std::process::ExitCode;

pub fn run(g: &Global, a: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let source = super::read_source(g)?;
    let model = match super::load_model(&source, &super::offline_context(g)) {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    // Without --gateway the deployed APIM is found through ARM (`verify::GatewayLocator`),
    // which the ARM client provides; until it is wired in here, the gateway is named by hand.
    let Some(url) = &a.gateway else {
        anyhow::bail!(
            "give --gateway URL and --key KEY\nhint: for a local gateway, `gw serve --mock` prints its URL (http://127.0.0.1:8080 by default)"
        );
    };
    let opts = VerifyOptions {
        gateway: GatewayTarget {
            url: url.clone(),
            key: a.key.clone(),
        },
        requests: a.requests,
        down: a.down.clone(),
        api_version: a.api_version.clone(),
    };
    let key_note = a
        .key
        .as_deref()
        .map_or("no key".to_string(), super::serve::mask);
    eprintln!(
        "gw verify: {} against {url} ({key_note}, {} requests per burst)",
        source.name, a.requests
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
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
