use crate::credentials::{
    Caller, CredentialSettings, CredentialSource, Credentials, ResolvedCredentials,
};
use crate::exchange::{ExchangeInput, Issuer};
use crate::issued::{
    DEFAULT_ISSUED_TOKEN_CACHE_ENTRIES, Entitlement, IssuedTokens, MAX_ISSUED_TOKEN_CACHE_ENTRIES,
};
use crate::provider::ExchangeFacts;
use crate::{TokenError, TokenRequest};
use lambda_http::{Body, Request, Response};
use m2m_api::{Cors, succeeded_with_text};
use m2m_auth::budget::REQUEST_DEADLINE;
use m2m_auth::fetch::build_client;
use m2m_auth::{AuthConfig, ConfigError, Verifier};
use serde_json::json;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Total time allowed for one call to the provider.
const PROVIDER_TIMEOUT: Duration = m2m_auth::budget::PROVIDER_CALL;
/// Verifiers (each with its key cache) kept for other projects named in requests, besides the configured
/// project's, which is never evicted: a caller cycling through projects must not make every exchange for the
/// configured project pay a key fetch.
const MAX_OTHER_PROJECT_VERIFIERS: NonZeroUsize = NonZeroUsize::new(16).unwrap();

/// Everything the token function is configured with.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub auth: AuthConfig,
    pub credentials: CredentialSettings,
    pub cors: Cors,
    /// `ISSUED_TOKEN_CACHE_ENTRIES`: how many handed-out tokens are kept to hand out again (0: none).
    pub issued_token_cache_entries: usize,
}

impl TokenSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads every setting of the token function through `lookup` (the environment, in production).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let auth = AuthConfig::from_lookup(&lookup)?;
        let credentials = CredentialSettings::from_lookup(auth.provider.clone(), &lookup)?;
        let get = m2m_auth::trimmed(&lookup);
        let issued_token_cache_entries = m2m_auth::parse_count(
            get("ISSUED_TOKEN_CACHE_ENTRIES"),
            "ISSUED_TOKEN_CACHE_ENTRIES",
            DEFAULT_ISSUED_TOKEN_CACHE_ENTRIES,
            0..=MAX_ISSUED_TOKEN_CACHE_ENTRIES,
        )?;
        Ok(TokenSettings {
            auth,
            credentials,
            cors: Cors::parse(&get("CORS_ALLOWED_ORIGINS").unwrap_or_default())?,
            issued_token_cache_entries,
        })
    }
}

/// `POST /m2m/token`: exchanges an access key for a JWT, verifies it and reports its grants.
pub struct TokenApi {
    issuer: Issuer,
    credentials: Credentials,
    cors: Cors,
    issued: IssuedTokens,
}

/// Per-project values (with OIDC, the issuer's alone): the configured project's kept for good, and those of
/// other projects named in requests in a small most-recently-used list, so that a caller cycling through
/// projects cannot evict the configured project's keys (and make every exchange for it pay a key fetch).
pub(crate) struct ProjectVerifiers<V> {
    configured: Option<(String, Arc<V>)>,
    others: Mutex<lru::LruCache<String, Arc<V>>>,
}

impl<V> ProjectVerifiers<V> {
    pub(crate) fn new(configured: Option<(String, V)>) -> Self {
        ProjectVerifiers {
            configured: configured.map(|(id, value)| (id, Arc::new(value))),
            others: Mutex::new(lru::LruCache::new(MAX_OTHER_PROJECT_VERIFIERS)),
        }
    }

    pub(crate) fn get(&self, project_id: &str, make: impl FnOnce() -> V) -> Arc<V> {
        if let Some((id, value)) = &self.configured
            && id == project_id
        {
            return value.clone();
        }
        let mut others = self.others.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = others.get(project_id) {
            return value.clone();
        }
        let value = Arc::new(make());
        others.put(project_id.to_owned(), value.clone());
        value
    }

