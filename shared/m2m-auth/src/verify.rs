use crate::algorithm::Algorithm;
use crate::config::{AuthConfig, ConfigError};
use crate::fetch::Discovery;
use crate::grants::{GrantModel, Grants};
use crate::jwks::{JwksCache, JwksCacheOptions, JwksLocation};
use crate::jws::{self, CompactJws};
use crate::token_cache::{CachedToken, TokenCacheStats, VerifiedTokenCache};
use crate::verified::{Validity, VerifiedToken};
use crate::{JsonObject, VerifyError};
use serde_json::Value;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The rules a token's header and claims must meet (docs/contract.md section 3), besides its signature:
/// the accepted algorithms and header parameters, the time claims, issuer, audience and kind.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
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

impl TokenPolicy {
    /// The rules for tokens of one Descope project.
    fn descope(config: &AuthConfig, base_url: &str, project_id: &str) -> Self {
        let mut issuers = vec![
            project_id.to_owned(),
            format!("{base_url}/{project_id}"),
            format!("{base_url}/v1/apps/{project_id}"),
        ];
        issuers.extend(config.extra_issuers.iter().cloned());
        TokenPolicy {
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
    fn oidc(config: &AuthConfig, issuer: &str, audience: &str) -> Self {
        let mut issuers = vec![issuer.to_owned()];
        issuers.extend(config.extra_issuers.iter().cloned());
        TokenPolicy {
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

    /// Checks the claims at `now` (unix seconds); returns when the token may be accepted.
    fn check_claims(&self, claims: &JsonObject, now: f64) -> Result<Validity, VerifyError> {
        let number = |name: &'static str| match claims.get(name) {
            None => Ok(None),
            Some(value) => value
                .as_f64()
                .map(Some)
                .ok_or(VerifyError::InvalidClaimType(name)),
        };
        let exp = number("exp")?.ok_or(VerifyError::MissingClaim("exp"))?;
        let validity = Validity {
            exp,
            nbf: number("nbf")?,
            iat: number("iat")?,
        };
        validity.check(now, self.leeway_secs)?;
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
            // RFC 7519 section 4.1.3: a string or an array of strings; an array with anything else is
            // malformed, whatever else it holds.
            Some(Value::Array(items)) if !items.iter().all(Value::is_string) => {
                return Err(VerifyError::InvalidClaimType("aud"));
            }
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
        Ok(validity)
    }
}

/// Verifies tokens of one issuer with its cached keys, remembering the tokens that passed.
///
/// The policy and the remembered tokens live and die together: an entry is valid only for the rules it was
/// checked under, and those rules never change within one verifier.
pub struct Verifier {
    policy: TokenPolicy,
    keys: JwksCache,
    verified: VerifiedTokenCache,
}

/// Where a verifier's keys come from ([`crate::Provider::key_source`], or handed over), and so whose tokens it
/// accepts. Every other rule (algorithms, leeway, extra issuers, audience, the caches' settings) comes from the
/// one [`AuthConfig`], so the policy and the key cache can never disagree.
pub enum KeySource {
    /// `{base_url}/v2/keys/{project_id}`, fetched and cached: the tokens of one Descope project.
    DescopeProject {
        client: reqwest::Client,
        base_url: String,
        project_id: String,
    },
    /// The `jwks_uri` of OpenID Connect discovery: the tokens of its issuer, for the configured audience.
    Discovery {
        client: reqwest::Client,
        discovery: Arc<Discovery>,
    },
    /// A key set handed over once and never fetched (fuzzing, benchmarks, tests without a network), with
    /// the rules of one Descope project.
    Preloaded {
        jwks: Value,
        base_url: String,
        project_id: String,
    },
}

impl Verifier {
    /// The one way to build a verifier: `config`'s rules, `keys`' keys and issuer.
    pub fn new(config: &AuthConfig, keys: KeySource) -> Self {
        let (policy, keys) = match keys {
            KeySource::DescopeProject {
                client,
                base_url,
                project_id,
            } => (
                TokenPolicy::descope(config, &base_url, &project_id),
                JwksCache::new(
                    client,
                    JwksLocation::Url(format!("{base_url}/v2/keys/{project_id}")),
                    config.algorithms.clone(),
                    cache_options(config),
                ),
            ),
            KeySource::Discovery { client, discovery } => {
                let audience = config.audience.clone().unwrap_or_default();
                (
                    TokenPolicy::oidc(config, discovery.issuer(), &audience),
                    JwksCache::new(
                        client,
                        JwksLocation::Discovery(discovery),
                        config.algorithms.clone(),
                        cache_options(config),
                    ),
                )
            }
            KeySource::Preloaded {
                jwks,
                base_url,
                project_id,
            } => (
                TokenPolicy::descope(config, &base_url, &project_id),
                JwksCache::preloaded(&jwks, config.algorithms.clone()),
            ),
        };
        Verifier {
            policy,
            keys,
            verified: VerifiedTokenCache::new(config.verified_token_cache_entries),
        }
    }

    /// Remembers up to `entries` verified tokens instead (0: none, every token is checked in full).
    pub fn with_token_cache_entries(mut self, entries: usize) -> Self {
        self.verified = VerifiedTokenCache::new(entries);
        self
    }

    /// Hits, misses and evictions of the verified-token cache (cheap: atomic loads, no lock).
    pub fn cache_stats(&self) -> TokenCacheStats {
        self.verified.stats()
    }

    /// The verifier of the configured provider: the configured project (Descope), or the configured issuer
    /// found by discovery (OIDC).
    pub fn from_config(config: &AuthConfig, client: reqwest::Client) -> Result<Self, ConfigError> {
        // Only a Descope provider can lack its key owner.
        let owner = config
            .provider
            .configured_key_owner()
            .ok_or_else(|| ConfigError::new("DESCOPE_PROJECT_ID", "required to verify tokens"))?;
        Ok(Self::new(config, config.provider.key_source(client, owner)))
    }

    pub fn keys(&self) -> &JwksCache {
        &self.keys
    }

    /// Fetches the signing keys during a function's init, within [`crate::budget::INIT_WARM_UP`]: true when
    /// they are held afterwards. Never fatal: a function whose provider is down at start-up still starts,
    /// and its first request fetches the keys as it would have anyway.
    pub async fn hydrate(&self) -> bool {
        matches!(
            tokio::time::timeout(crate::budget::INIT_WARM_UP, self.keys.hydrate()).await,
            Ok(Ok(_))
        )
    }

    /// Verifies `token` now.
    pub async fn verify(&self, token: &str) -> Result<Arc<VerifiedToken>, VerifyError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        self.verify_at(token, now).await
    }

    /// Verifies `token` as of `now` (unix seconds). A token verified before is answered from the cache of
    /// verified tokens, with its time claims and its signing key checked again.
    pub async fn verify_at(
        &self,
        token: &str,
        now: f64,
    ) -> Result<Arc<VerifiedToken>, VerifyError> {
        if let Some(answer) = self.answer_remembered(token, now).await {
            return answer;
        }
        let jws = jws::split(token)?;
        let (alg, kid) = self.policy.check_header(&jws.header)?;
        // Finished fetches, not started ones: a request that arrives while another's fetch is under way must
        // still look again once that fetch has finished.
        let fetches_before = self.keys.finished_fetches();
        let key = self.keys.verifying_key(kid).await?;
        // Requests that waited together for a key fetch resume together: the first to finish remembers the
        // token, and the others take its answer instead of checking the same signature again.
        if self.keys.finished_fetches() != fetches_before
            && let Some(answer) = self.answer_remembered(token, now).await
        {
            return answer;
        }
        let kid = kid.to_owned();
        self.check_signed(token, jws, alg, kid, key, now)
    }

    /// The synchronous core: verifies `token` as of `now` with the keys this verifier already holds, and
    /// never fetches (a `kid` it does not hold is [`VerifyError::UnknownKey`]). With preloaded keys this is
    /// the whole check (fuzzing, the attack table, benchmarks); otherwise it is what a warm cache answers.
    pub fn verify_held_at(&self, token: &str, now: f64) -> Result<Arc<VerifiedToken>, VerifyError> {
        if let Some(entry) = self.verified.get(token) {
            let key = self.keys.held_key(&entry.kid);
            if let Some(answer) = self.answer_from(token, &entry, key, now) {
                return answer;
            }
        }
        let jws = jws::split(token)?;
        let (alg, kid) = self.policy.check_header(&jws.header)?;
        let key = self.keys.held_key(kid)?;
        let kid = kid.to_owned();
        self.check_signed(token, jws, alg, kid, key, now)
    }

    /// The signature, the claims and the grants of a token whose header passed, with `key`; a token that
    /// passes is remembered.
    fn check_signed(
        &self,
        token: &str,
        jws: CompactJws<'_>,
        alg: Algorithm,
        kid: String,
        key: Arc<crate::keys::VerifyingKey>,
        now: f64,
    ) -> Result<Arc<VerifiedToken>, VerifyError> {
        let CompactJws {
            header,
            signing_input,
            payload,
            signature,
        } = jws;
        let verifier = key.verifier(alg).ok_or(VerifyError::KeyAlgorithmMismatch)?;
        self.verified.record_miss();
        verifier
            .verify_sig(signing_input, &signature)
            .map_err(|_| VerifyError::BadSignature)?;
        let claims = jws::decode_object(payload, "payload")?;
        let validity = self.policy.check_claims(&claims, now)?;
        let grants = Grants::from_claims(&claims, self.policy.grant_model);
        tracing::trace!(alg = alg.name(), "token verified");
        let verified = Arc::new(VerifiedToken::new(
            header,
            claims,
            grants,
            validity.expires_at(),
            token.len(),
        ));
        if self.verified.is_enabled() {
            self.verified.insert(
                token,
                CachedToken {
                    verified: verified.clone(),
                    kid,
                    key,
                    validity,
                },
            );
        }
        Ok(verified)
    }

    /// The answer for a token found in the cache, as its full check would give it now; `None` when it is
    /// not there, or its entry no longer applies (its key was replaced) and the token must be checked in full.
    async fn answer_remembered(
        &self,
        token: &str,
        now: f64,
    ) -> Option<Result<Arc<VerifiedToken>, VerifyError>> {
        let entry = self.verified.get(token)?;
        // Through the key cache's normal path, so that every rule on keys (refresh, unknown kid, how long
        // stale keys are trusted) applies to a remembered token exactly as to a new one.
        let key = self.keys.verifying_key(&entry.kid).await;
        self.answer_from(token, &entry, key, now)
    }

    /// What a remembered `entry` answers, given what the key cache now holds for its `kid`.
    fn answer_from(
        &self,
        token: &str,
        entry: &CachedToken,
        key: Result<Arc<crate::keys::VerifyingKey>, VerifyError>,
        now: f64,
    ) -> Option<Result<Arc<VerifiedToken>, VerifyError>> {
        let answer = match key {
            Ok(key) if Arc::ptr_eq(&key, &entry.key) => entry
                .validity
                .check(now, self.policy.leeway_secs)
                .map(|()| entry.verified.clone()),
            Ok(_) => {
                self.verified.remove(token);
                return None;
            }
            Err(error) => Err(error),
        };
        match &answer {
            Ok(_) => self.verified.record_hit(),
            // A token refused once is not kept: expired, or its key is gone.
            Err(_) => self.verified.remove(token),
        }
        Some(answer)
    }
}

fn cache_options(config: &AuthConfig) -> JwksCacheOptions {
    JwksCacheOptions {
        ttl: config.jwks_cache_ttl,
        max_stale: config.jwks_max_stale,
        ..JwksCacheOptions::default()
    }
}
