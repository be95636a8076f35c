//! The caller's rights against what apply will do: a write per resource type it creates or
//! changes, a delete per type it removes, role-assignment writes (which Contributor lacks:
//! Azure answers 403 `AuthorizationFailed`, catalogue §4), and the purge actions with
//! `--purge-soft-deleted`. Permissions are RBAC's `actions`/`notActions` with `*` wildcards,
//! case-insensitive; a role allows what its actions match and its notActions do not, and
//! the caller may do what any of their roles allows.

use super::{Answers, At, Input, items, listing, unavailable};
use crate::graph::Kind;
use crate::model::glob_match;
use crate::plan::types::{Action, Finding, Severity, SoftDeleteAction};
use serde_json::Value;
use std::collections::BTreeMap;

const ROLE_ADMIN: &str =
    "Role Based Access Control Administrator (or User Access Administrator, or Owner)";
const CONTRIBUTOR: &str = "Contributor (or Owner)";
const PURGER: &str =
    "Contributor on the subscription (soft-deleted records are purged at subscription scope)";

fn patterns<'a>(entry: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    items(entry, key).filter_map(Value::as_str)
}

/// Whether the permissions allow `action`.
pub(super) fn allows(entries: &[Value], action: &str) -> bool {
    entries.iter().any(|e| {
        patterns(e, "actions").any(|p| glob_match(p, action))
            && !patterns(e, "notActions").any(|p| glob_match(p, action))
    })
}

/// `Microsoft.Resources/resourceGroups` is authorised as a subscription's child.
fn action_type(arm_type: &str) -> String {
    if arm_type.eq_ignore_ascii_case("Microsoft.Resources/resourceGroups") {
        "Microsoft.Resources/subscriptions/resourceGroups".into()
    } else {
        arm_type.to_string()
    }
}

fn role_for(action: &str) -> &'static str {
    if action
        .to_ascii_lowercase()
        .starts_with("microsoft.authorization/")
    {
        ROLE_ADMIN
    } else {
        CONTRIBUTOR
    }
}

/// The actions apply needs, each with the role that grants it.
fn needed(input: &Input<'_>) -> (Vec<String>, Vec<String>) {
    let mut at_scope = Vec::new();
    let mut purges = Vec::new();
    for c in input.changes {
        let ty = action_type(&c.arm_type);
        if c.action.writes() {
            at_scope.push(format!("{ty}/write"));
        }
        if matches!(c.action, Action::Delete | Action::Replace) {
            at_scope.push(format!("{ty}/delete"));
        }
        if c.soft_deleted
            .as_ref()
            .is_some_and(|s| s.action == SoftDeleteAction::Purge)
        {
            purges.push(match c.kind {
                Some(Kind::Apim) => {
                    "Microsoft.ApiManagement/locations/deletedservices/delete".into()
                }
                _ => "Microsoft.CognitiveServices/locations/resourceGroups/deletedAccounts/delete"
                    .into(),
            });
        }
    }
    for v in [&mut at_scope, &mut purges] {
        v.sort();
        v.dedup();
    }
    (at_scope, purges)
}

pub(super) fn check(input: &Input<'_>, answers: &Answers) -> Vec<Finding> {
    let (at_scope, purges) = needed(input);
    let mut missing: BTreeMap<&str, (String, Vec<String>)> = BTreeMap::new();
    let mut out = Vec::new();
    match &answers.permissions {
        Ok(p) => {
            for a in at_scope.iter().filter(|a| !allows(&p.entries, a)) {
                missing
                    .entry(role_for(a))
                    .or_insert_with(|| (p.scope.clone(), Vec::new()))
                    .1
                    .push(a.clone());
            }
        }
        Err(e) => out.push(unavailable(input.file, "the caller's permissions", e, None)),
    }
    if !purges.is_empty() {
        match answers
            .subscription_permissions
            .as_ref()
            .unwrap_or(&answers.permissions)
        {
            Ok(p) => {
                let lacking: Vec<String> = purges
                    .iter()
                    .filter(|a| !allows(&p.entries, a))
                    .cloned()
                    .collect();
                if !lacking.is_empty() {
                    missing.insert(PURGER, (p.scope.clone(), lacking));
                }
            }
            Err(e) => out.push(unavailable(
                input.file,
                "the caller's permissions on the subscription",
                e,
                None,
            )),
        }
    }
    let rg = &input.model.resource_group;
    for (role, (scope, actions)) in missing {
        let why = if role == ROLE_ADMIN {
            " (apply grants the APIM identity access to the foundries)"
        } else {
            ""
        };
        out.push(
            At {
                file: input.file,
                loc: rg.name_loc,
                path: "resource_group.name".into(),
                region: None,
            }
            .finding(
                Severity::Error,
                "permission_missing",
                format!(
                    "the caller may not perform {} on {scope}{why}; Azure would answer 403 AuthorizationFailed",
                    listing(&actions.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>())
                ),
                Some(format!("ask for {role} on {scope}, then sign in again (`az login`) so the token carries it")),
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::allows;
    use serde_json::json;

    #[test]
    fn contributor_may_write_resources_but_not_role_assignments() {
        let contributor = vec![json!({
            "actions": ["*"],
            "notActions": ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/elevateAccess/Action"]
        })];
        assert!(allows(
            &contributor,
            "Microsoft.CognitiveServices/accounts/write"
        ));
        assert!(!allows(
            &contributor,
            "Microsoft.Authorization/roleAssignments/write"
        ));
        // A second role that grants it: the union wins.
        let mut both = contributor.clone();
        both.push(
            json!({"actions": ["Microsoft.Authorization/roleAssignments/*"], "notActions": []}),
        );
        assert!(allows(
            &both,
            "Microsoft.Authorization/roleAssignments/write"
        ));
        let reader = vec![json!({"actions": ["*/read"], "notActions": []})];
        assert!(!allows(&reader, "Microsoft.ApiManagement/service/write"));
        assert!(allows(&reader, "Microsoft.ApiManagement/service/read"));
    }
}
