//! The HTTP side of the M2M functions: each Lambda binary builds one of these APIs once at start-up and
//! hands it to `lambda_http::run` through [`service`]. Tests call [`Endpoint::handle`] in-process.

mod credentials;
mod error;
mod exchange;
mod http;
pub mod logging;
pub mod metrics;
mod outcome;
mod page;
mod protected;
mod request;
mod token;

pub use credentials::{
    AwsClientSettings, AwsKeys, Caller, CredentialKind, CredentialSettings, Credentials,
    SecretError, SecretFailure, SecretSource, StackKeyCallers,
};
pub use error::ApiError;
pub use exchange::Exchanger;
pub use http::Cors;
use http::answer;
pub use logging::{LogFormat, LogSettings, init_tracing, lambda_json_layer, text_layer};
pub use metrics::{MetricsSettings, install_metrics};
pub use outcome::Outcome;
pub use page::{PageApi, PageSettings};
pub use protected::{ADMIN, PROTECTED, ProtectedApi, Protection, USER};
pub use request::{MAX_BODY_BYTES, TokenRequest};
pub use token::{TokenApi, TokenSettings};

pub use lambda_http::{Body, Request, Response};
pub use m2m_auth::{AuthConfig, ConfigError, Require};

use std::convert::Infallible;
use std::future::Future;

/// One function's request handling.
pub trait Endpoint: Send + Sync {
    /// Answers every request; errors are already turned into responses here.
    fn handle(&self, request: Request) -> impl Future<Output = Response<Body>> + Send;
}

/// Wraps an endpoint as the service `lambda_http::run` expects. The endpoint lives for the whole process
/// (a warm Lambda container), so it is leaked once rather than reference-counted on every request.
pub fn service<E: Endpoint + 'static>(
    endpoint: E,
) -> impl lambda_http::Service<Request, Response = Response<Body>, Error = Infallible, Future: Send>
{
    let endpoint: &'static E = Box::leak(Box::new(endpoint));
    lambda_http::service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(endpoint.handle(request).await)
    })
}
