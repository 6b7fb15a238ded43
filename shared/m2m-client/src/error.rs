//! The ways getting a token or making a call can fail, one variant each.

use m2m_auth::fetch::FetchError;
use std::time::Duration;

/// An error of the token source or of an authorized call.
///
/// No variant holds the access key: the server's messages are passed on with any stretch of the key
/// redacted, transport errors are reduced to their kind and cause without the request's body, and AWS
/// credentials never enter an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The base URL is not an absolute `http` or `https` URL.
    #[error("invalid base URL '{url}': {reason}")]
    InvalidBaseUrl {
        /// The URL as given.
        url: String,
        /// Why it is not usable.
        reason: String,
    },
    /// The access key is empty or holds characters an access key never has.
    #[error("invalid access key: {0}")]
    InvalidAccessKey(&'static str),
    /// The token function refused the exchange with a 4xx answer in the contract's shape
    /// (`{"success": false, "error": ...}`): a refused key, a scope the key lacks, a bad request.
    #[error("the token function refused the request ({status}): {message}")]
    Refused {
        /// The HTTP status (400, 401, 403, ...).
        status: u16,
        /// The server's `error` text.
        message: String,
    },
    /// The token function (or the API Gateway in front of it) answered 429: too many requests.
    #[error("the token function is rate limiting this caller (429): {message}")]
    RateLimited {
        /// The answer's `error` or `message` text.
        message: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The token function failed with a 5xx answer (identity provider down or slow, server
    /// misconfigured).
    #[error("the token function failed ({status}): {message}")]
    ServerError {
        /// The HTTP status (500, 502, 504, ...).
        status: u16,
        /// The server's `error` text, or the start of the body when it is not in the contract's shape.
        message: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The answer was not what the token function answers (not JSON, no `jwt`, a token without `exp`).
    #[error("unexpected answer from {url} ({status}): {detail}")]
    UnexpectedAnswer {
        /// Where it came from.
        url: String,
        /// Its HTTP status.
        status: u16,
        /// What was wrong with it.
        detail: String,
    },
    /// The stack could not be reached (connection refused, DNS, TLS).
    #[error("cannot reach {url}: {cause}")]
    Unreachable {
        /// The URL that was called.
        url: String,
        /// The transport's reason.
        cause: String,
    },
    /// The request took longer than the client's timeout.
    #[error("{url} did not answer within {timeout:?}")]
    Timeout {
        /// The URL that was called.
        url: String,
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// Any other transport failure (reading the body, building the request).
    #[error("request to {url} failed: {cause}")]
    Transport {
        /// The URL that was called.
        url: String,
        /// The transport's reason.
        cause: String,
    },
    /// No AWS credentials could be found for the IAM route (environment, profile, web identity,
    /// ECS or EC2 metadata).
    #[error("no AWS credentials for the IAM route: {0}")]
    AwsCredentials(String),
    /// No AWS region is configured (`AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`).
    #[error(
        "no AWS region for the IAM route: set AWS_REGION (or AWS_DEFAULT_REGION, or the profile's region)"
    )]
    NoRegion,
    /// The request could not be signed with SigV4.
    #[error("could not sign the request: {0}")]
    Signing(String),
    /// A refresh failed recently and the source waits before trying again; no unexpired token is kept.
    #[error("no token: the last refresh failed ({last}); next attempt in {retry_in:?}")]
    BackingOff {
        /// How long until the next refresh is tried.
        retry_in: Duration,
        /// Why the last refresh failed.
        last: Box<Error>,
    },
    /// The token cache directory could not be used.
    #[error("token cache {path}: {cause}")]
    Cache {
        /// The file or directory.
        path: String,
        /// What went wrong.
        cause: String,
    },
}

impl Error {
    /// The HTTP status of the token function's answer, for the errors that have one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::RateLimited { .. } => Some(429),
            Error::Refused { status, .. }
            | Error::ServerError { status, .. }
            | Error::UnexpectedAnswer { status, .. } => Some(*status),
            Error::BackingOff { last, .. } => last.status(),
            _ => None,
        }
    }

    /// How long the server asked to wait before the next attempt (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::ServerError { retry_after, .. } | Error::RateLimited { retry_after, .. } => {
                *retry_after
            }
            Error::BackingOff { last, .. } => last.retry_after(),
            _ => None,
        }
    }

    pub(crate) fn from_reqwest(url: &str, timeout: Duration, error: reqwest::Error) -> Error {
        // Never the URL's query or the request body: the error's own text names neither once the URL is
        // dropped, and the URL is reported as the caller gave it.
        let error = error.without_url();
        let cause = describe(&error);
        if error.is_timeout() {
            Error::Timeout {
                url: url.to_owned(),
                timeout,
            }
        } else if error.is_connect() {
            Error::Unreachable {
                url: url.to_owned(),
                cause,
            }
        } else {
            Error::Transport {
                url: url.to_owned(),
                cause,
            }
        }
    }

    /// A failure reading an answer's body, which is bounded ([`m2m_auth::fetch::read_capped`]).
    pub(crate) fn from_body(url: &str, timeout: Duration, status: u16, error: FetchError) -> Error {
        let url = url.to_owned();
        match error {
            FetchError::Timeout => Error::Timeout { url, timeout },
            FetchError::TooLarge(max) => Error::UnexpectedAnswer {
                url,
                status,
                detail: format!("an answer over {max} bytes"),
            },
            other => Error::Transport {
                url,
                cause: other.to_string(),
            },
        }
    }
}

/// An error and its causes on one line ("error sending request: connection refused").
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
