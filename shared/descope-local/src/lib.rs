//! `descope-local`: a local, Descope-compatible issuer for machine-to-machine access keys.
//!
//! It lets the whole project run and be tested on one machine without a Descope account, and behaves the way
//! Descope's API does for access-key exchange (same paths, headers, JSON field names and token claims), so code
//! developed against it — including the official `@descope/node-sdk` with `baseUrl` pointed at it — meets no
//! surprise on real Descope.
//!
//! # Routes
//!
//! | route | answer |
//! |---|---|
//! | `POST /v1/auth/accesskey/exchange` | `Authorization: Bearer <projectId>:<accessKey>[:<managementKey>]`, body empty, `{}` or `{"loginOptions": {"customClaims": {...}, "selectedTenant": "..."}}` → `{"sessionJwt", "keyId", "projectId", "expiration"}` |
//! | `GET /v2/keys/{projectId}`, `GET /{projectId}/.well-known/jwks.json` | `{"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid", "n", "e"}]}` (every published key) |
//! | `GET /{projectId}/.well-known/openid-configuration`, `GET /v1/apps/{projectId}/.well-known/openid-configuration` | `issuer`, `jwks_uri`, ... |
//! | `GET /v1/mgmt/license` | `{"rateLimitTier": "free"}` |
//! | `POST /local/rotate-keys` | **local only, not a Descope route**: rotates the signing key (the previous keys stay published, at most 3 in all) and answers `{"kid": "<new kid>"}` |
//!
//! Every error is Descope-style JSON `{"errorCode", "errorDescription", "errorMessage", "message"}` with a
//! non-empty `errorCode`; ordinary failures never use 503, 520–522, 524 or 530 (the official SDKs retry those).
//!
//! # Session JWT
//!
//! Header `{"alg": "RS256", "kid", "typ": "JWT"}`; claims `iss` = `{base}/v1/apps/{projectId}` (the base is the
//! server's own `http://127.0.0.1:PORT`), `sub` = access key id, `iat`, `exp`, `drn: "DS"`, `roles`,
//! `permissions`, `tenants`, `dct` (only with `selectedTenant`), `nsec` (the caller's `customClaims`, only when
//! given and non-empty — never at the top level), and the key's admin-configured `claims` at the top level
//! (reserved claims are never overwritten). No `aud`.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use descope_local::{IssuerConfig, LocalIssuer};
//! let issuer = LocalIssuer::new(IssuerConfig::dev());
//! let running = issuer.start("127.0.0.1:0".parse().unwrap()).await?;
//! println!("{}", running.base_url()); // http://127.0.0.1:PORT
//! let jwt = issuer.mint("K2LocalAdmin", None, None).expect("known key");
//! # let _ = jwt; Ok(()) }
//! ```

mod claims;
mod config;
mod issuer;
mod keys;
mod server;

pub use claims::{MAX_CUSTOM_CLAIM_KEY_CHARS, MAX_CUSTOM_CLAIM_VALUE_CHARS, MAX_CUSTOM_CLAIMS};
pub use config::{
    AccessKey, DEFAULT_SESSION_TTL_SECONDS, DEV_KEYS_JSON, IssuerConfig, IssuerError,
    MAX_SESSION_TTL_SECONDS, RESERVED_CLAIMS, TenantGrants, validate_project_id,
};
pub use issuer::{Endpoint, Fault, LocalIssuer, MAX_PUBLISHED_KEYS, UNSTARTED_BASE_URL};
pub use server::{MAX_EXCHANGE_BODY_BYTES, RunningIssuer};

/// `token` with one bit of its signature flipped: what a forger who altered nothing else would send.
/// For tests and benchmarks of the refusal path.
///
/// # Panics
///
/// When `token` is not a compact JWS with a signature of at least 101 bytes (any RSA-2048 or larger).
pub fn corrupt_signature(token: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (input, signature) = token.rsplit_once('.').expect("a compact JWS");
    let mut signature = URL_SAFE_NO_PAD
        .decode(signature)
        .expect("a base64url signature");
    signature[100] ^= 1;
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}
