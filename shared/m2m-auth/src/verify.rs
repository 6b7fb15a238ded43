use crate::config::{AuthConfig, ConfigError, Provider, algorithm_name};
use crate::fetch::Discovery;
use crate::grants::{GrantModel, Grants};
use crate::jwks::{JwksCache, JwksCacheOptions, JwksLocation};
use crate::jws::{self, CompactJws};
use crate::{JsonObject, VerifyError};
use jsonwebtoken::Algorithm;
use serde_json::Value;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A token that passed every check, with its effective grants.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub header: JsonObject,
    pub claims: JsonObject,
    pub grants: Grants,
    /// `exp`, in unix seconds.
    pub expires_at: i64,
}

/// The rules a token's header and claims must meet (docs/contract.md section 3), besides its signature.
#[derive(Debug, Clone)]
pub struct ClaimsPolicy {
    algorithms: Vec<Algorithm>,
    issuers: Vec<String>,
    audience: Audience,
    leeway_secs: f64,
    grant_model: GrantModel,
}

#[derive(Debug, Clone)]
enum Audience {
    /// `JWT_AUDIENCE` is set: `aud` must contain it.
    Required(String),
    /// Descope without `JWT_AUDIENCE`: an `aud` that is present must contain the project id.
    IfPresent(String),
}

impl ClaimsPolicy {
    /// The rules for tokens of one Descope project.
    pub fn descope(config: &AuthConfig, base_url: &str, project_id: &str) -> Self {
        let mut issuers = vec![
            project_id.to_owned(),
            format!("{base_url}/{project_id}"),
            format!("{base_url}/v1/apps/{project_id}"),
        ];
        issuers.extend(config.extra_issuers.iter().cloned());
        ClaimsPolicy {
            algorithms: config.algorithms.clone(),
            issuers,
            audience: match &config.audience {
                Some(aud) => Audience::Required(aud.clone()),
                None => Audience::IfPresent(project_id.to_owned()),
            },
            leeway_secs: config.leeway.as_secs_f64(),
            grant_model: GrantModel::Descope,
        }
    }

    /// The rules for tokens of a standard OAuth 2.0 / OpenID Connect provider.
    pub fn oidc(config: &AuthConfig, issuer: &str, audience: &str) -> Self {
        let mut issuers = vec![issuer.to_owned()];
        issuers.extend(config.extra_issuers.iter().cloned());
        ClaimsPolicy {
            algorithms: config.algorithms.clone(),
            issuers,
            audience: Audience::Required(audience.to_owned()),
            leeway_secs: config.leeway.as_secs_f64(),
            grant_model: GrantModel::Oidc,
        }
    }

    /// Checks the protected header; returns the algorithm and `kid`.
    fn check_header<'h>(
        &self,
        header: &'h JsonObject,
    ) -> Result<(Algorithm, &'h str), VerifyError> {
        for name in ["crit", "b64", "cty", "zip"] {
            if header.contains_key(name) {
                return Err(VerifyError::UnsupportedHeader(name));
            }
        }
        let alg = match header.get("alg") {
            Some(Value::String(name)) => {
                crate::parse_algorithm(name).filter(|alg| self.algorithms.contains(alg))
            }
            _ => None,
        }
        .ok_or(VerifyError::AlgorithmNotAccepted)?;
        if let Some(typ) = header.get("typ") {
            let typ = typ.as_str().ok_or(VerifyError::UnexpectedType)?;
            if !typ.eq_ignore_ascii_case("JWT") && !typ.eq_ignore_ascii_case("at+jwt") {
                return Err(VerifyError::UnexpectedType);
            }
        }
        match header.get("kid") {
            Some(Value::String(kid)) if !kid.is_empty() => Ok((alg, kid)),
            _ => Err(VerifyError::MissingKid),
        }
    }

    /// Checks the claims at `now` (unix seconds); returns `exp`.
    fn check_claims(&self, claims: &JsonObject, now: f64) -> Result<f64, VerifyError> {
        let number = |name: &'static str| match claims.get(name) {
            None => Ok(None),
            Some(value) => value
                .as_f64()
                .map(Some)
                .ok_or(VerifyError::InvalidClaimType(name)),
        };
        let exp = number("exp")?.ok_or(VerifyError::MissingClaim("exp"))?;
        if now >= exp + self.leeway_secs {
            return Err(VerifyError::Expired);
        }
        if number("nbf")?.is_some_and(|nbf| nbf > now + self.leeway_secs) {
            return Err(VerifyError::NotYetValid);
        }
        if number("iat")?.is_some_and(|iat| iat > now + self.leeway_secs) {
            return Err(VerifyError::IssuedInFuture);
        }
        match claims.get("iss") {
            Some(Value::String(iss)) if self.issuers.iter().any(|accepted| accepted == iss) => {}
            Some(Value::String(_)) => return Err(VerifyError::IssuerNotAccepted),
            Some(_) => return Err(VerifyError::InvalidClaimType("iss")),
            None => return Err(VerifyError::MissingClaim("iss")),
        }
        let (expected, required) = match &self.audience {
            Audience::Required(aud) => (aud, true),
            Audience::IfPresent(aud) => (aud, false),
        };
        let matches = |v: &Value| v.as_str() == Some(expected.as_str());
        match claims.get("aud") {
            None if required => return Err(VerifyError::MissingClaim("aud")),
            None => {}
            Some(Value::String(_)) | Some(Value::Array(_)) => {
                let found = match claims.get("aud") {
                    Some(Value::Array(items)) => items.iter().any(matches),
                    Some(single) => matches(single),
                    None => false,
                };
                if !found {
                    return Err(VerifyError::AudienceNotAccepted);
                }
            }
            Some(_) => return Err(VerifyError::InvalidClaimType("aud")),
        }
        match claims.get("drn") {
            None => {}
            Some(Value::String(drn)) if drn == "DS" => {}
            Some(_) => return Err(VerifyError::NotASessionToken),
        }
        Ok(exp)
    }
}

