//! What every section of the graph builds with: the list resources are added to, the ARM ids
//! they share, gw's tags and role assignment names. The sections and `build` use it; it uses
//! none of them.

use super::kind::Kind;
use super::{OWNER_TAG, OWNER_VALUE, Resource};
use crate::model::Model;
use serde_json::{Map, Value, json};

/// A role assignment's name must be a GUID the caller picks. Derived from the scope and the
/// APIM service (not its principal id, which is unknown until the service exists), so every
/// run, and the Bicep render, use the same name and re-runs are idempotent.
pub fn role_assignment_name(account_id: &str, apim_id: &str, role: &str) -> String {
    let ns = uuid::Uuid::NAMESPACE_URL;
    let key = format!(
        "gw:{}|{}|{}",
        account_id.to_lowercase(),
        apim_id.to_lowercase(),
        role
    );
    uuid::Uuid::new_v5(&ns, key.as_bytes()).to_string()
}

pub(super) struct Builder {
    pub(super) out: Vec<Resource>,
}

impl Builder {
    pub(super) fn add(
        &mut self,
        address: String,
        kind: Kind,
        id: String,
        body: Value,
        depends_on: Vec<String>,
    ) {
        let name = id.rsplit('/').next().unwrap_or_default().to_string();
        self.out.push(Resource {
            address,
            kind,
            id,
            name,
            body,
            depends_on,
            written_by: None,
        });
    }
}

pub(super) fn tags(model: &Model) -> Value {
    let mut m: Map<String, Value> = model
        .resource_group
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    m.insert(OWNER_TAG.into(), json!(OWNER_VALUE));
    Value::Object(m)
}

/// The ARM ids every section needs.
pub(super) struct Ids {
    pub sub: String,
    pub rg: String,
    pub apim: String,
}
