//! Responses, headers and CORS shared by every function.

use crate::ApiError;
use lambda_http::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::Value;

/// Browser origins allowed to call the API from another origin (`CORS_ALLOWED_ORIGINS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    allowed: Vec<String>,
}

impl Cors {
    pub fn new(origins: impl IntoIterator<Item = String>) -> Self {
        Cors {
            allowed: origins
                .into_iter()
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
        }
    }

    pub fn from_env() -> Self {
        Self::new(
            std::env::var("CORS_ALLOWED_ORIGINS")
                .unwrap_or_default()
                .split(',')
                .map(str::to_owned),
        )
    }

    /// The `Origin` of `request` when it is allowed (an exact match; `*` is never sent, so credentials
    /// headers stay meaningful).
    pub(crate) fn allowed_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.allowed
            .iter()
            .any(|allowed| allowed == text)
            .then(|| origin.clone())
    }
}

/// What every response of a request carries besides its body.
pub(crate) struct ResponseContext {
    pub allowed_origin: Option<HeaderValue>,
}

impl ResponseContext {
    pub fn new(request: &Request, cors: &Cors) -> Self {
        ResponseContext {
            allowed_origin: cors.allowed_origin(request.headers()),
        }
    }

    pub fn json(&self, status: u16, body: &Value) -> Response<Body> {
        let mut response = Response::new(Body::Text(body.to_string()));
        *response.status_mut() =
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // Bodies may carry tokens and claims: never cache them (RFC 6749 section 5.1).
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        api_security_headers(headers);
        self.cors_headers(headers);
        response
    }

    pub fn error(&self, error: &ApiError) -> Response<Body> {
        let mut response = self.json(
            error.status(),
            &serde_json::json!({"success": false, "error": error.public_message()}),
        );
        for (name, value) in error.headers() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }

    /// Answer to a CORS preflight request.
    pub fn preflight(&self) -> Response<Body> {
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        self.cors_headers(headers);
        if self.allowed_origin.is_some() {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST, OPTIONS"),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type"),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
        response
    }

    fn cors_headers(&self, headers: &mut HeaderMap) {
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        if let Some(origin) = &self.allowed_origin {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        }
    }
}

fn api_security_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
}

/// How a request is to be answered before any endpoint logic runs.
pub(crate) enum Gate {
    Proceed,
    Respond(Response<Body>, Option<ApiError>),
}

/// Only `POST` reaches the endpoints; `OPTIONS` gets a CORS preflight answer.
pub(crate) fn gate_method(request: &Request, context: &ResponseContext) -> Gate {
    match *request.method() {
        Method::POST => Gate::Proceed,
        Method::OPTIONS => Gate::Respond(context.preflight(), None),
        _ => {
            let error = ApiError::MethodNotAllowed;
            Gate::Respond(context.error(&error), Some(error))
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (RFC 6750 section 2.1: the scheme is
/// case-insensitive, the token is a b64token). Several Authorization headers are refused as ambiguous.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim_start_matches(' ');
    let (body, padding) = token.split_at(token.trim_end_matches('=').len());
    let b64token = !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
        && padding.bytes().all(|b| b == b'=');
    b64token.then_some(token)
}

/// The request body as bytes (API Gateway hands text or base64-decoded binary).
pub(crate) fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

/// The path API Gateway routed, for logs: its first 128 characters.
pub(crate) fn route(request: &Request) -> &str {
    let path = request.uri().path();
    match path.char_indices().nth(128) {
        Some((end, _)) => &path[..end],
        None => path,
    }
}

/// Longest a request may take end to end (m2m_auth::budget).
pub(crate) const REQUEST_DEADLINE: std::time::Duration = m2m_auth::budget::REQUEST_DEADLINE;

/// Runs an endpoint's work for `request` and turns its outcome into the response, with the method gate,
/// the deadline, CORS, and the one log line and metrics record per request (`success` names a 200).
pub(crate) async fn answer(
    request: &Request,
    cors: &Cors,
    success: crate::Outcome,
    work: impl std::future::Future<Output = Result<Value, ApiError>>,
) -> Response<Body> {
    let started = std::time::Instant::now();
    let context = ResponseContext::new(request, cors);
    let (response, error) = match gate_method(request, &context) {
        Gate::Respond(response, error) => (response, error),
        Gate::Proceed => match tokio::time::timeout(REQUEST_DEADLINE, work).await {
            Ok(Ok(body)) => (context.json(200, &body), None),
            Ok(Err(error)) => (context.error(&error), Some(error)),
            Err(_) => {
                let error = ApiError::ProviderTimeout;
                (context.error(&error), Some(error))
            }
        },
    };
    if let Some(ApiError::Secret(failure)) = &error {
        tracing::error!(detail = %failure, "server misconfigured");
    }
    let status = response.status().as_u16();
    let outcome = crate::Outcome::answered(success, status, error.as_ref());
    crate::logging::log_request(request, status, started, outcome, error.as_ref());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn bearer_follows_rfc_6750() {
        assert_eq!(
            bearer_token(&headers(&["Bearer abc.def.ghi"])),
            Some("abc.def.ghi")
        );
        assert_eq!(bearer_token(&headers(&["bEaReR   abc"])), Some("abc"));
        assert_eq!(bearer_token(&headers(&["Bearer a=="])), Some("a=="));
        for bad in [
            "Basic abc",
            "Bearer",
            "Bearer ",
            "Bearerabc",
            "Bearer a b",
            "Bearer =a",
            "Bearer a=b",
            "Bearer <x>",
        ] {
            assert_eq!(bearer_token(&headers(&[bad])), None, "{bad}");
        }
        assert_eq!(bearer_token(&headers(&["Bearer a", "Bearer b"])), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
