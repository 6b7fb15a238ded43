use crate::credentials::SecretFailure;
use m2m_auth::VerifyError;
use std::time::Duration;

/// Every way a request can fail, mapped to the contract's status and body in one place
/// ([`ApiError::status`], [`ApiError::public_message`]).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request itself is wrong; the message names the field.
    #[error("{0}")]
    BadRequest(String),
    #[error("Identity provider rejected the request: {0}")]
    ProviderRejected(String),
    #[error("Authentication failed: {0}")]
    AuthenticationFailed(String),
    /// A public caller sent no access key: the stack's own key is for trusted callers only.
    #[error("An access key is required")]
    AccessKeyRequired,
    #[error("Scope not granted to this access key: '{0}'")]
    ScopeNotGranted(String),
    #[error("Missing or invalid Authorization header")]
    MissingAuthorization,
    #[error("JWT verification failed: {0}")]
    InvalidToken(VerifyError),
    #[error("Missing required scope: '{0}'")]
    InsufficientScope(&'static str),
    /// The stack's secret could not be read or used. The detail is logged, never returned.
    #[error("server misconfigured: {0}")]
    Secret(SecretFailure),
    #[error("Identity provider error: {0}")]
    Provider(String),
    #[error("Identity provider timed out")]
    ProviderTimeout,
    #[error("Method not allowed")]
    MethodNotAllowed,
    #[error("Not found")]
    NotFound,
    /// A backend behind the authorizer was reached without the authorizer's context.
    #[error("No authorizer context: this route is served behind the authorizer")]
    NoAuthorizerContext,
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) | ApiError::ProviderRejected(_) => 400,
            ApiError::AuthenticationFailed(_)
            | ApiError::AccessKeyRequired
            | ApiError::MissingAuthorization
            | ApiError::NoAuthorizerContext => 401,
            ApiError::InvalidToken(error) if error.is_unavailable() => 503,
            ApiError::InvalidToken(_) => 401,
            ApiError::ScopeNotGranted(_) | ApiError::InsufficientScope(_) => 403,
            ApiError::NotFound => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::Secret(_) => 500,
            ApiError::Provider(_) => 502,
            ApiError::ProviderTimeout => 504,
        }
    }

    /// The `error` text of the response body.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Secret(_) => "Server misconfigured; see the function's logs".to_owned(),
            ApiError::InvalidToken(error) if error.is_unavailable() => {
                "Signing keys unavailable".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// Extra headers the contract asks for: `WWW-Authenticate` (RFC 6750 section 3), `Retry-After`.
    pub(crate) fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            ApiError::MissingAuthorization => vec![("www-authenticate", "Bearer".to_owned())],
            ApiError::InvalidToken(VerifyError::KeysUnavailable { retry_after }) => {
                vec![("retry-after", retry_after_seconds(*retry_after).to_string())]
            }
            ApiError::InvalidToken(_) => vec![(
                "www-authenticate",
                r#"Bearer error="invalid_token""#.to_owned(),
            )],
            ApiError::InsufficientScope(scope) => {
                vec![(
                    "www-authenticate",
                    format!(r#"Bearer error="insufficient_scope", scope="{scope}""#),
                )]
            }
            ApiError::MethodNotAllowed => vec![("allow", "POST, OPTIONS".to_owned())],
            _ => Vec::new(),
        }
    }

    /// A short, stable name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::ProviderRejected(_) => "provider_rejected",
            ApiError::AuthenticationFailed(_) => "authentication_failed",
            ApiError::AccessKeyRequired => "access_key_required",
            ApiError::ScopeNotGranted(_) => "scope_not_granted",
            ApiError::MissingAuthorization => "missing_authorization",
            ApiError::InvalidToken(error) if error.is_unavailable() => "keys_unavailable",
            ApiError::InvalidToken(_) => "invalid_token",
            ApiError::InsufficientScope(_) => "insufficient_scope",
            ApiError::Secret(failure) => failure.cause.kind(),
            ApiError::Provider(_) => "provider_error",
            ApiError::ProviderTimeout => "provider_timeout",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::NotFound => "not_found",
            ApiError::NoAuthorizerContext => "no_authorizer_context",
        }
    }
}

fn retry_after_seconds(duration: Duration) -> u64 {
    duration.as_secs_f64().ceil().max(1.0) as u64
}

impl From<VerifyError> for ApiError {
    fn from(error: VerifyError) -> Self {
        ApiError::InvalidToken(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_contract() {
        assert_eq!(ApiError::InvalidToken(VerifyError::Expired).status(), 401);
        let unavailable = ApiError::InvalidToken(VerifyError::KeysUnavailable {
            retry_after: Duration::from_millis(1),
        });
        assert_eq!(unavailable.status(), 503);
        assert_eq!(unavailable.public_message(), "Signing keys unavailable");
        assert_eq!(unavailable.headers(), vec![("retry-after", "1".to_owned())]);
        let misconfigured = ApiError::Secret(SecretFailure {
            id: "m2m/descope".into(),
            cause: crate::credentials::SecretError::NotJson,
        });
        assert!(!misconfigured.public_message().contains("secret"));
        assert_eq!(misconfigured.kind(), "secret_malformed");
        assert_eq!(ApiError::AccessKeyRequired.status(), 401);
        assert_eq!(
            ApiError::InsufficientScope("admin").to_string(),
            "Missing required scope: 'admin'"
        );
    }
}
