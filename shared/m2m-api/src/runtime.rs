//! How an HTTP function meets the Lambda runtime. [`run`] hands a `lambda_http` service to
//! `lambda_runtime::run` behind [`GuardedAdapter`], which does the work of lambda_http's `Adapter`.
//!
//! Why not the `Adapter` itself: no header may crash the conversion of an event, and a panic anywhere must
//! fail only its own invocation, with a contract-shaped 500. The conversions also cost less: an HTTP API
//! event is parsed once, not twice ([`ApiGatewayEvent`]), and a JSON answer is not copied and decoded again
//! ([`Answer`]).

use crate::ApiError;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, header};
use lambda_http::lambda_runtime::Diagnostic;
use lambda_http::request::{LambdaRequest, RequestOrigin};
use lambda_http::{Body, IntoResponse, LambdaEvent, Request, RequestExt, Response};
use m2m_telemetry::RequestLine;
use serde::ser::{SerializeMap, SerializeStruct};
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll};
use tower::Service;

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
{
    GuardedAdapter {
        inner: service,
        borrows: std::marker::PhantomData,
    }
}

/// Sanitises each API Gateway event before lambda_http converts it into a request, and turns a panic (in
/// the conversion, the service or a dependency) into a 500 `{"success": false, "error": "Internal error"}`
/// for that invocation alone: with `panic = "unwind"` the process goes on serving the next event.
pub struct GuardedAdapter<'a, S> {
    inner: S,
    /// How long the service's futures may borrow for (what `main` built, for a function).
    borrows: std::marker::PhantomData<&'a ()>,
}

/// An invocation's answer in the shape its event's origin expects: what lambda_http's `LambdaResponse`
/// makes of a response, field for field (the test `answers_are_written_as_lambda_http_writes_them` holds
/// them to the same JSON), without its copies. For an HTTP API event: `statusCode`, `headers` (the first value
/// of each name, as lambda_http keeps it), an empty `multiValueHeaders`, `body`, `isBase64Encoded` and the
/// `Set-Cookie` values as `cookies`; for a REST event every header in `multiValueHeaders`.
#[derive(Debug)]
pub struct Answer {
    rest: bool,
    status: u16,
    headers: HeaderMap,
    cookies: Vec<String>,
    body: Body,
}

impl Answer {
    /// `response` made an answer with its body as it is (a body lambda_http's conversion would not change).
    fn as_is(origin: &RequestOrigin, response: Response<Body>) -> Self {
        let (parts, body) = response.into_parts();
        let mut headers = parts.headers;
        // The two origins of the lambda_http features the workspace enables (its Cargo.toml); another one
        // (ALB, WebSocket) would need its own shape here.
        let rest = matches!(origin, RequestOrigin::ApiGatewayV1);
        let mut cookies = Vec::new();
        if !rest && headers.contains_key(header::SET_COOKIE) {
            // API Gateway's payload 2.0 takes cookies apart from the headers.
            cookies = headers
                .get_all(header::SET_COOKIE)
                .iter()
                .map(|value| value.to_str().unwrap_or_default().to_owned())
                .collect();
            headers.remove(header::SET_COOKIE);
        }
        Answer {
            rest,
            status: parts.status.as_u16(),
            headers,
            cookies,
            body,
        }
    }

    /// `response` made an answer: as it is when it is JSON text (which lambda_http's conversion would copy,
    /// decode as UTF-8 and hand back unchanged, unless it began with a byte order mark, which the decoding
    /// drops), otherwise through that conversion (the text or binary body its content type and encoding call
    /// for).
    async fn converted(origin: &RequestOrigin, response: Response<Body>) -> Self {
        let headers = response.headers();
        let json_text = matches!(response.body(), Body::Text(text) if !text.starts_with('\u{feff}'))
            && !headers.contains_key(header::CONTENT_ENCODING)
            && headers
                .get_all(header::CONTENT_TYPE)
                .iter()
                .eq([APPLICATION_JSON]);
        let response = if json_text {
            response
        } else {
            response.into_response().await
        };
        Answer::as_is(origin, response)
    }
}

const APPLICATION_JSON: &str = "application/json";

impl serde::Serialize for Answer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let empty = HeaderMap::new();
        let (single, multiple) = if self.rest {
            (&empty, &self.headers)
        } else {
            (&self.headers, &empty)
        };
        let mut answer = serializer.serialize_struct("Answer", 6)?;
        answer.serialize_field("statusCode", &self.status)?;
        answer.serialize_field("headers", &FirstValues(single))?;
        answer.serialize_field("multiValueHeaders", &AllValues(multiple))?;
        if !matches!(self.body, Body::Empty) {
            answer.serialize_field("body", &self.body)?;
        }
        answer.serialize_field("isBase64Encoded", &matches!(self.body, Body::Binary(_)))?;
        if !self.rest {
            answer.serialize_field("cookies", &self.cookies)?;
        }
        answer.end()
    }
}

/// A header's value as the text JSON needs (lambda_http refuses a value that is not UTF-8 the same way).
fn text_of<E: serde::ser::Error>(value: &HeaderValue) -> Result<&str, E> {
    std::str::from_utf8(value.as_bytes()).map_err(E::custom)
}

/// Headers as `{"name": "first value"}`.
struct FirstValues<'a>(&'a HeaderMap);

