//! Azure Resource Manager: the only module that talks to the network.
//!
//! One concern per file: `endpoint` (where, how patient), `request` (URLs and headers),
//! `retry` (when to try again), `pace` (slowing down before ARM throttles), `lro` (long-running operations), `error` (what ARM said),
//! `auth` (tokens; the only user of azure_identity), `client` (the HTTP loop tying them).

pub mod auth;
mod client;
pub mod endpoint;
pub mod error;
pub mod lro;
pub mod pace;
pub mod request;
pub mod retry;

pub use auth::{AuthError, AuthMethod, AuthOptions, TokenSource, default_subscription};
pub use client::{ArmClient, Live};
pub use endpoint::{ArmConfig, ConfigError, DEFAULT_ENDPOINT};
pub use error::{ApiError, ArmError};
