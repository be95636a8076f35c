//! Each API's `token_limit:` and `token_metrics:`: what the token policies count and the
//! dimensions they report (`../design/ai-gateway.md` §1, §2).

use super::diags::{Diags, listing};
use super::observability::Observability;
use crate::diag::did_you_mean;
use crate::spec::{self, Loc, Sp};

/// Azure Monitor allows 10 dimension keys per metric and APIM takes 5 of them.
pub const MAX_DIMENSIONS: usize = 5;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Counter {
    Subscription,
    Ip,
    Header(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaPeriod {
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

const PERIODS: &[&str] = &["hourly", "daily", "weekly", "monthly", "yearly"];

impl QuotaPeriod {
    /// The policy's `token-quota-period` value.
    pub fn as_policy(self) -> &'static str {
        match self {
            QuotaPeriod::Hourly => "Hourly",
            QuotaPeriod::Daily => "Daily",
            QuotaPeriod::Weekly => "Weekly",
            QuotaPeriod::Monthly => "Monthly",
            QuotaPeriod::Yearly => "Yearly",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "hourly" => QuotaPeriod::Hourly,
            "daily" => QuotaPeriod::Daily,
            "weekly" => QuotaPeriod::Weekly,
            "monthly" => QuotaPeriod::Monthly,
            "yearly" => QuotaPeriod::Yearly,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenLimit {
    pub counter: Counter,
    pub tokens_per_minute: Option<u64>,
    pub quota: Option<(u64, QuotaPeriod)>,
    pub estimate_prompt_tokens: bool,
    pub remaining_tokens_header: Option<String>,
    pub remaining_quota_header: Option<String>,
}

/// A token metric dimension gw knows how to fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dimension {
    Api,
    Subscription,
    Model,
    Region,
    ClientIp,
    Operation,
    Product,
    User,
}

/// Every dimension, by its spec name.
pub const DIMENSIONS: &[(&str, Dimension)] = &[
    ("api", Dimension::Api),
    ("subscription", Dimension::Subscription),
    ("model", Dimension::Model),
    ("region", Dimension::Region),
    ("client_ip", Dimension::ClientIp),
    ("operation", Dimension::Operation),
    ("product", Dimension::Product),
    ("user", Dimension::User),
];

impl Dimension {
    pub fn as_str(self) -> &'static str {
        DIMENSIONS
            .iter()
            .find(|(_, d)| *d == self)
            .map_or("", |(n, _)| n)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenMetrics {
    pub namespace: String,
    pub dimensions: Vec<Dimension>,
}

/// An API's token limit and token metrics.
pub(super) type Governance = (Option<TokenLimit>, Option<TokenMetrics>);

/// Each API's token limit and token metrics from its spec, by API name.
pub(super) fn tokens(
    d: &mut Diags,
    spec: &spec::Spec,
    obs: &Observability,
    consumption: bool,
) -> Vec<(String, Governance)> {
    let mut out = Vec::new();
    for (key, a) in spec.apis.iter() {
        let path = format!("apis.{}", key.value);
        let limit = a
            .token_limit
            .as_ref()
            .and_then(|t| token_limit(d, t, &path, consumption, a.subscription_required));
        let metrics = a.token_metrics.as_ref().and_then(|m| {
            if obs.app_insights.is_none() {
                no_app_insights(d, m.loc, &path);
            }
            token_metrics(d, m, &path)
        });
        out.push((key.value.clone(), (limit, metrics)));
    }
    out
}

fn no_app_insights(d: &mut Diags, loc: Loc, path: &str) {
    d.err_hint(
        loc,
        format!("{path}.token_metrics"),
        "token metrics need Application Insights",
        Some(
            "add `observability: { log_analytics: { name: ... }, app_insights: { name: ... } }`"
                .into(),
        ),
    );
}

fn token_limit(
    d: &mut Diags,
    t: &Sp<spec::TokenLimitSpec>,
    api_path: &str,
    consumption: bool,
    subscription_required: Option<bool>,
) -> Option<TokenLimit> {
    let path = format!("{api_path}.token_limit");
    if consumption {
        d.err_hint(
            t.loc,
            &path,
            "the Consumption tier has no token limits (`llm-token-limit`)",
            Some("use another sku (e.g. BasicV2), or remove `token_limit`".into()),
        );
    }
    let counter = match t.per.as_ref() {
        None => Counter::Subscription,
        Some(p) => match p.value.as_str() {
            "subscription" => Counter::Subscription,
            "ip" => Counter::Ip,
            s if s.starts_with("header:") => {
                let h = s["header:".len()..].trim();
                header_name(d, h, p.loc, &format!("{path}.per"));
                Counter::Header(h.to_string())
            }
            other => {
                let hint = did_you_mean(other, ["subscription", "ip"])
                    .unwrap_or_else(|| "use `subscription`, `ip` or `header:NAME`".into());
                d.err_hint(
                    p.loc,
                    format!("{path}.per"),
                    format!("unknown counter `{other}`"),
                    Some(hint),
                );
                Counter::Subscription
            }
        },
    };
    if counter == Counter::Subscription && subscription_required == Some(false) {
        d.err_hint(
            t.per.as_ref().map_or(t.loc, |p| p.loc),
            format!("{path}.per"),
            "a limit per subscription on an API that requires no subscription key",
            Some(
                "use `per: ip` or `per: header:NAME`, or drop `subscription_required: false`"
                    .into(),
            ),
        );
    }
    let positive = |d: &mut Diags, v: &Sp<i64>, field: &str| -> Option<u64> {
        if v.value < 1 {
            d.err_hint(
                v.loc,
                format!("{path}.{field}"),
                format!("{} is not a positive number of tokens", v.value),
                Some("use a number of at least 1".into()),
            );
            None
        } else {
            u64::try_from(v.value).ok()
        }
    };
    let tpm = t
        .tokens_per_minute
        .as_ref()
        .and_then(|v| positive(d, v, "tokens_per_minute"));
    let quota = t.quota.as_ref().and_then(|v| positive(d, v, "quota"));
    let period = t.quota_period.as_ref().and_then(|p| {
        let parsed = QuotaPeriod::parse(&p.value);
        if parsed.is_none() {
            let hint = did_you_mean(&p.value, PERIODS.iter().copied())
                .unwrap_or_else(|| format!("use one of {}", listing(PERIODS)));
            d.err_hint(
                p.loc,
                format!("{path}.quota_period"),
                format!("unknown quota period `{}`", p.value),
                Some(hint),
            );
        }
        parsed
    });
    match (&t.quota, &t.quota_period) {
        (Some(q), None) => d.err_hint(
            q.loc,
            format!("{path}.quota"),
            "a quota needs a period",
            Some("add `quota_period: monthly` (hourly, daily, weekly, monthly, yearly)".into()),
        ),
        (None, Some(p)) => d.err_hint(
            p.loc,
            format!("{path}.quota_period"),
            "a quota period without a quota",
            Some("add `quota: TOKENS`, or remove `quota_period`".into()),
        ),
        _ => {}
    }
    if t.tokens_per_minute.is_none() && t.quota.is_none() {
        d.err_hint(
            t.loc,
            &path,
            "a token limit needs a rate, a quota, or both",
            Some(
                "add `tokens_per_minute: 10000` and/or `quota: 1000000` with `quota_period`".into(),
            ),
        );
    }
    for (h, field) in [
        (&t.remaining_tokens_header, "remaining_tokens_header"),
        (&t.remaining_quota_header, "remaining_quota_header"),
    ] {
        if let Some(h) = h {
            header_name(d, &h.value, h.loc, &format!("{path}.{field}"));
        }
    }
    if t.remaining_quota_header.is_some() && t.quota.is_none() {
        let h = t.remaining_quota_header.as_ref().map_or(t.loc, |h| h.loc);
        d.err_hint(
            h,
            format!("{path}.remaining_quota_header"),
            "a remaining-quota header without a quota",
            Some("add `quota` and `quota_period`, or remove the header".into()),
        );
    }
    Some(TokenLimit {
        counter,
        tokens_per_minute: tpm,
        quota: quota.zip(period),
        estimate_prompt_tokens: t.estimate_prompt_tokens.unwrap_or(true),
        remaining_tokens_header: t.remaining_tokens_header.as_ref().map(|h| h.value.clone()),
        remaining_quota_header: t.remaining_quota_header.as_ref().map(|h| h.value.clone()),
    })
}

/// An HTTP header name: an RFC 9110 token.
pub fn is_header_name(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 100
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

fn header_name(d: &mut Diags, h: &str, loc: Loc, path: &str) {
    if !is_header_name(h) {
        d.err_hint(
            loc,
            path,
            format!("`{h}` is not an HTTP header name"),
            Some("letters, digits and `-`, e.g. `x-ratelimit-remaining-tokens`".into()),
        );
    }
}

/// Whether `n` is a metric namespace `token_metrics.namespace` may hold.
pub fn is_metric_namespace(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 256
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_. ".contains(c))
}

fn token_metrics(
    d: &mut Diags,
    m: &Sp<spec::TokenMetricsSpec>,
    api_path: &str,
) -> Option<TokenMetrics> {
    let path = format!("{api_path}.token_metrics");
    let names: Vec<&str> = DIMENSIONS.iter().map(|(n, _)| *n).collect();
    let mut dims = Vec::new();
    for (i, s) in m.dimensions.iter().enumerate() {
        match DIMENSIONS.iter().find(|(n, _)| *n == s.value) {
            Some((_, dim)) if dims.contains(dim) => d.err_hint(
                s.loc,
                format!("{path}.dimensions[{i}]"),
                format!("duplicate dimension `{}`", s.value),
                Some("list each dimension once".into()),
            ),
            Some((_, dim)) => dims.push(*dim),
            None => {
                let hint = did_you_mean(&s.value, names.iter().copied())
                    .unwrap_or_else(|| format!("use {}", listing(&names)));
                d.err_hint(
                    s.loc,
                    format!("{path}.dimensions[{i}]"),
                    format!("unknown dimension `{}`", s.value),
                    Some(hint),
                );
            }
        }
    }
    if m.dimensions.len() > MAX_DIMENSIONS {
        d.err_hint(
            m.dimensions[MAX_DIMENSIONS].loc,
            format!("{path}.dimensions"),
            format!(
                "{} dimensions; a token metric takes at most {MAX_DIMENSIONS}",
                m.dimensions.len()
            ),
            Some(
                "Azure Monitor keeps 10 dimension keys per metric and APIM uses 5: drop some"
                    .into(),
            ),
        );
    }
    if m.dimensions.is_empty() {
        d.err_hint(
            m.dimensions.loc.max(m.loc),
            format!("{path}.dimensions"),
            "no dimensions",
            Some(format!("list 1 to {MAX_DIMENSIONS} of {}", listing(&names))),
        );
    }
    let namespace = m
        .namespace
        .as_ref()
        .map_or("gw".to_string(), |n| n.value.clone());
    if let Some(n) = &m.namespace
        && !is_metric_namespace(&n.value)
    {
        d.err_hint(
            n.loc,
            format!("{path}.namespace"),
            format!("`{}` is not a metric namespace", n.value),
            Some("letters, digits, spaces and `-_.`".into()),
        );
    }
    Some(TokenMetrics {
        namespace,
        dimensions: dims,
    })
}
