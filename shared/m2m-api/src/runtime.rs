//! How an HTTP function meets the Lambda runtime: [`run`] hands a `lambda_http` service to
//! `lambda_runtime::run` through lambda_http's own `Adapter`, behind [`GuardedAdapter`], a narrow layer for
//! what the `Adapter` does not do.
//!
//! lambda_http 1.3 panics while converting an event whose `Host` or `X-Forwarded-Proto` is not a URL's
//! (it unwraps the parse), whose raw query string is not a URI's, or whose body is marked base64 and is not:
//! the guard drops those headers and answers those events 400 first. A panic in the service (or a
//! dependency) fails its own invocation with a contract-shaped 500, and the process serves the next one.
//! BENCHMARKS.md ("Hand-written platform code") has the numbers that sent the event reading and the answer
//! writing back to lambda_http.

use crate::ApiError;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, header};
use lambda_http::lambda_runtime::Diagnostic;
use lambda_http::request::{LambdaRequest, RequestOrigin};
use lambda_http::{Adapter, Body, LambdaEvent, Request, Response};
use m2m_telemetry::RequestLine;
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll};
use tower::Service;

/// The answer to an invocation: lambda_http's conversion of the service's response, or one of the guard's
/// own answers (a JSON text body), in the shape of its event's origin.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum Answer<Converted> {
    Converted(Converted),
    Rest(ApiGatewayProxyResponse),
    Http(ApiGatewayV2httpResponse),
}

/// What lambda_http's `Adapter` answers for `S` (its `LambdaResponse`, which it does not export).
type Converted<'a, S> =
    <Adapter<'a, Response<Body>, CaughtPanics<S>> as Service<LambdaEvent<LambdaRequest>>>::Response;

/// Runs `service` as the function (in place of `lambda_http::run`): every event sanitised, every panic
/// answered. The functions call it on tokio's current-thread runtime: Lambda hands a container one
/// invocation at a time, and a single-threaded runtime starts faster and uses less memory.
///
/// The service may borrow what `main` built (`let api = &api;`): it lives as long as the runtime runs.
pub async fn run<'a, S, E>(service: S) -> Result<(), lambda_http::Error>
where
    S: Service<Request, Response = Response<Body>, Error = E> + Send + 'a,
    S::Future: Send + 'a,
    E: std::fmt::Debug + Into<Diagnostic> + Send + 'a,
{
    lambda_http::lambda_runtime::run(guard(service)).await
}

/// The service `run` hands to the runtime, for in-process callers (tests feed it API Gateway events).
pub fn guard<'a, S>(service: S) -> GuardedAdapter<'a, S>
where
    S: Service<Request, Response = Response<Body>>,
    S::Future: Send + 'a,
    S::Error: Send + 'a,
{
    let line = LineSlot::default();
    GuardedAdapter {
        adapter: Adapter::from(CaughtPanics {
            inner: service,
            line: line.clone(),
        }),
        line,
    }
}

/// lambda_http's `Adapter` behind the guard: each event sanitised before the `Adapter` converts it, an event
/// it cannot convert answered 400, and a panic answered 500 for that invocation alone (with
/// `panic = "unwind"` the process goes on serving the next event).
pub struct GuardedAdapter<'a, S> {
    adapter: Adapter<'a, Response<Body>, CaughtPanics<S>>,
    line: LineSlot,
}

/// The request line of the invocation being converted, handed from the guard to [`CaughtPanics`] through
/// the `Adapter` (which takes no extra argument). It is filled and emptied within one synchronous
/// `Adapter::call`, so invocations never share it.
#[derive(Clone, Default)]
struct LineSlot(std::sync::Arc<std::sync::Mutex<Option<RequestLine>>>);

impl LineSlot {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<RequestLine>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn put(&self, line: RequestLine) {
        *self.slot() = Some(line);
    }

    fn take(&self) -> Option<RequestLine> {
        self.slot().take()
    }
}

