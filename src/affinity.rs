//! Session affinity on a deployed pool: read it, change only `properties.pool.sessionAffinity`,
//! write it back with `If-Match` of what was read (a 412 means someone changed the pool in
//! between: read again and retry), then confirm from the answer that the setting stuck.

use crate::arm::{ArmClient, ArmError};
use crate::graph::Kind;
use serde::Serialize;
use serde_json::{Value, json};

/// How many times a concurrent change (412) is re-read and retried.
pub const MAX_ATTEMPTS: u32 = 5;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Member {
    pub backend: String,
    pub priority: Option<i64>,
    pub weight: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PoolState {
    pub name: String,
    /// The cookie name when affinity is on.
    pub affinity: Option<String>,
    pub members: Vec<Member>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Already as asked: nothing was written.
    Unchanged(PoolState),
    /// Written and confirmed.
    Changed(PoolState),
    /// Written, but the pool read back without it: this APIM instance does not have the
    /// feature yet.
    NotApplied(PoolState),
}

#[derive(Debug, thiserror::Error)]
pub enum AffinityError {
    #[error("pool `{0}` is not deployed")]
    NotDeployed(String),
    #[error("`{0}` is not a backend pool")]
    NotAPool(String),
    #[error("the pool kept changing while gw tried to update it ({0} attempts)")]
    Contended(u32),
    /// Without an ETag a write could only be unconditional (`If-Match: *`), which would
    /// overwrite a change made since the read: gw does not guess.
    #[error("APIM answered the pool `{0}` without an ETag, so it cannot be updated safely")]
    NoEtag(String),
    #[error(transparent)]
    Arm(#[from] ArmError),
}

/// The cookie a pool body names, if affinity is on.
pub fn cookie_of(body: &Value) -> Option<String> {
    let id = body.pointer("/properties/pool/sessionAffinity/sessionId")?;
    (id.get("source")?.as_str()?.eq_ignore_ascii_case("cookie"))
        .then(|| id.get("name")?.as_str().map(str::to_string))?
}

pub fn state_of(name: &str, body: &Value) -> PoolState {
    let members = body
        .pointer("/properties/pool/services")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| Member {
                    backend: s
                        .get("id")
                        .and_then(Value::as_str)
                        .and_then(|id| id.rsplit('/').next())
                        .unwrap_or_default()
                        .to_string(),
                    priority: s.get("priority").and_then(Value::as_i64),
                    weight: s.get("weight").and_then(Value::as_i64),
                })
                .collect()
        })
        .unwrap_or_default();
    PoolState {
        name: name.to_string(),
        affinity: cookie_of(body),
        members,
    }
}

/// The body to write back: what was read, minus what the server owns, with only the
/// affinity changed.
fn with_affinity(read: &Value, cookie: Option<&str>) -> Value {
    let mut body =
        json!({ "properties": read.get("properties").cloned().unwrap_or_else(|| json!({})) });
    if let Some(props) = body["properties"].as_object_mut() {
        props.remove("provisioningState");
    }
    match cookie {
        Some(c) => {
            body["properties"]["pool"]["sessionAffinity"] =
                json!({ "sessionId": { "source": "cookie", "name": c } })
        }
        None => {
            if let Some(pool) = body["properties"]["pool"].as_object_mut() {
                pool.remove("sessionAffinity");
            }
        }
    }
    body
}

pub async fn read(
    client: &ArmClient,
    pool_id: &str,
    name: &str,
) -> Result<PoolState, AffinityError> {
    let live = client
        .get(pool_id, Kind::Pool.api_version())
        .await?
        .ok_or_else(|| AffinityError::NotDeployed(name.to_string()))?;
    Ok(state_of(name, &live.body))
}

/// Sets (`Some(cookie)`) or removes (`None`) affinity on the pool at `pool_id`.
pub async fn set(
    client: &ArmClient,
    pool_id: &str,
    name: &str,
    cookie: Option<&str>,
) -> Result<Outcome, AffinityError> {
    let api = Kind::Pool.api_version();
    for _ in 0..MAX_ATTEMPTS {
        let live = client
            .get(pool_id, api)
            .await?
            .ok_or_else(|| AffinityError::NotDeployed(name.to_string()))?;
        if live
            .body
            .pointer("/properties/type")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.eq_ignore_ascii_case("pool"))
        {
            return Err(AffinityError::NotAPool(name.to_string()));
        }
        let before = state_of(name, &live.body);
        if before.affinity.as_deref() == cookie {
            return Ok(Outcome::Unchanged(before));
        }
        let body = with_affinity(&live.body, cookie);
        // Only the ETag we read protects a concurrent edit; `*` would overwrite whatever is there.
        let Some(if_match) = live.etag.as_deref() else {
            return Err(AffinityError::NoEtag(name.to_string()));
        };
        match client.put(pool_id, api, &body, Some(if_match)).await {
            Ok(_) => {
                // Read it back: an instance without the feature accepts the write and drops it.
                let after = client
                    .get(pool_id, api)
                    .await?
                    .ok_or_else(|| AffinityError::NotDeployed(name.to_string()))?;
                let after = state_of(name, &after.body);
                return Ok(if after.affinity.as_deref() == cookie {
                    Outcome::Changed(after)
                } else {
                    Outcome::NotApplied(after)
                });
            }
            Err(e) if e.status() == Some(412) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AffinityError::Contended(MAX_ATTEMPTS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_affinity_changes() {
        let read = json!({ "id": "/x", "name": "p", "type": "Microsoft.ApiManagement/service/backends", "properties": { "type": "Pool", "description": "d", "pool": { "services": [ { "id": "/s/backends/a", "priority": 1, "weight": 50 } ] } } });
        let on = with_affinity(&read, Some("C"));
        assert_eq!(
            on["properties"]["pool"]["services"],
            read["properties"]["pool"]["services"]
        );
        assert_eq!(on["properties"]["description"], "d");
        assert_eq!(cookie_of(&on).as_deref(), Some("C"));
        assert!(
            on.get("id").is_none(),
            "server-owned fields are not sent back"
        );
        let off = with_affinity(&on, None);
        assert_eq!(cookie_of(&off), None);
        assert_eq!(
            off["properties"]["pool"]["services"],
            read["properties"]["pool"]["services"]
        );
        let s = state_of("p", &on);
        assert_eq!(
            s.members,
            vec![Member {
                backend: "a".into(),
                priority: Some(1),
                weight: Some(50)
            }]
        );
    }
}
