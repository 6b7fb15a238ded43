//! Fault injection: what a test asked an endpoint to do instead of answering normally.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::AppState;
use super::errors::{E_BAD_REQUEST, E_INTERNAL, descope_error, internal_error, raw_response};
use crate::issuer::{Endpoint, Fault};

pub(super) enum Proceed {
    Normally,
    WithForeignSignature,
}

/// Counts the request and applies the endpoint's fault, if any.
pub(super) async fn apply_fault(state: &AppState, endpoint: Endpoint) -> Result<Proceed, Response> {
    state.issuer.count_request(endpoint);
    let Some(fault) = state.issuer.fault(endpoint) else {
        return Ok(Proceed::Normally);
    };
    match fault {
        Fault::Status(status) => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let (error_code, description) = if code.is_server_error() {
                (E_INTERNAL, "Internal error")
            } else {
                (E_BAD_REQUEST, "Bad request")
            };
            let mut response = descope_error(
                code,
                error_code,
                description,
                &format!("injected fault: HTTP {}", code.as_u16()),
            );
            if code == StatusCode::TOO_MANY_REQUESTS {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Err(response)
        }
        Fault::Garbage => Err(raw_response(
            200,
            "application/json",
            b"{\"sessionJwt\": <<< this is not JSON >>>".to_vec(),
        )),
        Fault::Html => Err(raw_response(
            200,
            "text/html; charset=utf-8",
            b"<!DOCTYPE html><html><head><title>Maintenance</title></head>\
              <body><h1>We'll be right back</h1></body></html>"
                .to_vec(),
        )),
        Fault::Hang => {
            state.stopped().await;
            Err(internal_error("server stopped"))
        }
        Fault::Delay(delay) => {
            tokio::select! {
                _ = tokio::time::sleep(delay) => Ok(Proceed::Normally),
                _ = state.stopped() => Err(internal_error("server stopped")),
            }
        }
        Fault::Redirect(location) => {
            let Ok(location) = HeaderValue::from_str(&location) else {
                return Err(internal_error("injected redirect has an invalid Location"));
            };
            let mut response = descope_error(
                StatusCode::FOUND,
                E_BAD_REQUEST,
                "Redirect",
                "injected fault: redirect",
            );
            response.headers_mut().insert(header::LOCATION, location);
            Err(response)
        }
        Fault::Body {
            status,
            content_type,
            body,
        } => Err(raw_response(status, &content_type, body)),
        Fault::ForeignSignature => Ok(match endpoint {
            Endpoint::Exchange => Proceed::WithForeignSignature,
            Endpoint::Keys => Proceed::Normally,
        }),
    }
}