/// Verifies tokens of one issuer with its cached keys.
pub struct Verifier {
    policy: ClaimsPolicy,
    keys: JwksCache,
}

impl Verifier {
    pub fn new(policy: ClaimsPolicy, keys: JwksCache) -> Self {
        Verifier { policy, keys }
    }

    /// The verifier the protected functions use: the configured project (Descope), or the configured
    /// issuer found by discovery (OIDC).
    pub fn from_config(config: &AuthConfig, client: reqwest::Client) -> Result<Self, ConfigError> {
        match &config.provider {
            Provider::Descope {
                base_url,
                project_id,
            } => {
                let project_id = project_id.as_deref().ok_or_else(|| {
                    ConfigError::new("DESCOPE_PROJECT_ID", "required to verify tokens")
                })?;
                Ok(Self::for_descope_project(
                    config, client, base_url, project_id,
                ))
            }
            Provider::Oidc { issuer } => {
                let discovery = Arc::new(Discovery::new(
                    client.clone(),
                    issuer,
                    crate::budget::KEY_FETCH,
                ));
                Ok(Self::for_oidc(config, client, discovery))
            }
        }
    }

    pub fn for_descope_project(
        config: &AuthConfig,
        client: reqwest::Client,
        base_url: &str,
        project_id: &str,
    ) -> Self {
        let location = JwksLocation::Url(format!("{base_url}/v2/keys/{project_id}"));
        Verifier {
            policy: ClaimsPolicy::descope(config, base_url, project_id),
            keys: JwksCache::new(
                client,
                location,
                config.algorithms.clone(),
                cache_options(config),
            ),
        }
    }

    pub fn for_oidc(
        config: &AuthConfig,
        client: reqwest::Client,
        discovery: Arc<Discovery>,
    ) -> Self {
        let audience = config.audience.clone().unwrap_or_default();
        let policy = ClaimsPolicy::oidc(config, discovery.issuer(), &audience);
        let location = JwksLocation::Discovery(discovery);
        Verifier {
            policy,
            keys: JwksCache::new(
                client,
                location,
                config.algorithms.clone(),
                cache_options(config),
            ),
        }
    }

    pub fn keys(&self) -> &JwksCache {
        &self.keys
    }

    /// Verifies `token` now.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, VerifyError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        self.verify_at(token, now).await
    }

    /// Verifies `token` as of `now` (unix seconds).
    pub async fn verify_at(&self, token: &str, now: f64) -> Result<VerifiedToken, VerifyError> {
        let CompactJws {
            header,
            signing_input,
            payload,
            signature,
        } = jws::split(token)?;
        let (alg, kid) = self.policy.check_header(&header)?;
        let key = self.keys.signing_key(kid).await?;
        let verifier = key.verifier(alg).ok_or(VerifyError::KeyAlgorithmMismatch)?;
        verifier
            .verify_sig(signing_input, &signature)
            .map_err(|_| VerifyError::BadSignature)?;
        let claims = jws::decode_object(payload, "payload")?;
        let exp = self.policy.check_claims(&claims, now)?;
        let grants = Grants::from_claims(&claims, self.policy.grant_model);
        tracing::trace!(alg = algorithm_name(alg), "token verified");
        Ok(VerifiedToken {
            header,
            claims,
            grants,
            expires_at: exp as i64,
        })
    }
}

fn cache_options(config: &AuthConfig) -> JwksCacheOptions {
    JwksCacheOptions {
        ttl: config.jwks_cache_ttl,
        max_stale: config.jwks_max_stale,
        ..JwksCacheOptions::default()
    }
}
