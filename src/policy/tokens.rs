//! The token policies of one API (`templates/tokens.xml.j2`): `llm-token-limit` and
//! `llm-emit-token-metric`, attributes as `../design/ai-gateway.md` §1 and §2 give them.

use crate::markup::escape::{cs_string, xml_attr};
use crate::markup::templates::code;
use crate::model::{Api, Counter, Dimension, TokenLimit};
use minijinja::{Value, context};

/// The C# expression of a limit's counter key. The API's name is part of it: a counter is
/// shared by every scope that uses the same key, and each API has its own limit.
pub fn counter_key(api: &str, counter: &Counter) -> String {
    let who = match counter {
        Counter::Subscription => "context.Subscription?.Id".to_string(),
        Counter::Ip => "context.Request.IpAddress".to_string(),
        Counter::Header(h) => format!(
            "context.Request.Headers.GetValueOrDefault({}, \"\")",
            cs_string(h)
        ),
    };
    format!("{} + {who}", cs_string(&format!("{api}:")))
}

fn attr(name: &str, value: String) -> Value {
    context! { name => code(name), value => code(value) }
}

fn limit(api: &Api, t: &TokenLimit) -> Value {
    let mut attrs = vec![attr(
        "counter-key",
        format!("@({})", counter_key(&api.name, &t.counter)),
    )];
    if let Some(tpm) = t.tokens_per_minute {
        attrs.push(attr("tokens-per-minute", tpm.to_string()));
    }
    if let Some((quota, period)) = t.quota {
        attrs.push(attr("token-quota", quota.to_string()));
        attrs.push(attr("token-quota-period", period.as_policy().to_string()));
    }
    attrs.push(attr(
        "estimate-prompt-tokens",
        t.estimate_prompt_tokens.to_string(),
    ));
    if let Some(h) = &t.remaining_tokens_header {
        attrs.push(attr("remaining-tokens-header-name", xml_attr(h)));
    }
    if let Some(h) = &t.remaining_quota_header {
        attrs.push(attr("remaining-quota-tokens-header-name", xml_attr(h)));
    }
    let per = match &t.counter {
        Counter::Subscription => "APIM subscription".to_string(),
        Counter::Ip => "caller IP address".to_string(),
        Counter::Header(h) => format!("value of header {h}"),
    };
    let comment =
        format!("Tokens per {per}: over the rate, 429 with Retry-After; over the quota, 403.");
    context! { attrs, comment }
}

/// A dimension's name in the policy, and its value expression (none for APIM's default
/// dimensions, and for `Model`, whose expression the template holds). `gw import` reads
/// dimensions back through this too.
pub fn dimension_in_policy(d: Dimension) -> (&'static str, Option<&'static str>) {
    match d {
        Dimension::Api => ("API ID", None),
        Dimension::Subscription => ("Subscription ID", None),
        Dimension::Operation => ("Operation ID", None),
        Dimension::Product => ("Product ID", None),
        Dimension::User => ("User ID", None),
        Dimension::Region => ("Location", None),
        Dimension::ClientIp => ("Client IP", Some("@(context.Request.IpAddress)")),
        Dimension::Model => ("Model", None),
    }
}

/// A dimension for the template; `model` asks it for the model expression.
fn dimension(d: Dimension) -> Value {
    let (name, value) = dimension_in_policy(d);
    context! { name, value => value.map(code), model => d == Dimension::Model }
}

/// The fragment's context: `tokens.limit` and `tokens.metrics`, each absent when off.
pub fn context(api: &Api) -> Value {
    let limit = api.token_limit.as_ref().map(|t| limit(api, t));
    let metrics = api.token_metrics.as_ref().map(|m| {
        let dimensions: Vec<Value> = m.dimensions.iter().map(|d| dimension(*d)).collect();
        context! { namespace => m.namespace, dimensions }
    });
    context! { limit, metrics }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_keys_are_per_api_and_escape_what_the_spec_wrote() {
        assert_eq!(
            counter_key("inference", &Counter::Subscription),
            r#""inference:" + context.Subscription?.Id"#
        );
        assert_eq!(
            counter_key("a\"b", &Counter::Header("x-team".into())),
            r#""a\"b:" + context.Request.Headers.GetValueOrDefault("x-team", "")"#
        );
        assert_eq!(
            counter_key("v1", &Counter::Ip),
            r#""v1:" + context.Request.IpAddress"#
        );
    }
}
