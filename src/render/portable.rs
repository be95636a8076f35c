//! What keeps the templates deployable into any subscription: ids of subscription-level
//! resources (built-in role definitions) are written as `subscriptionResourceId(...)`, never
//! as the literal `/subscriptions/<id>/...` the graph sends to ARM.

const ROLE_DEFINITIONS: &str = "Microsoft.Authorization/roleDefinitions";

/// The role's GUID, when `id` is `/subscriptions/<sub>/providers/Microsoft.Authorization/roleDefinitions/<guid>`.
pub fn role_definition_guid(id: &str) -> Option<&str> {
    let rest = id.strip_prefix("/subscriptions/")?;
    let (_sub, rest) = rest.split_once('/')?;
    let guid = rest.strip_prefix(&format!("providers/{ROLE_DEFINITIONS}/"))?;
    uuid::Uuid::parse_str(guid).ok().map(|_| guid)
}

/// `subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '<guid>')`, with strings
/// quoted by the target language's `quote`.
pub fn role_definition(guid: &str, quote: fn(&str) -> String) -> String {
    format!(
        "subscriptionResourceId({}, {})",
        quote(ROLE_DEFINITIONS),
        quote(guid)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_role_definition_ids() {
        let id = "/subscriptions/11111111-2222-3333-4444-555555555555/providers/Microsoft.Authorization/roleDefinitions/a97b65f3-24c7-4388-baec-2e87135dc908";
        assert_eq!(
            role_definition_guid(id),
            Some("a97b65f3-24c7-4388-baec-2e87135dc908")
        );
        assert_eq!(
            role_definition_guid("/subscriptions/x/resourceGroups/y"),
            None
        );
        assert_eq!(
            role_definition_guid(
                "/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/not-a-guid')]"
            ),
            None
        );
    }
}
