//! Building request URLs and headers: pure, so they are tested without a server.

use reqwest::header::{HeaderMap, HeaderValue, IF_MATCH};
use url::Url;

/// Why a URL could not be built or followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("`{0}` is not an ARM id (it must start with `/`)")]
    NotAnId(String),
    #[error("`{0}` is not a valid URL")]
    Invalid(String),
    /// Following it would send the token to another host.
    #[error("refusing to follow a link to another host: {0}")]
    OtherOrigin(String),
}

/// `{endpoint}{id}?api-version={api}&extra...`. The id's path is kept as given (ARM ids are
/// case-insensitive, but echoing the caller's casing keeps journals and errors readable).
pub fn resource_url(
    endpoint: &Url,
    id: &str,
    api_version: &str,
    extra_query: &[(&str, &str)],
) -> Result<Url, UrlError> {
    if !id.starts_with('/') || id.contains(['?', '#']) {
        return Err(UrlError::NotAnId(id.to_string()));
    }
    let mut url = endpoint.clone();
    let base = endpoint.path().trim_end_matches('/');
    url.set_path(&format!("{base}{id}"));
    url.set_query(None);
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("api-version", api_version);
        for (k, v) in extra_query {
            q.append_pair(k, v);
        }
    }
    Ok(url)
}

/// Resolves a `Location`, `Azure-AsyncOperation` or `nextLink` value (absolute or relative)
/// and refuses it unless it is on the endpoint's scheme, host and port: the token goes with it.
pub fn follow_url(endpoint: &Url, link: &str) -> Result<Url, UrlError> {
    let url = endpoint
        .join(link.trim())
        .map_err(|_| UrlError::Invalid(link.to_string()))?;
    if url.origin() != endpoint.origin() {
        return Err(UrlError::OtherOrigin(format!(
            "{}://{}",
            url.scheme(),
            url.host_str().unwrap_or_default()
        )));
    }
    Ok(url)
}

/// Conditional-write headers: `If-Match` when the caller read an ETag (or passes `*`).
pub fn write_headers(if_match: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(etag) = if_match
        && let Ok(v) = HeaderValue::from_str(etag)
    {
        headers.insert(IF_MATCH, v);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn builds_url_with_api_version_and_extra_query() {
        let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a/apis/x/policies/policy";
        let u = resource_url(
            &ep("https://management.azure.com"),
            id,
            "2024-05-01",
            &[("format", "rawxml")],
        )
        .unwrap();
        assert_eq!(
            u.as_str(),
            format!("https://management.azure.com{id}?api-version=2024-05-01&format=rawxml")
        );
    }

    #[test]
    fn keeps_an_endpoint_path_prefix() {
        let u = resource_url(&ep("http://127.0.0.1:9/arm/"), "/subscriptions/s", "1", &[]).unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9/arm/subscriptions/s?api-version=1"
        );
    }

    #[test]
    fn refuses_non_ids() {
        let e = ep("https://m");
        assert!(resource_url(&e, "subscriptions/s", "1", &[]).is_err());
        assert!(resource_url(&e, "/subscriptions/s?x=1", "1", &[]).is_err());
    }

    #[test]
    fn follows_same_origin_links_only() {
        let e = ep("https://management.azure.com");
        assert_eq!(
            follow_url(&e, "https://management.azure.com/op/1?api-version=2")
                .unwrap()
                .as_str(),
            "https://management.azure.com/op/1?api-version=2"
        );
        assert_eq!(
            follow_url(&e, "/op/2").unwrap().as_str(),
            "https://management.azure.com/op/2"
        );
        assert!(matches!(
            follow_url(&e, "https://evil.example/op"),
            Err(UrlError::OtherOrigin(_))
        ));
        assert!(follow_url(&e, "http://management.azure.com/op").is_err());
    }

    #[test]
    fn if_match_header_only_when_given() {
        assert!(write_headers(None).is_empty());
        assert_eq!(write_headers(Some("\"abc\""))[IF_MATCH], "\"abc\"");
        assert_eq!(write_headers(Some("*"))[IF_MATCH], "*");
    }
}
