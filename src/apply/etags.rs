//! ETags for conditional writes: APIM's list reads carry none, so apply reads each entity it
//! will change just before, in parallel.

use super::apim_child;
use crate::arm::{ArmClient, ArmError};
use crate::graph::Kind;
use crate::plan::{Action, Change, LiveResource, LiveState, Plan};

/// Reads, in parallel, the ETag of every APIM child entity apply will update or delete whose
/// ETag the plan's list reads did not give. An entity whose body changed since the plan read
/// it is refused here (as a 412 would be), before anything is written.
pub(super) async fn refresh_etags(
    client: &ArmClient,
    plan: &Plan,
    live: &mut LiveState,
) -> Vec<(String, ArmError)> {
    let wanted: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Update | Action::Delete | Action::Replace))
        .filter(|c| c.kind.is_some_and(apim_child))
        .filter(|c| live.get(&c.id).is_none_or(|l| l.etag.is_none()))
        .collect();
    let reads = wanted.iter().map(|c| {
        let api = c.kind.map(Kind::api_version).unwrap_or("2024-05-01");
        let query = c.kind.map(Kind::read_query).unwrap_or_default();
        client.get_with_query(&c.id, api, query)
    });
    let answers = futures::future::join_all(reads).await;
    let mut refused = Vec::new();
    for (c, answer) in wanted.into_iter().zip(answers) {
        match answer {
            Ok(Some(now)) => {
                let before = live.get(&c.id).map(|l| &l.body);
                if c.action != Action::Delete
                    && before.is_some_and(|b| {
                        crate::plan::body_digest(b) != crate::plan::body_digest(&now.body)
                    })
                {
                    refused.push((
                        c.address.clone(),
                        ArmError::InvalidResponse {
                            method: "GET".into(),
                            url: c.id.clone(),
                            message: "it changed since the plan read it; run `gw plan` again"
                                .into(),
                        },
                    ));
                    continue;
                }
                live.insert(LiveResource {
                    id: c.id.clone(),
                    body: now.body,
                    etag: now.etag,
                });
            }
            // Gone already: a delete has nothing to do, a write creates it.
            Ok(None) => {}
            Err(e) => refused.push((c.address.clone(), e)),
        }
    }
    refused
}
