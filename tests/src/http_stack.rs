//! The token function and the protected functions served over HTTP on 127.0.0.1, in-process, against a
//! local issuer: what `scripts/local-stack.sh` runs, without `cargo lambda watch`, for clients tested
//! against real answers (m2m-client). Each request is handed to the function as API Gateway would hand it
//! over, and counted per route, so tests can see how many requests a client sent.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use descope_local::{IssuerConfig, RunningIssuer};
use lambda_http::Body;
use m2m_api::{ADMIN, PROTECTED, ProtectedApi, USER};
use m2m_token::TokenApi;

use crate::Function;

/// A running in-process stack; stopped when dropped.
pub struct HttpStack {
    base_url: String,
    issuer: RunningIssuer,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

struct Shared {
    token: TokenApi,
    protected: ProtectedApi,
    user: ProtectedApi,
    admin: ProtectedApi,
    requests: Mutex<HashMap<String, u64>>,
    headers: Mutex<HashMap<String, HeaderMap>>,
}

/// The stack with the dev keys and the local development settings of `scripts/local-stack.sh`: the
/// configured key is `dev-reader-key` and every caller may have it exchanged (`STACK_KEY_CALLERS=any`), so
/// `POST /m2m/token/iam` answers without API Gateway's IAM check.
pub async fn start() -> HttpStack {
    start_with(IssuerConfig::dev(), &[], &[]).await
}

/// The stack with this issuer configuration (a short `session_ttl`, ...), these variables for the
/// token function and these for the protected functions (which win over the development settings).
pub async fn start_with(
    config: IssuerConfig,
    token_vars: &[(&str, &str)],
    protected_vars: &[(&str, &str)],
) -> HttpStack {
    let issuer = crate::start_issuer_with(config).await;
    let mut all = vec![
        ("STACK_KEY_CALLERS", "any"),
        ("DESCOPE_ACCESS_KEY", "dev-reader-key"),
    ];
    all.extend_from_slice(token_vars);
    let shared = Arc::new(Shared {
        token: crate::token_api(&issuer, &all),
        protected: crate::protected_api(&issuer, PROTECTED, protected_vars),
        user: crate::protected_api(&issuer, USER, protected_vars),
        admin: crate::protected_api(&issuer, ADMIN, protected_vars),
        requests: Mutex::new(HashMap::new()),
        headers: Mutex::new(HashMap::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let base_url = format!("http://{}", listener.local_addr().expect("local address"));
    let app = axum::Router::new()
        .fallback(serve)
        .with_state(shared.clone());
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    HttpStack {
        base_url,
        issuer,
        shared,
        shutdown: Some(shutdown),
    }
}

impl HttpStack {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The local issuer behind the token function.
    pub fn issuer(&self) -> &RunningIssuer {
        &self.issuer
    }

    /// How many requests reached `path` (`/m2m/token`, `/api/user`, ...).
    pub fn requests(&self, path: &str) -> u64 {
        self.shared
            .requests
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// How many exchanges the local issuer received.
    pub fn issuer_exchanges(&self) -> u64 {
        self.issuer
            .issuer()
            .request_count(descope_local::Endpoint::Exchange)
    }

    /// The headers of the last request to `path`.
    pub fn last_headers(&self, path: &str) -> Option<HeaderMap> {
        self.shared.headers.lock().unwrap().get(path).cloned()
    }
}

impl Drop for HttpStack {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

async fn serve(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let path = uri.path().to_owned();
    *shared
        .requests
        .lock()
        .unwrap()
        .entry(path.clone())
        .or_default() += 1;
    shared
        .headers
        .lock()
        .unwrap()
        .insert(path.clone(), headers.clone());
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(format!("https://api.example{uri}"));
    for (name, value) in &headers {
        builder = builder.header(name, value);
    }
    let body = if body.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(bytes) => Body::Binary(bytes.into_bytes()),
        }
    };
    let request = builder.body(body).expect("a request");
    let response = match path.as_str() {
        "/m2m/token" | "/m2m/token/iam" => shared.token.respond(request).await,
        "/api/protected" => shared.protected.respond(request).await,
        "/api/user" => shared.user.respond(request).await,
        "/api/admin" => shared.admin.respond(request).await,
        _ => return (StatusCode::NOT_FOUND, "no such route").into_response(),
    };
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}
