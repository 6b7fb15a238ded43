//! Verification of machine-to-machine access tokens.
//!
//! A [`Verifier`] checks a compact JWS against the provider's signing keys (held by a [`JwksCache`] across
//! warm invocations), validates its claims exactly as docs/contract.md section 3 says, and computes its effective
//! [`Grants`] (section 4). [`Require`] states what an endpoint needs.

mod bearer;
mod config;
mod error;
pub mod fetch;
mod grants;
mod jwks;
mod jws;
mod keys;
mod strict_json;
mod verify;

pub use bearer::{bearer_credentials, bearer_token};
pub use config::{AuthConfig, ConfigError, Provider, SUPPORTED_ALGORITHMS, parse_algorithm};
pub use error::VerifyError;
pub use grants::{GrantModel, Grants, Require};
pub use jwks::{JwksCache, JwksCacheOptions, JwksLocation, MIN_UNKNOWN_KID_REFRESH_INTERVAL};
pub use jws::MAX_TOKEN_BYTES;
pub use strict_json::{StrictJsonError, parse_strict_object};
pub use verify::{ClaimsPolicy, VerifiedToken, Verifier};

/// JSON object type used for decoded headers and claims.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;
