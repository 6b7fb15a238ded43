use crate::credentials::SecretFailure;
use m2m_api::Refusal;
use m2m_auth::VerifyError;
use m2m_telemetry::Outcome;

/// Every way a token request can fail, answered by its row of [`TokenError::refusal`] at the edge
/// ([`crate::TokenApi::handle`]).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
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
    /// The provider would not grant a scope the caller asked for.
    #[error("Scope not granted to this access key: '{0}'")]
    ScopeNotGranted(String),
    /// The stack's secret could not be read or used. The detail is logged, never returned.
    #[error("server misconfigured: {0}")]
    Secret(SecretFailure),
    #[error("Identity provider error: {0}")]
    Provider(ProviderError),
    #[error("Identity provider timed out")]
    ProviderTimeout,
    /// The IAM principal API Gateway authenticated is not listed in `STACK_KEY_PRINCIPALS`.
    #[error("This IAM principal may not use the stack's key")]
    PrincipalNotAllowed,
    /// The IAM principal asked for a scope `STACK_KEY_PRINCIPALS` does not let it receive.
    #[error("Scope not granted to this IAM principal: '{0}'")]
    ScopeNotAllowedForPrincipal(String),
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

impl TokenError {
    /// The table: this failure's status, outcome, kind (finer than the outcome where the log line should
    /// say more) and public message.
    pub fn refusal(&self) -> Refusal {
        let (status, outcome, kind) = match self {
            TokenError::BadRequest(_) => (400, Outcome::BadRequest, "bad_request"),
            TokenError::ProviderRejected(_) => (400, Outcome::BadRequest, "provider_rejected"),
            TokenError::AuthenticationFailed(_) => {
                (401, Outcome::AuthenticationFailed, "authentication_failed")
            }
            TokenError::AccessKeyRequired => {
                (401, Outcome::AccessKeyRequired, "access_key_required")
            }
            TokenError::ScopeNotGranted(_) => {
                (403, Outcome::InsufficientGrant, "scope_not_granted")
            }
            TokenError::PrincipalNotAllowed => {
                (403, Outcome::PrincipalNotAllowed, "principal_not_allowed")
            }
            TokenError::ScopeNotAllowedForPrincipal(_) => (
                403,
                Outcome::PrincipalNotAllowed,
                "scope_not_allowed_for_principal",
            ),
            TokenError::Secret(failure) => (500, Outcome::SecretUnavailable, failure.cause.kind()),
            TokenError::Provider(error) => (502, Outcome::ProviderError, error.kind()),
            TokenError::ProviderTimeout => (504, Outcome::ProviderTimeout, "provider_timeout"),
        };
        // A secret failure's detail (its id, its cause) is logged by `answer`, never returned.
        let message = match self {
            TokenError::Secret(_) => "Server misconfigured; see the function's logs".to_owned(),
            other => other.to_string(),
        };
        Refusal::new(status, outcome, message).with_kind(kind)
    }

    /// The contract's answer for this error; the detail of a secret failure goes to the log.
    pub fn answer<B: From<String>>(&self) -> lambda_http::Response<B> {
        if let TokenError::Secret(failure) = self {
            tracing::error!(detail = %failure, "server misconfigured");
        }
        self.refusal().into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_follow_the_contract() {
        let misconfigured = TokenError::Secret(SecretFailure {
            id: "m2m/descope".into(),
            cause: crate::credentials::SecretError::NotJson,
        })
        .refusal();
        assert!(!misconfigured.message.contains("secret"));
        assert_eq!(misconfigured.kind, "secret_malformed");
        assert_eq!(misconfigured.status, 500);
        assert_eq!(TokenError::AccessKeyRequired.refusal().status, 401);
        let unreachable = TokenError::Provider(ProviderError::Unreachable).refusal();
        assert_eq!(
            (unreachable.status, unreachable.outcome, unreachable.kind),
            (502, Outcome::ProviderError, "provider_unreachable")
        );
    }
}
