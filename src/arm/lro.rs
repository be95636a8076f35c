//! Long-running operations: how to tell one started, how to read each poll (pure, tested),
//! and the loop that polls (`ArmClient::follow`).
//!
//! ARM signals an LRO with 201/202 plus `Azure-AsyncOperation` (poll until the body's
//! `status` is terminal) and/or `Location` (poll until it stops answering 202). Some
//! providers answer 200/201 with a non-terminal `provisioningState` and no header: then the
//! resource itself is polled. Poll URLs are opaque and used as given.

use serde_json::Value;
use url::Url;

use super::error::{ErrorBody, error_object};

/// How to watch a started operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watch {
    /// GET this URL until `status` is Succeeded, Failed or Canceled.
    AsyncOperation(Url),
    /// GET this URL until it answers something other than 202.
    Location(Url),
    /// GET the resource until `properties.provisioningState` is terminal.
    ProvisioningState,
}

/// What one poll says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Continue,
    Succeeded,
    /// The operation's error.
    Failed(ErrorBody),
}

/// Headers and body of the first answer, as far as LROs care.
#[derive(Debug, Clone, Copy)]
pub struct Initial<'a> {
    pub status: u16,
    pub azure_async_operation: Option<&'a str>,
    pub location: Option<&'a str>,
    pub body: Option<&'a Value>,
}

/// Decides whether the first answer started an operation, and how to watch it.
/// `resolve` turns a header value into a URL (relative ones against the endpoint) or refuses it.
pub fn start<E>(
    initial: Initial<'_>,
    resolve: impl Fn(&str) -> Result<Url, E>,
) -> Result<Option<Watch>, E> {
    // ARM's guidance: Azure-AsyncOperation wins when both are present.
    if matches!(initial.status, 201 | 202) {
        if let Some(u) = initial.azure_async_operation {
            return Ok(Some(Watch::AsyncOperation(resolve(u)?)));
        }
        if let Some(u) = initial.location {
            return Ok(Some(Watch::Location(resolve(u)?)));
        }
    }
    if matches!(initial.status, 200 | 201)
        && let Some(state) = initial.body.and_then(provisioning_state)
        && !is_terminal(state)
    {
        return Ok(Some(Watch::ProvisioningState));
    }
    Ok(None)
}

/// Reads an `Azure-AsyncOperation` status body.
pub fn on_async_status(body: &Value) -> Step {
    let status = body.get("status").and_then(Value::as_str).unwrap_or("");
    terminal_step(status, body)
}

/// Reads a `Location` poll answer (non-2xx answers are errors before they get here).
pub fn on_location(status: u16) -> Step {
    if status == 202 {
        Step::Continue
    } else {
        Step::Succeeded
    }
}

/// Reads a resource polled for its `provisioningState`.
pub fn on_resource(body: &Value) -> Step {
    let state = provisioning_state(body).unwrap_or("Succeeded");
    terminal_step(state, body)
}

fn terminal_step(state: &str, body: &Value) -> Step {
    if state.eq_ignore_ascii_case("Succeeded") {
        Step::Succeeded
    } else if state.eq_ignore_ascii_case("Failed") || state.eq_ignore_ascii_case("Canceled") {
        let error = body
            .get("error")
            .and_then(error_object)
            .or_else(|| body.pointer("/properties/error").and_then(error_object))
            .unwrap_or_else(|| {
                let code = if state.eq_ignore_ascii_case("Canceled") {
                    "OperationCanceled"
                } else {
                    "OperationFailed"
                };
                ErrorBody {
                    code: code.to_string(),
                    message: format!("the operation ended {state}"),
                    details: vec![],
                }
            });
        Step::Failed(error)
    } else {
        Step::Continue
    }
}

pub fn provisioning_state(body: &Value) -> Option<&str> {
    body.pointer("/properties/provisioningState")
        .and_then(Value::as_str)
}

fn is_terminal(state: &str) -> bool {
    ["Succeeded", "Failed", "Canceled"]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resolve(u: &str) -> Result<Url, String> {
        Url::parse("https://m.example/")
            .unwrap()
            .join(u)
            .map_err(|e| e.to_string())
    }

    fn initial<'a>(
        status: u16,
        aso: Option<&'a str>,
        loc: Option<&'a str>,
        body: Option<&'a Value>,
    ) -> Initial<'a> {
        Initial {
            status,
            azure_async_operation: aso,
            location: loc,
            body,
        }
    }

    #[test]
    fn async_operation_header_wins() {
        let w = start(initial(201, Some("/op?x=1"), Some("/loc"), None), resolve).unwrap();
        assert_eq!(
            w,
            Some(Watch::AsyncOperation(
                Url::parse("https://m.example/op?x=1").unwrap()
            ))
        );
        let w = start(
            initial(202, None, Some("https://m.example/loc"), None),
            resolve,
        )
        .unwrap();
        assert!(matches!(w, Some(Watch::Location(_))));
    }

    #[test]
    fn plain_answers_are_not_operations() {
        let done = json!({"properties": {"provisioningState": "Succeeded"}});
        assert_eq!(
            start(initial(200, None, None, Some(&done)), resolve).unwrap(),
            None
        );
        assert_eq!(
            start(initial(202, None, None, None), resolve).unwrap(),
            None
        );
        assert_eq!(
            start(initial(200, Some("/x"), None, None), resolve).unwrap(),
            None
        );
    }

    #[test]
    fn non_terminal_provisioning_state_polls_the_resource() {
        let body = json!({"properties": {"provisioningState": "Activating"}});
        assert_eq!(
            start(initial(201, None, None, Some(&body)), resolve).unwrap(),
            Some(Watch::ProvisioningState)
        );
        assert_eq!(on_resource(&body), Step::Continue);
        assert_eq!(
            on_resource(&json!({"properties": {"provisioningState": "succeeded"}})),
            Step::Succeeded
        );
    }

    #[test]
    fn async_status_transitions() {
        assert_eq!(
            on_async_status(&json!({"status": "InProgress"})),
            Step::Continue
        );
        assert_eq!(
            on_async_status(&json!({"status": "Succeeded"})),
            Step::Succeeded
        );
        let failed = json!({"status": "Failed", "error": {"code": "InsufficientQuota", "message": "no quota"}});
        assert_eq!(
            on_async_status(&failed),
            Step::Failed(ErrorBody {
                code: "InsufficientQuota".into(),
                message: "no quota".into(),
                details: vec![]
            })
        );
        match on_async_status(&json!({"status": "Canceled"})) {
            Step::Failed(e) => assert_eq!(e.code, "OperationCanceled"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn location_polls_end_when_not_202() {
        assert_eq!(on_location(202), Step::Continue);
        assert_eq!(on_location(200), Step::Succeeded);
        assert_eq!(on_location(204), Step::Succeeded);
    }

    #[test]
    fn bad_poll_urls_are_refused() {
        let refuse = |_: &str| -> Result<Url, String> { Err("no".into()) };
        assert!(start(initial(202, None, Some("x"), None), refuse).is_err());
    }
}