impl serde::Serialize for FirstValues<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.keys_len()))?;
        for name in self.0.keys() {
            map.serialize_entry(name.as_str(), text_of::<S::Error>(&self.0[name])?)?;
        }
        map.end()
    }
}

/// Headers as `{"name": ["value", ...]}`.
struct AllValues<'a>(&'a HeaderMap);

impl serde::Serialize for AllValues<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.keys_len()))?;
        for name in self.0.keys() {
            let values = self
                .0
                .get_all(name)
                .iter()
                .map(text_of::<S::Error>)
                .collect::<Result<Vec<_>, _>>()?;
            map.serialize_entry(name.as_str(), &values)?;
        }
        map.end()
    }
}

/// An API Gateway event, read into lambda_http's own [`LambdaRequest`] with the same result as lambda_http's
/// reading, but faster for HTTP API (payload 2.0) events, which the functions are deployed behind.
///
/// lambda_http tries the REST API (payload 1.0) shape first and the HTTP API shape second, so every HTTP API
/// event is parsed in full once to fail as a REST event (for want of `httpMethod`, which only 1.0 events
/// have), then again: a third of a warm invocation's own CPU. An event whose text names no `httpMethod`
/// (nor holds a `\u` escape, the only way JSON could spell that key otherwise) cannot be read as a REST
/// event, so it is read as an HTTP API event directly; any other event, or one that does not read so, is
/// read as lambda_http reads it.
#[derive(Debug)]
pub struct ApiGatewayEvent(pub LambdaRequest);

impl<'de> serde::Deserialize<'de> for ApiGatewayEvent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        static HTTP_METHOD: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new("httpMethod"));
        static ESCAPE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new("\\u"));
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        // The http crate panics when a header map would hold more than 32,768 entries (only a direct
        // invocation can send that many): the event is refused, and the process serves the next one.
        std::panic::catch_unwind(|| {
            if HTTP_METHOD.find(text.as_bytes()).is_none()
                && ESCAPE.find(text.as_bytes()).is_none()
                && let Ok(event) = serde_json::from_str(text)
            {
                return Ok(ApiGatewayEvent(LambdaRequest::ApiGatewayV2(event)));
            }
            serde_json::from_str(text).map(ApiGatewayEvent)
        })
        .unwrap_or_else(|_| {
            Err(serde_json::Error::custom(
                "the event cannot be read as an API Gateway request",
            ))
        })
        .map_err(D::Error::custom)
    }
}

impl<'a, S> Service<LambdaEvent<ApiGatewayEvent>> for GuardedAdapter<'a, S>
where
    S: Service<Request, Response = Response<Body>>,
    S::Future: Send + 'a,
    S::Error: Send + 'a,
{
    type Response = Answer;
    type Error = S::Error;
    type Future = BoxFuture<'a, Result<Answer, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<ApiGatewayEvent>) -> Self::Future {
        let LambdaEvent {
            payload: ApiGatewayEvent(mut payload),
            context,
        } = event;
        sanitize(&mut payload);
        let origin = payload.request_origin();
        // The guard's own answers (a malformed event, a panic) get the request line and metric every
        // answer gets; the service's answers get theirs from its RequestLog.
        let line = request_line(&payload, &context);
        if !is_convertible(&payload) {
            return Box::pin(std::future::ready(Ok(guard_answer(
                &origin,
                &line,
                ApiError::MalformedRequest,
            ))));
        }
        // As lambda_http's Adapter: the event into a request with the invocation's context, and the trace id
        // of the invocation in `X-Amzn-Trace-Id`. What is left that lambda_http cannot convert panics in
        // the conversion: that is the event's fault, a 400 like the cases checked above.
        let converted = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut request = Request::from(payload);
            if let Some(trace_id) = context.xray_trace_id.as_deref()
                && let Ok(value) = HeaderValue::from_str(trace_id)
            {
                request.headers_mut().insert(X_AMZN_TRACE_ID, value);
            }
            request.with_lambda_context(context)
        }));
        let Ok(request) = converted else {
            return Box::pin(std::future::ready(Ok(guard_answer(
                &origin,
                &line,
                ApiError::MalformedRequest,
            ))));
        };
        let called = std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(request)));
        match called {
            Ok(future) => Box::pin(async move {
                match AssertUnwindSafe(future).catch_unwind().await {
                    Ok(Ok(response)) => Ok(AssertUnwindSafe(Answer::converted(&origin, response))
                        .catch_unwind()
                        .await
                        // The service's line was written with its own status already.
                        .unwrap_or_else(|_| Answer::as_is(&origin, unrouted(&ApiError::Internal)))),
                    Ok(Err(error)) => Err(error),
                    Err(_) => Ok(guard_answer(&origin, &line, ApiError::Internal)),
                }
            }),
            Err(_) => Box::pin(std::future::ready(Ok(guard_answer(
                &origin,
                &line,
                ApiError::Internal,
            )))),
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
    let mut response: Response<Body> = error.refusal().into_response();
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Origin"));
    response
}

/// An answer the guard writes itself, logged and counted as the service's answers are.
fn guard_answer(origin: &RequestOrigin, line: &RequestLine, error: ApiError) -> Answer {
    let row = error.refusal();
    line.finish(row.status, row.outcome, Some(row.kind));
    Answer::as_is(origin, unrouted(&error))
}

const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

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
