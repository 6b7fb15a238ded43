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
    /// The token was refused (never [`VerifyError::KeysUnavailable`]: that is the service's failure, below).
    #[error("JWT verification failed: {0}")]
    InvalidToken(VerifyError),
    /// The signing keys cannot be fetched and none is cached for the token's `kid`.
    #[error("Signing keys unavailable")]
    KeysUnavailable { retry_after: Duration },
    #[error("Missing required scope: '{0}'")]
    InsufficientScope(&'static str),
    /// The stack's secret could not be read or used. The detail is logged, never returned.
    #[error("server misconfigured: {0}")]
    Secret(SecretFailure),
    #[error("Identity provider error: {0}")]
    Provider(ProviderError),
    #[error("Identity provider timed out")]
    ProviderTimeout,
    #[error("Method not allowed")]
    MethodNotAllowed,
    #[error("Not found")]
    NotFound,
    /// A backend behind the authorizer was reached without the authorizer's context.
    #[error("No authorizer context: this route is served behind the authorizer")]
    NoAuthorizerContext,
    /// The event holds what no HTTP request can (a raw space or quote in the query string, a body marked
    /// base64 that is not): lambda_http could not make a request of it.
    #[error("Malformed request")]
    MalformedRequest,
    /// The IAM principal API Gateway authenticated is not listed in `STACK_KEY_PRINCIPALS`.
    #[error("This IAM principal may not use the stack's key")]
    PrincipalNotAllowed,
    /// The IAM principal asked for a scope `STACK_KEY_PRINCIPALS` does not let it receive.
    #[error("Scope not granted to this IAM principal: '{0}'")]
    ScopeNotAllowedForPrincipal(String),
    /// The invocation panicked: nothing of the panic is told.
    #[error("Internal error")]
    Internal,
}

/// Why the identity provider's answer could not be used (a 502). The text is ours, never the provider's
/// body, so it is safe to return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// OpenID Connect discovery failed (the fetch error, without its URL).
    #[error("discovery failed: {0}")]
    Discovery(String),
    #[error("discovery names no token_endpoint")]
    NoTokenEndpoint,
    #[error("response too large")]
    TooLarge,
    /// The answer could not be read (the fetch error).
    #[error("{0}")]
    Unreadable(String),
    /// A 200 without the token member (`sessionJwt` or `access_token`).
    #[error("answer has no '{0}'")]
    NoToken(&'static str),
    #[error("rate limited by the provider; retry later")]
    RateLimited,
    #[error("unexpected status {0}")]
    Status(u16),
    #[error("unexpected redirect")]
    Redirect,
    #[error("unreachable")]
    Unreachable,
    /// The provider issued a token this function's own rules refuse.
    #[error("the issued token failed verification: {0}")]
    IssuedTokenRefused(VerifyError),
}

impl ProviderError {
    /// A short, stable name for logs (the metrics count every one of them as `provider_error`).
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::Discovery(_) => "provider_discovery_failed",
            ProviderError::NoTokenEndpoint => "provider_no_token_endpoint",
            ProviderError::TooLarge => "provider_answer_too_large",
            ProviderError::Unreadable(_) => "provider_answer_unreadable",
            ProviderError::NoToken(_) => "provider_answer_without_token",
            ProviderError::RateLimited => "provider_rate_limited",
            ProviderError::Status(_) => "provider_unexpected_status",
            ProviderError::Redirect => "provider_redirect",
            ProviderError::Unreachable => "provider_unreachable",
            ProviderError::IssuedTokenRefused(_) => "provider_token_refused",
        }
    }
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_)
            | ApiError::ProviderRejected(_)
            | ApiError::MalformedRequest => 400,
            ApiError::AuthenticationFailed(_)
            | ApiError::AccessKeyRequired
            | ApiError::MissingAuthorization
            | ApiError::NoAuthorizerContext => 401,
            ApiError::KeysUnavailable { .. } => 503,
            ApiError::InvalidToken(_) => 401,
            ApiError::ScopeNotGranted(_)
            | ApiError::InsufficientScope(_)
            | ApiError::PrincipalNotAllowed
            | ApiError::ScopeNotAllowedForPrincipal(_) => 403,
            ApiError::NotFound => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::Secret(_) | ApiError::Internal => 500,
            ApiError::Provider(_) => 502,
            ApiError::ProviderTimeout => 504,
        }
    }

    /// The `error` text of the response body.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Secret(_) => "Server misconfigured; see the function's logs".to_owned(),
            other => other.to_string(),
        }
    }

    /// Extra headers the contract asks for: `WWW-Authenticate` (RFC 6750 section 3), `Retry-After`.
    pub(crate) fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            ApiError::MissingAuthorization => vec![("www-authenticate", "Bearer".to_owned())],
            ApiError::KeysUnavailable { retry_after } => {
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
            ApiError::KeysUnavailable { .. } => "keys_unavailable",
            ApiError::InvalidToken(_) => "invalid_token",
            ApiError::InsufficientScope(_) => "insufficient_scope",
            ApiError::Secret(failure) => failure.cause.kind(),
            ApiError::Provider(error) => error.kind(),
            ApiError::ProviderTimeout => "provider_timeout",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::NotFound => "not_found",
            ApiError::NoAuthorizerContext => "no_authorizer_context",
            ApiError::MalformedRequest => "malformed_request",
            ApiError::PrincipalNotAllowed => "principal_not_allowed",
            ApiError::ScopeNotAllowedForPrincipal(_) => "scope_not_allowed_for_principal",
            ApiError::Internal => "internal_error",
        }
    }
}

fn retry_after_seconds(duration: Duration) -> u64 {
    duration.as_secs_f64().ceil().max(1.0) as u64
}

impl From<VerifyError> for ApiError {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::KeysUnavailable { retry_after } => {
                ApiError::KeysUnavailable { retry_after }
            }
            refused => ApiError::InvalidToken(refused),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_contract() {
        assert_eq!(ApiError::InvalidToken(VerifyError::Expired).status(), 401);
        let unavailable = ApiError::from(VerifyError::KeysUnavailable {
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
