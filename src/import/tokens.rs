//! Reads token governance out of a live API policy: `llm-token-limit` (or the older
//! `azure-openai-token-limit`) and `llm-emit-token-metric` (or `azure-openai-emit-token-metric`)
//! in the inbound section, as `templates/tokens.xml.j2` writes them and as the labs do
//! (`counter-key="@(context.Subscription.Id)"`). What a spec cannot say is a sentence for the
//! YAML; whether gw's rendering is exactly the live policy is `import`'s forward check.

use super::yaml::{Yaml, list, scalar};
use crate::model::{
    DIMENSIONS, Dimension, MAX_DIMENSIONS, holdable, is_header_name, is_metric_namespace,
};
use crate::render::tokens::dimension_in_policy;
use roxmltree::Node;

const LIMITS: &[&str] = &["llm-token-limit", "azure-openai-token-limit"];
const METRICS: &[&str] = &["llm-emit-token-metric", "azure-openai-emit-token-metric"];
/// `llm-emit-token-metric`'s namespace when the attribute is left out.
const APIM_NAMESPACE: &str = "API Management";
/// The spec's namespace when `token_metrics.namespace` is left out.
const SPEC_NAMESPACE: &str = "gw";

/// `token_limit:` as the spec writes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limit {
    /// `subscription`, `ip` or `header:NAME`.
    pub per: String,
    pub tokens_per_minute: Option<u64>,
    /// Tokens and the period, lower-cased as the spec writes it.
    pub quota: Option<(u64, String)>,
    pub estimate_prompt_tokens: bool,
    pub remaining_tokens_header: Option<String>,
    pub remaining_quota_header: Option<String>,
}

/// `token_metrics:` as the spec writes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    pub namespace: String,
    pub dimensions: Vec<Dimension>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tokens {
    pub limit: Option<Limit>,
    pub metrics: Option<Metrics>,
}

/// The token policies among `inbound`'s children. `expr` turns an attribute value into its
/// expression text (`@(x)` -> `x`); what a spec cannot hold goes to `unexpressed`, phrased to
/// follow "Its policy has".
pub fn recognise(
    inbound: Node,
    expr: &dyn Fn(&str) -> String,
    unexpressed: &mut Vec<String>,
) -> Tokens {
    let mut out = Tokens::default();
    for n in inbound.descendants().filter(|n| n.is_element()) {
        let tag = n.tag_name().name();
        let (is_limit, is_metric) = (LIMITS.contains(&tag), METRICS.contains(&tag));
        if !is_limit && !is_metric {
            continue;
        }
        if n.parent() != Some(inbound) {
            unexpressed.push(format!(
                "a `{tag}` inside `{}` (a spec's token policies apply to every request of the API)",
                n.parent_element().map_or("", |p| p.tag_name().name())
            ));
        } else if is_limit && out.limit.is_none() {
            out.limit = limit(n, expr, unexpressed);
        } else if is_metric && out.metrics.is_none() {
            out.metrics = metrics(n, expr, unexpressed);
        } else {
            unexpressed.push(format!("a second `{tag}` (a spec has one per API)"));
        }
    }
    out
}

