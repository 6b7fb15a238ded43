use crate::http::{Cors, bearer_token};
use crate::{ApiError, Endpoint, answer};
use lambda_http::{Body, Request, Response};
use m2m_auth::{AuthConfig, ConfigError, Require, Verifier, fetch::build_client};
use serde_json::json;

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
    require: Require::Scope("read:data"),
    message: "User API call succeeded!",
};
pub const ADMIN: Protection = Protection {
    route: "/api/admin",
    require: Require::Scope("admin"),
    message: "Admin API call succeeded!",
};

/// A protected endpoint: verifies the bearer token and enforces the grant.
pub struct ProtectedApi {
    protection: Protection,
    verifier: Verifier,
    cors: Cors,
}

impl ProtectedApi {
    pub fn new(
        protection: Protection,
        config: &AuthConfig,
        cors: Cors,
    ) -> Result<Self, ConfigError> {
        let verifier = Verifier::from_config(config, build_client(m2m_auth::budget::KEY_FETCH))?;
        Ok(ProtectedApi {
            protection,
            verifier,
            cors,
        })
    }

    /// Reads the configuration from the environment (docs/contract.md section 2).
    pub fn from_env(protection: Protection) -> Result<Self, ConfigError> {
        Self::new(protection, &AuthConfig::from_env()?, Cors::from_env())
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    async fn authorize(&self, request: &Request) -> Result<serde_json::Value, ApiError> {
        let token = bearer_token(request.headers()).ok_or(ApiError::MissingAuthorization)?;
        let verified = self.verifier.verify(token).await?;
        self.protection
            .require
            .check(&verified.grants)
            .map_err(ApiError::InsufficientScope)?;
        Ok(json!({"success": true, "message": self.protection.message, "claims": verified.claims}))
    }
}

impl Endpoint for ProtectedApi {
    async fn handle(&self, request: Request) -> Response<Body> {
        answer(
            &request,
            &self.cors,
            crate::Outcome::Granted,
            self.authorize(&request),
        )
        .await
    }
}
