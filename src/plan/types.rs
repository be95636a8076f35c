//! The plan as data (`../design/cli.md`, "Plan JSON"): what apply will do, per resource.

use crate::graph::Kind;
use serde::{Deserialize, Serialize};

/// One changed field. `before` is None when the field is absent live; `after` is None when
/// gw no longer declares it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldDiff {
    pub path: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Delete,
    /// Delete, then create under the same name: what Azure allows for a Failed model
    /// deployment and for a role assignment whose principal changed.
    Replace,
    NoOp,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Delete => "-",
            Action::Replace => "-/+",
            Action::NoOp => " ",
        }
    }

    /// Whether apply writes the resource (PUT or PATCH, possibly after a DELETE).
    pub fn writes(self) -> bool {
        matches!(self, Action::Create | Action::Update | Action::Replace)
    }
}

/// What apply does about a name held by a soft-deleted account or APIM service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SoftDeleteAction {
    /// Recreate with `properties.restore: true`, then bring it to the spec.
    Restore,
    /// Purge the deleted record first, then create anew (`--purge-soft-deleted`).
    Purge,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SoftDeleted {
    pub action: SoftDeleteAction,
    /// ARM id of the deleted record (DELETE on it purges).
    pub deleted_id: String,
    pub location: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: String,
    #[serde(rename = "type")]
    pub arm_type: String,
    pub id: String,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<FieldDiff>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_deleted: Option<SoftDeleted>,
    /// Why, when the action alone does not say (e.g. "no longer in the spec").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    #[serde(default)]
    pub replace: usize,
    pub no_op: usize,
}

/// What was read, for a saved plan to check before it is applied: the ETag where ARM
/// gives one, else a digest of the body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadStamp {
    pub id: String,
    /// `etag:"..."`, `sha256:...` or `absent`.
    pub stamp: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub spec_digest: String,
    pub subscription: String,
    pub resource_group: String,
    pub changes: Vec<Change>,
    pub summary: Summary,
    /// Only in saved plans (`--out`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read: Vec<ReadStamp>,
    /// What pre-flight found (model availability, quota, names, permissions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preflight: Vec<Finding>,
    /// Why pre-flight did not run (`--offline`, `--skip-preflight`); absent when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight_skipped: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Apply is certain to fail: plan exits 1 and apply refuses to start.
    Error,
    Warning,
}

/// One pre-flight problem, located in the spec like a validation error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable, for scripts: `model_not_offered`, `quota_exceeded`, ...
    pub code: String,
    /// `file:line:column`.
    pub location: String,
    /// The spec field, e.g. `models[0].version`.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The same place, for drawing the excerpt (not part of the JSON).
    #[serde(skip)]
    pub loc: crate::spec::Loc,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp)
    }

    pub fn summarise(changes: &[Change]) -> Summary {
        let mut s = Summary::default();
        for c in changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Delete => s.delete += 1,
                Action::Replace => s.replace += 1,
                Action::NoOp => s.no_op += 1,
            }
        }
        s
    }
}

/// The digest of the spec a plan was made from.
pub fn spec_digest(text: &str) -> String {
    use sha2::Digest;
    format!("sha256:{:x}", sha2::Sha256::digest(text.as_bytes()))
}

/// A stamp for a live body without an ETag.
pub fn body_digest(v: &serde_json::Value) -> String {
    use sha2::Digest;
    format!(
        "sha256:{:x}",
        sha2::Sha256::digest(v.to_string().as_bytes())
    )
}