/// An API Gateway event as lambda_http reads it, except that a panic while reading it (the http crate
/// panics when a header map would hold more than 32,768 entries; only a direct invocation can send that
/// many) is a deserialisation error: the runtime reports it for that event, and the process serves the next.
#[derive(Debug)]
pub struct ApiGatewayEvent(pub LambdaRequest);

impl<'de> serde::Deserialize<'de> for ApiGatewayEvent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        std::panic::catch_unwind(AssertUnwindSafe(move || {
            serde::Deserialize::deserialize(deserializer).map(ApiGatewayEvent)
        }))
        .unwrap_or_else(|_| {
            Err(D::Error::custom(
                "the event cannot be read as an API Gateway request",
            ))
        })
    }
}

impl<'a, S> Service<LambdaEvent<ApiGatewayEvent>> for GuardedAdapter<'a, S>
where
    S: Service<Request, Response = Response<Body>>,
    S::Future: Send + 'a,
    S::Error: Send + 'a,
{
    type Response = Answer<Converted<'a, S>>;
    type Error = S::Error;
    type Future = BoxFuture<'a, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.adapter.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<ApiGatewayEvent>) -> Self::Future {
        let LambdaEvent {
            payload: ApiGatewayEvent(mut payload),
            context,
        } = event;
        sanitize(&mut payload);
        let origin = payload.request_origin();
        // The guard's own answers get the request line and metric every answer gets.
        let line = request_line(&payload, &context);
        if !is_convertible(&payload) {
            let answer = answer(&origin, refused(&line, &ApiError::MalformedRequest));
            return Box::pin(std::future::ready(Ok(answer)));
        }
        // A panic in the service's `call` is answered by CaughtPanics; what is left panics in lambda_http's
        // conversion of the event: that is the event's fault, a 400 like the cases checked above.
        self.line.put(line);
        let event = LambdaEvent::new(payload, context);
        let called = std::panic::catch_unwind(AssertUnwindSafe(|| self.adapter.call(event)));
        // Still here when the conversion panicked (CaughtPanics took it otherwise).
        let unconverted = self.line.take();
        match called {
            Ok(future) => Box::pin(async move {
                match AssertUnwindSafe(future).catch_unwind().await {
                    Ok(converted) => converted.map(Answer::Converted),
                    // The answer's conversion panicked (the service's line was written already).
                    Err(_) => Ok(answer(&origin, unrouted(&ApiError::Internal))),
                }
            }),
            Err(_) => {
                let line =
                    unconverted.unwrap_or_else(|| RequestLine::new(Default::default(), "/", None));
                let answer = answer(&origin, refused(&line, &ApiError::MalformedRequest));
                Box::pin(std::future::ready(Ok(answer)))
            }
        }
    }
}

/// The service, with a panic in its `call` or its future answered 500 (and logged and counted as every
/// answer is).
pub struct CaughtPanics<S> {
    inner: S,
    line: LineSlot,
}

impl<S> Service<Request> for CaughtPanics<S>
where
    S: Service<Request, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = futures_util::future::Either<
        std::future::Ready<Result<Response<Body>, S::Error>>,
        CaughtFuture<S::Future>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        use futures_util::future::Either;
        let line = self
            .line
            .take()
            .unwrap_or_else(|| RequestLine::of(&request));
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(future) => Either::Right(CaughtFuture {
                inner: Box::pin(AssertUnwindSafe(future).catch_unwind()),
                line: Some(line),
            }),
            Err(_) => Either::Left(std::future::ready(Ok(refused(&line, &ApiError::Internal)))),
        }
    }
}

/// The service's future, a panic in it answered 500.
pub struct CaughtFuture<F: Future> {
    inner: std::pin::Pin<Box<futures_util::future::CatchUnwind<AssertUnwindSafe<F>>>>,
    line: Option<RequestLine>,
}

impl<F, E> Future for CaughtFuture<F>
where
    F: Future<Output = Result<Response<Body>, E>>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match std::task::ready!(self.inner.as_mut().poll(cx)) {
            Ok(result) => Poll::Ready(result),
            Err(_) => {
                let line = self.line.take();
                Poll::Ready(Ok(line.map_or_else(
                    || unrouted(&ApiError::Internal),
                    |line| refused(&line, &ApiError::Internal),
                )))
            }
        }
    }
}

