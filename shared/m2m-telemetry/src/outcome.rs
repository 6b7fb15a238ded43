//! How a request ended: the `Outcome` dimension of the `Requests` metric and the `outcome` of the request
//! log line (docs/contract.md section 2).

use m2m_auth::VerifyError;

/// How a request ended, as the `Outcome` dimension of `Requests`. Token refusals are grouped by reason
/// class, not by every verification error, so the set (and the metric's cardinality) stays small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A protected endpoint answered 200.
    Granted,
    /// The token function handed out a token.
    Issued,
    /// The page function served a file.
    Served,
    /// A CORS preflight was answered.
    Preflight,
    MissingAuthorization,
    /// A public caller asked for a token without bringing an access key.
    AccessKeyRequired,
    InvalidTokenExpired,
    InvalidTokenSignature,
    InvalidTokenClaims,
    InvalidTokenMalformed,
    InsufficientGrant,
    KeysUnavailable,
    BadRequest,
    AuthenticationFailed,
    ProviderError,
    ProviderTimeout,
    SecretUnavailable,
    MethodNotAllowed,
    NotFound,
    /// An IAM principal that `STACK_KEY_PRINCIPALS` does not list, or a scope it may not receive.
    PrincipalNotAllowed,
    /// The invocation panicked.
    InternalError,
}

impl Outcome {
    /// Every outcome, for tests and for whoever builds alarms or dashboards from the names.
    pub const ALL: [Outcome; 21] = [
        Outcome::Granted,
        Outcome::Issued,
        Outcome::Served,
        Outcome::Preflight,
        Outcome::MissingAuthorization,
        Outcome::AccessKeyRequired,
        Outcome::InvalidTokenExpired,
        Outcome::InvalidTokenSignature,
        Outcome::InvalidTokenClaims,
        Outcome::InvalidTokenMalformed,
        Outcome::InsufficientGrant,
        Outcome::KeysUnavailable,
        Outcome::BadRequest,
        Outcome::AuthenticationFailed,
        Outcome::ProviderError,
        Outcome::ProviderTimeout,
        Outcome::SecretUnavailable,
        Outcome::MethodNotAllowed,
        Outcome::NotFound,
        Outcome::PrincipalNotAllowed,
        Outcome::InternalError,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Granted => "granted",
            Outcome::Issued => "issued",
            Outcome::Served => "served",
            Outcome::Preflight => "preflight",
            Outcome::MissingAuthorization => "missing_authorization",
            Outcome::AccessKeyRequired => "access_key_required",
            Outcome::InvalidTokenExpired => "invalid_token_expired",
            Outcome::InvalidTokenSignature => "invalid_token_signature",
            Outcome::InvalidTokenClaims => "invalid_token_claims",
            Outcome::InvalidTokenMalformed => "invalid_token_malformed",
            Outcome::InsufficientGrant => "insufficient_grant",
            Outcome::KeysUnavailable => "keys_unavailable",
            Outcome::BadRequest => "bad_request",
            Outcome::AuthenticationFailed => "authentication_failed",
            Outcome::ProviderError => "provider_error",
            Outcome::ProviderTimeout => "provider_timeout",
            Outcome::SecretUnavailable => "secret_unavailable",
            Outcome::MethodNotAllowed => "method_not_allowed",
            Outcome::NotFound => "not_found",
            Outcome::PrincipalNotAllowed => "principal_not_allowed",
            Outcome::InternalError => "internal_error",
        }
    }

    /// The reason class of a refused token; public for handlers that answer outside the HTTP path (an
    /// authorizer). No wildcard arm: a new verification error has to be given a class here.
    pub fn of_refused_token(error: &VerifyError) -> Outcome {
        match error {
            VerifyError::KeysUnavailable { .. } => Outcome::KeysUnavailable,
            VerifyError::Expired => Outcome::InvalidTokenExpired,
            VerifyError::BadSignature
            | VerifyError::UnknownKey
            | VerifyError::KeyAlgorithmMismatch
            | VerifyError::AlgorithmNotAccepted => Outcome::InvalidTokenSignature,
            VerifyError::TooLarge
            | VerifyError::Malformed(_)
            | VerifyError::MissingKid
            | VerifyError::UnsupportedHeader(_)
            | VerifyError::UnexpectedType => Outcome::InvalidTokenMalformed,
            VerifyError::MissingClaim(_)
            | VerifyError::InvalidClaimType(_)
            | VerifyError::NotYetValid
            | VerifyError::IssuedInFuture
            | VerifyError::IssuerNotAccepted
            | VerifyError::AudienceNotAccepted
            | VerifyError::NotASessionToken => Outcome::InvalidTokenClaims,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn outcome_names_are_distinct_snake_case() {
        let names: HashSet<_> = Outcome::ALL.iter().map(|outcome| outcome.name()).collect();
        assert_eq!(names.len(), Outcome::ALL.len());
        assert!(
            names
                .iter()
                .all(|name| name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
        assert_eq!(
            Outcome::of_refused_token(&VerifyError::BadSignature),
            Outcome::InvalidTokenSignature
        );
    }
}
