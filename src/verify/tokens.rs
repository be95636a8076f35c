//! The token limit check: a burst over an API's `tokens_per_minute` must be refused with the
//! gateway's 429 ("Token limit is exceeded") after about that many tokens. It runs after the
//! API's other probes: it spends the rest of the minute's tokens.

use super::probe::Probe;
use super::{Check, VerifyError};
use crate::model::Api;

/// The most requests the check sends: a limit it cannot reach with these is skipped.
pub const MAX_REQUESTS: u32 = 200;

/// The check for `api` (None without a rate), sending chat completions for `model`.
pub async fn limit_check(
    api: &Api,
    model: &str,
    probe: &Probe,
) -> Result<Option<Check>, VerifyError> {
    let Some(tpm) = api.token_limit.as_ref().and_then(|l| l.tokens_per_minute) else {
        return Ok(None);
    };
    let check = |ok: bool, detail: String| {
        Ok(Some(Check {
            name: "token limit".into(),
            ok,
            detail,
        }))
    };
    let (mut accepted, mut largest) = (0u64, 0u64);
    for n in 0..MAX_REQUESTS {
        let a = probe.inference(api, model).await?;
        let limited = a.status == 429
            && a.body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Token limit is exceeded"));
        if limited {
            // Earlier probes spent some of this minute's tokens, so the refusal may come
            // sooner; it may not come later than the limit plus one request's overshoot.
            return check(
                accepted <= tpm + largest,
                format!(
                    "refused (429) after {accepted} tokens in {n} requests; the limit is {tpm} a minute"
                ),
            );
        }
        if a.status != 200 {
            return check(
                false,
                format!(
                    "answered {} after {accepted} tokens, before the limit of {tpm}",
                    a.describe()
                ),
            );
        }
        let used = a.body["usage"]["total_tokens"].as_u64().unwrap_or(0);
        if n == 0 {
            // Not worth a long burst (real tokens cost money): skip a limit out of reach.
            let needed = match used {
                0 => u64::MAX,
                u => tpm / u,
            };
            if needed > u64::from(MAX_REQUESTS) {
                return check(
                    true,
                    format!(
                        "skipped: at {used} tokens a request, reaching {tpm} would take more than {MAX_REQUESTS} requests"
                    ),
                );
            }
        }
        accepted += used;
        largest = largest.max(used);
        if accepted > tpm + largest {
            return check(
                false,
                format!(
                    "not refused after {accepted} tokens in {} requests; the limit is {tpm} a minute",
                    n + 1
                ),
            );
        }
    }
    check(
        true,
        format!(
            "skipped: {MAX_REQUESTS} requests used {accepted} tokens, below the limit of {tpm} a minute"
        ),
    )
}
