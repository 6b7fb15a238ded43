//! The HTTP side: Descope's routes, Descope-style errors, fault injection and the running server handle.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::IssuerError;
use crate::issuer::{Endpoint, Fault, LocalIssuer, now_unix};

/// Largest accepted exchange request body.
pub const MAX_EXCHANGE_BODY_BYTES: usize = 64 * 1024;

// Error codes, as Descope's SDKs name them (E011001 bad request, E011003 request is invalid,
// E062802 missing access key, E062803 invalid access key). E010001 is this issuer's own "internal error".
const E_BAD_REQUEST: &str = "E011001";
const E_INVALID_REQUEST: &str = "E011003";
const E_MISSING_ACCESS_KEY: &str = "E062802";
const E_INVALID_ACCESS_KEY: &str = "E062803";
const E_INTERNAL: &str = "E010001";

#[derive(Clone)]
struct AppState {
    issuer: Arc<LocalIssuer>,
    /// `http://127.0.0.1:PORT`, this server's own address.
    base_url: Arc<str>,
    shutdown: watch::Receiver<bool>,
}

impl AppState {
    async fn stopped(&self) {
        let mut rx = self.shutdown.clone();
        // An error means the sender is gone: the server is stopping as well.
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

/// A serving issuer; the server stops when this is dropped (or on [`RunningIssuer::shutdown`]).
pub struct RunningIssuer {
    addr: SocketAddr,
    base_url: String,
    issuer: Arc<LocalIssuer>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningIssuer")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl RunningIssuer {
    /// `http://127.0.0.1:PORT` (the bound address; an unspecified bind address is reported as loopback).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn issuer(&self) -> &Arc<LocalIssuer> {
        &self.issuer
    }

    /// Stops accepting connections, ends hanging and delayed requests, and waits (up to 5 s) for the server
    /// task to finish.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
        {
            tracing::warn!("descope-local did not stop within 5 s");
        }
    }
}

impl Drop for RunningIssuer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

impl LocalIssuer {
    /// Binds `addr` (port 0 = a free port) and serves the Descope routes in a tokio task.
    pub async fn start(self: &Arc<Self>, addr: SocketAddr) -> std::io::Result<RunningIssuer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let base_url = base_url_for(addr);
        self.set_base_url(&base_url);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let state = AppState {
            issuer: self.clone(),
            base_url: base_url.as_str().into(),
            shutdown: shutdown_rx.clone(),
        };
        let app = router(state);
        let mut signal = shutdown_rx;
        let task = tokio::spawn(async move {
            let stop = async move {
                let _ = signal.wait_for(|stopped| *stopped).await;
            };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(%error, "descope-local server failed");
            }
        });
        tracing::debug!(%base_url, "descope-local serving");
        Ok(RunningIssuer {
            addr,
            base_url,
            issuer: self.clone(),
            shutdown: shutdown_tx,
            task: Some(task),
        })
    }
}

fn base_url_for(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/auth/accesskey/exchange", post(exchange))
        .route("/v2/keys/{project_id}", get(jwks))
        .route("/{project_id}/.well-known/jwks.json", get(jwks))
        .route(
            "/{project_id}/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route(
            "/v1/apps/{project_id}/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/v1/mgmt/license", get(license))
        .route("/local/rotate-keys", post(rotate_keys))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// One line per request: method, path, status, latency. Never headers, bodies or query strings.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let mut path = request.uri().path().to_owned();
    if path.len() > 200 {
        let mut cut = 200;
        while !path.is_char_boundary(cut) {
            cut -= 1;
        }
        path.truncate(cut);
        path.push('…');
    }
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        latency_ms = %format_args!("{:.3}", started.elapsed().as_secs_f64() * 1000.0),
        "request"
    );
    response
}

/// A Descope-style error: `errorCode`, `errorDescription`, `errorMessage`, `message`.
fn descope_error(status: StatusCode, code: &str, description: &str, message: &str) -> Response {
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

fn raw_response(status: u16, content_type: &str, body: Vec<u8>) -> Response {
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

fn internal_error(message: &str) -> Response {
    descope_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        E_INTERNAL,
        "Internal error",
        message,
    )
}

enum Proceed {
    Normally,
    WithForeignSignature,
}

/// Counts the request and applies the endpoint's fault, if any.
async fn apply_fault(state: &AppState, endpoint: Endpoint) -> Result<Proceed, Response> {
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

/// `Bearer <projectId>:<accessKey>[:<managementKey>]` → (projectId, accessKey).
fn parse_authorization(headers: &HeaderMap) -> Option<(&str, &str)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, credentials) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut parts = credentials.trim_start().splitn(3, ':');
    let project = parts.next()?;
    let key = parts.next()?;
    if project.is_empty() || key.is_empty() {
        return None;
    }
    Some((project, key))
}

