//! The Lambda/HTTP plumbing of the M2M functions, as tower services on `lambda_http`: the layers
//! [`RequireGrant`] and [`ApiLayer`], the protected endpoints and whoami, the contract's answers
//! ([`ApiError`], [`Refusal`]), and [`run`], which hands a service to the Lambda runtime. Each function's
//! main.rs composes them; tests call the same pieces in-process. The token exchange is m2m-token's; the
//! logs and metrics are m2m-telemetry's.

mod error;
mod http;
mod layers;
mod protected;
mod runtime;
mod whoami;

pub use error::{ApiError, Refusal};
pub use http::{Answered, Cors, json_response, security_headers, succeeded_with_text};
pub use layers::{ApiLayer, PostOnly, RequestLog, RequireGrant, RequireGrantService};
pub use protected::{
    ADMIN, PROTECTED, ProtectedApi, Protection, USER, succeeded, verifier, verifier_from_env,
};
pub use runtime::{Answer, ApiGatewayEvent, GuardedAdapter, guard, run};
pub use whoami::whoami;

pub use lambda_http::{Body, Request, Response};
pub use m2m_auth::{AuthConfig, ConfigError, Require, VerifiedToken, Verifier};
