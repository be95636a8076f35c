//! Everything the emulator does differently per resource type, in one place: which writes are
//! long-running and how they say so, which fields the server owns, ETags, soft delete, and
//! how policies read back. `ty` is always the lower-cased type.

use serde_json::{Map, Value, json};

use super::ids;
use crate::support::fake_az::FAKE_TENANT;

pub const RESOURCE_GROUPS: &str = "microsoft.resources/resourcegroups";
pub const ACCOUNTS: &str = "microsoft.cognitiveservices/accounts";
pub const DEPLOYMENTS: &str = "microsoft.cognitiveservices/accounts/deployments";
pub const APIM: &str = "microsoft.apimanagement/service";
pub const APIS: &str = "microsoft.apimanagement/service/apis";
pub const OPERATIONS: &str = "microsoft.apimanagement/service/apis/operations";
pub const POLICY: &str = "microsoft.apimanagement/service/apis/policies";
pub const ROLE_ASSIGNMENTS: &str = "microsoft.authorization/roleassignments";
pub const DELETED_ACCOUNT: &str =
    "microsoft.cognitiveservices/locations/resourcegroups/deletedaccounts";
pub const DELETED_SERVICE: &str = "microsoft.apimanagement/locations/deletedservices";
pub const DELETED_ACCOUNTS_LIST: &str = "microsoft.cognitiveservices/deletedaccounts";
pub const DELETED_SERVICES_LIST: &str = "microsoft.apimanagement/deletedservices";

/// How the emulator answers a write: at once, or as a long-running operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lro {
    Sync,
    /// 201 (PUT) or 202 (DELETE) with `Azure-AsyncOperation`.
    AsyncOperation,
    /// PUT: 201/200 with `Location`; DELETE: 202 with `Location`.
    Location,
}

/// Which header an APIM service write answers with (Azure has used both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApimLroHeader {
    Location,
    AsyncOperation,
}

pub fn put_lro(ty: &str, apim: ApimLroHeader) -> Lro {
    match ty {
        ACCOUNTS | DEPLOYMENTS => Lro::AsyncOperation,
        APIM if apim == ApimLroHeader::AsyncOperation => Lro::AsyncOperation,
        APIM | APIS => Lro::Location,
        _ => Lro::Sync,
    }
}

pub fn delete_lro(ty: &str) -> Lro {
    match ty {
        RESOURCE_GROUPS | ACCOUNTS | APIM | DELETED_ACCOUNT | DELETED_SERVICE => Lro::Location,
        DEPLOYMENTS => Lro::AsyncOperation,
        _ => Lro::Sync,
    }
}

/// The provisioningState a resource shows while its write runs.
pub fn in_progress_state(ty: &str) -> &'static str {
    match ty {
        APIM => "Activating",
        _ => "Creating",
    }
}

/// Types that carry ETags (and honour If-Match).
pub fn has_etag(ty: &str) -> bool {
    ty.starts_with("microsoft.apimanagement/service") || ty == ACCOUNTS
}

/// Types whose body carries its ETag (APIM child entities send it only as a header), as
/// the REST specs define their responses.
pub fn etag_in_body(ty: &str) -> bool {
    matches!(ty, ACCOUNTS | DEPLOYMENTS | APIM)
}

/// Types whose responses have `systemData` in the REST specs gw uses.
fn has_system_data(ty: &str) -> bool {
    matches!(ty, ACCOUNTS | DEPLOYMENTS | APIM)
}

/// Types whose `properties` have no `provisioningState` in those specs.
fn no_provisioning_state(ty: &str) -> bool {
    ty == ROLE_ASSIGNMENTS
        || matches!(ty, POLICY)
        || ty == "microsoft.apimanagement/service/backends"
        || ty == "microsoft.apimanagement/service/subscriptions"
        || super::insights::no_provisioning_state(ty)
}

/// Types whose DELETE is a soft delete.
pub fn soft_deleted(ty: &str) -> bool {
    ty == ACCOUNTS || ty == APIM
}

/// The id a soft-deleted account or service lives under.
pub fn deleted_id(ty: &str, id: &str, body: &Value) -> String {
    let sub = ids::subscription(id);
    let name = ids::name(id);
    let location = body
        .get("location")
        .and_then(Value::as_str)
        .unwrap_or("eastus")
        .replace(' ', "")
        .to_ascii_lowercase();
    if ty == ACCOUNTS {
        let rg = ids::resource_group(id).unwrap_or_default();
        format!(
            "/subscriptions/{sub}/providers/Microsoft.CognitiveServices/locations/{location}/resourceGroups/{rg}/deletedAccounts/{name}"
        )
    } else {
        format!(
            "/subscriptions/{sub}/providers/Microsoft.ApiManagement/locations/{location}/deletedservices/{name}"
        )
    }
}

/// The 409 a create gets while a soft-deleted namesake (`id`) exists, worded as Azure does
/// (catalogue §5: azure-cli #18146; §10: azurerm #11580; the APIM status is unconfirmed).
pub fn soft_delete_conflict(ty: &str, id: &str) -> (&'static str, String) {
    if ty == ACCOUNTS {
        (
            "FlagMustBeSetForRestore",
            format!(
                "An existing resource with ID '{id}' has been soft-deleted. To restore the resource, you must specify 'restore' to be 'true' in the property. If you don't want to restore existing resource, please purge it first."
            ),
        )
    } else {
        // unconfirmed: the status (azurerm traces show none); we answer 409.
        (
            "ServiceAlreadyExistsInSoftDeletedState",
            format!(
                "Api service {} was soft-deleted. In order to create the new service with the same name, you have to either undelete the service or purge it. See https://aka.ms/apimsoftdelete.",
                ids::name(id)
            ),
        )
    }
}

