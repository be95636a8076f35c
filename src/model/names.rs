//! Azure's naming rules for every resource gw names, checked before anything is sent.
//! Each check returns the problem and the rule, so the error can say how to fix it.
//! Sources: the `pattern`/`minLength`/`maxLength` of the name parameters in the REST specs
//! (`../design/azure.md`), and DNS label rules for the globally unique host names.

/// What a check found wrong: the message, and the rule stated as the fix.
pub struct NameError {
    pub message: String,
    pub rule: &'static str,
}

fn err(message: String, rule: &'static str) -> Result<(), NameError> {
    Err(NameError { message, rule })
}

fn len_ok(name: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&name.chars().count())
}

/// Resource group: 1-90 of letters, digits, `-_.()`, not ending in `.`.
pub fn resource_group(name: &str) -> Result<(), NameError> {
    const RULE: &str = "use 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'";
    let chars_ok = name
        .chars()
        .all(|c| c.is_alphanumeric() || "-_.()".contains(c));
    if !len_ok(name, 1, 90) || !chars_ok || name.ends_with('.') {
        return err(format!("`{name}` is not a valid resource group name"), RULE);
    }
    Ok(())
}

/// A DNS label used as a global host name (Foundry custom subdomain, APIM service):
/// lower-case letters, digits and hyphens, starting with a letter, not ending in a hyphen.
fn dns_label(
    what: &str,
    name: &str,
    min: usize,
    max: usize,
    rule: &'static str,
) -> Result<(), NameError> {
    let ok = len_ok(name, min, max)
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        return err(format!("`{name}` is not a valid {what}"), rule);
    }
    Ok(())
}

/// Foundry account name, also its custom subdomain (global DNS name): 2-64 characters.
pub fn foundry_account(full: &str) -> Result<(), NameError> {
    dns_label(
        "Foundry account and subdomain name",
        full,
        2,
        64,
        "with the suffix it must be 2-64 lower-case letters, digits and single hyphens, starting with a letter and not ending in a hyphen",
    )
}

/// APIM service name (`{name}.azure-api.net`): 1-50 characters. The REST spec allows upper
/// case, but the host name is lower-case anyway; gw asks for lower case to avoid surprises.
pub fn apim_service(full: &str) -> Result<(), NameError> {
    dns_label(
        "API Management service name",
        full,
        1,
        50,
        "with the suffix it must be 1-50 lower-case letters, digits and single hyphens, starting with a letter and not ending in a hyphen",
    )
}

/// Names of APIM child entities (backends, APIs, subscriptions, operations) and model
/// deployments: 1-80 letters, digits, `-`, `_`, `.`, starting with a letter or digit.
pub fn entity(what: &str, name: &str, max: usize) -> Result<(), NameError> {
    if name.chars().count() > max {
        return err(
            format!("`{name}` is longer than {max} characters"),
            "shorten it",
        );
    }
    let ok = !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !ok {
        return err(
            format!("`{name}` is not a valid {what} name"),
            "use letters, digits, '-', '_' and '.', starting with a letter or digit",
        );
    }
    Ok(())
}

/// An API path segment such as `inference` or `ai/inference`.
pub fn api_path(path: &str) -> Result<(), NameError> {
    let ok = !path.is_empty()
        && path.len() <= 400
        && !path.starts_with('/')
        && !path.ends_with('/')
        && !path.contains("//")
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if !ok {
        return err(
            format!("`{path}` is not a valid API path"),
            "use letters, digits, '-', '_', '.' and '/' with no leading or trailing '/'",
        );
    }
    Ok(())
}

/// A cookie name (RFC 6265 token): visible ASCII without separators.
pub fn cookie(name: &str) -> Result<(), NameError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c));
    if !ok {
        return err(
            format!("`{name}` is not a valid cookie name"),
            "use letters, digits and '-' or '_' (no spaces or separators)",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(resource_group("lab-load_balancing(1)").is_ok());
        assert!(resource_group("rg.").is_err());
        assert!(resource_group(&"a".repeat(91)).is_err());
        assert!(foundry_account("foundry1-x7k2p").is_ok());
        assert!(foundry_account("Foundry1").is_err());
        assert!(foundry_account("1foundry").is_err());
        assert!(foundry_account("foundry_1").is_err());
        assert!(apim_service("apim-lab-abcde").is_ok());
        assert!(apim_service(&"a".repeat(51)).is_err());
        assert!(entity("backend", "inference-backend-pool", 80).is_ok());
        assert!(entity("backend", "pool#1", 80).is_err());
        assert!(entity("backend", &"a".repeat(81), 80).is_err());
        assert!(api_path("inference").is_ok());
        assert!(api_path("/inference").is_err());
        assert!(cookie("APIM-Backend-Affinity").is_ok());
        assert!(cookie("a b").is_err());
    }
}
