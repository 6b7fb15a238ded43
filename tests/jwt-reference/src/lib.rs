//! `jsonwebtoken` as the independent reference `m2m_auth`'s verifier is checked against.
//!
//! [`Reference`] states the rules of docs/contract.md section 3 for one Descope project as a
//! `jsonwebtoken::Validation` (same algorithms, leeway, issuers, audience and required claims) over the same
//! JWKS, read by `jsonwebtoken`'s own JWK types. [`compare`] gives one token to both at the same second and
//! holds them to one rule: whatever the verifier accepts, `jsonwebtoken::decode` accepts too, with the same
//! claims. Where the two answers differ, the difference must be one of the documented cases of [`cases`]
//! ([`Stricter`]: the verifier refuses what `jsonwebtoken` accepts; [`Lenient`]: the reverse); any other
//! difference is a [`Mismatch`]. The differential test (tests/rust/reference.rs) and the fuzz target
//! (fuzz/fuzz_targets/verify_reference.rs) both use it.

pub mod cases;
mod keys;

pub use cases::{Lenient, Stricter};
pub use keys::{Signer, SigningKeys, b64};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{AlgorithmFamily, DecodingKey, TokenData, Validation};
use m2m_auth::{Algorithm, AuthConfig, JsonObject, KeySource, Verifier, VerifyError};
use serde_json::Value;

/// The loopback base URL, project and audience the differential test and the fuzz target configure.
pub const BASE_URL: &str = "http://127.0.0.1:0";
pub const PROJECT: &str = "P2ReferenceProject";
pub const AUDIENCE: &str = "api://m2m";

/// The verifier's rules for one Descope project, as `jsonwebtoken` states them.
pub struct Reference {
    keys: JwkSet,
    /// The JWKS entries as published, for the cases that depend on what a key declares.
    entries: Vec<Value>,
    algorithms: Vec<jsonwebtoken::Algorithm>,
    leeway: u64,
    issuers: Vec<String>,
    audience: String,
    audience_required: bool,
}

impl Reference {
    /// The rules `Verifier::new(config, KeySource::Preloaded { jwks, base_url, project_id })` applies, taken
    /// from the contract's text rather than from the verifier: the issuers of section 3 and `JWT_ISSUERS`;
    /// `JWT_AUDIENCE` required when set, otherwise an `aud` that is present must name the project.
    ///
    /// # Panics
    /// When `jwks` is not a JWK Set `jsonwebtoken` can read as a whole (the fixtures' sets are).
    pub fn descope(config: &AuthConfig, jwks: &Value, base_url: &str, project_id: &str) -> Self {
        let mut issuers = vec![
            project_id.to_owned(),
            format!("{base_url}/{project_id}"),
            format!("{base_url}/v1/apps/{project_id}"),
        ];
        issuers.extend(config.extra_issuers.iter().cloned());
        Reference {
            keys: serde_json::from_value(jwks.clone()).expect("a JWK Set jsonwebtoken reads"),
            entries: jwks["keys"].as_array().cloned().unwrap_or_default(),
            algorithms: config
                .algorithms
                .iter()
                .map(|&alg| reference(alg))
                .collect(),
            leeway: config.leeway.as_secs(),
            issuers,
            audience: config
                .audience
                .clone()
                .unwrap_or_else(|| project_id.to_owned()),
            audience_required: config.audience.is_some(),
        }
    }

    pub fn leeway(&self) -> u64 {
        self.leeway
    }

    /// The published JWK whose `kid` is `kid` (the first, as `JwkSet::find` takes it).
    pub(crate) fn entry(&self, kid: &str) -> Option<&Value> {
        self.entries.iter().find(|entry| entry["kid"] == kid)
    }

    /// The `Validation` for a key of `family`: `jsonwebtoken` refuses a list naming another family's
    /// algorithms, so the accepted algorithms are narrowed to the key's (the verifier's rule that the key's
    /// type must fit `alg` says the same).
    fn validation(&self, family: AlgorithmFamily) -> Option<Validation> {
        let algorithms: Vec<_> = self
            .algorithms
            .iter()
            .copied()
            .filter(|alg| alg.family() == family)
            .collect();
        let first = *algorithms.first()?;
        let mut validation = Validation::new(first);
        validation.algorithms = algorithms;
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&self.issuers);
        validation.set_audience(&[&self.audience]);
        let mut required = vec!["exp", "iss"];
        if self.audience_required {
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        Some(validation)
    }

    /// `jsonwebtoken::decode` with the key the header's `kid` names; a header without one is tried with
    /// every key of the set (`jsonwebtoken` itself verifies with whichever key it is handed).
    pub fn decode(
        &self,
        token: &str,
    ) -> Result<TokenData<JsonObject>, jsonwebtoken::errors::Error> {
        let header = jsonwebtoken::decode_header(token)?;
        let candidates: Vec<&Jwk> = match &header.kid {
            Some(kid) => self.keys.find(kid).into_iter().collect(),
            None => self.keys.keys.iter().collect(),
        };
        let mut refusal = jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into();
        for jwk in candidates {
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            let Some(validation) = self.validation(key.family()) else {
                continue;
            };
            match jsonwebtoken::decode::<JsonObject>(token, &key, &validation) {
                Ok(data) => return Ok(data),
                Err(error) => refusal = error,
            }
        }
        Err(refusal)
    }
}

