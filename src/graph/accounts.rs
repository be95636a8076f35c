//! Foundry accounts and their model deployments.

use super::Kind;
use super::builder::{Builder, Ids, tags};
use crate::model::Model;
use serde_json::json;

pub(super) fn build(b: &mut Builder, model: &Model, ids: &Ids) {
    // Foundry accounts and their model deployments (one at a time per account: each
    // deployment depends on the one before it).
    for f in &model.foundries {
        let addr = format!("foundries.{}", f.name);
        let id = format!(
            "{}/providers/Microsoft.CognitiveServices/accounts/{}",
            ids.rg, f.account
        );
        let body = json!({
            "location": f.location,
            "kind": "AIServices",
            "sku": { "name": "S0" },
            "identity": { "type": "SystemAssigned" },
            "tags": tags(model),
            "properties": {
                "customSubDomainName": f.account,
                "publicNetworkAccess": "Enabled",
                "disableLocalAuth": f.disable_local_auth,
            }
        });
        b.add(
            addr.clone(),
            Kind::Account,
            id.clone(),
            body,
            vec!["resource_group".into()],
        );
        let mut prev: Option<String> = None;
        for d in model
            .deployments
            .iter()
            .filter(|d| d.foundries.contains(&f.name))
        {
            let daddr = format!("{addr}.deployments.{}", d.name);
            let body = json!({
                "tags": tags(model),
                "sku": { "name": d.sku, "capacity": d.capacity },
                "properties": { "model": { "format": d.publisher, "name": d.model, "version": d.version } }
            });
            let mut deps = vec![addr.clone()];
            deps.extend(prev.take());
            b.add(
                daddr.clone(),
                Kind::Deployment,
                format!("{id}/deployments/{}", d.name),
                body,
                deps,
            );
            prev = Some(daddr);
        }
    }
}