fn limit(n: Node, expr: &dyn Fn(&str) -> String, unexpressed: &mut Vec<String>) -> Option<Limit> {
    let tag = n.tag_name().name();
    let known = [
        "counter-key",
        "tokens-per-minute",
        "token-quota",
        "token-quota-period",
        "estimate-prompt-tokens",
        "remaining-tokens-header-name",
        "remaining-quota-tokens-header-name",
    ];
    for a in n.attributes().filter(|a| !known.contains(&a.name())) {
        unexpressed.push(format!("a `{tag}` attribute `{}`", a.name()));
    }
    let key = expr(n.attribute("counter-key").unwrap_or_default());
    let Some(per) = counter(&key) else {
        unexpressed.push(format!(
            "a `{tag}` counted by `{key}` (a spec counts per subscription, ip or header)"
        ));
        return None;
    };
    // Literal numbers only: an expression is not a number a spec can hold.
    let mut positive = |name: &str| -> Option<u64> {
        let raw = n.attribute(name)?;
        let v = raw.trim().parse::<u64>().ok().filter(|v| *v >= 1);
        if v.is_none() {
            unexpressed.push(format!("a `{tag}` {name} of `{}`", expr(raw)));
        }
        v
    };
    let tokens_per_minute = positive("tokens-per-minute");
    let quota = positive("token-quota");
    let period = n.attribute("token-quota-period").map(|p| {
        let lower = p.trim().to_ascii_lowercase();
        let ok = ["hourly", "daily", "weekly", "monthly", "yearly"].contains(&lower.as_str());
        (ok, lower, p)
    });
    let quota = match (quota, period) {
        (Some(q), Some((true, p, _))) => Some((q, p)),
        (None, None) => None,
        (_, Some((false, _, raw))) => {
            unexpressed.push(format!("a `{tag}` token-quota-period of `{raw}`"));
            None
        }
        (Some(_), None) => {
            unexpressed.push(format!("a `{tag}` token-quota without a period"));
            None
        }
        (None, Some(_)) => None,
    };
    if tokens_per_minute.is_none() && quota.is_none() {
        return None;
    }
    let estimate_prompt_tokens = match n.attribute("estimate-prompt-tokens") {
        None => true,
        Some(v) if v.trim().eq_ignore_ascii_case("true") => true,
        Some(v) if v.trim().eq_ignore_ascii_case("false") => false,
        Some(v) => {
            unexpressed.push(format!("a `{tag}` estimate-prompt-tokens of `{v}`"));
            true
        }
    };
    let mut header = |name: &str| -> Option<String> {
        let h = n.attribute(name)?;
        if is_header_name(h) {
            Some(h.to_string())
        } else {
            unexpressed.push(format!("a `{tag}` {name} of `{h}`"));
            None
        }
    };
    let remaining_tokens_header = header("remaining-tokens-header-name");
    let remaining_quota_header =
        header("remaining-quota-tokens-header-name").filter(|_| quota.is_some());
    Some(Limit {
        per,
        tokens_per_minute,
        quota,
        estimate_prompt_tokens,
        remaining_tokens_header,
        remaining_quota_header,
    })
}

/// The spec's `per` for a counter key: gw's (`"API:" + who`) or the labs' (`who` alone).
fn counter(key: &str) -> Option<String> {
    let key = key.trim();
    // gw puts the API's name in front, so each API counts on its own.
    let who = match key.strip_prefix('"') {
        Some(rest) => {
            let (_, after) = cs_literal(rest)?;
            after.trim_start().strip_prefix('+')?
        }
        None => key,
    };
    match compact(who).as_str() {
        "context.Subscription?.Id" | "context.Subscription.Id" => Some("subscription".into()),
        "context.Request.IpAddress" => Some("ip".into()),
        who => {
            let args = who
                .strip_prefix("context.Request.Headers.GetValueOrDefault(\"")?
                .strip_suffix(')')?;
            let (name, rest) = cs_literal(args)?;
            let default_ok = rest.is_empty() || rest == ",\"\"";
            (default_ok && is_header_name(&name)).then(|| format!("header:{name}"))
        }
    }
}

