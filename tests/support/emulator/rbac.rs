//! Role assignments as RBAC answers them (catalogue §4): an assignment's principal, role and
//! scope never change under its name, a (principal, role, scope) triple exists under one name
//! only, listings at a scope honour `$filter`, and a caller without the right gets 403.

use serde_json::Value;

use super::ids;
use super::rules;
use super::store::{Reply, State, Stored};

/// The object id the emulator's caller has (in 403 and 429 messages).
pub const CALLER_OID: &str = "00000000-0000-0000-0000-0000000ca11e";

/// The scope an assignment at `path` (or a listing at it) applies to.
pub fn scope_of(path: &str) -> String {
    ids::parent(path).unwrap_or_else(|| format!("/subscriptions/{}", ids::subscription(path)))
}

/// The 403 RBAC answers a caller that may not write role assignments, with the header
/// Azure's gateway adds (kubernetes/autoscaler #2704).
pub fn denied(method: &str, path: &str) -> Reply {
    let action = if method == "DELETE" {
        "Microsoft.Authorization/roleAssignments/delete"
    } else {
        "Microsoft.Authorization/roleAssignments/write"
    };
    let mut reply = Reply::error(
        403,
        "AuthorizationFailed",
        &format!(
            "The client '{CALLER_OID}' with object id '{CALLER_OID}' does not have authorization to perform action '{action}' over scope '{path}' or the scope is invalid. If access was recently granted, please refresh your credentials."
        ),
    );
    reply
        .headers
        .push(("x-ms-failure-cause".into(), "gateway".into()));
    reply
}

fn field<'a>(body: &'a Value, name: &str) -> &'a str {
    body.pointer(&format!("/properties/{name}"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Role definitions compare by their GUID: ARM accepts the id with or without a subscription.
fn role(body: &Value) -> String {
    ids::name(field(body, "roleDefinitionId")).to_ascii_lowercase()
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// `scope` equals `other` or lies under it.
fn at_or_under(scope: &str, other: &str) -> bool {
    let (s, o) = (scope.to_ascii_lowercase(), other.to_ascii_lowercase());
    s == o || s.starts_with(&format!("{}/", o.trim_end_matches('/')))
}

impl State {
    fn role_assignments(&self) -> impl Iterator<Item = &Stored> {
        self.resources
            .values()
            .filter(|s| s.ty == rules::ROLE_ASSIGNMENTS)
    }

    /// Why RBAC refuses this role-assignment PUT, if it does.
    pub(super) fn role_assignment_refusal(&self, path: &str, desired: &Value) -> Option<Reply> {
        let name = ids::name(path);
        let scope = scope_of(path);
        let principal = field(desired, "principalId");
        let wanted_role = role(desired);
        if let Some(existing) = self
            .role_assignments()
            .find(|s| same(ids::name(&s.id), name))
        {
            let unchanged = same(field(&existing.body, "principalId"), principal)
                && role(&existing.body) == wanted_role
                && same(&scope_of(&existing.id), &scope);
            return (!unchanged).then(|| {
                Reply::error(
                    400,
                    "RoleAssignmentUpdateNotPermitted",
                    "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
                )
            });
        }
        let twin = self.role_assignments().find(|s| {
            same(field(&s.body, "principalId"), principal)
                && role(&s.body) == wanted_role
                && same(&scope_of(&s.id), &scope)
        })?;
        let hex: String = ids::name(&twin.id)
            .chars()
            .filter(|c| *c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        Some(Reply::error(
            409,
            "RoleAssignmentExists",
            &format!(
                "The role assignment already exists. The ID of the existing role assignment is {hex}."
            ),
        ))
    }

    /// `GET {scope}/providers/Microsoft.Authorization/roleAssignments`: the assignments that
    /// apply at the scope (at or above it) and those below it, or with `$filter=atScope()`
    /// only those at or above it; `principalId eq '<id>'` narrows to one principal.
    pub(super) fn role_assignments_at(&self, path: &str, query: &str) -> Vec<Value> {
        let scope = scope_of(path);
        let filter = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k.eq_ignore_ascii_case("$filter"))
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default();
        let at_scope = filter.contains("atscope()");
        let principal = filter
            .split_once("principalid eq '")
            .and_then(|(_, rest)| rest.split_once('\''))
            .map(|(id, _)| id.to_string());
        self.role_assignments()
            .filter(|s| {
                let own = scope_of(&s.id);
                at_or_under(&scope, &own) || (!at_scope && at_or_under(&own, &scope))
            })
            .filter(|s| {
                principal
                    .as_deref()
                    .is_none_or(|p| same(field(&s.body, "principalId"), p))
            })
            .map(|s| s.body.clone())
            .collect()
    }
}
