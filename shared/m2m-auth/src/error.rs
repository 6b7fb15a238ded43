use std::time::Duration;

/// Why a token was refused. The `Display` text is safe to return to the caller: it never contains the
/// token, a key or a value taken verbatim from the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("token exceeds {max} bytes", max = crate::MAX_TOKEN_BYTES)]
    TooLarge,
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("algorithm not accepted")]
    AlgorithmNotAccepted,
    #[error("header is missing 'kid'")]
    MissingKid,
    #[error("header parameter '{0}' is not supported")]
    UnsupportedHeader(&'static str),
    #[error("header 'typ' must be JWT or at+jwt")]
    UnexpectedType,
    #[error("no signing key matches the token's 'kid'")]
    UnknownKey,
    #[error("signing key does not fit the token's algorithm")]
    KeyAlgorithmMismatch,
    #[error("invalid signature")]
    BadSignature,
    #[error("claim '{0}' is required")]
    MissingClaim(&'static str),
    #[error("claim '{0}' has the wrong type")]
    InvalidClaimType(&'static str),
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token issued in the future")]
    IssuedInFuture,
    #[error("issuer not accepted")]
    IssuerNotAccepted,
    #[error("audience not accepted")]
    AudienceNotAccepted,
    #[error("not a session token")]
    NotASessionToken,
    /// The keys could not be fetched and none is cached for this token's `kid`.
    #[error("signing keys unavailable")]
    KeysUnavailable { retry_after: Duration },
}

impl VerifyError {
    /// Whether the failure is the service's (keys unavailable), not the token's.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, VerifyError::KeysUnavailable { .. })
    }
}