/// `response` as API Gateway takes it for `origin`: what lambda_http's `Adapter` makes of a JSON answer
/// with a text body (the guard's own answers are such).
fn answer<C>(origin: &RequestOrigin, response: Response<Body>) -> Answer<C> {
    let (parts, body) = response.into_parts();
    let status_code = i64::from(parts.status.as_u16());
    match origin {
        RequestOrigin::ApiGatewayV1 => {
            let mut answer = ApiGatewayProxyResponse::default();
            answer.status_code = status_code;
            answer.multi_value_headers = parts.headers;
            answer.body = Some(body);
            Answer::Rest(answer)
        }
        _ => {
            let mut answer = ApiGatewayV2httpResponse::default();
            answer.status_code = status_code;
            answer.headers = parts.headers;
            answer.body = Some(body);
            Answer::Http(answer)
        }
    }
}

/// The request line of an event, from the method and path it names (it may not convert into a request).
fn request_line(event: &LambdaRequest, context: &lambda_http::Context) -> RequestLine {
    let (method, path) = match event {
        LambdaRequest::ApiGatewayV2(event) => (
            event.request_context.http.method.clone(),
            event.raw_path.as_deref(),
        ),
        LambdaRequest::ApiGatewayV1(event) => (event.http_method.clone(), event.path.as_deref()),
        _ => (lambda_http::http::Method::GET, None),
    };
    RequestLine::new(method, path.unwrap_or("/"), Some(context))
}

/// Whether lambda_http 1.3 can make a request of the event: it panics on a raw query string that is not a
/// URI's query (a raw `"`, `<`, `>`, space or DEL) and on a body marked base64 that is not base64.
fn is_convertible(event: &LambdaRequest) -> bool {
    use base64::Engine as _;
    let (query, body, base64) = match event {
        LambdaRequest::ApiGatewayV2(event) => (
            event.raw_query_string.as_deref(),
            event.body.as_deref(),
            event.is_base64_encoded,
        ),
        // REST queries reach the URI re-encoded from their parameters.
        LambdaRequest::ApiGatewayV1(event) => {
            (None, event.body.as_deref(), event.is_base64_encoded)
        }
        _ => (None, None, false),
    };
    let query_ok = query.is_none_or(|query| {
        query.is_empty()
            || lambda_http::http::uri::PathAndQuery::try_from(format!("/?{query}")).is_ok()
    });
    let body_ok = !base64
        || body.is_none_or(|body| {
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .is_ok()
        });
    query_ok && body_ok
}

/// The contract's answer for `error`, with the `Vary: Origin` the CORS layer (which it never reached) would
/// have added.
fn unrouted(error: &ApiError) -> Response<Body> {
    with_vary(error.refusal().into_response())
}

/// [`unrouted`], logged and counted under `line` as the service's answers are.
fn refused(line: &RequestLine, error: &ApiError) -> Response<Body> {
    let row = error.refusal();
    line.finish(row.status, row.outcome, Some(row.kind));
    with_vary(row.into_response())
}

fn with_vary(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Origin"));
    response
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

/// A constant name: looking a header up by a `&str` parses the name first, for every event.
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

fn sanitize_headers(headers: &mut HeaderMap) {
    let proto = headers.get_all(X_FORWARDED_PROTO);
    if proto.iter().any(|v| v != "http" && v != "https") || proto.iter().count() > 1 {
        headers.remove(X_FORWARDED_PROTO);
    }
    let host = headers.get_all(header::HOST);
    if host.iter().any(|v| !v.to_str().is_ok_and(is_host)) || host.iter().count() > 1 {
        headers.remove(header::HOST);
    }
}

/// `name[:port]` (letters, digits, `-`, `_`, `.`) or `[IPv6][:port]`.
pub(crate) fn is_host(text: &str) -> bool {
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
