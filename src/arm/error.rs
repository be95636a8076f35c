//! Typed ARM failures, parsed from `{"error": {"code", "message", "details"}}`.
//!
//! Display shows `code: message` (what ARM said, which users search for) and never a token:
//! no header is ever copied into an error, and URLs lose their query except `api-version`.

use std::fmt;
use std::time::Duration;

use serde_json::Value;
use url::Url;

use super::auth::AuthError;

/// An error ARM answered with, plus where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status; `None` when the error came from a long-running operation's status body.
    pub status: Option<u16>,
    pub code: String,
    pub message: String,
    /// `(code, message)` of each entry in `error.details`.
    pub details: Vec<(String, String)>,
    pub method: String,
    /// The request URL without its query (but with `api-version`), safe to show.
    pub url: String,
    /// `x-ms-request-id`, which Azure support asks for.
    pub request_id: Option<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        for (code, message) in &self.details {
            write!(f, "; {code}: {message}")?;
        }
        Ok(())
    }
}

/// Everything the ARM client can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ArmError {
    /// ARM (or an operation it ran) answered with an error.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// No usable HTTP answer: connection refused or dropped, timeout, TLS.
    #[error("{method} {url}: {message}")]
    Transport {
        method: String,
        url: String,
        message: String,
    },
    /// A long-running operation did not finish in time.
    #[error("{method} {url}: operation still running after {}s", elapsed.as_secs())]
    LroTimeout {
        method: String,
        url: String,
        elapsed: Duration,
    },
    /// ARM answered something gw cannot use (bad JSON, a poll URL on another host).
    #[error("{method} {url}: unexpected response: {message}")]
    InvalidResponse {
        method: String,
        url: String,
        message: String,
    },
    /// A URL gw would not build or follow (not an ARM id, a link to another host).
    #[error(transparent)]
    Url(#[from] super::request::UrlError),
    /// No token could be obtained.
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl ArmError {
    /// The ARM error code, if ARM gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ArmError::Api(e) => Some(&e.code),
            _ => None,
        }
    }

    /// The HTTP status, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ArmError::Api(e) => e.status,
            _ => None,
        }
    }

    /// A fix for the common failures, phrased for a `hint:` line.
    pub fn hint(&self) -> Option<String> {
        match self {
            ArmError::Api(e) => hint_for(&e.code, e.status, &e.url),
            ArmError::Auth(e) => e.hint(),
            ArmError::LroTimeout { .. } => Some(
                "the operation may still finish in Azure; re-run later, or raise GW_LRO_TIMEOUT (seconds)".into(),
            ),
            ArmError::Transport { .. } => Some(
                "check the network path to ARM (HTTPS_PROXY, SSL_CERT_FILE for a corporate CA)".into(),
            ),
            ArmError::InvalidResponse { .. } | ArmError::Url(_) => None,
        }
    }
}

fn hint_for(code: &str, status: Option<u16>, url: &str) -> Option<String> {
    let hint = match code {
        "AuthorizationFailed" if url.contains("/Microsoft.Authorization/roleAssignments/") => {
            "creating role assignments needs Microsoft.Authorization/roleAssignments/write, which Contributor lacks: ask for Owner, User Access Administrator or Role Based Access Control Administrator on the Foundry accounts (or their resource group), then `az login` again so the token carries it"
        }
        "CustomDomainInUse" => {
            "custom subdomains are global across Azure: change the foundry's `subdomain` (or the naming suffix); if it is your own account deleted in the last 48 hours, purge it (`gw destroy --purge`)"
        }
        "RoleAssignmentUpdateNotPermitted" => {
            "an assignment's principal, role and scope cannot change: delete the old assignment (gw replaces the ones it owns when the plan says so; run `gw plan`)"
        }
        "PessimisticConcurrencyConflict" => {
            "APIM was still settling another write to this API; run `gw apply` again"
        }
        "AccountProvisioningStateInvalid" => {
            "the Foundry account was still settling (it can bounce back to Accepted after a write); run `gw apply` again in a few minutes"
        }
        "AuthorizationFailed" => {
            "your identity lacks a role on this scope: Contributor (and User Access Administrator or Role Based Access Control Administrator to create role assignments)"
        }
        "InvalidAuthenticationToken" | "ExpiredAuthenticationToken" | "AuthenticationFailed" => {
            "the Azure token was refused: run `az login` again (or check the CI credential variables)"
        }
        "SubscriptionNotFound" | "InvalidSubscriptionId" => {
            "check the subscription id (`az account list -o table`) and that your identity can see it"
        }
        "ResourceGroupNotFound" => {
            "the resource group does not exist yet: create it, or let `gw apply` create it"
        }
        "InsufficientQuota" | "DeploymentModelNotSupported" | "ServiceModelDeprecated" => {
            "quota and model availability differ by region: check quota in the Foundry portal, or pick another region, model version or capacity"
        }
        "FlagMustBeSetForRestore" | "ServiceAlreadyExistsInSoftDeletedState" => {
            "a soft-deleted resource with this name exists: `gw plan` restores it, or purge it (`gw apply --purge-soft-deleted`, or `gw destroy --purge`) and retry"
        }
        "RequestConflict" | "AnotherOperationInProgress" | "Conflict" => {
            "another operation is running on this resource; wait for it and retry"
        }
        "PrincipalNotFound" => {
            "a new managed identity takes a while to replicate in Entra ID; retry in a minute"
        }
        "PreconditionFailed" => {
            "the resource changed since it was read (ETag mismatch): run `gw plan` again"
        }
        _ if status == Some(412) => {
            "the resource changed since it was read (ETag mismatch): run `gw plan` again"
        }
        _ => return None,
    };
    Some(hint.to_string())
}