#[derive(Default)]
struct LoginOptions {
    custom_claims: Option<Map<String, Value>>,
    selected_tenant: Option<String>,
}

/// Empty, `{}` or `{"loginOptions": {"customClaims": {...}, "selectedTenant": "..."}}`. Unknown members are
/// ignored; `null` and `""` count as absent (as in Descope's Go backend); wrong types are errors.
fn parse_login_options(body: &[u8]) -> Result<LoginOptions, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(LoginOptions::default());
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|_| "request body is not valid JSON".to_owned())?;
    let root = match value {
        Value::Null => return Ok(LoginOptions::default()),
        Value::Object(root) => root,
        _ => return Err("request body must be a JSON object".to_owned()),
    };
    let options = match root.get("loginOptions") {
        None | Some(Value::Null) => return Ok(LoginOptions::default()),
        Some(Value::Object(options)) => options,
        Some(_) => return Err("loginOptions must be an object".to_owned()),
    };
    let custom_claims = match options.get("customClaims") {
        None | Some(Value::Null) => None,
        Some(Value::Object(claims)) => Some(claims.clone()),
        Some(_) => return Err("loginOptions.customClaims must be an object".to_owned()),
    };
    let selected_tenant = match options.get("selectedTenant") {
        None | Some(Value::Null) => None,
        Some(Value::String(tenant)) if tenant.is_empty() => None,
        Some(Value::String(tenant)) => Some(tenant.clone()),
        Some(_) => return Err("loginOptions.selectedTenant must be a string".to_owned()),
    };
    Ok(LoginOptions {
        custom_claims,
        selected_tenant,
    })
}

async fn exchange(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
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

async fn jwks(
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

async fn openid_configuration(
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

async fn license() -> Response {
    Json(json!({ "rateLimitTier": "free" })).into_response()
}

/// Local-only: rotates the signing key (the previous ones stay published) and returns the new `kid`.
async fn rotate_keys(State(state): State<AppState>) -> Response {
    let issuer = state.issuer.clone();
    match tokio::task::spawn_blocking(move || issuer.rotate_signing_key()).await {
        Ok(kid) => Json(json!({ "kid": kid })).into_response(),
        Err(_) => internal_error("key rotation failed"),
    }
}

async fn not_found() -> Response {
    descope_error(
        StatusCode::NOT_FOUND,
        E_BAD_REQUEST,
        "Not found",
        "no such route on this issuer",
    )
}

async fn method_not_allowed(method: Method) -> Response {
    descope_error(
        StatusCode::METHOD_NOT_ALLOWED,
        E_BAD_REQUEST,
        "Method not allowed",
        &format!("method {method} is not allowed on this route"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn authorization_parsing() {
        assert_eq!(
            parse_authorization(&auth("Bearer P1:key")),
            Some(("P1", "key"))
        );
        assert_eq!(
            parse_authorization(&auth("bearer P1:key:mgmt")),
            Some(("P1", "key"))
        );
        assert_eq!(
            parse_authorization(&auth("Bearer P1:key:mgmt:more")),
            Some(("P1", "key"))
        );
        for bad in [
            "Bearer",
            "Bearer ",
            "Bearer P1",
            "Bearer P1:",
            "Bearer :key",
            "Basic P1:key",
            "P1:key",
        ] {
            assert_eq!(parse_authorization(&auth(bad)), None, "{bad}");
        }
        assert_eq!(parse_authorization(&HeaderMap::new()), None);
    }

    #[test]
    fn login_options_parsing() {
        for ok in [
            "",
            "  ",
            "{}",
            "null",
            r#"{"loginOptions": null}"#,
            r#"{"loginOptions": {}}"#,
            r#"{"other": 1}"#,
        ] {
            let options = parse_login_options(ok.as_bytes()).unwrap();
            assert!(options.custom_claims.is_none() && options.selected_tenant.is_none());
        }
        let options = parse_login_options(
            br#"{"loginOptions": {"customClaims": {"scope": "a b"}, "selectedTenant": "T1", "x": 1}}"#,
        )
        .unwrap();
        assert_eq!(options.custom_claims.unwrap()["scope"], "a b");
        assert_eq!(options.selected_tenant.as_deref(), Some("T1"));
        for bad in [
            "{",
            "[]",
            "\"x\"",
            r#"{"loginOptions": []}"#,
            r#"{"loginOptions": {"customClaims": "x"}}"#,
            r#"{"loginOptions": {"customClaims": ["x"]}}"#,
            r#"{"loginOptions": {"selectedTenant": 5}}"#,
        ] {
            assert!(parse_login_options(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            base_url_for("0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            base_url_for("127.0.0.1:1".parse().unwrap()),
            "http://127.0.0.1:1"
        );
        assert_eq!(base_url_for("[::]:9".parse().unwrap()), "http://[::1]:9");
    }
}
