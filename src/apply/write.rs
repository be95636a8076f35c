//! One resource's write: repairs, replacements, PATCHes of top-level resources, conditional
//! PUTs of APIM entities, the wait for an account to settle, and the role-assignment retries.

use super::adopt::adopt;
use super::written::Written;
use super::{Options, apim_child, is_repair};
use crate::arm::{ArmClient, ArmError, Live};
use crate::graph::refs;
use crate::graph::{Kind, Resource};
use crate::plan::{Action, Change, SoftDeleteAction};
use crate::report::{Event, Reporter};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn unknown_value(r: &Resource, body: &Value) -> Option<ArmError> {
    let mut left = Vec::new();
    refs::collect(body, &mut left);
    left.first().map(|x| {
        let of = match x {
            refs::Ref::Id { of } | refs::Ref::Output { of, .. } => of.clone(),
        };
        ArmError::InvalidResponse {
            method: "PUT".into(),
            url: r.id.clone(),
            message: format!("a value it needs from {of} is not known (was {of} created?)"),
        }
    })
}

/// What every write of one apply shares: the client, where events go, the settings.
pub(super) struct Run<'a> {
    pub(super) client: &'a ArmClient,
    pub(super) reporter: &'a dyn Reporter,
    pub(super) opts: &'a Options,
}

pub(super) async fn write(
    run: &Run<'_>,
    r: &Resource,
    c: &Change,
    body: Value,
    etag: Option<String>,
) -> Result<Written, ArmError> {
    let client = run.client;
    if let Some(e) = unknown_value(r, &body) {
        return Err(e);
    }
    let api = r.api_version();
    if is_repair(c) && r.kind == Kind::Account && c.diff.is_empty() {
        // An account reported Failed may turn Succeeded on its own (azure-behaviours §3):
        // look once more before writing it again.
        // (With fields to change too, it is written anyway.)
        if let Some(now) = client.get(&r.id, api).await?
            && crate::plan::compute::failed_state(&now.body).is_none()
        {
            let now = wait_succeeded(run, r, now).await?;
            return Ok(Written {
                live: now,
                adopted: None,
                healed: true,
            });
        }
    }
    if c.action == Action::Replace {
        let if_match = etag.as_deref().filter(|_| apim_child(r.kind));
        client.delete(&r.id, api, if_match).await?;
    }
    let written = put_or_patch(run, r, c, body, etag).await?;
    if r.kind == Kind::Account {
        let live = wait_succeeded(run, r, written.live).await?;
        return Ok(Written { live, ..written });
    }
    Ok(written)
}

/// Waits until an account reads `Succeeded`: ARM can report its operation done while the
/// account is still `Accepted`, and its children are refused until it settles (400
/// AccountProvisioningStateInvalid). A Failed account is an error.
async fn wait_succeeded(run: &Run<'_>, r: &Resource, mut now: Live) -> Result<Live, ArmError> {
    let Run {
        client,
        reporter,
        opts,
    } = *run;
    let start = Instant::now();
    loop {
        let state = now
            .body
            .pointer("/properties/provisioningState")
            .and_then(Value::as_str)
            .unwrap_or("Succeeded")
            .to_string();
        if state.eq_ignore_ascii_case("Succeeded") {
            return Ok(now);
        }
        if crate::plan::compute::failed_state(&now.body).is_some()
            || start.elapsed() > opts.settle_wait
        {
            return Err(ArmError::InvalidResponse {
                method: "GET".into(),
                url: r.id.clone(),
                message: format!(
                    "the account reads provisioningState {state} after its write completed"
                ),
            });
        }
        reporter.event(Event::Retrying {
            address: r.address.clone(),
            why: format!("the account reads {state}; waiting for Succeeded"),
        });
        tokio::time::sleep(Duration::from_secs(5).min(opts.max_retry_wait)).await;
        now =
            client
                .get(&r.id, r.api_version())
                .await?
                .ok_or_else(|| ArmError::InvalidResponse {
                    method: "GET".into(),
                    url: r.id.clone(),
                    message: "the account disappeared while gw waited for it".into(),
                })?;
    }
}

async fn put_or_patch(
    run: &Run<'_>,
    r: &Resource,
    c: &Change,
    body: Value,
    etag: Option<String>,
) -> Result<Written, ArmError> {
    let Run {
        client,
        reporter,
        opts,
    } = *run;
    let api = r.api_version();
    if let Some(sd) = &c.soft_deleted {
        match sd.action {
            // Frees the name now rather than in 48 hours.
            SoftDeleteAction::Purge => client.delete(&sd.deleted_id, api, None).await?,
            SoftDeleteAction::Restore => {
                let mut restore = body.clone();
                restore["properties"]["restore"] = json!(true);
                client.put(&r.id, api, &restore, None).await?;
            }
        }
    }
    // APIM child entities take If-Match: an update then fails with 412 rather than
    // overwrite a change made since the plan read it.
    let if_match = if c.action == Action::Update && apim_child(r.kind) {
        etag.as_deref()
    } else {
        None
    };
    // Top-level resources may carry settings made elsewhere (a VNet, custom domains, network
    // rules) that a PUT of gw's fields alone would reset: an update changes only what gw
    // declares. Location and kind cannot change in place, so they are not sent. A repair is
    // a full PUT: the operation that failed must run again.
    if c.action == Action::Update
        && !is_repair(c)
        && matches!(r.kind, Kind::ResourceGroup | Kind::Account | Kind::Apim)
    {
        let mut patch = body;
        if let Some(o) = patch.as_object_mut() {
            o.remove("location");
            o.remove("kind");
        }
        return Ok(client.patch(&r.id, api, &patch, None).await?.into());
    }
    match r.kind {
        Kind::Policy => Ok(client
            .put_with_read_query(&r.id, api, &body, if_match, r.kind.read_query())
            .await?
            .into()),
        Kind::RoleAssignment => {
            // A new identity takes a while to reach Entra ID's replicas.
            let start = Instant::now();
            let mut wait = Duration::from_secs(5);
            let result = loop {
                match client.put(&r.id, api, &body, None).await {
                    Err(e)
                        if e.code() == Some("PrincipalNotFound")
                            && start.elapsed() < opts.principal_wait =>
                    {
                        reporter.event(Event::Retrying {
                            address: r.address.clone(),
                            why: "the APIM identity has not replicated yet".into(),
                        });
                        tokio::time::sleep(wait.min(opts.max_retry_wait)).await;
                        wait = (wait * 2).min(Duration::from_secs(30));
                    }
                    other => break other,
                }
            };
            match result {
                Ok(l) => Ok(l.into()),
                Err(e) if e.code() == Some("RoleAssignmentExists") => {
                    adopt(client, r, &body, &e).await
                }
                Err(e) => Err(e),
            }
        }
        _ => Ok(client.put(&r.id, api, &body, if_match).await?.into()),
    }
}
