//! Adopting a grant that exists under another name (409 RoleAssignmentExists).

use super::written::Written;
use crate::arm::{ArmClient, ArmError, Live};
use crate::graph::Resource;
use serde_json::Value;

/// The same principal already holds the role on this scope under another name (409
/// RoleAssignmentExists): that assignment is the grant gw wants, so gw takes it. Its id comes
/// from the message when Azure names it, else from a list at the scope.
pub(super) async fn adopt(
    client: &ArmClient,
    r: &Resource,
    body: &Value,
    e: &ArmError,
) -> Result<Written, ArmError> {
    let scope =
        r.id.split("/providers/Microsoft.Authorization/")
            .next()
            .unwrap_or_default();
    let api = r.api_version();
    let named = match e {
        ArmError::Api(a) => existing_assignment_guid(&a.message),
        _ => None,
    };
    let found = match named {
        Some(guid) => {
            let id = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}");
            client.get(&id, api).await?.map(|l| (id, l))
        }
        None => None,
    };
    let found = match found {
        Some(f) => Some(f),
        None => client
            .list(
                &format!("{scope}/providers/Microsoft.Authorization/roleAssignments"),
                api,
            )
            .await?
            .into_iter()
            .find(|a| crate::plan::compute::same_grant(a, body))
            .and_then(|a| {
                let id = a.get("id")?.as_str()?.to_string();
                Some((
                    id,
                    Live {
                        body: a,
                        etag: None,
                    },
                ))
            }),
    };
    match found {
        Some((id, live)) => Ok(Written {
            live,
            adopted: Some(id),
            healed: false,
        }),
        None => Err(ArmError::InvalidResponse {
            method: "PUT".into(),
            url: r.id.clone(),
            message: format!(
                "{e}, but no assignment of that role to that principal was found at the scope"
            ),
        }),
    }
}

/// The GUID in "The ID of the existing role assignment is <32 hex>." (dashes restored).
fn existing_assignment_guid(message: &str) -> Option<String> {
    let tail = message.split("existing role assignment is").nth(1)?;
    let hex: String = tail
        .trim_start()
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    if hex.len() != 32 {
        return None;
    }
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_existing_assignment_id_from_azures_message() {
        let m = "The role assignment already exists. The ID of the existing role assignment is 0123456789abcdef0123456789abcdef.";
        assert_eq!(
            existing_assignment_guid(m).as_deref(),
            Some("01234567-89ab-cdef-0123-456789abcdef")
        );
        assert_eq!(
            existing_assignment_guid("The role assignment already exists."),
            None
        );
    }
}
