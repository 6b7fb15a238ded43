//! The AWS SDK's HTTP client over a caller's `reqwest::Client`, for the token function's Secrets Manager
//! client and the `m2m` command's credential chain (STS web identity, ECS and EC2 metadata).
//!
//! Why: the SDK's default hyper + rustls client loads the system's root certificates (every file under
//! `/etc/ssl/certs`) on its first call, in the middle of the token function's first invocation, and brings a
//! second HTTP stack (with HTTP/2) into every binary that links the SDK. With this one each binary links one
//! HTTP client and one TLS configuration (for the functions, `m2m_auth::fetch::build_client`'s: rustls on
//! aws-lc, the compiled-in root set, no redirects). The requests and answers are small: bodies are sent and
//! read whole.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// An SDK [`HttpClient`] over a `reqwest::Client` (which keeps the connection pool).
#[derive(Debug, Clone)]
pub struct ReqwestHttpClient {
    client: reqwest::Client,
}

impl ReqwestHttpClient {
    pub fn new(client: reqwest::Client) -> Self {
        ReqwestHttpClient { client }
    }
}

impl HttpClient for ReqwestHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            client: self.client.clone(),
            connect_timeout: settings.connect_timeout(),
            read_timeout: settings.read_timeout(),
        })
    }
}

#[derive(Debug)]
struct Connector {
    client: reqwest::Client,
    connect_timeout: Option<std::time::Duration>,
    read_timeout: Option<std::time::Duration>,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        // reqwest has no per-request connect timeout: an attempt may take both limits together, or the one
        // given (the metadata endpoints are probed with a 1 s connect timeout off EC2: keep that short).
        let timeout = match (self.connect_timeout, self.read_timeout) {
            (Some(connect), Some(read)) => Some(connect + read),
            (one, other) => one.or(other),
        };
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|error| ConnectorError::user(error.into()))?;
            let (parts, body) = request.into_parts();
            let body = body
                .bytes()
                .ok_or_else(|| {
                    ConnectorError::user("streaming request bodies are not supported".into())
                })?
                .to_vec();
            let mut builder = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body);
            if let Some(timeout) = timeout {
                builder = builder.timeout(timeout);
            }
            let response = builder.send().await.map_err(connector_error)?;
            let mut answer = http::Response::builder().status(response.status());
            if let Some(headers) = answer.headers_mut() {
                *headers = response.headers().clone();
            }
            let body = response.bytes().await.map_err(connector_error)?;
            // A body whose `Debug` does not print its bytes: the SDK logs responses at TRACE, and a
            // GetSecretValue, STS or metadata answer holds a secret or credentials.
            let answer = answer
                .body(SdkBody::from_body_1_x(reqwest::Body::from(body)))
                .map_err(|error| ConnectorError::other(error.into(), None))?;
            HttpResponse::try_from(answer)
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

/// Timeouts as timeouts (the SDK and its callers report them as such), connection failures as I/O errors
/// (retryable), anything else as other.
fn connector_error(error: reqwest::Error) -> ConnectorError {
    let error = error.without_url();
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_connect() || error.is_request() || error.is_body() {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), None)
    }
}
