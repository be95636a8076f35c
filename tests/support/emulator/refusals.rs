//! Why Azure refuses a PUT before writing anything (a resource's or its account's state,
//! RBAC, a subdomain held elsewhere, a soft-deleted namesake, a data sink another diagnostic
//! setting uses), and the operations an API import writes.

use serde_json::{Value, json};

use super::ids;
use super::import;
use super::monitor;
use super::rules;
use super::store::{Reply, Req, State, Stored};
use crate::support::fake_az::FAKE_TENANT;

impl State {
    /// Why Azure refuses this PUT before writing anything, if it does.
    pub(super) fn put_refusal(
        &mut self,
        req: &Req<'_>,
        ty: &str,
        desired: &Value,
        creating: bool,
    ) -> Option<Reply> {
        if let Some(reply) = self.lifecycle_refusal(ty, req.path) {
            return Some(reply);
        }
        if let Some(reply) = self.deployment_conflict(ty, req.path) {
            return Some(reply);
        }
        if ty == rules::ROLE_ASSIGNMENTS {
            if let Some(reply) = self.role_assignment_refusal(req.path, desired) {
                return Some(reply);
            }
            if self.settings.principal_not_found > 0 {
                self.settings.principal_not_found -= 1;
                let principal = desired
                    .pointer("/properties/principalId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .replace('-', "");
                return Some(Reply::error(
                    400,
                    "PrincipalNotFound",
                    &format!(
                        "Principal {principal} does not exist in the directory {FAKE_TENANT}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype"
                    ),
                ));
            }
        }
        if ty == monitor::DIAGNOSTIC_SETTINGS
            && let Some(reply) = self.data_sink_refusal(req.path, desired)
        {
            return Some(reply);
        }
        if ty == rules::ACCOUNTS
            && let Some(reply) = self.custom_domain_refusal(req.path, desired)
        {
            return Some(reply);
        }
        let restore = desired.pointer("/properties/restore") == Some(&json!(true));
        if rules::soft_deleted(ty)
            && creating
            && !restore
            && let Some(deleted_key) = self.deleted_namesake(ty, req.path)
        {
            let original = self
                .deleted
                .get(&deleted_key)
                .and_then(|d| d.entries.iter().find(|(k, _)| *k == d.original_key))
                .map_or_else(|| req.path.to_string(), |(_, s)| s.id.clone());
            let (code, message) = rules::soft_delete_conflict(ty, &original);
            return Some(Reply::error(409, code, &message));
        }
        None
    }

    /// 409 CustomDomainInUse: the subdomain is held elsewhere in Azure, by another live
    /// account, or by a soft-deleted account of another name (subdomains are global).
    fn custom_domain_refusal(&self, path: &str, desired: &Value) -> Option<Reply> {
        let wanted = desired
            .pointer("/properties/customSubDomainName")
            .and_then(Value::as_str)?
            .to_ascii_lowercase();
        let own = path.to_ascii_lowercase();
        let subdomain_of = |s: &Stored| {
            s.body
                .pointer("/properties/customSubDomainName")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
        };
        let live = self
            .resources
            .iter()
            .filter(|(k, s)| s.ty == rules::ACCOUNTS && **k != own)
            .any(|(_, s)| subdomain_of(s).as_deref() == Some(wanted.as_str()));
        let soft = self
            .deleted
            .values()
            .filter(|d| {
                d.ty == rules::ACCOUNTS
                    && !ids::name(&d.original_key).eq_ignore_ascii_case(ids::name(path))
            })
            .flat_map(|d| d.entries.iter().filter(move |(k, _)| *k == d.original_key))
            .any(|(_, s)| subdomain_of(s).as_deref() == Some(wanted.as_str()));
        let taken = self.taken_subdomains.contains(&wanted);
        (live || soft || taken).then(|| {
            Reply::error(
                409,
                "CustomDomainInUse",
                &format!(
                    "Please pick a different name. The subdomain name '{wanted}' is not available as it's already used by a resource. If the resource using the name was deleted in the last 48 hours, you may need to purge the deleted resource. Learn more at \"https://go.microsoft.com/fwlink/?linkid=2215493\""
                ),
            )
        })
    }

    /// An import replaces the API's operations with the document's.
    pub(super) fn replace_operations(&mut self, api_path: &str, ops: Vec<import::Imported>) {
        let prefix = format!("{}/operations/", api_path.to_ascii_lowercase());
        self.resources.retain(|k, _| !k.starts_with(&prefix));
        for op in ops {
            let id = format!("{api_path}/operations/{}", op.name);
            let body = rules::decorate(
                rules::OPERATIONS,
                "Microsoft.ApiManagement/service/apis/operations",
                &id,
                &json!({"properties": op.properties}),
                "Succeeded",
                0,
            );
            self.store(&id, rules::OPERATIONS, body);
        }
    }
}
