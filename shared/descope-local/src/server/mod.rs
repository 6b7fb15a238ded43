//! The HTTP side of the issuer: the server's lifecycle and its router. The routes, their errors, the fault
//! injection and the request parsing live in the modules below.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::issuer::LocalIssuer;
use routes::{
    exchange, jwks, license, method_not_allowed, not_found, openid_configuration, rotate_keys,
};

mod errors;
mod faults;
mod parsing;
mod routes;

/// Largest accepted exchange request body.
pub const MAX_EXCHANGE_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub(super) struct AppState {
    pub(super) issuer: Arc<LocalIssuer>,
    /// `http://127.0.0.1:PORT`, this server's own address.
    pub(super) base_url: Arc<str>,
    shutdown: watch::Receiver<bool>,
}

impl AppState {
    pub(super) async fn stopped(&self) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
