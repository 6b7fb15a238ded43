//! Responses and headers shared by every function, and the CORS settings (`CORS_ALLOWED_ORIGINS`).

use crate::{ApiError, Refusal};
use lambda_http::Response;
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use m2m_auth::ConfigError;
use m2m_telemetry::Outcome;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Browser origins allowed to call the API from another origin (`CORS_ALLOWED_ORIGINS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    allowed: Vec<HeaderValue>,
}

impl Cors {
    /// The origins of `CORS_ALLOWED_ORIGINS`: each `http://` or `https://` with a host and an optional port,
    /// nothing else (a trailing `/` is dropped). Anything wider is refused rather than read: `*` would
    /// make tower-http panic at start-up and `null` would let in every sandboxed document and `file://` page.
    pub fn parse(list: &str) -> Result<Self, ConfigError> {
        let mut allowed = Vec::new();
        for origin in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            let origin = origin.strip_suffix('/').unwrap_or(origin);
            let host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            let valid = host.is_some_and(|host| {
                crate::runtime::is_host(host) && !host.bytes().any(|b| b.is_ascii_uppercase())
            });
            match HeaderValue::from_str(origin) {
                Ok(value) if valid => allowed.push(value),
                _ => {
                    return Err(ConfigError::new(
                        "CORS_ALLOWED_ORIGINS",
                        "must be a comma-separated list of origins, each http(s)://host[:port] in \
                         lowercase (no '*', no 'null', no path)",
                    ));
                }
            }
        }
        Ok(Cors { allowed })
    }

    /// `CORS_ALLOWED_ORIGINS` from the environment (unset: no other origin).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::parse(&std::env::var("CORS_ALLOWED_ORIGINS").unwrap_or_default())
    }

    /// tower-http's CORS layer with these origins: an exact match of `Origin` is echoed (never `*`, so
    /// credentials headers stay meaningful), every response varies on `Origin`, and `OPTIONS` is answered as
    /// a preflight for `POST` with the `Authorization` and `Content-Type` headers.
    pub fn layer(&self) -> CorsLayer {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(self.allowed.iter().cloned()))
            .allow_methods([Method::POST, Method::OPTIONS])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(std::time::Duration::from_secs(600))
    }
}

/// How a request was answered, kept in the response's extensions for the request's log line and metrics
/// (written by [`crate::RequestLog`] once the response is ready; a layer of one's own may read it too). A
/// response without it is a success, or a preflight the CORS layer answered.
#[derive(Debug, Clone, Copy)]
pub struct Answered {
    pub outcome: Outcome,
    /// The error kind of an error response.
    pub error: Option<&'static str>,
}

/// A JSON response as every API answer is sent: not cached, not sniffed, not framed.
pub fn json_response<B: From<String>>(
    status: StatusCode,
    body: &(impl serde::Serialize + ?Sized),
) -> Response<B> {
    // Serialising JSON values or structs of them with string keys cannot fail; `{}` is never reached.
    json_text_response(
        status,
        serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned()),
    )
}

/// [`json_response`] with a body already serialised.
pub(crate) fn json_text_response<B: From<String>>(status: StatusCode, text: String) -> Response<B> {
    let mut response = Response::new(B::from(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Bodies may carry tokens and claims: never cache them (RFC 6749 section 5.1).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    api_security_headers(headers);
    response
}

/// A 200 with the JSON text `body`, counted as `outcome`.
pub fn succeeded_with_text<B: From<String>>(outcome: Outcome, body: String) -> Response<B> {
    counted(json_text_response(StatusCode::OK, body), outcome)
}

fn counted<B>(mut response: Response<B>, outcome: Outcome) -> Response<B> {
    response.extensions_mut().insert(Answered {
        outcome,
        error: None,
    });
    response
}

impl ApiError {
    /// The contract's answer for this error (its row of [`ApiError::refusal`]).
    pub fn into_response<B: From<String>>(self) -> Response<B> {
        self.refusal().into_response()
    }
}

impl Refusal {
    /// The answer: the status, `{"success": false, "error": message}` and the headers, counted under the
    /// outcome and kind for the request's log line.
    pub fn into_response<B: From<String>>(self) -> Response<B> {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = json_response(
            status,
            &serde_json::json!({"success": false, "error": self.message}),
        );
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static(name), value);
            }
        }
        response.extensions_mut().insert(Answered {
            outcome: self.outcome,
            error: Some(self.kind),
        });
        response
    }
}

fn api_security_headers(headers: &mut HeaderMap) {
    security_headers(headers, "default-src 'none'; frame-ancestors 'none'");
}

/// The headers every answer of the functions carries, the API's and the local page server's alike: no
/// sniffing, no referrer, and `csp` as the Content-Security-Policy.
pub fn security_headers(headers: &mut HeaderMap, csp: &'static str) {
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
        HeaderValue::from_static(csp),
    );
}

#[cfg(test)]
mod tests {
    use super::Cors;

    #[test]
    fn only_exact_web_origins_are_allowed() {
        let cors = Cors::parse(" https://app.example , http://127.0.0.1:9000/,").unwrap();
        assert_eq!(
            cors.allowed,
            ["https://app.example", "http://127.0.0.1:9000"]
        );
        assert_eq!(Cors::parse("").unwrap(), Cors::default());
        for bad in [
            "*",
            "null",
            "https://*.example",
            "app.example",
            "ftp://app.example",
            "https://app.example/path",
            "https://App.Example",
            "https://app.example:99999",
            "https://",
            "https://a b",
            "https://ok.example,*",
        ] {
            let error = Cors::parse(bad).unwrap_err();
            assert_eq!(error.variable, "CORS_ALLOWED_ORIGINS", "{bad}");
            if bad.len() > 5 {
                assert!(!error.to_string().contains(bad), "no input echoed: {bad}");
            }
        }
    }
}
