//! Builds the resource graph from a model: the resource group here, then each section in its
//! own file (accounts, the APIM service, backends and pools, APIs, observability), in the order
//! the graph lists them.

use super::builder::{Builder, Ids, tags};
use super::kind::Kind;
use super::*;
use crate::model::Model;
use serde_json::json;

pub fn build(model: &Model) -> Graph {
    let mut b = Builder { out: Vec::new() };
    let sub = model.subscription.clone();
    let rg = format!(
        "/subscriptions/{sub}/resourceGroups/{}",
        model.resource_group.name
    );
    let apim = format!(
        "{rg}/providers/Microsoft.ApiManagement/service/{}",
        model.apim.service
    );
    let ids = Ids { sub, rg, apim };
    b.add(
        "resource_group".into(),
        Kind::ResourceGroup,
        ids.rg.clone(),
        json!({ "location": model.resource_group.location, "tags": tags(model) }),
        vec![],
    );
    super::accounts::build(&mut b, model, &ids);
    super::apim::build(&mut b, model, &ids);
    super::backends::build(&mut b, model, &ids);
    super::apis::build(&mut b, model, &ids);
    super::apim::subscriptions(&mut b, model, &ids);
    super::observability::build(&mut b, model, &ids.rg, &ids.apim);
    Graph {
        resources: b.out,
        suffix: model.suffix.clone(),
    }
}