/// APIM entities whose DELETE and PATCH declare `If-Match` required in the REST specs
/// (apimapis, apimbackends, apimsubscriptions, apimnamedvalues, apimloggers,
/// apimdiagnostics). Policies: the public spec's ApiPolicy_Delete/Policy_Delete take
/// `IfMatchRequiredParameter` too (not in the saved subset; unconfirmed here).
pub fn if_match_required(ty: &str) -> bool {
    let Some(child) = ty.strip_prefix("microsoft.apimanagement/service/") else {
        return false;
    };
    matches!(
        child,
        "apis"
            | "apis/operations"
            | "apis/policies"
            | "apis/operations/policies"
            | "policies"
            | "backends"
            | "subscriptions"
            | "namedvalues"
            | "loggers"
            | "diagnostics"
            | "apis/diagnostics"
    )
}

/// The body the server stores for a write: the caller's fields plus those Azure owns.
pub fn decorate(
    ty: &str,
    type_name: &str,
    id: &str,
    desired: &Value,
    state: &str,
    incarnation: u32,
) -> Value {
    let mut body = match desired {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    for owned in ["id", "name", "type", "etag", "systemData"] {
        body.remove(owned);
    }
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    out.insert("name".into(), json!(ids::name(id)));
    out.insert("type".into(), json!(type_name));
    out.extend(body);
    if has_system_data(ty) {
        out.insert(
            "systemData".into(),
            json!({"createdBy": "emulator", "createdByType": "Application", "createdAt": "2025-01-01T00:00:00Z"}),
        );
    }
    let props = out
        .entry("properties")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(props) = props else {
        return Value::Object(out);
    };
    props.remove("restore");
    if !no_provisioning_state(ty) {
        props.insert("provisioningState".into(), json!(state));
    }
    let name = ids::name(id).to_string();
    match ty {
        ACCOUNTS => {
            let sub = props
                .get("customSubDomainName")
                .and_then(Value::as_str)
                .unwrap_or(&name)
                .to_string();
            props.insert(
                "endpoint".into(),
                json!(format!("https://{sub}.cognitiveservices.azure.com/")),
            );
        }
        APIM => {
            props.insert(
                "gatewayUrl".into(),
                json!(format!("https://{name}.azure-api.net")),
            );
            props
                .entry("publicNetworkAccess")
                .or_insert(json!("Enabled"));
            props.entry("virtualNetworkType").or_insert(json!("None"));
            props.entry("platformVersion").or_insert(json!("stv2"));
        }
        APIS => {
            // Write-only: an import's document is never read back.
            props.remove("format");
            props.remove("value");
            props.entry("isCurrent").or_insert(json!(true));
            props.entry("apiRevision").or_insert(json!("1"));
            props.entry("subscriptionRequired").or_insert(json!(true));
        }
        ROLE_ASSIGNMENTS => {
            props.insert("scope".into(), json!(super::rbac::scope_of(id)));
        }
        _ => super::insights::decorate(ty, id, props),
    }
    if (ty == ACCOUNTS || ty == APIM)
        && let Some(identity) = out.get_mut("identity").and_then(Value::as_object_mut)
        && identity
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.contains("SystemAssigned"))
    {
        identity.insert("principalId".into(), json!(principal_id(id, incarnation)));
        identity.insert("tenantId".into(), json!(FAKE_TENANT));
    }
    Value::Object(out)
}

/// A stable principal id per resource, so re-applies see the same identity; a resource
/// re-created after a purge (a new incarnation) gets a new one, as Azure's new managed
/// identity would.
pub fn principal_id(id: &str, incarnation: u32) -> String {
    let mut seed = id.to_ascii_lowercase();
    if incarnation > 0 {
        seed.push_str(&format!("#{incarnation}"));
    }
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, seed.as_bytes()).to_string()
}

/// What a GET shows: policies read back re-serialised (`xml`) unless `format=rawxml` is asked.
pub fn read_view(ty: &str, stored: &Value, query: &str) -> Value {
    if ty != POLICY || query_has(query, "format", "rawxml") {
        return stored.clone();
    }
    let mut view = stored.clone();
    if let Some(props) = view.get_mut("properties").and_then(Value::as_object_mut) {
        let raw = props
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // APIM re-indents with tabs and CRLF; enough to differ from what was sent.
        let reserialised = raw
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\r\n\t");
        props.insert("value".into(), json!(reserialised));
        props.insert("format".into(), json!("xml"));
    }
    view
}

pub fn query_has(query: &str, key: &str, value: &str) -> bool {
    query.split('&').any(|kv| {
        kv.split_once('=')
            .is_some_and(|(k, v)| k.eq_ignore_ascii_case(key) && v.eq_ignore_ascii_case(value))
    })
}

/// The answer to a POST action, if the emulator knows it: subscription keys, account keys.
pub fn action(ty: &str, id: &str, action: &str) -> Option<Value> {
    let key = |which: &str| {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{}#{which}", id.to_ascii_lowercase()));
        digest
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    match (ty, action.to_ascii_lowercase().as_str()) {
        ("microsoft.apimanagement/service/subscriptions", "listsecrets") => Some(json!({
            "primaryKey": key("primary"),
            "secondaryKey": key("secondary"),
        })),
        (ACCOUNTS, "listkeys") => Some(json!({"key1": key("key1"), "key2": key("key2")})),
        _ => None,
    }
}

/// Field names whose values the journal never keeps.
pub const SECRET_FIELDS: [&str; 4] = ["primaryKey", "secondaryKey", "key1", "key2"];
