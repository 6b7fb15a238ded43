//! The three protected endpoints: each is [`crate::ApiLayer`], [`RequireGrant`] and the handler
//! [`succeeded`], composed in its main.rs (and by [`ProtectedApi`] for in-process callers).

use crate::{ApiLayer, Cors, RequireGrant};
use lambda_http::{Body, Request, Response};
use m2m_auth::{AuthConfig, ConfigError, Require, VerifiedToken, Verifier, fetch::build_client};
use std::convert::Infallible;
use std::sync::Arc;
use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt};

/// What one protected endpoint requires and answers.
#[derive(Debug, Clone, Copy)]
pub struct Protection {
    pub route: &'static str,
    pub require: Require,
    pub message: &'static str,
}

pub const PROTECTED: Protection = Protection {
    route: "/api/protected",
    require: Require::AnyValidToken,
    message: "Protected API call succeeded!",
};
pub const USER: Protection = Protection {
    route: "/api/user",
    require: Require::Grant("read:data"),
    message: "User API call succeeded!",
};
pub const ADMIN: Protection = Protection {
    route: "/api/admin",
    require: Require::Grant("admin"),
    message: "Admin API call succeeded!",
};

/// The verifier of the configured provider (docs/contract.md section 3), built once per container.
pub fn verifier(config: &AuthConfig) -> Result<Verifier, ConfigError> {
    Verifier::from_config(config, build_client(m2m_auth::budget::KEY_FETCH))
}

/// [`verifier`] from the environment (docs/contract.md section 2).
pub fn verifier_from_env() -> Result<Verifier, ConfigError> {
    verifier(&AuthConfig::from_env()?)
}

/// The handler behind [`RequireGrant`]: `{"success": true, "message": ..., "claims": ...}` with the claims of
/// the token the layer verified.
pub async fn succeeded(request: Request, message: &str) -> Result<Response<Body>, Infallible> {
    let Some(token) = request.extensions().get::<Arc<VerifiedToken>>() else {
        // Only reachable if the handler were mounted without the layer: fail closed.
        return Ok(crate::ApiError::MissingAuthorization.into_response());
    };
    // Written as text around the claims' own JSON, which the verified token keeps (a token presented again
    // is not serialised again); the members are those of the contract, in its order.
    let claims = token.claims_json();
    let mut body = String::with_capacity(claims.len() + message.len() + 48);
    body.push_str(r#"{"success":true,"message":"#);
    // A string always serialises.
    body.push_str(&serde_json::to_string(message).unwrap_or_default());
    body.push_str(r#","claims":"#);
    body.push_str(&claims);
    body.push('}');
    Ok(crate::http::succeeded_with_text(
        m2m_telemetry::Outcome::Granted,
        body,
    ))
}

/// A protected function composed as its main.rs composes it, for in-process callers (tests, benches).
pub struct ProtectedApi {
    service: BoxCloneSyncService<Request, Response<Body>, Infallible>,
    verifier: Arc<Verifier>,
}

impl ProtectedApi {
    pub fn new(
        protection: Protection,
        config: &AuthConfig,
        cors: Cors,
    ) -> Result<Self, ConfigError> {
        let verifier = Arc::new(verifier(config)?);
        let service = ServiceBuilder::new()
            .layer(ApiLayer::new(cors))
            .layer(RequireGrant::new(verifier.clone(), protection.require))
            .service_fn(move |request| succeeded(request, protection.message));
        Ok(ProtectedApi {
            service: BoxCloneSyncService::new(service),
            verifier,
        })
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The composed service (a clone: they share the verifier and its key cache).
    pub fn service(&self) -> BoxCloneSyncService<Request, Response<Body>, Infallible> {
        self.service.clone()
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        match self.service.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}
