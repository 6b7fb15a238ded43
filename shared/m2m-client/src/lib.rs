//! The calling side of M2M authentication: tokens from the token function (`POST /m2m/token` with the
//! caller's access key, or `POST /m2m/token/iam` signed with SigV4), kept and refreshed like the AWS
//! SDKs keep credentials, and a `reqwest` wrapper that sends them. The `m2m` command of this crate is
//! built on it.
//!
//! - [`TokenSource`]: lazy, cached until `exp − max(60 s, 20% of the lifetime)` (the rule the token
//!   function's own cache follows, [`m2m_auth::lifetime::renew_at`]), one refresh at a time however many
//!   tasks ask, a failed refresh backed off (honouring `Retry-After`) and never an expired token, times read
//!   against the server's clock.
//! - [`AuthorizedClient`]: adds `Authorization: Bearer …`; on a `401` with
//!   `WWW-Authenticate: Bearer error="invalid_token"`, one fresh token and one retry.
//! - [`Error`]: the server's `{"success": false, "error": …}` answers with their status and text, and
//!   each other failure its own variant. The access key never appears in an error, a log line or a
//!   `Debug` output ([`AccessKey`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let stack = m2m_tests::http_stack::start().await;
//! # let base_url = stack.base_url();
//! # unsafe { std::env::set_var("DESCOPE_ACCESS_KEY", "dev-reader-key") };
//! use m2m_client::{AccessKey, AuthorizedClient, TokenSource};
//!
//! let key = AccessKey::from_env()?.expect("DESCOPE_ACCESS_KEY is set");
//! let tokens = TokenSource::access_key(base_url, key).scopes(["read:data"]).build()?;
//! let api = AuthorizedClient::new(tokens);
//! let answer = api.send(api.post(format!("{base_url}/api/user"))).await?;
//! assert_eq!(answer.status(), 200);
//!
//! // The token function's refusals, typed:
//! let admin = TokenSource::access_key(base_url, AccessKey::new("dev-reader-key")?)
//!     .scopes(["admin"])
//!     .build()?;
//! match admin.token().await {
//!     Err(m2m_client::Error::Refused { status, message }) => {
//!         assert_eq!(status, 403);
//!         assert_eq!(message, "Scope not granted to this access key: 'admin'");
//!     }
//!     other => panic!("{other:?}"),
//! }
//! # Ok(()) }
//! ```

mod client;
mod disk;
mod error;
pub mod iam;
mod key;
mod source;

pub use client::{AuthorizedClient, CallError};
pub use disk::default_cache_dir;
pub use error::Error;
pub use key::AccessKey;
pub use source::{
    Clock, DEFAULT_TIMEOUT, EXPIRY_MARGIN, INITIAL_BACKOFF, MAX_BACKOFF, Token, TokenSource,
    TokenSourceBuilder,
};
