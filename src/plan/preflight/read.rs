//! The reads pre-flight makes, all at once: per region the models it offers and the quota
//! in use (Cognitive Services `locations/{l}/models` and `locations/{l}/usages`); per account
//! gw may create its custom subdomain (`checkDomainAvailability`); the APIM name
//! (`checkNameAvailability`); and the caller's permissions on the resource group (on the
//! subscription when the group does not exist yet, or when soft-deleted records are purged,
//! which happens at subscription scope); and when gw puts its diagnostic setting on the APIM
//! service, the service's diagnostic settings (another one may already send the same
//! category to the same workspace). Everything starts at once, beside plan's own reads;
//! the subdomain checks wait for one list of the group's accounts, so a converged estate
//! asks about none: two rounds, like plan's own.

use crate::arm::ArmClient;
use crate::graph::{Graph, Kind};
use crate::model::Model;
use futures::future::join_all;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

pub const COGNITIVE_API: &str = "2025-06-01";
pub const APIM_API: &str = "2024-05-01";
pub const AUTHORIZATION_API: &str = "2022-04-01";

/// One region's catalogue: `ModelListResult.value` and `UsageListResult.value`.
#[derive(Clone, Debug)]
pub struct RegionAnswers {
    pub models: Result<Vec<Value>, String>,
    pub usages: Result<Vec<Value>, String>,
}

/// `PermissionGetResult.value` at a scope.
#[derive(Clone, Debug)]
pub struct Permissions {
    pub scope: String,
    pub entries: Vec<Value>,
}

/// Everything pre-flight read; errors kept as text (they become warnings).
#[derive(Clone, Debug)]
pub struct Answers {
    pub regions: BTreeMap<String, RegionAnswers>,
    /// Account name -> `DomainAvailability`.
    pub domains: BTreeMap<String, Result<Value, String>>,
    /// `ApiManagementServiceNameAvailabilityResult`.
    pub apim: Result<Value, String>,
    pub permissions: Result<Permissions, String>,
    /// At subscription scope, read only with `--purge-soft-deleted`.
    pub subscription_permissions: Option<Result<Permissions, String>>,
    /// The APIM service's diagnostic settings (none when the service does not exist); `None`
    /// when gw puts no setting there, so there was nothing to read.
    pub diagnostic_settings: Option<Result<Vec<Value>, String>>,
    /// Requests made (pages and retries not counted).
    pub requests: usize,
}

/// The regions the spec deploys models to.
pub fn model_regions(model: &Model) -> BTreeSet<String> {
    model
        .foundries
        .iter()
        .filter(|f| {
            model
                .deployments
                .iter()
                .any(|d| d.foundries.contains(&f.name))
        })
        .map(|f| f.location.clone())
        .collect()
}