/// An expression without its whitespace, to compare with gw's.
fn compact(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A C# string literal's text, `s` starting after its opening quote; and what follows it.
/// Only the escapes gw writes (`cs_string`) are read.
fn cs_literal(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                u @ ('u' | 'U') => {
                    let len = if u == 'u' { 4 } else { 8 };
                    let hex: String = (0..len).filter_map(|_| chars.next().map(|c| c.1)).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
    None
}

fn metrics(
    n: Node,
    expr: &dyn Fn(&str) -> String,
    unexpressed: &mut Vec<String>,
) -> Option<Metrics> {
    let tag = n.tag_name().name();
    for a in n.attributes().filter(|a| a.name() != "namespace") {
        unexpressed.push(format!("a `{tag}` attribute `{}`", a.name()));
    }
    let namespace = match n.attribute("namespace") {
        None => APIM_NAMESPACE.to_string(),
        Some(ns) if is_metric_namespace(ns) && holdable(ns) => ns.to_string(),
        Some(ns) => {
            unexpressed.push(format!("a `{tag}` namespace `{ns}`"));
            SPEC_NAMESPACE.to_string()
        }
    };
    let mut dimensions = Vec::new();
    for d in n.children().filter(|c| c.has_tag_name("dimension")) {
        let name = d.attribute("name").unwrap_or_default();
        let value = d.attribute("value").map(|v| compact(&expr(v)));
        let found = DIMENSIONS.iter().map(|(_, dim)| *dim).find(|dim| {
            let (policy_name, policy_value) = dimension_in_policy(*dim);
            let policy_value = policy_value.map(|v| compact(&expr(v)));
            // The model's expression is gw's own; the forward check compares it.
            let value_fits = *dim == Dimension::Model || value == policy_value;
            policy_name == name && value_fits
        });
        match found {
            Some(dim) if dimensions.contains(&dim) => {}
            Some(dim) if dimensions.len() == MAX_DIMENSIONS => unexpressed.push(format!(
                "a token metric dimension `{}` past the {MAX_DIMENSIONS} a spec holds",
                dim.as_str()
            )),
            Some(dim) => dimensions.push(dim),
            None => unexpressed.push(format!(
                "a token metric dimension `{name}`{} that a spec does not name",
                value.map(|v| format!(" = `{v}`")).unwrap_or_default()
            )),
        }
    }
    if dimensions.is_empty() {
        unexpressed.push(format!("a `{tag}` without a dimension a spec names"));
        return None;
    }
    Some(Metrics {
        namespace,
        dimensions,
    })
}

impl Tokens {
    /// Drops what the rest of the spec would refuse, saying why in `notes`: a limit per
    /// subscription on an API without keys, any limit on Consumption, metrics without
    /// Application Insights.
    pub fn settle(
        &mut self,
        subscription_required: bool,
        consumption: bool,
        app_insights: bool,
        notes: &mut Vec<String>,
    ) {
        if self.limit.is_some() && consumption {
            self.limit = None;
            notes.push("Its policy limits tokens, which the Consumption tier does not do: left out of the spec.".into());
        }
        if self
            .limit
            .as_ref()
            .is_some_and(|l| l.per == "subscription" && !subscription_required)
        {
            self.limit = None;
            notes.push("Its policy limits tokens per subscription, but the API takes no subscription key: left out of the spec (a spec counts such an API per `ip` or `header:NAME`).".into());
        }
        if self.metrics.is_some() && !app_insights {
            self.metrics = None;
            notes.push("Its policy emits token metrics, but no Application Insights logger in the service reaches a component of this group: left out of the spec (`token_metrics` need `observability.app_insights`).".into());
        }
    }

    /// `token_limit:` and `token_metrics:` of an API, at `indent`.
    pub fn write(&self, y: &mut Yaml, indent: usize) {
        if let Some(l) = &self.limit {
            y.open(indent, "token_limit");
            let i = indent + 2;
            if l.per != "subscription" {
                y.field(i, "per", &l.per);
            }
            if let Some(t) = l.tokens_per_minute {
                y.raw(i, "tokens_per_minute", t);
            }
            if let Some((q, p)) = &l.quota {
                y.raw(i, "quota", q);
                y.field(i, "quota_period", p);
            }
            if !l.estimate_prompt_tokens {
                y.raw(i, "estimate_prompt_tokens", false);
            }
            if let Some(h) = &l.remaining_tokens_header {
                y.field(i, "remaining_tokens_header", h);
            }
            if let Some(h) = &l.remaining_quota_header {
                y.field(i, "remaining_quota_header", h);
            }
        }
        if let Some(m) = &self.metrics {
            y.open(indent, "token_metrics");
            let dims: Vec<&str> = m.dimensions.iter().map(|d| d.as_str()).collect();
            y.raw(indent + 2, "dimensions", list(&dims));
            if m.namespace != SPEC_NAMESPACE {
                y.raw(indent + 2, "namespace", scalar(&m.namespace));
            }
        }
    }
}
