//! Descope's routes: the access-key exchange, the key set, discovery, and the local-only key rotation.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

use super::errors::{
    E_BAD_REQUEST, E_INVALID_ACCESS_KEY, E_INVALID_REQUEST, E_MISSING_ACCESS_KEY, descope_error,
    internal_error,
};
use super::faults::{Proceed, apply_fault};
use super::parsing::{parse_authorization, parse_login_options};
use super::{AppState, MAX_EXCHANGE_BODY_BYTES};
use crate::config::IssuerError;
use crate::issuer::{Endpoint, now_unix};

pub(super) async fn exchange(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let proceed = match apply_fault(&state, Endpoint::Exchange).await {
        Ok(proceed) => proceed,
        Err(response) => return response,
    };
    let Some((project_id, secret)) = parse_authorization(&headers) else {
        return descope_error(
            StatusCode::UNAUTHORIZED,
            E_MISSING_ACCESS_KEY,
            "Missing access key",
            "missing or malformed authorization: expected 'Authorization: Bearer <projectId>:<accessKey>'",
        );
    };
    if project_id != state.issuer.project_id() {
        return descope_error(
            StatusCode::UNAUTHORIZED,
            E_INVALID_REQUEST,
            "Request is invalid",
            "project not found: the project id in the authorization header is not this issuer's project",
        );
    }
    let Some(key) = state.issuer.find_key_by_secret(secret) else {
        return descope_error(
            StatusCode::UNAUTHORIZED,
            E_INVALID_ACCESS_KEY,
            "Invalid access key",
            "access key is invalid",
        );
    };
    if key.disabled {
        return descope_error(
            StatusCode::UNAUTHORIZED,
            E_INVALID_ACCESS_KEY,
            "Invalid access key",
            "access key is disabled",
        );
    }
    if key.expires_at.is_some_and(|at| at <= now_unix()) {
        return descope_error(
            StatusCode::UNAUTHORIZED,
            E_INVALID_ACCESS_KEY,
            "Invalid access key",
            "access key has expired",
        );
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_EXCHANGE_BODY_BYTES).await else {
        return descope_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            E_BAD_REQUEST,
            "Bad request",
            &format!("request body is larger than {MAX_EXCHANGE_BODY_BYTES} bytes"),
        );
    };
    let options = match parse_login_options(&bytes) {
        Ok(options) => options,
        Err(message) => {
            return descope_error(
                StatusCode::BAD_REQUEST,
                E_BAD_REQUEST,
                "Bad request",
                &message,
            );
        }
    };
    let foreign = matches!(proceed, Proceed::WithForeignSignature);
    match state.issuer.issue(
        key,
        &state.base_url,
        options.custom_claims.as_ref(),
        options.selected_tenant.as_deref(),
        foreign,
    ) {
        Ok((jwt, expiration)) => {
            let mut response = Json(json!({
                "sessionJwt": jwt,
                "keyId": key.id,
                "projectId": state.issuer.project_id(),
                "expiration": expiration,
            }))
            .into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(IssuerError::TenantNotAssociated(_)) => descope_error(
            StatusCode::BAD_REQUEST,
            E_INVALID_REQUEST,
            "Request is invalid",
            "selected tenant is not associated with this access key",
        ),
        Err(IssuerError::InvalidCustomClaims(message)) => descope_error(
            StatusCode::BAD_REQUEST,
            E_INVALID_REQUEST,
            "Request is invalid",
            &format!("invalid customClaims: {message}"),
        ),
        Err(error) => {
            tracing::error!(%error, "cannot issue a session token");
            internal_error("cannot issue a session token")
        }
    }
}

/// The project of the path, when it is this issuer's.
fn known_project(state: &AppState, project: Result<Path<String>, PathRejection>) -> Option<String> {
    match project {
        Ok(Path(project)) if project == state.issuer.project_id() => Some(project),
        _ => None,
    }
}

fn unknown_project() -> Response {
    descope_error(
        StatusCode::BAD_REQUEST,
        E_INVALID_REQUEST,
        "Request is invalid",
        "project not found",
    )
}

pub(super) async fn jwks(
    State(state): State<AppState>,
    project: Result<Path<String>, PathRejection>,
) -> Response {
    if let Err(response) = apply_fault(&state, Endpoint::Keys).await {
        return response;
    }
    if known_project(&state, project).is_none() {
        return unknown_project();
    }
    Json(state.issuer.public_jwks()).into_response()
}

pub(super) async fn openid_configuration(
    State(state): State<AppState>,
    project: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(project) = known_project(&state, project) else {
        return unknown_project();
    };
    let base = &state.base_url;
    Json(json!({
        "issuer": format!("{base}/v1/apps/{project}"),
        "jwks_uri": format!("{base}/{project}/.well-known/jwks.json"),
        // Descope's access-key exchange (Bearer <projectId>:<accessKey>), not an RFC 6749 token endpoint.
        "token_endpoint": format!("{base}/v1/auth/accesskey/exchange"),
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": [
            "iss", "sub", "iat", "exp", "drn", "roles", "permissions", "tenants", "dct", "nsec"
        ],
    }))
    .into_response()
}

pub(super) async fn license() -> Response {
    Json(json!({ "rateLimitTier": "free" })).into_response()
}

/// Local-only: rotates the signing key (the previous ones stay published) and returns the new `kid`.
pub(super) async fn rotate_keys(State(state): State<AppState>) -> Response {
    let issuer = state.issuer.clone();
    match tokio::task::spawn_blocking(move || issuer.rotate_signing_key()).await {
        Ok(kid) => Json(json!({ "kid": kid })).into_response(),
        Err(_) => internal_error("key rotation failed"),
    }
}

pub(super) async fn not_found() -> Response {
    descope_error(
        StatusCode::NOT_FOUND,
        E_BAD_REQUEST,
        "Not found",
        "no such route on this issuer",
    )
}

pub(super) async fn method_not_allowed(method: Method) -> Response {
    descope_error(
        StatusCode::METHOD_NOT_ALLOWED,
        E_BAD_REQUEST,
        "Method not allowed",
        &format!("method {method} is not allowed on this route"),
    )
}
