//! `gw serve`: runs the local gateway until Ctrl-C. Addresses go to stderr (and, with
//! `-o json`, as one document on stdout so a script can pick up the ports).

use crate::cli::{Global, Output, ServeArgs};
use crate::serve::{self, RequestLog, ServeError, ServeOptions};
use std::process::ExitCode;
use std::sync::Arc;

pub fn run(g: &Global, a: &ServeArgs) -> anyhow::Result<ExitCode> {
    let source = super::read_source(g)?;
    let model = match super::load_model(&source, &super::offline_context(g)) {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    // Real Foundry endpoints need the real account names, so the real subscription.
    let real = !a.mock
        && model
            .foundries
            .iter()
            .any(|f| !a.backend.iter().any(|(n, _)| n == &f.name));
    let model = if real && !model.subscription_known {
        match super::connect::runtime()?.block_on(super::connect::load_online(g, &source)) {
            Ok(m) => m,
            Err(code) => return Ok(code),
        }
    } else {
        model
    };
    // Fail now, not on the first request, when the credential cannot give a token.
    let tokens = match real
        .then(|| super::connect::FoundryTokens::new(g))
        .transpose()?
    {
        Some(t) => match super::connect::runtime()?.block_on(t.check()) {
            Ok(()) => Some(Arc::new(t) as Arc<dyn serve::TokenProvider>),
            Err(e) => {
                eprintln!(
                    "error: gw serve forwards to the real Foundry endpoints (no --mock, no --backend for every foundry) and needs an Entra token: {e}"
                );
                eprintln!(
                    "hint: {}; or try the design locally with `gw serve --mock`",
                    e.hint().unwrap_or_else(|| "run `az login`".into())
                );
                return Ok(ExitCode::FAILURE);
            }
        },
        None => None,
    };
    let on_request: Option<serve::RequestCallback> = g
        .verbose
        .then(|| Arc::new(|l: &RequestLog| eprintln!("{}", log_line(l))) as serve::RequestCallback);
    // An empty GW_SERVE_KEY is no key (and then the listen address must be loopback).
    let key = a.key.clone().filter(|k| !k.is_empty());
    let options = ServeOptions {
        listen: a.listen,
        mock: a.mock,
        mock_fail: a.mock_fail.clone(),
        backends: a.backend.iter().cloned().collect(),
        key: key.clone(),
        insecure: a.insecure,
        seed: a.seed,
        on_request,
        // Foundries without a mock or a --backend are called for real, with an Entra token.
        token_provider: tokens,
        ..ServeOptions::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let handle = serve::start(model.clone(), options)
            .await
            .map_err(with_hint)?;
        let url = handle.url();
        eprintln!("gw serve: {} on {url}", source.name);
        if key.is_none() && !serve::is_loopback(handle.addr.ip()) {
            eprintln!(
                "warning: listening on {} without a key (--insecure): anyone who can reach it can use the gateway and its admin endpoints; set GW_SERVE_KEY to require a key",
                handle.addr
            );
        }
        if !handle.with_token.is_empty() {
            eprintln!(
                "  forwarding to Azure AI Foundry ({}) with your own Entra token: every caller of this gateway spends it{}",
                handle.with_token.join(", "),
                if key.is_some() { "" } else { " (so it listens on loopback only without a key)" }
            );
        }
        let key_note = match &key {
            Some(k) => format!(
                "subscription key {} required in api-key or Authorization: Bearer",
                mask(k)
            ),
            None => "any subscription key accepted".to_string(),
        };
        for (api, base) in serve::api_urls(&model, &url) {
            eprintln!("  API {api}: {base}  ({key_note})");
        }
        if let Some(m) = handle.mocks() {
            for (name, st) in m.status() {
                let fail = st.fail.map_or(String::new(), |f| {
                    format!(
                        "  [failing: {}{}{}]",
                        f.status,
                        f.retry_after.map_or(String::new(), |s| format!(", Retry-After {s}s")),
                        if f.rate < 1.0 { format!(", rate {}", f.rate) } else { String::new() }
                    )
                });
                eprintln!("  mock {name} ({}): {}{fail}", st.region, st.address);
            }
            // The key itself is never printed: the hint reads it from the environment.
            let auth = if key.is_some() {
                " -H \"api-key: $GW_SERVE_KEY\""
            } else {
                ""
            };
            eprintln!(
                "  change a mock at run time: curl -X POST {url}{p}/mock/FOUNDRY/fail{auth} -H 'content-type: application/json' -d '{{\"status\":429,\"retry_after\":5}}'  (DELETE to heal; GET {url}{p}/breakers)",
                p = serve::ADMIN_PREFIX
            );
        }
        for (name, u) in &a.backend {
            eprintln!("  backend {name}: {u}");
        }
        if g.output == Output::Json {
            let doc = serde_json::json!({
                "url": url,
                "apis": serve::api_urls(&model, &url).into_iter().collect::<std::collections::BTreeMap<_, _>>(),
                "mocks": handle.mock_addrs.iter().map(|(k, v)| (k.clone(), format!("http://{v}"))).collect::<std::collections::BTreeMap<_, _>>(),
            });
            super::print_stdout(&format!("{doc}\n"))?;
        }
        eprintln!("Press Ctrl-C to stop.");
        tokio::signal::ctrl_c().await?;
        eprintln!("gw serve: stopping");
        handle.stop().await;
        Ok(ExitCode::SUCCESS)
    })
}