    pub(crate) fn others(&self) -> usize {
        self.others
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl TokenApi {
    pub fn new(settings: TokenSettings) -> Result<Self, ConfigError> {
        Ok(TokenApi {
            issuer: Issuer::new(settings.auth, build_client(PROVIDER_TIMEOUT)),
            credentials: Credentials::new(settings.credentials),
            cors: settings.cors,
            issued: IssuedTokens::new(settings.issued_token_cache_entries),
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::new(TokenSettings::from_env()?)
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// How many verifiers of other projects than the configured one (each with its key cache) are held: at
    /// most 16, the most recently used kept. A verifier is made only for a project whose exchange succeeded.
    pub fn cached_verifiers(&self) -> usize {
        self.issuer.verifiers.others()
    }

    /// The configured project's verifier, or the issuer's (kept for good).
    pub fn configured_verifier(&self) -> Option<&Verifier> {
        self.issuer.verifiers.configured.as_ref().map(|(_, v)| &**v)
    }

    /// The answer to one request: a token kept for what the caller is entitled to, or a new exchange.
    async fn issue(
        &self,
        request: &Request,
    ) -> Result<std::sync::Arc<str>, std::sync::Arc<TokenError>> {
        let body = TokenRequest::parse(request.body().as_ref())?;
        if body.tenant.is_some() && !self.issuer.auth.provider.has_tenants() {
            return Err(TokenError::BadRequest(
                "'tenant' is not supported with AUTH_PROVIDER=oidc".into(),
            ))?;
        }
        let caller = Caller::of(request);
        let credentials = self.credentials.resolve(&body, &caller).await?;
        if credentials.source != CredentialSource::Request {
            self.issued
                .stack_key_in_use(&credentials.project_id, &credentials.access_key);
        }
        let entitlement = Entitlement {
            project_id: &credentials.project_id,
            access_key: &credentials.access_key,
            scopes: &credentials.scopes,
            tenant: body.tenant.as_deref(),
            narrowed: credentials.narrowed,
        };
        // A client whose token was refused asks again with `no-cache`: it gets a new exchange, not the
        // same token.
        let revalidate = request
            .headers()
            .get_all(lambda_http::http::header::CACHE_CONTROL)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|directive| directive.trim().eq_ignore_ascii_case("no-cache"));
        let issued = self
            .issued
            .get_or_issue(
                &entitlement,
                revalidate,
                unix_now,
                self.exchange(&credentials, &body),
            )
            .await?;
        let principal = match &caller {
            Caller::Iam { principal } => Some(principal.as_str()),
            Caller::Public => None,
        };
        tracing::info!(
            credentials = credentials.source.as_str(),
            caller = principal,
            reused = issued.reused,
            "token issued"
        );
        Ok(issued.answer)
    }

    /// One exchange at the provider: the token it issues, verified as the official SDKs do before handing
    /// it out (a token we could not accept later is an error of the provider's, not a success), as the 200
    /// body and the time from which it is no longer handed out again.
    async fn exchange(
        &self,
        credentials: &ResolvedCredentials,
        body: &TokenRequest,
    ) -> Result<(String, i64), TokenError> {
        let input = ExchangeInput {
            client_id: &credentials.project_id,
            client_secret: &credentials.access_key,
            scopes: &credentials.scopes,
            tenant: body.tenant.as_deref(),
        };
        // The span carries no field: the key travels in `input`, never in a span.
        let exchange = self.issuer.exchange(&input);
        let jwt =
            tracing::Instrument::instrument(exchange, tracing::info_span!("provider_exchange"))
                .await?;
        let verified = self
            .issuer
            .verifier(&credentials.project_id)
            .verify(&jwt)
            .await
            .map_err(|error| {
                TokenError::Provider(crate::ProviderError::IssuedTokenRefused(error))
            })?;
        if let Some(missing) = credentials
            .scopes
            .iter()
            .find(|scope| !credentials.narrowed && !verified.grants.contains(scope))
        {
            return Err(TokenError::ScopeNotGranted(missing.clone()));
        }
        tracing::info!(
            credentials = credentials.source.as_str(),
            subject = ?verified.claims.get("sub"),
            "token exchanged"
        );
        let issued_at = verified
            .claims
            .get("iat")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or_else(unix_now);
        let answer = json!({
            "success": true,
            "jwt": jwt,
            "decodedHeader": verified.header,
            "decodedPayload": verified.claims,
            "expiresAt": verified.expires_at,
            "scopes": verified.grants.to_vec(),
        });
        Ok((
            answer.to_string(),
            m2m_auth::lifetime::renew_at(issued_at, verified.expires_at),
        ))
    }

    /// What the first request would otherwise wait for, done during init within
    /// [`m2m_auth::budget::INIT_WARM_UP`] and never fatal: the configured project's signing keys and the
    /// stack's secret, side by side. Returns whether both (where configured) are held afterwards.
    pub async fn warm_up(&self) -> bool {
        let keys = async {
            match self.configured_verifier() {
                Some(verifier) => verifier.hydrate().await,
                None => true,
            }
        };
        let secret = async {
            match self.credentials.secret() {
                Some(secret) => matches!(
                    tokio::time::timeout(m2m_auth::budget::INIT_WARM_UP, secret.value()).await,
                    Ok(Ok(_))
                ),
                None => true,
            }
        };
        let (keys, secret) = tokio::join!(keys, secret);
        keys && secret
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

impl TokenApi {
    /// The answer to one request (behind [`m2m_api::ApiLayer`], which owns CORS, the method and the log line).
    pub async fn handle(&self, request: Request) -> Response<Body> {
        match tokio::time::timeout(REQUEST_DEADLINE, self.issue(&request)).await {
            Ok(Ok(answer)) => {
                succeeded_with_text(m2m_telemetry::Outcome::Issued, answer.to_string())
            }
            Ok(Err(error)) => error.answer(),
            Err(_) => TokenError::ProviderTimeout.answer(),
        }
    }

    /// The CORS settings this function was configured with, for its [`m2m_api::ApiLayer`].
    pub fn cors(&self) -> &Cors {
        &self.cors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycling_through_projects_never_evicts_the_configured_one() {
        let verifiers = ProjectVerifiers::new(Some(("P2Configured".to_owned(), 0usize)));
        let configured = verifiers.get("P2Configured", || unreachable!("kept for good"));
        for round in 0..3 {
            for other in 0..40 {
                verifiers.get(&format!("P2Other{other}"), || round * 100 + other);
                let again = verifiers.get("P2Configured", || unreachable!("evicted"));
                assert!(Arc::ptr_eq(&configured, &again));
            }
        }
        assert_eq!(verifiers.others(), MAX_OTHER_PROJECT_VERIFIERS.get());
        // The most recently used other project is still there; the oldest is gone.
        assert_eq!(*verifiers.get("P2Other39", || 7), 239);
        assert_eq!(*verifiers.get("P2Other0", || 7), 7);
    }
}
