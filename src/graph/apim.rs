//! The APIM service, its identity's right to call each foundry's models, and its
//! subscriptions (keys).

use super::builder::{Builder, Ids, role_assignment_name, tags};
use super::refs::output_of;
use super::{COGNITIVE_SERVICES_USER, Kind};
use crate::model::Model;
use serde_json::json;

pub(super) fn build(b: &mut Builder, model: &Model, ids: &Ids) {
    // The APIM service.
    let a = &model.apim;
    b.add(
        "apim".into(),
        Kind::Apim,
        ids.apim.clone(),
        json!({
            "location": a.location,
            "sku": { "name": a.sku, "capacity": a.capacity },
            "identity": { "type": "SystemAssigned" },
            "tags": tags(model),
            "properties": { "publisherEmail": a.publisher_email, "publisherName": a.publisher_name }
        }),
        vec!["resource_group".into()],
    );

    // The APIM identity may call the models of every foundry.
    for f in &model.foundries {
        let faddr = format!("foundries.{}", f.name);
        let account_id = format!(
            "{}/providers/Microsoft.CognitiveServices/accounts/{}",
            ids.rg, f.account
        );
        let name = role_assignment_name(&account_id, &ids.apim, COGNITIVE_SERVICES_USER);
        b.add(
            format!("role_assignments.{}", f.name),
            Kind::RoleAssignment,
            format!("{account_id}/providers/Microsoft.Authorization/roleAssignments/{name}"),
            json!({
                "properties": {
                    "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{COGNITIVE_SERVICES_USER}", ids.sub),
                    "principalId": output_of("apim", "identity.principalId", ""),
                    "principalType": "ServicePrincipal",
                }
            }),
            vec![faddr, "apim".into()],
        );
    }
}

/// Subscriptions come after the APIs they may be scoped to.
pub(super) fn subscriptions(b: &mut Builder, model: &Model, ids: &Ids) {
    for s in &model.apim.subscriptions {
        let (scope, deps) = match &s.api {
            Some(one) => (
                format!("/apis/{one}"),
                vec!["apim".to_string(), format!("apis.{one}")],
            ),
            None => ("/apis".to_string(), vec!["apim".to_string()]),
        };
        b.add(
            format!("apim.subscriptions.{}", s.name),
            Kind::Subscription,
            format!("{}/subscriptions/{}", ids.apim, s.name),
            json!({ "properties": { "displayName": s.display_name, "scope": scope, "state": "active" } }),
            deps,
        );
    }
}