fn with_hint(e: ServeError) -> anyhow::Error {
    let hint = match &e {
        ServeError::OpenWithoutKey { .. } => Some(
            "require a key (set GW_SERVE_KEY, or --key KEY), listen on loopback (--listen 127.0.0.1:8080), or accept the risk with --insecure",
        ),
        ServeError::TokenRelay { .. } => Some(
            "require a key (set GW_SERVE_KEY, or --key KEY) or listen on loopback (--listen 127.0.0.1:8080); --insecure does not lift this, use --mock or --backend to share a gateway without your token",
        ),
        ServeError::NoBackend(_) => {
            Some("add --mock for built-in backends, or --backend NAME=URL for each foundry")
        }
        ServeError::FailWithoutMock => Some("add --mock"),
        ServeError::Bind { .. } => {
            Some("choose another address with --listen, e.g. --listen 127.0.0.1:0")
        }
        _ => None,
    };
    match hint {
        Some(h) => anyhow::anyhow!("{e}\nhint: {h}"),
        None => anyhow::Error::new(e),
    }
}

/// `POST /inference/... [gpt-4o-mini] -> foundry1 429 (tripped 10s), foundry2 200 => 200 in 3 ms`
fn log_line(l: &RequestLog) -> String {
    let attempts = l
        .attempts
        .iter()
        .map(|a| {
            let status = a
                .status
                .map_or("unreachable".to_string(), |s| s.to_string());
            let trip = a
                .tripped_for_secs
                .map_or(String::new(), |s| format!(" (tripped {s}s)"));
            format!("{} {status}{trip}", a.foundry)
        })
        .collect::<Vec<_>>()
        .join(", ");
    let model = l
        .model
        .as_deref()
        .map_or(String::new(), |m| format!(" [{m}]"));
    let via = if attempts.is_empty() {
        "gateway".to_string()
    } else {
        attempts
    };
    format!(
        "{} {}{model} -> {via} => {} in {} ms",
        l.method, l.path, l.status, l.elapsed_ms
    )
}

/// Keys shorter than this are shown with no character at all: four of a short key are too
/// large a share of it.
const MASK_MIN_LEN: usize = 16;

/// A secret as it may be shown: `****` and its last four characters (none for a short key).
pub fn mask(secret: &str) -> String {
    let n = secret.chars().count();
    if n < MASK_MIN_LEN {
        return "****".into();
    }
    let tail: String = secret.chars().skip(n - 4).collect();
    format!("****{tail}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks_all_but_the_last_four_of_a_long_key_and_all_of_a_short_one() {
        assert_eq!(super::mask("0123456789abcdef"), "****cdef");
        assert_eq!(super::mask("0123456789abcde"), "****");
        assert_eq!(super::mask("abc"), "****");
        assert_eq!(super::mask(""), "****");
    }
}