pub async fn read(client: &ArmClient, model: &Model, graph: &Graph, purge: bool) -> Answers {
    let sub = format!("/subscriptions/{}", model.subscription);
    let cognitive = format!("{sub}/providers/Microsoft.CognitiveServices");
    let regions: Vec<String> = model_regions(model).into_iter().collect();
    let cognitive = &cognitive;
    let region_reads = join_all(regions.iter().map(|r| async move {
        let (models_path, usages_path) = (
            format!("{cognitive}/locations/{r}/models"),
            format!("{cognitive}/locations/{r}/usages"),
        );
        let (models, usages) = futures::join!(
            client.list(&models_path, COGNITIVE_API),
            client.list(&usages_path, COGNITIVE_API)
        );
        (
            r.clone(),
            RegionAnswers {
                models: models.map_err(|e| e.to_string()),
                usages: usages.map_err(|e| e.to_string()),
            },
        )
    }));
    let domain_reads = async {
        // Only accounts that do not exist yet are gw's to name: one list of the group's
        // accounts (plan reads the same list; it is cheaper than a check per account) and a
        // check for each missing one. No group yet: every account is new.
        let rg = graph.get("resource_group").map_or("", |r| r.id.as_str());
        let existing: Vec<String> = match client
            .list(
                &format!("{rg}/providers/Microsoft.CognitiveServices/accounts"),
                COGNITIVE_API,
            )
            .await
        {
            Ok(items) => items
                .iter()
                .filter_map(|a| a.get("name")?.as_str().map(str::to_ascii_lowercase))
                .collect(),
            Err(_) => Vec::new(),
        };
        let missing = model
            .foundries
            .iter()
            .filter(|f| !existing.contains(&f.account.to_ascii_lowercase()));
        join_all(missing.map(|f| async move {
            let body = json!({
                "subdomainName": f.account,
                "type": "Microsoft.CognitiveServices/accounts",
                "kind": "AIServices",
            });
            let answer = client
                .post_read(
                    &format!("{cognitive}/checkDomainAvailability"),
                    COGNITIVE_API,
                    &body,
                )
                .await;
            (f.account.clone(), answer.map_err(|e| e.to_string()))
        }))
        .await
    };
    let (apim_path, apim_body) = (
        format!("{sub}/providers/Microsoft.ApiManagement/checkNameAvailability"),
        json!({ "name": model.apim.service }),
    );
    let apim_read = client.post_read(&apim_path, APIM_API, &apim_body);
    let rg_id = graph
        .get("resource_group")
        .map_or_else(String::new, |r| r.id.clone());
    let permission_read = async {
        match permissions_at(client, &rg_id).await {
            // No group yet: gw creates it, so what counts is the subscription.
            Err(e) if e.status() == Some(404) => (
                permissions_at(client, &sub)
                    .await
                    .map_err(|e| e.to_string()),
                2,
            ),
            r => (r.map_err(|e| e.to_string()), 1),
        }
    };
    let subscription_read = async {
        if purge {
            Some(
                permissions_at(client, &sub)
                    .await
                    .map_err(|e| e.to_string()),
            )
        } else {
            None
        }
    };
    let (
        regions_read,
        domains,
        apim,
        (permissions, permission_requests),
        subscription_permissions,
        diagnostic_settings,
    ) = futures::join!(
        region_reads,
        domain_reads,
        apim_read,
        permission_read,
        subscription_read,
        diagnostic_settings(client, graph)
    );
    let requests = regions_read.len() * 2
        + 1
        + domains.len()
        + 1
        + permission_requests
        + usize::from(subscription_permissions.is_some())
        + usize::from(diagnostic_settings.is_some());
    Answers {
        regions: regions_read.into_iter().collect(),
        domains: domains.into_iter().collect(),
        apim: apim.map_err(|e| e.to_string()),
        permissions,
        subscription_permissions,
        diagnostic_settings,
        requests,
    }
}

/// The diagnostic settings on the APIM service, when gw puts one there. Whether the service
/// exists is not known yet (plan reads it meanwhile, so this costs no round of its own): a
/// 404 for the list means no service, so no settings.
async fn diagnostic_settings(
    client: &ArmClient,
    graph: &Graph,
) -> Option<Result<Vec<Value>, String>> {
    graph.get(super::diagnostics::ADDRESS)?;
    let apim = graph.get("apim")?;
    let answer = client
        .list(
            &format!(
                "{}/providers/Microsoft.Insights/diagnosticSettings",
                apim.id
            ),
            Kind::DiagnosticSetting.api_version(),
        )
        .await;
    Some(match answer {
        Err(e) if e.status() == Some(404) => Ok(Vec::new()),
        r => r.map_err(|e| e.to_string()),
    })
}

async fn permissions_at(
    client: &ArmClient,
    scope: &str,
) -> Result<Permissions, crate::arm::ArmError> {
    let entries = client
        .list(
            &format!("{scope}/providers/Microsoft.Authorization/permissions"),
            AUTHORIZATION_API,
        )
        .await?;
    Ok(Permissions {
        scope: scope.to_string(),
        entries,
    })
}
