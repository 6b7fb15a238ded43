//! Descope-style error answers: `errorCode`, `errorDescription`, `errorMessage`, `message`.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

// Error codes, as Descope's SDKs name them (E011001 bad request, E011003 request is invalid,
// E062802 missing access key, E062803 invalid access key). E010001 is this issuer's own "internal error".
pub(super) const E_BAD_REQUEST: &str = "E011001";
pub(super) const E_INVALID_REQUEST: &str = "E011003";
pub(super) const E_MISSING_ACCESS_KEY: &str = "E062802";
pub(super) const E_INVALID_ACCESS_KEY: &str = "E062803";
pub(super) const E_INTERNAL: &str = "E010001";

/// A Descope-style error: `errorCode`, `errorDescription`, `errorMessage`, `message`.
pub(super) fn descope_error(
    status: StatusCode,
    code: &str,
    description: &str,
    message: &str,
) -> Response {
    (
        status,
        Json(json!({
            "errorCode": code,
            "errorDescription": description,
            "errorMessage": message,
            "message": message,
        })),
    )
        .into_response()
}

pub(super) fn raw_response(status: u16, content_type: &str, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = HeaderValue::from_str(content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    response
}

pub(super) fn internal_error(message: &str) -> Response {
    descope_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        E_INTERNAL,
        "Internal error",
        message,
    )
}
