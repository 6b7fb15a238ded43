//! The AWS SDK's HTTP client for the credential chain (STS web identity, ECS and EC2 metadata): this
//! crate's `reqwest` client instead of the SDK's default hyper stack, as the functions do
//! (shared/m2m-api/src/credentials/aws_http.rs), so the command links one HTTP client and one TLS setup.
//! Those requests and answers are small; bodies are sent and read whole.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

#[derive(Debug, Clone)]
pub(crate) struct ReqwestHttpClient {
    client: reqwest::Client,
}

impl ReqwestHttpClient {
    pub(crate) fn new(client: reqwest::Client) -> Self {
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
        // The metadata endpoints are probed with short timeouts (1 s) off EC2: keep them short here too.
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
            // A body whose `Debug` does not print its bytes: the SDK logs responses at TRACE, and an
            // STS or metadata answer holds credentials.
            let answer = answer
                .body(SdkBody::from_body_1_x(reqwest::Body::from(body)))
                .map_err(|error| ConnectorError::other(error.into(), None))?;
            HttpResponse::try_from(answer)
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

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
