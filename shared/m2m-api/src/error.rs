use m2m_auth::VerifyError;
use m2m_telemetry::Outcome;
use std::time::Duration;

/// Every way the plumbing and the protected endpoints refuse a request. Each is answered by its row of
/// [`ApiError::refusal`]; the token exchange has its own error type and table (m2m-token).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Missing or invalid Authorization header")]
    MissingAuthorization,
    /// The token was refused (never [`VerifyError::KeysUnavailable`]: that is the service's failure, below).
    #[error("JWT verification failed: {0}")]
    InvalidToken(VerifyError),
    /// The signing keys cannot be fetched and none is cached for the token's `kid`.
    #[error("Signing keys unavailable")]
    KeysUnavailable { retry_after: Duration },
    /// A valid token without the grant the endpoint requires.
    #[error("Missing required scope: '{0}'")]
    InsufficientGrant(&'static str),
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
    /// The invocation panicked: nothing of the panic is told.
    #[error("Internal error")]
    Internal,
}

/// A failure as the contract answers it: one row of an error type's table. The body is
/// `{"success": false, "error": message}`; `kind` names the failure in the request's log line, as the
/// outcome's name or finer (`provider_unreachable` is a `provider_error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub outcome: Outcome,
    pub kind: &'static str,
    pub message: String,
    /// `WWW-Authenticate` (RFC 6750 section 3), `Retry-After`, `Allow`.
    pub headers: Vec<(&'static str, String)>,
}

impl Refusal {
    /// A row whose kind is its outcome's name, without extra headers.
    pub fn new(status: u16, outcome: Outcome, message: String) -> Self {
        Refusal {
            status,
            outcome,
            kind: outcome.name(),
            message,
            headers: Vec::new(),
        }
    }

    /// The row with a kind finer than its outcome's name.
    pub fn with_kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl ApiError {
    /// The table: this failure's status, outcome, kind, public message and headers.
    pub fn refusal(&self) -> Refusal {
        let message = self.to_string();
        match self {
            ApiError::MissingAuthorization => {
                Refusal::new(401, Outcome::MissingAuthorization, message)
                    .with_header("www-authenticate", "Bearer".to_owned())
            }
            ApiError::InvalidToken(error) => {
                Refusal::new(401, Outcome::of_refused_token(error), message)
                    .with_kind("invalid_token")
                    .with_header(
                        "www-authenticate",
                        r#"Bearer error="invalid_token""#.to_owned(),
                    )
            }
            ApiError::KeysUnavailable { retry_after } => {
                Refusal::new(503, Outcome::KeysUnavailable, message)
                    .with_header("retry-after", retry_after_seconds(*retry_after).to_string())
            }
            ApiError::InsufficientGrant(scope) => {
                Refusal::new(403, Outcome::InsufficientGrant, message).with_header(
                    "www-authenticate",
                    format!(r#"Bearer error="insufficient_scope", scope="{scope}""#),
                )
            }
            ApiError::MethodNotAllowed => Refusal::new(405, Outcome::MethodNotAllowed, message)
                .with_header("allow", "POST, OPTIONS".to_owned()),
            ApiError::NotFound => Refusal::new(404, Outcome::NotFound, message),
            ApiError::NoAuthorizerContext => {
                Refusal::new(401, Outcome::MissingAuthorization, message)
                    .with_kind("no_authorizer_context")
            }
            ApiError::MalformedRequest => {
                Refusal::new(400, Outcome::BadRequest, message).with_kind("malformed_request")
            }
            ApiError::Internal => Refusal::new(500, Outcome::InternalError, message),
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
    fn refusals_follow_the_contract() {
        let expired = ApiError::InvalidToken(VerifyError::Expired).refusal();
        assert_eq!(
            (expired.status, expired.outcome, expired.kind),
            (401, Outcome::InvalidTokenExpired, "invalid_token")
        );
        let unavailable = ApiError::from(VerifyError::KeysUnavailable {
            retry_after: Duration::from_millis(1),
        })
        .refusal();
        assert_eq!(unavailable.status, 503);
        assert_eq!(unavailable.message, "Signing keys unavailable");
        assert_eq!(unavailable.headers, vec![("retry-after", "1".to_owned())]);
        let not_granted = ApiError::InsufficientGrant("admin").refusal();
        assert_eq!(not_granted.message, "Missing required scope: 'admin'");
        // One word for one event: the log line's kind is the metric's outcome.
        assert_eq!(not_granted.kind, Outcome::InsufficientGrant.name());
    }
}
