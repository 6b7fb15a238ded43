//! How an HTTP function meets the Lambda runtime: [`run`] hands a `lambda_http` service to
//! `lambda_runtime::run` through lambda_http's `Adapter`, behind [`EventGuard`], so that no header can crash
//! the conversion of an event and a panic anywhere fails only its own invocation, with a contract-shaped 500.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use lambda_http::http::{HeaderMap, HeaderValue, StatusCode, header};
use lambda_http::lambda_runtime::Diagnostic;
use lambda_http::request::{LambdaRequest, RequestOrigin};
use lambda_http::{Adapter, Body, IntoResponse, LambdaEvent, Request, Response};
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll};
use tower::Service;

/// Runs `service` as the function (in place of `lambda_http::run`): every event sanitised, every panic
/// answered.
pub async fn run<S, R, E>(service: S) -> Result<(), lambda_http::Error>
where
    S: Service<Request, Response = R, Error = E> + Send + 'static,
    S::Future: Send + 'static,
    R: IntoResponse + Send + 'static,
    E: std::fmt::Debug + Into<Diagnostic> + Send + 'static,
{
    lambda_http::lambda_runtime::run(guard(service)).await
}

/// The service `run` hands to the runtime, for in-process callers (tests feed it API Gateway events).
pub fn guard<S, R, E>(service: S) -> EventGuard<Adapter<'static, R, S>>
where
    S: Service<Request, Response = R, Error = E>,
    S::Future: Send + 'static,
    R: IntoResponse,
{
    EventGuard {
        inner: Adapter::from(service),
    }
}

/// Sanitises each API Gateway event before lambda_http converts it, and turns a panic (in the conversion,
/// the service or a dependency) into a 500 `{"success": false, "error": "Internal error"}` for that
/// invocation alone: with `panic = "unwind"` the process goes on serving the next event.
pub struct EventGuard<S> {
    inner: S,
}

/// An invocation's answer: the service's, or the 500 of a panicked invocation.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum Guarded<R> {
    Served(R),
    PanickedV2(ApiGatewayV2httpResponse),
    PanickedV1(ApiGatewayProxyResponse),
}

impl<S> Service<LambdaEvent<LambdaRequest>> for EventGuard<S>
where
    S: Service<LambdaEvent<LambdaRequest>>,
    S::Response: Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Guarded<S::Response>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut event: LambdaEvent<LambdaRequest>) -> Self::Future {
        sanitize(&mut event.payload);
        let origin = event.payload.request_origin();
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(event))) {
            Ok(future) => Box::pin(async move {
                match AssertUnwindSafe(future).catch_unwind().await {
                    Ok(result) => result.map(Guarded::Served),
                    Err(_) => Ok(internal_error(&origin)),
                }
            }),
            Err(_) => Box::pin(std::future::ready(Ok(internal_error(&origin)))),
        }
    }
}

/// Drops what lambda_http 1.3 cannot build a URL from (it unwraps the parse): an `X-Forwarded-Proto` other
/// than exactly `http` or `https`, and a `Host` (header or domain name) that is not a host.
fn sanitize(request: &mut LambdaRequest) {
    match request {
        LambdaRequest::ApiGatewayV2(event) => {
            sanitize_headers(&mut event.headers);
            if let Some(domain) = &event.request_context.domain_name
                && !is_host(domain)
            {
                event.request_context.domain_name = None;
            }
        }
        LambdaRequest::ApiGatewayV1(event) => {
            sanitize_headers(&mut event.headers);
            sanitize_headers(&mut event.multi_value_headers);
            if let Some(domain) = &event.request_context.domain_name
                && !is_host(domain)
            {
                event.request_context.domain_name = None;
            }
        }
        _ => {}
    }
}

fn sanitize_headers(headers: &mut HeaderMap) {
    let proto = headers.get_all("x-forwarded-proto");
    if proto.iter().any(|v| v != "http" && v != "https") || proto.iter().count() > 1 {
        headers.remove("x-forwarded-proto");
    }
    let host = headers.get_all(header::HOST);
    if host.iter().any(|v| !v.to_str().is_ok_and(is_host)) || host.iter().count() > 1 {
        headers.remove(header::HOST);
    }
}

/// `name[:port]` (letters, digits, `-`, `_`, `.`) or `[IPv6][:port]`.
fn is_host(text: &str) -> bool {
    let (name_ok, port) = match text.strip_prefix('[') {
        Some(rest) => {
            let Some((address, after)) = rest.split_once(']') else {
                return false;
            };
            let port = match after {
                "" => None,
                after => match after.strip_prefix(':') {
                    Some(port) => Some(port),
                    None => return false,
                },
            };
            let address_ok = !address.is_empty()
                && address
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            (address_ok, port)
        }
        None => {
            let (name, port) = match text.split_once(':') {
                Some((name, port)) => (name, Some(port)),
                None => (text, None),
            };
            let name_ok = (1..=253).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            (name_ok, port)
        }
    };
    name_ok
        && port.is_none_or(|port| {
            (1..=5).contains(&port.len())
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok()
        })
}

/// The 500 of a panicked invocation, in the shape its event's origin expects; nothing of the panic.
fn internal_error<R>(origin: &RequestOrigin) -> Guarded<R> {
    let response: Response<String> = crate::http::json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &serde_json::json!({"success": false, "error": "Internal error"}),
    );
    let (parts, body) = response.into_parts();
    let mut headers = parts.headers;
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    match origin {
        RequestOrigin::ApiGatewayV1 => {
            let mut response = ApiGatewayProxyResponse::default();
            response.status_code = 500;
            response.multi_value_headers = headers;
            response.body = Some(Body::Text(body));
            Guarded::PanickedV1(response)
        }
        _ => {
            let mut response = ApiGatewayV2httpResponse::default();
            response.status_code = 500;
            response.headers = headers;
            response.body = Some(Body::Text(body));
            Guarded::PanickedV2(response)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_host;

    #[test]
    fn hosts_are_names_or_addresses_with_an_optional_port() {
        for good in [
            "api.example.com",
            "localhost:9000",
            "127.0.0.1",
            "[::1]:443",
            "[::1]",
            "a_b.c",
        ] {
            assert!(is_host(good), "{good}");
        }
        for bad in [
            "",
            "a b",
            "evil, https",
            "x/y",
            "h:",
            "h:99999",
            "h:1:2",
            "[::1",
            "[zz]",
            "a@b",
            "[::1]x",
        ] {
            assert!(!is_host(bad), "{bad}");
        }
    }
}
