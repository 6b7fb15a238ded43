use crate::credentials::{CredentialSettings, Credentials};
use crate::exchange::{ExchangeInput, Exchanger};
use crate::http::{Cors, answer, body_bytes};
use crate::{ApiError, TokenRequest};
use lambda_http::{Body, Request, Response};
use m2m_auth::fetch::{Discovery, build_client};
use m2m_auth::{AuthConfig, ConfigError, Provider, Verifier};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Total time allowed for one call to the provider.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(5);
/// Verifiers (each with its key cache) kept for projects named in requests.
const MAX_PROJECT_VERIFIERS: usize = 16;

/// Everything the token function is configured with.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub auth: AuthConfig,
    pub credentials: CredentialSettings,
    pub cors: Cors,
}

impl TokenSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let auth = AuthConfig::from_env()?;
        let oidc = matches!(auth.provider, Provider::Oidc { .. });
        let credentials = CredentialSettings::from_lookup(oidc, |name| std::env::var(name).ok())?;
        Ok(TokenSettings {
            auth,
            credentials,
            cors: Cors::from_env(),
        })
    }
}

/// `POST /m2m/token`: exchanges an access key for a JWT, verifies it and reports its grants.
pub struct TokenApi {
    auth: AuthConfig,
    client: reqwest::Client,
    exchanger: Exchanger,
    credentials: Credentials,
    cors: Cors,
    verifiers: Verifiers,
}

enum Verifiers {
    /// Descope: one verifier per project, the most recently used last.
    Descope {
        base_url: String,
        by_project: Mutex<Vec<(String, Arc<Verifier>)>>,
    },
    Oidc(Arc<Verifier>),
}

impl TokenApi {
    pub fn new(settings: TokenSettings) -> Result<Self, ConfigError> {
        let client = build_client(PROVIDER_TIMEOUT);
        let (exchanger, verifiers) = match &settings.auth.provider {
            Provider::Descope { base_url, .. } => (
                Exchanger::Descope {
                    base_url: base_url.clone(),
                },
                Verifiers::Descope {
                    base_url: base_url.clone(),
                    by_project: Mutex::new(Vec::new()),
                },
            ),
            Provider::Oidc { issuer } => {
                let discovery = Arc::new(Discovery::new(
                    client.clone(),
                    issuer,
                    Duration::from_secs(3),
                ));
                let verifier =
                    Verifier::for_oidc(&settings.auth, client.clone(), discovery.clone());
                (
                    Exchanger::Oidc { discovery },
                    Verifiers::Oidc(Arc::new(verifier)),
                )
            }
        };
        Ok(TokenApi {
            auth: settings.auth,
            client,
            exchanger,
            credentials: Credentials::new(settings.credentials),
            cors: settings.cors,
            verifiers,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::new(TokenSettings::from_env()?)
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// How many per-project verifiers (each with its key cache) are held: at most 16, the most recently
    /// used kept. A verifier is made only for a project whose exchange succeeded.
    pub fn cached_verifiers(&self) -> usize {
        match &self.verifiers {
            Verifiers::Oidc(_) => 1,
            Verifiers::Descope { by_project, .. } => by_project
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .len(),
        }
    }

    /// The verifier for tokens of `project_id`, kept across requests with its key cache.
    fn verifier(&self, project_id: &str) -> Arc<Verifier> {
        match &self.verifiers {
            Verifiers::Oidc(verifier) => verifier.clone(),
            Verifiers::Descope {
                base_url,
                by_project,
            } => {
                let mut cache = by_project
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if let Some(index) = cache.iter().position(|(id, _)| id == project_id) {
                    let entry = cache.remove(index);
                    let verifier = entry.1.clone();
                    cache.push(entry);
                    return verifier;
                }
                if cache.len() >= MAX_PROJECT_VERIFIERS {
                    cache.remove(0);
                }
                let verifier = Arc::new(Verifier::for_descope_project(
                    &self.auth,
                    self.client.clone(),
                    base_url,
                    project_id,
                ));
                cache.push((project_id.to_owned(), verifier.clone()));
                verifier
            }
        }
    }

    async fn issue(&self, request: &Request) -> Result<serde_json::Value, ApiError> {
        let body = TokenRequest::parse(body_bytes(request))?;
        if body.tenant.is_some() && matches!(self.exchanger, Exchanger::Oidc { .. }) {
            return Err(ApiError::BadRequest(
                "'tenant' is not supported with AUTH_PROVIDER=oidc".into(),
            ));
        }
        let credentials = self.credentials.resolve(&body).await?;
        let input = ExchangeInput {
            project_id: &credentials.project_id,
            access_key: &credentials.access_key,
            scopes: &body.scopes,
            tenant: body.tenant.as_deref(),
        };
        let jwt = self.exchanger.exchange(&self.client, &input).await?;
        // Verified as the official SDKs do before handing it out: a token we could not accept later is an
        // error of the provider's, not a success.
        let verified = self
            .verifier(&credentials.project_id)
            .verify(&jwt)
            .await
            .map_err(|error| {
                ApiError::Provider(format!("the issued token failed verification: {error}"))
            })?;
        if let Some(missing) = body
            .scopes
            .iter()
            .find(|scope| !verified.grants.contains(scope))
        {
            return Err(ApiError::ScopeNotGranted(missing.clone()));
        }
        tracing::info!(credentials = credentials.source, subject = ?verified.claims.get("sub"), "token issued");
        Ok(json!({
            "success": true,
            "jwt": jwt,
            "decodedHeader": verified.header,
            "decodedPayload": verified.claims,
            "expiresAt": verified.expires_at,
            "scopes": verified.grants.to_vec(),
        }))
    }
}

impl TokenApi {
    /// The answer to one request (behind [`crate::ApiLayer`], which owns CORS, the method and the log line).
    pub async fn handle(&self, request: Request) -> Response<Body> {
        answer(self.issue(&request)).await
    }

    /// The CORS settings this function was configured with, for its [`crate::ApiLayer`].
    pub fn cors(&self) -> &Cors {
        &self.cors
    }
}
