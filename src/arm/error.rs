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
        // Also built from operation status bodies: sanitised here whatever the source.
        write!(f, "{}: {}", sanitise(&self.code), sanitise(&self.message))?;
        for (code, message) in &self.details {
            write!(f, "; {}: {}", sanitise(code), sanitise(message))?;
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
            ArmError::Api(e) => hint_for(&e.code, &e.message, e.status, &e.url),
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

fn hint_for(code: &str, message: &str, status: Option<u16>, url: &str) -> Option<String> {
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
        // Azure Monitor: one setting per category and workspace on a resource (the message
        // names the other setting and the category; docs/azure-behaviours.md).
        "Conflict" if message.contains("is already used in diagnostic setting") => {
            "another diagnostic setting on this resource already sends this category to the same workspace, and Azure lets only one do so: remove the category from the setting the message names, or send it to another workspace, or delete that setting; gw's own setting gw-gateway-logs would send the same category to the same workspace (`gw plan` names the setting before apply)"
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
///
/// What is echoed is sanitised (control characters dropped, token-like runs redacted, at most
/// [`MAX_ECHO`] characters). For a call that returns secrets (`listKeys`, `listSecrets`, ...)
/// a body that is not an ARM error is never echoed at all: only its size and content type.
pub fn parse_api_error(
    status: Option<u16>,
    body: &[u8],
    content_type: Option<&str>,
    method: &str,
    url: &str,
    request_id: Option<String>,
) -> ApiError {
    let value: Option<Value> = serde_json::from_slice(body).ok();
    let from_value = value.as_ref().and_then(error_object);
    let (code, message, details) = match from_value {
        Some(e) => (
            sanitise(&e.code),
            sanitise(&e.message),
            e.details
                .iter()
                .map(|(c, m)| (sanitise(c), sanitise(m)))
                .collect(),
        ),
        None => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let message = if text.is_empty() {
                "no error details in the response".to_string()
            } else if returns_secrets(url) {
                format!(
                    "the response ({} bytes, {}) is not shown: this call returns secrets",
                    body.len(),
                    content_type
                        .map(sanitise)
                        .unwrap_or_else(|| "no content type".into())
                )
            } else {
                sanitise(text)
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

/// The most characters of a response gw echoes into an error.
pub const MAX_ECHO: usize = 300;

/// Whether the call at `url` answers with secrets: ARM's `list*` actions (`listKeys`,
/// `listSecrets`, `listCredentials`, ...) and anything named after keys, secrets or tokens.
pub fn returns_secrets(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let action = path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    action.starts_with("list")
        || ["key", "secret", "token", "credential", "password"]
            .iter()
            .any(|w| action.contains(w))
}

/// Text from a response made safe to print: no control characters (terminal escapes, line
/// breaks that forge output), runs that look like keys or tokens replaced, and a length cap.
pub fn sanitise(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = String::with_capacity(flat.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if looks_like_secret(run) {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in flat.chars() {
        if c.is_ascii_alphanumeric() || "+/=_-.".contains(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    truncate(&out, MAX_ECHO)
}

/// A run of 32+ key characters mixing letters and digits: an APIM key (32 hex), an account
/// key (88 base64), a JWT or SAS signature. Ids and messages rarely look like that.
fn looks_like_secret(run: &str) -> bool {
    run.len() >= 32
        && run.chars().any(|c| c.is_ascii_digit())
        && run.chars().any(|c| c.is_ascii_alphabetic())
        && !run.contains("/subscriptions/")
        && !run.contains("/providers/")
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
    let mut details: Vec<(String, String)> = details;
    // Log Analytics nests the cause (`SemanticError: Failed to resolve table ...`) in
    // `innererror` rather than `details`.
    let mut inner = e.get("innererror");
    while let Some(i) = inner {
        if let Some(c) = i.get("code").and_then(Value::as_str) {
            let m = i.get("message").and_then(Value::as_str).unwrap_or_default();
            details.push((c.to_string(), m.to_string()));
        }
        inner = i.get("innererror");
    }
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
        let e = parse_api_error(
            Some(400),
            body,
            None,
            "PUT",
            "https://x/y",
            Some("rid".into()),
        );
        assert_eq!(e.code, "InvalidTemplate");
        assert_eq!(e.message, "Bad.");
        assert_eq!(e.details, vec![("A".into(), "first".into())]);
        assert_eq!(e.to_string(), "InvalidTemplate: Bad.; A: first");
        assert_eq!(e.request_id.as_deref(), Some("rid"));
    }

    #[test]
    fn non_json_bodies_still_give_an_error() {
        let e = parse_api_error(
            Some(502),
            b"<html>bad gateway</html>",
            None,
            "GET",
            "u",
            None,
        );
        assert_eq!(e.code, "Http502");
        assert!(e.message.contains("bad gateway"));
        let e = parse_api_error(Some(500), b"", None, "GET", "u", None);
        assert_eq!(e.message, "no error details in the response");
    }

    #[test]
    fn hints_cover_common_codes() {
        let hint = |code: &str, status| {
            ArmError::Api(Box::new(parse_api_error(
                Some(status),
                format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#).as_bytes(),
                None,
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
        assert!(hint("Conflict", 409).contains("another operation"));
        // Azure Monitor's answer is a bare code and message.
        let sink = ArmError::Api(Box::new(parse_api_error(
            Some(409),
            br#"{"code":"Conflict","message":"Data sink '/subscriptions/s/resourceGroups/g/providers/Microsoft.OperationalInsights/workspaces/w' is already used in diagnostic setting 'lab' for category 'GatewayLogs'. Data sinks can't be reused in different settings on the same category for the same resource."}"#,
            None,
            "PUT",
            "u",
            None,
        )))
        .hint()
        .unwrap_or_default();
        assert!(
            sink.contains("remove the category") && sink.contains("gw-gateway-logs"),
            "{sink}"
        );
        assert_eq!(hint("Whatever", 400), "");
        let on_role = ArmError::Api(Box::new(parse_api_error(
            Some(403),
            br#"{"error":{"code":"AuthorizationFailed","message":"m"}}"#,
            None,
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
    fn a_failed_secret_call_never_echoes_its_body() {
        let key = "0123456789abcdef0123456789abcdef";
        let body = format!("upstream said: primaryKey={key}");
        let url = "https://m.azure.com/s/x/subscriptions/sub1/listSecrets?api-version=1";
        let e = parse_api_error(
            Some(500),
            body.as_bytes(),
            Some("text/plain"),
            "POST",
            url,
            None,
        );
        let shown = format!("{e} {e:?}");
        assert!(
            !shown.contains(key) && !shown.contains("upstream"),
            "{shown}"
        );
        assert!(
            e.message
                .contains(&format!("{} bytes, text/plain", body.len())),
            "{e}"
        );
        for action in [
            "listKeys",
            "listSecrets",
            "listCredentials",
            "regenerateKey",
        ] {
            assert!(
                returns_secrets(&format!("https://m/a/{action}?api-version=1")),
                "{action}"
            );
        }
        assert!(!returns_secrets("https://m/a/apis/inference?api-version=1"));
    }

    #[test]
    fn echoed_bodies_are_capped_flattened_and_redacted() {
        let key = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A=";
        let body = format!(
            "<html>\x1b[2Jbad\r\nforged: line token={key}</html>{}",
            "x".repeat(1000)
        );
        let e = parse_api_error(
            Some(502),
            body.as_bytes(),
            Some("text/html"),
            "GET",
            "u",
            None,
        );
        assert!(!e.message.contains(key), "{}", e.message);
        assert!(e.message.contains("[redacted]"));
        assert!(!e.message.chars().any(char::is_control), "{:?}", e.message);
        assert!(e.message.chars().count() <= MAX_ECHO + 3);
        // An ARM error's own message is shown, flattened the same way.
        let arm = br#"{"error":{"code":"Bad","message":"line1\nline2 \u001b[31m"}}"#;
        let e = parse_api_error(Some(400), arm, None, "PUT", "u", None);
        assert_eq!(e.message, "line1 line2  [31m");
        // Resource ids are not mistaken for secrets.
        let id = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg1";
        assert_eq!(sanitise(id), id);
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