/// Builds an [`ApiError`] from an ARM error body; tolerates bodies that are not ARM-shaped.
pub fn parse_api_error(
    status: Option<u16>,
    body: &[u8],
    method: &str,
    url: &str,
    request_id: Option<String>,
) -> ApiError {
    let value: Option<Value> = serde_json::from_slice(body).ok();
    let from_value = value.as_ref().and_then(error_object);
    let (code, message, details) = match from_value {
        Some(e) => (e.code, e.message, e.details),
        None => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let message = if text.is_empty() {
                "no error details in the response".to_string()
            } else {
                truncate(text, 500)
            };
            let code = status.map_or_else(|| "Unknown".to_string(), |s| format!("Http{s}"));
            (code, message, Vec::new())
        }
    };
    ApiError {
        status,
        code,
        message,
        details,
        method: method.to_string(),
        url: url.to_string(),
        request_id,
    }
}

/// The `error` object of an ARM answer or operation status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    pub details: Vec<(String, String)>,
}

/// Reads `{"error": {...}}`, or a bare `{"code", "message"}`.
pub fn error_object(v: &Value) -> Option<ErrorBody> {
    let e = v.get("error").filter(|e| e.is_object()).unwrap_or(v);
    let code = e.get("code")?.as_str()?.to_string();
    let message = e
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let details = e
        .get("details")
        .and_then(Value::as_array)
        .map(|ds| {
            ds.iter()
                .filter_map(|d| {
                    Some((
                        d.get("code")?.as_str()?.to_string(),
                        d.get("message")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(ErrorBody {
        code,
        message,
        details,
    })
}

/// A URL safe to show: scheme, host, path and `api-version`, nothing else from the query
/// (skip tokens and signed operation URLs can carry secrets).
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let api: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k == "api-version")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    shown.set_query(None);
    shown.set_fragment(None);
    if !api.is_empty() {
        shown.query_pairs_mut().extend_pairs(api);
    }
    shown.to_string()
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_arm_error_with_details() {
        let body = br#"{"error":{"code":"InvalidTemplate","message":"Bad.","details":[{"code":"A","message":"first"}]}}"#;
        let e = parse_api_error(Some(400), body, "PUT", "https://x/y", Some("rid".into()));
        assert_eq!(e.code, "InvalidTemplate");
        assert_eq!(e.message, "Bad.");
        assert_eq!(e.details, vec![("A".into(), "first".into())]);
        assert_eq!(e.to_string(), "InvalidTemplate: Bad.; A: first");
        assert_eq!(e.request_id.as_deref(), Some("rid"));
    }

    #[test]
    fn non_json_bodies_still_give_an_error() {
        let e = parse_api_error(Some(502), b"<html>bad gateway</html>", "GET", "u", None);
        assert_eq!(e.code, "Http502");
        assert!(e.message.contains("bad gateway"));
        let e = parse_api_error(Some(500), b"", "GET", "u", None);
        assert_eq!(e.message, "no error details in the response");
    }

    #[test]
    fn hints_cover_common_codes() {
        let hint = |code: &str, status| {
            ArmError::Api(Box::new(parse_api_error(
                Some(status),
                format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#).as_bytes(),
                "PUT",
                "u",
                None,
            )))
            .hint()
            .unwrap_or_default()
        };
        assert!(hint("AuthorizationFailed", 403).contains("role"));
        assert!(hint("CustomDomainInUse", 409).contains("global"));
        assert!(hint("RoleAssignmentUpdateNotPermitted", 400).contains("cannot change"));
        assert!(hint("ExpiredAuthenticationToken", 401).contains("az login"));
        assert!(hint("InsufficientQuota", 400).contains("region"));
        assert!(hint("DeploymentModelNotSupported", 400).contains("region"));
        assert!(hint("FlagMustBeSetForRestore", 409).contains("purge"));
        assert!(hint("ServiceAlreadyExistsInSoftDeletedState", 409).contains("restore"));
        assert!(hint("PrincipalNotFound", 400).contains("replicate"));
        assert!(hint("PreconditionFailed", 412).contains("changed"));
        assert!(hint("Whatever", 412).contains("changed"));
        assert!(hint("SubscriptionNotFound", 404).contains("subscription"));
        assert!(hint("ResourceGroupNotFound", 404).contains("resource group"));
        assert!(hint("RequestConflict", 409).contains("another operation"));
        assert_eq!(hint("Whatever", 400), "");
        let on_role = ArmError::Api(Box::new(parse_api_error(
            Some(403),
            br#"{"error":{"code":"AuthorizationFailed","message":"m"}}"#,
            "PUT",
            "https://m/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/a/providers/Microsoft.Authorization/roleAssignments/x",
            None,
        )))
        .hint()
        .unwrap_or_default();
        for role in [
            "Owner",
            "User Access Administrator",
            "Role Based Access Control Administrator",
        ] {
            assert!(on_role.contains(role), "{on_role}");
        }
    }

    #[test]
    fn display_url_keeps_only_api_version() {
        let u =
            Url::parse("https://m.azure.com/a/b?api-version=1&$skiptoken=secret&sig=x").unwrap();
        assert_eq!(display_url(&u), "https://m.azure.com/a/b?api-version=1");
        let u = Url::parse("https://m.azure.com/a?sig=x").unwrap();
        assert_eq!(display_url(&u), "https://m.azure.com/a");
    }
}
