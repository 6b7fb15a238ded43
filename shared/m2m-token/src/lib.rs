//! The token exchange (docs/contract.md section 1): whose credentials are exchanged ([`Credentials`], the
//! stack's secret in Secrets Manager, the IAM principals allowed to use it), the exchange at the provider, the tokens kept to hand out again, and [`TokenApi`], the token function's handler. The
//! only crate of the workspace's functions that links the AWS SDK.

mod credentials;
mod error;
mod exchange;
mod issued;
mod provider;
mod request;
mod token;

pub use credentials::{
    Allowance, AwsClientSettings, AwsKeys, Caller, CredentialSettings, Credentials, IAM_ROUTE,
    SecretError, SecretFailure, SecretSource, StackKeyCallers, StackKeyPrincipals,
};
pub use error::{ProviderError, TokenError};
pub use issued::{DEFAULT_ISSUED_TOKEN_CACHE_ENTRIES, MAX_ISSUED_TOKEN_CACHE_ENTRIES};
pub use request::{MAX_BODY_BYTES, TokenRequest};
pub use token::{TokenApi, TokenSettings};
