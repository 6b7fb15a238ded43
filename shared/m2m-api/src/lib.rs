//! The HTTP side of the M2M functions, as tower services on `lambda_http`: the layers [`RequireGrant`] and
//! [`ApiLayer`], the handlers, and [`run`], which hands a service to the Lambda runtime. Each function's
//! main.rs composes them; tests call the same pieces in-process.

mod credentials;
mod error;
mod exchange;
mod http;
mod issued;
mod layers;
pub mod logging;
pub mod metrics;
mod outcome;
mod protected;
mod request;
mod request_line;
mod runtime;
mod token;
mod whoami;

pub use credentials::{
    Allowance, AwsClientSettings, AwsKeys, Caller, CredentialKind, CredentialSettings, Credentials,
    IAM_ROUTE, SecretError, SecretFailure, SecretSource, StackKeyCallers, StackKeyPrincipals,
};
pub use error::{ApiError, ProviderError};
pub use exchange::Exchanger;
pub use http::{Cors, json_response, security_headers};
pub use issued::{DEFAULT_ISSUED_TOKEN_CACHE_ENTRIES, MAX_ISSUED_TOKEN_CACHE_ENTRIES};
pub use layers::{ApiLayer, PostOnly, RequestLog, RequireGrant, RequireGrantService};
pub use logging::{LogFormat, LogSettings, init_telemetry, lambda_json_layer, text_layer};
pub use metrics::{MetricsSettings, install_metrics};
pub use outcome::Outcome;
pub use protected::{
    ADMIN, PROTECTED, ProtectedApi, Protection, USER, succeeded, verifier, verifier_from_env,
};
pub use request::{MAX_BODY_BYTES, TokenRequest};
pub use request_line::{RequestLine, install_json_request_lines};
pub use runtime::{Answer, ApiGatewayEvent, GuardedAdapter, guard, run};
pub use token::{TokenApi, TokenSettings};
pub use whoami::whoami;

pub use lambda_http::{Body, Request, Response};
pub use m2m_auth::{AuthConfig, ConfigError, Require, VerifiedToken, Verifier};