/// A verifier and its reference, over the same keys and configuration.
pub struct Pair {
    pub verifier: Verifier,
    pub reference: Reference,
}

impl Pair {
    /// The verifier `config` makes with `jwks` preloaded (no network), its verified-token cache off so that
    /// every token is checked in full (the remembered answers are held to the same rules by
    /// tests/rust/token_cache.rs), and the [`Reference`] of the same rules.
    pub fn preloaded(config: &AuthConfig, jwks: &Value, base_url: &str, project_id: &str) -> Self {
        let keys = KeySource::Preloaded {
            jwks: jwks.clone(),
            base_url: base_url.to_owned(),
            project_id: project_id.to_owned(),
        };
        Pair {
            verifier: Verifier::new(config, keys).with_token_cache_entries(0),
            reference: Reference::descope(config, jwks, base_url, project_id),
        }
    }

    /// [`compare`] for this pair.
    pub fn compare(&self, token: &str) -> Result<Outcome, Mismatch> {
        compare(&self.verifier, &self.reference, token)
    }
}

/// `jsonwebtoken`'s name for one of our algorithms (exhaustive: a new one must be mapped here to be tested).
pub fn reference(alg: Algorithm) -> jsonwebtoken::Algorithm {
    match alg {
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::RS384 => jsonwebtoken::Algorithm::RS384,
        Algorithm::RS512 => jsonwebtoken::Algorithm::RS512,
        Algorithm::PS256 => jsonwebtoken::Algorithm::PS256,
        Algorithm::PS384 => jsonwebtoken::Algorithm::PS384,
        Algorithm::PS512 => jsonwebtoken::Algorithm::PS512,
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::ES384 => jsonwebtoken::Algorithm::ES384,
        Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
    }
}

/// How the two answers for one token compare, when they are allowed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    BothAccepted,
    BothRefused,
    /// The verifier refused, `jsonwebtoken` accepted, for a documented reason.
    OursStricter(Stricter),
    /// The verifier accepted, `jsonwebtoken` refused, for a documented reason.
    OursLenient(Lenient),
    /// The second changed while the two were asked, so they did not judge at the same `now`; ask again.
    ClockMoved,
}

/// A difference between the verifier and the reference that no documented case explains.
#[derive(Debug, thiserror::Error)]
pub enum Mismatch {
    #[error("the verifier accepted a token jsonwebtoken refuses ({reference}): {token}")]
    AcceptedOnlyByOurs { reference: String, token: String },
    #[error("jsonwebtoken accepted a token the verifier refuses ({ours}): {token}")]
    RefusedOnlyByOurs { ours: VerifyError, token: String },
    #[error("both accepted with different claims: ours {ours:?}, jsonwebtoken {reference:?}")]
    ClaimsDiffer {
        ours: Box<JsonObject>,
        reference: Box<JsonObject>,
    },
}

/// Asks `verifier` (with the keys it holds, at the current second) and `reference` about `token`.
pub fn compare(
    verifier: &Verifier,
    reference: &Reference,
    token: &str,
) -> Result<Outcome, Mismatch> {
    // `jsonwebtoken` reads the clock itself, in whole seconds: the verifier is given that very second.
    let now = jsonwebtoken::get_current_timestamp();
    let ours = verifier.verify_held_at(token, now as f64);
    let theirs = reference.decode(token);
    if jsonwebtoken::get_current_timestamp() != now {
        return Ok(Outcome::ClockMoved);
    }
    match (ours, theirs) {
        (Ok(ours), Ok(theirs)) if ours.claims == theirs.claims => Ok(Outcome::BothAccepted),
        (Ok(ours), Ok(theirs)) => Err(Mismatch::ClaimsDiffer {
            ours: Box::new(ours.claims.clone()),
            reference: Box::new(theirs.claims),
        }),
        (Err(_), Err(_)) => Ok(Outcome::BothRefused),
        (Err(ours), Ok(_)) => match Stricter::explain(&ours, token, now, reference) {
            Some(case) => Ok(Outcome::OursStricter(case)),
            None => Err(Mismatch::RefusedOnlyByOurs {
                ours,
                token: token.to_owned(),
            }),
        },
        (Ok(_), Err(theirs)) => match Lenient::explain(token, &theirs) {
            Some(case) => Ok(Outcome::OursLenient(case)),
            None => Err(Mismatch::AcceptedOnlyByOurs {
                reference: theirs.to_string(),
                token: token.to_owned(),
            }),
        },
    }
}
