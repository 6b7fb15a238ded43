//! What verification yields: a [`VerifiedToken`], and the time claims ([`Validity`]) a remembered token is
//! held to on each later use. Its own module so that the verifier and the verified-token cache both depend
//! on it, not on each other.

use crate::grants::Grants;
use crate::{JsonObject, VerifyError};
use std::borrow::Cow;
use std::sync::OnceLock;

/// A token that passed every check, with its effective grants.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub header: JsonObject,
    pub claims: JsonObject,
    pub grants: Grants,
    /// `exp`, in unix seconds.
    pub expires_at: i64,
    /// [`Self::claims_json`], once asked for.
    claims_json: ClaimsJson,
    /// The longest claims text kept: the token's length, which the verified-token cache charges for it.
    claims_json_allowance: usize,
}

impl VerifiedToken {
    /// A token of `token_len` bytes whose checks all passed.
    pub(crate) fn new(
        header: JsonObject,
        claims: JsonObject,
        grants: Grants,
        expires_at: i64,
        token_len: usize,
    ) -> Self {
        VerifiedToken {
            header,
            claims,
            grants,
            expires_at,
            claims_json: ClaimsJson::default(),
            claims_json_allowance: token_len,
        }
    }

    /// The claims as compact JSON, serialised on first use and kept with the token: a token presented again
    /// is answered from the verified-token cache, and an answer that echoes its claims then costs a copy,
    /// not a serialisation. The text is kept only while no longer than the token (a payload's JSON is shorter
    /// than its base64url form, and compact re-serialisation rarely lengthens it); a longer one is
    /// serialised again each time, so the cache's bound in bytes holds.
    pub fn claims_json(&self) -> Cow<'_, str> {
        if let Some(text) = self.claims_json.0.get() {
            return Cow::Borrowed(text);
        }
        // A map of JSON values with string keys always serialises.
        let text = serde_json::to_string(&self.claims).unwrap_or_else(|_| "{}".to_owned());
        if text.len() > self.claims_json_allowance {
            return Cow::Owned(text);
        }
        Cow::Borrowed(self.claims_json.0.get_or_init(|| text.into_boxed_str()))
    }
}

/// The kept claims text of one token. A clone starts without it: a clone's `claims` may be changed, and its
/// text must then be theirs.
#[derive(Debug, Default)]
struct ClaimsJson(OnceLock<Box<str>>);

impl Clone for ClaimsJson {
    fn clone(&self) -> Self {
        ClaimsJson::default()
    }
}

/// A token's time claims (unix seconds): the rules that still depend on the clock once every other check
/// has passed, so a remembered token is held to them on each use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Validity {
    pub(crate) exp: f64,
    pub(crate) nbf: Option<f64>,
    pub(crate) iat: Option<f64>,
}

impl Validity {
    /// `exp`, in whole unix seconds.
    pub(crate) fn expires_at(&self) -> i64 {
        self.exp as i64
    }

    /// The type checks of these claims come first in `TokenPolicy::check_claims`; then, in this order,
    /// `exp`, `nbf` and `iat` against `now`, each with the leeway.
    pub(crate) fn check(&self, now: f64, leeway_secs: f64) -> Result<(), VerifyError> {
        if now >= self.exp + leeway_secs {
            return Err(VerifyError::Expired);
        }
        if self.nbf.is_some_and(|nbf| nbf > now + leeway_secs) {
            return Err(VerifyError::NotYetValid);
        }
        if self.iat.is_some_and(|iat| iat > now + leeway_secs) {
            return Err(VerifyError::IssuedInFuture);
        }
        Ok(())
    }
}
