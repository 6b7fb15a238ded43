//! Verification of machine-to-machine access tokens.
//!
//! A [`Verifier`] checks a compact JWS against the provider's signing keys (held by a [`JwksCache`] across
//! warm invocations), validates its claims exactly as docs/contract.md section 3 says, and computes its effective
//! [`Grants`] (section 4). A token presented again is answered from a bounded cache of verified tokens, its
//! time claims and signing key checked anew. [`Require`] states what an endpoint needs. Key fetches and the
//! cache's hits, misses and evictions are counted through the `metrics` facade (names in docs/contract.md
//! section 2); the functions' telemetry publishes them.

mod algorithm;
mod bearer;
pub mod budget;
mod config;
mod error;
pub mod fetch;
mod grants;
mod jwks;
mod jws;
mod keys;
pub mod lifetime;
mod strict_json;
mod token_cache;
mod verified;
mod verify;

pub use algorithm::{Algorithm, SUPPORTED_ALGORITHMS, parse_algorithm};
pub use bearer::{bearer_credentials, bearer_token};
pub use config::{
    AuthConfig, ConfigError, Provider, is_identifier, parse_count, parse_seconds, trimmed,
};
pub use error::VerifyError;
pub use grants::{GrantModel, Grants, Require, is_scope_token};
pub use jwks::{JwksCache, JwksCacheOptions, JwksLocation, MIN_UNKNOWN_KID_REFRESH_INTERVAL};
pub use jws::MAX_TOKEN_BYTES;
pub use strict_json::{StrictJsonError, parse_strict_object};
pub use token_cache::{
    DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES, MAX_VERIFIED_TOKEN_CACHE_BYTES, TokenCacheStats,
};
pub use verified::VerifiedToken;
pub use verify::{KeySource, TokenPolicy, Verifier};

/// JSON object type used for decoded headers and claims.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;
