//! The `observability:` block: the Log Analytics workspace, the Application Insights
//! component and LLM logging (`../design/ai-gateway.md` §4, §5).

use super::diags::Diags;
use crate::spec::{self, Sp};

/// `largeLanguageModel.*.maxSizeInBytes`: 1..=262144, 32 KB by default.
pub const MAX_LLM_LOG_BYTES: i64 = 262_144;
pub const DEFAULT_LLM_LOG_BYTES: u32 = 32_768;

#[derive(Clone, Debug, Default)]
pub struct Observability {
    pub workspace: Option<Workspace>,
    /// The Application Insights component gw creates (workspace-based).
    pub app_insights: Option<String>,
    /// None: LLM logging off.
    pub llm_logs: Option<LlmLogs>,
}

#[derive(Clone, Debug)]
pub struct Workspace {
    /// Some: gw creates it under this name; None: an existing workspace (`id`).
    pub name: Option<String>,
    /// The full ARM id of an existing workspace (None for one gw creates).
    pub id: Option<String>,
    pub retention_days: u32,
    /// Where `log_analytics` is in the spec, for findings about where the logs go.
    pub loc: crate::spec::Loc,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlmLogs {
    pub prompts: bool,
    pub completions: bool,
    pub max_bytes: u32,
}

pub(super) fn observability(d: &mut Diags, spec: &spec::Spec) -> Observability {
    let Some(o) = &spec.observability else {
        return Observability::default();
    };
    let workspace = o.log_analytics.as_ref().and_then(|w| workspace(d, w));
    let app_insights = o.app_insights.as_ref().map(|a| {
        component_name(d, &a.name);
        if o.log_analytics.is_none() {
            d.err_hint(
                a.loc,
                "observability.app_insights",
                "Application Insights needs a Log Analytics workspace",
                Some("add `log_analytics: { name: ... }` (components are workspace-based)".into()),
            );
        }
        a.name.value.clone()
    });
    let llm_logs = o.llm_logs.as_ref().and_then(|l| {
        let max_bytes = l
            .max_bytes
            .as_ref()
            .map_or(Some(DEFAULT_LLM_LOG_BYTES), |m| {
                d.range(m, "observability.llm_logs.max_bytes", 1, MAX_LLM_LOG_BYTES)
            });
        if !l.enabled.unwrap_or(true) {
            return None;
        }
        if o.log_analytics.is_none() {
            d.err_hint(
                l.loc,
                "observability.llm_logs",
                "LLM logs need a Log Analytics workspace",
                Some("add `log_analytics: { name: ... }`, or set `enabled: false`".into()),
            );
        }
        Some(LlmLogs {
            prompts: l.prompts.unwrap_or(true),
            completions: l.completions.unwrap_or(true),
            max_bytes: max_bytes.unwrap_or(DEFAULT_LLM_LOG_BYTES),
        })
    });
    Observability {
        workspace,
        app_insights,
        llm_logs,
    }
}

fn workspace(d: &mut Diags, w: &Sp<spec::WorkspaceSpec>) -> Option<Workspace> {
    let path = "observability.log_analytics";
    let retention_days = w.retention_days.as_ref().map_or(Some(30), |r| {
        d.range(r, &format!("{path}.retention_days"), 30, 730)
    });
    match (&w.name, &w.id) {
        (Some(n), None) => {
            workspace_name(d, n);
            Some(Workspace {
                name: Some(n.value.clone()),
                id: None,
                retention_days: retention_days.unwrap_or(30),
                loc: w.loc,
            })
        }
        (None, Some(id)) => {
            if w.retention_days.is_some() {
                d.err_hint(
                    w.loc,
                    path,
                    "`retention_days` only applies to a workspace gw creates",
                    Some("set retention on the existing workspace, or remove it".into()),
                );
            }
            existing_workspace_id(d, id).then(|| Workspace {
                name: None,
                id: Some(id.value.clone()),
                retention_days: 30,
                loc: w.loc,
            })
        }
        (Some(_), Some(id)) => {
            d.err_hint(
                id.loc,
                path,
                "a workspace has either `name` (gw creates it) or `id` (it exists), not both",
                Some("remove one of them".into()),
            );
            None
        }
        (None, None) => {
            d.err_hint(
                w.loc,
                path,
                "the workspace needs `name` or `id`",
                Some("`name: law-gateway` to create one, or `id: /subscriptions/...` for an existing one".into()),
            );
            None
        }
    }
}

/// Whether `id` is the ARM id of a Log Analytics workspace (what `log_analytics.id` holds).
pub fn is_workspace_id(id: &str) -> bool {
    let segs: Vec<&str> = id.split('/').collect();
    segs.len() == 9
        && segs[0].is_empty()
        && segs[1].eq_ignore_ascii_case("subscriptions")
        && segs[3].eq_ignore_ascii_case("resourceGroups")
        && segs[5].eq_ignore_ascii_case("providers")
        && segs[6].eq_ignore_ascii_case("Microsoft.OperationalInsights")
        && segs[7].eq_ignore_ascii_case("workspaces")
        && segs.iter().skip(2).all(|s| !s.is_empty())
}

fn existing_workspace_id(d: &mut Diags, id: &Sp<String>) -> bool {
    let ok = is_workspace_id(&id.value);
    if !ok {
        d.err_hint(
            id.loc,
            "observability.log_analytics.id",
            format!("`{}` is not the ARM id of a Log Analytics workspace", id.value),
            Some("/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.OperationalInsights/workspaces/NAME (`az monitor log-analytics workspace show --query id`)".into()),
        );
    }
    ok
}

/// Whether `s` is a name `log_analytics.name` may hold.
pub fn is_workspace_name(s: &str) -> bool {
    (4..=63).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn workspace_name(d: &mut Diags, n: &Sp<String>) {
    let s = n.value.as_str();
    if !is_workspace_name(s) {
        d.err_hint(
            n.loc,
            "observability.log_analytics.name",
            format!("`{s}` is not a valid Log Analytics workspace name"),
            Some(
                "4-63 letters, digits and hyphens, starting and ending with a letter or digit"
                    .into(),
            ),
        );
    }
}

/// Whether `s` is a name `app_insights.name` may hold.
pub fn is_component_name(s: &str) -> bool {
    (1..=255).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.()".contains(c))
        && !s.ends_with('.')
}

fn component_name(d: &mut Diags, n: &Sp<String>) {
    let s = n.value.as_str();
    if !is_component_name(s) {
        d.err_hint(
            n.loc,
            "observability.app_insights.name",
            format!("`{s}` is not a valid Application Insights name"),
            Some("1-255 letters, digits and `-_.()`, not ending with `.`".into()),
        );
    }
}
