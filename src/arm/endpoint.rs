//! Where ARM is and how patient to be with it: [`ArmConfig`].
//!
//! The endpoint check lives here because it guards the token: a bearer token sent over plain
//! HTTP to anything but this machine could be read on the way.

use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

use url::Url;

use crate::env;

/// The public cloud's Resource Manager.
pub const DEFAULT_ENDPOINT: &str = "https://management.azure.com";

/// How gw talks to ARM. The CLI fills it from flags and [`ArmConfig::from_env`].
#[derive(Debug, Clone)]
pub struct ArmConfig {
    /// Base URL of Resource Manager; ARM ids are appended to its path.
    pub endpoint: Url,
    /// Most HTTP requests in flight at once (ARM throttles per subscription and principal).
    pub parallelism: usize,
    /// Cap on any single wait between retries or polls, `Retry-After` included.
    pub max_retry_wait: Duration,
    /// How long one long-running operation may take (classic APIM tiers take up to 90 min).
    pub lro_timeout: Duration,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Limit on one HTTP exchange, so a hung connection becomes a retryable error.
    pub request_timeout: Duration,
}

impl Default for ArmConfig {
    fn default() -> Self {
        ArmConfig {
            // The constant is a valid URL; a parse failure here would be a typo caught by tests.
            endpoint: Url::parse(DEFAULT_ENDPOINT).unwrap_or_else(|_| unreachable!()),
            parallelism: 8,
            max_retry_wait: Duration::from_secs(60),
            lro_timeout: Duration::from_secs(90 * 60),
            max_attempts: 8,
            request_timeout: Duration::from_secs(120),
        }
    }
}

/// A setting gw cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid ARM endpoint `{value}`: {reason}")]
    Endpoint { value: String, reason: String },
    #[error(
        "refusing plain http:// for ARM endpoint `{value}`: the access token would cross the network in clear; use https:// (http:// is accepted for loopback addresses only)"
    )]
    InsecureEndpoint { value: String },
    #[error("cannot use the certificates in SSL_CERT_FILE `{path}`: {reason}")]
    Certificates { path: String, reason: String },
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
    #[error("invalid {name} `{value}`: expected a number of seconds")]
    Seconds { name: &'static str, value: String },
}

impl ArmConfig {
    /// Defaults, overridden by `GW_ARM_ENDPOINT`, `GW_MAX_RETRY_WAIT` and `GW_LRO_TIMEOUT`.
    /// An explicit `--arm-endpoint` flag should be applied afterwards with [`Self::with_endpoint`].
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut config = ArmConfig::default();
        if let Some(endpoint) = env::var(env::GW_ARM_ENDPOINT) {
            config.endpoint = parse_endpoint(&endpoint)?;
        }
        if let Some(v) = env::var(env::GW_MAX_RETRY_WAIT) {
            config.max_retry_wait = parse_seconds(env::GW_MAX_RETRY_WAIT, &v)?;
        }
        if let Some(v) = env::var(env::GW_LRO_TIMEOUT) {
            config.lro_timeout = parse_seconds(env::GW_LRO_TIMEOUT, &v)?;
        }
        Ok(config)
    }

    /// Replaces the endpoint after validating it.
    pub fn with_endpoint(mut self, endpoint: &str) -> Result<Self, ConfigError> {
        self.endpoint = parse_endpoint(endpoint)?;
        Ok(self)
    }
}

/// Parses and checks an ARM endpoint: https anywhere, http only on loopback.
pub fn parse_endpoint(value: &str) -> Result<Url, ConfigError> {
    let bad = |reason: &str| ConfigError::Endpoint {
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let url = Url::parse(value.trim()).map_err(|e| bad(&e.to_string()))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it must not carry credentials"));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(ConfigError::InsecureEndpoint {
            value: value.to_string(),
        }),
        other => Err(bad(&format!("unsupported scheme `{other}`"))),
    }
}

/// Whether the URL's host is this machine (a token sent there never crosses a network).
/// IP literals must be loopback (127.0.0.0/8, ::1). A name is never trusted for what it says
/// (`localhost` can be mapped anywhere in /etc/hosts or by a resolver): it is resolved, and
/// every address it resolves to must be loopback.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).to_canonical().is_loopback(),
        Some(url::Host::Domain(d)) => {
            let port = url.port_or_known_default().unwrap_or(80);
            (d, port)
                .to_socket_addrs()
                .is_ok_and(|addrs| all_loopback(addrs.map(|a| a.ip())))
        }
        None => false,
    }
}

/// At least one address, and all of them loopback.
fn all_loopback(addrs: impl IntoIterator<Item = IpAddr>) -> bool {
    let mut any = false;
    for ip in addrs {
        if !ip.to_canonical().is_loopback() {
            return false;
        }
        any = true;
    }
    any
}

/// Seconds as an integer or decimal (`0`, `2.5`); `0` means "never wait".
pub fn parse_seconds(name: &'static str, value: &str) -> Result<Duration, ConfigError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| ConfigError::Seconds {
            name,
            value: value.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_accepted_anywhere() {
        assert!(parse_endpoint("https://management.usgovcloudapi.net").is_ok());
        assert!(parse_endpoint("https://10.0.0.1:8443/").is_ok());
    }

    #[test]
    fn http_is_accepted_on_loopback_only() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.8.9.10",
            "http://[::1]:9000",
            "http://localhost:1234",
            "http://LOCALHOST",
        ] {
            assert!(parse_endpoint(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://management.azure.com",
            "http://10.0.0.1",
            "http://localhost.evil.com",
            "http://[::2]",
            "http://[::ffff:10.0.0.1]",
            "http://0.0.0.0:8080",
            "http://name.invalid",
        ] {
            let err = parse_endpoint(bad).unwrap_err();
            assert!(matches!(err, ConfigError::InsecureEndpoint { .. }), "{bad}");
            assert!(err.to_string().contains("in clear"));
        }
    }

    #[test]
    fn a_name_is_loopback_only_if_every_address_is() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(all_loopback([ip("127.0.0.1"), ip("::1")]));
        assert!(!all_loopback([ip("127.0.0.1"), ip("192.168.1.10")]));
        assert!(!all_loopback([]));
    }

    #[test]
    fn other_schemes_and_garbage_are_refused() {
        assert!(parse_endpoint("ftp://127.0.0.1").is_err());
        assert!(parse_endpoint("not a url").is_err());
        assert!(parse_endpoint("https://user:pw@example.com").is_err());
        assert!(parse_endpoint("https://example.com/?x=1").is_err());
    }

    #[test]
    fn seconds_parse() {
        assert_eq!(parse_seconds("X", "0").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_seconds("X", "2.5").unwrap(),
            Duration::from_millis(2500)
        );
        assert!(parse_seconds("X", "-1").is_err());
        assert!(parse_seconds("X", "soon").is_err());
    }
}
