//! The Secrets Manager secret holding the stack's own credentials: read on first need, reused for
//! `SECRET_CACHE_SECONDS`, one read shared by concurrent requests, failures never cached.

use super::aws::{SECRET_READ_TIMEOUT, build_client, service_error_summary};
use super::{AwsClientSettings, CredentialSettings};
use crate::provider::ExchangeFacts;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The value of the secret.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SecretValue {
    pub project_id: Option<String>,
    pub access_key: String,
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretValue")
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

/// The Secrets Manager secret, read lazily on first need and reused for `ttl`.
pub struct SecretSource {
    id: Arc<str>,
    ttl: Duration,
    /// Names the secret's members and the id's rule.
    provider: m2m_auth::Provider,
    aws: AwsClientSettings,
    client: tokio::sync::OnceCell<aws_sdk_secretsmanager::Client>,
    /// Held across a read, so concurrent requests share one `GetSecretValue` (single flight), whether it
    /// succeeds or fails.
    state: tokio::sync::Mutex<SecretState>,
    reads: AtomicU64,
}

#[derive(Default)]
struct SecretState {
    /// The last good value and when it was read.
    value: Option<(Instant, Arc<SecretValue>)>,
    /// The last failed read and when it ended. Shared only with requests that were already waiting for it;
    /// it is never served from a cache.
    failure: Option<(Instant, SecretFailure)>,
}

/// The secret could not be used. Named by its id and the cause only: the value never reaches a log line or
/// a response (the caller sees a generic 500).
#[derive(Debug, Clone, thiserror::Error)]
#[error("secret '{id}' (DESCOPE_SECRET_ID): {cause}")]
pub struct SecretFailure {
    pub id: Arc<str>,
    pub cause: SecretError,
}

/// Why the secret could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("GetSecretValue failed: {0}")]
    Service(String),
    #[error("GetSecretValue timed out after {}s", SECRET_READ_TIMEOUT.as_secs())]
    Timeout,
    #[error("the secret has no string value (binary secrets are not supported)")]
    NoString,
    #[error("the secret is not a JSON object")]
    NotJson,
    #[error("the secret has no non-empty string member '{0}'")]
    MissingMember(&'static str),
    #[error("the secret's '{0}' is not valid")]
    InvalidMember(&'static str),
}

impl SecretError {
    /// A short, stable name for logs and metrics: the service failed, or the secret's content is wrong.
    pub fn kind(&self) -> &'static str {
        match self {
            SecretError::Service(_) => "secret_unreadable",
            SecretError::Timeout => "secret_timeout",
            SecretError::NoString
            | SecretError::NotJson
            | SecretError::MissingMember(_)
            | SecretError::InvalidMember(_) => "secret_malformed",
        }
    }
}

impl SecretSource {
    pub(crate) fn new(id: String, settings: &CredentialSettings) -> Self {
        SecretSource {
            id: id.into(),
            ttl: settings.secret_ttl,
            provider: settings.provider.clone(),
            aws: settings.aws.clone(),
            client: tokio::sync::OnceCell::new(),
            state: tokio::sync::Mutex::new(SecretState::default()),
            reads: AtomicU64::new(0),
        }
    }

    /// How many times the secret was requested from Secrets Manager.
    pub fn read_count(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    pub(crate) async fn value(&self) -> Result<Arc<SecretValue>, SecretFailure> {
        let arrived = Instant::now();
        let mut state = self.state.lock().await;
        // A value read while this request waited counts as fresh even with a TTL of 0.
        if let Some((read_at, value)) = state.value.as_ref()
            && (*read_at >= arrived || read_at.elapsed() < self.ttl)
        {
            return Ok(value.clone());
        }
        // A read that failed while this request waited is its answer too; later requests try again.
        if let Some((failed_at, failure)) = state.failure.as_ref()
            && *failed_at >= arrived
        {
            return Err(failure.clone());
        }
        // The span names the secret, never its value.
        let read = self.read();
        let span = tracing::info_span!("secret_read", secret_id = %self.id);
        match tracing::Instrument::instrument(read, span).await {
            Ok(value) => {
                let value = Arc::new(value);
                state.value = Some((Instant::now(), value.clone()));
                state.failure = None;
                Ok(value)
            }
            Err(cause) => {
                // The one log line is written where the response is made, from this failure.
                let failure = SecretFailure {
                    id: self.id.clone(),
                    cause,
                };
                state.failure = Some((Instant::now(), failure.clone()));
                metrics::counter!("SecretReadFailures").increment(1);
                Err(failure)
            }
        }
    }

    async fn read(&self) -> Result<SecretValue, SecretError> {
        use aws_sdk_secretsmanager::error::SdkError;
        self.reads.fetch_add(1, Ordering::Relaxed);
        // Building the client (region and credential discovery) counts against the same time limit.
        let call = async {
            let client = self.client.get_or_init(|| build_client(&self.aws)).await;
            client.get_secret_value().secret_id(&*self.id).send().await
        };
        let output = match tokio::time::timeout(SECRET_READ_TIMEOUT, call).await {
            Err(_) | Ok(Err(SdkError::TimeoutError(_))) => return Err(SecretError::Timeout),
            Ok(Err(SdkError::DispatchFailure(failure))) if failure.is_timeout() => {
                return Err(SecretError::Timeout);
            }
            Ok(Err(error)) => return Err(SecretError::Service(service_error_summary(&error))),
            Ok(Ok(output)) => output,
        };
        let text = output.secret_string().ok_or(SecretError::NoString)?;
        parse_secret(text, &self.provider)
    }
}

fn parse_secret(text: &str, provider: &m2m_auth::Provider) -> Result<SecretValue, SecretError> {
    let (project_field, key_field) = provider.secret_members();
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) else {
        return Err(SecretError::NotJson);
    };
    let access_key = match object.get(key_field) {
        Some(Value::String(key)) if !key.trim().is_empty() => key.trim().to_owned(),
        _ => return Err(SecretError::MissingMember(key_field)),
    };
    if !crate::request::is_access_key(&access_key) {
        return Err(SecretError::InvalidMember(key_field));
    }
    let project_id = match object.get(project_field) {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if id.is_empty() => None,
        Some(Value::String(id)) if provider.is_credential_id(id) => Some(id.clone()),
        Some(_) => return Err(SecretError::InvalidMember(project_field)),
    };
    Ok(SecretValue {
        project_id,
        access_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::tests::descope;

    #[test]
    fn parses_the_secret_document() {
        let provider = &descope();
        let value = parse_secret(r#"{"projectId":"P2x","accessKey":"K2:abc"}"#, provider).unwrap();
        assert_eq!(value.project_id.as_deref(), Some("P2x"));
        assert_eq!(value.access_key, "K2:abc");
        assert!(
            parse_secret(r#"{"accessKey":"k"}"#, provider)
                .unwrap()
                .project_id
                .is_none()
        );
        for (text, expected) in [
            ("not json", "not a JSON object"),
            (r#"["k"]"#, "not a JSON object"),
            (r#"{"projectId":"P2x"}"#, "'accessKey'"),
            (r#"{"accessKey":""}"#, "'accessKey'"),
            (r#"{"accessKey":"a b"}"#, "'accessKey'"),
            (r#"{"accessKey":"k","projectId":"bad id"}"#, "'projectId'"),
        ] {
            let error = parse_secret(text, provider).unwrap_err();
            assert!(error.to_string().contains(expected), "{text}: {error}");
            assert_eq!(error.kind(), "secret_malformed");
        }
    }

    #[test]
    fn oauth_client_secrets_have_their_own_members() {
        let provider = &m2m_auth::Provider::Oidc {
            issuer: "https://id.example".into(),
        };
        let value = parse_secret(
            r#"{"clientId":"m2m.client@example","clientSecret":"s3cr3t"}"#,
            provider,
        )
        .unwrap();
        assert_eq!(value.project_id.as_deref(), Some("m2m.client@example"));
        let error = parse_secret(r#"{"projectId":"P2x","accessKey":"k"}"#, provider).unwrap_err();
        assert_eq!(error, SecretError::MissingMember("clientSecret"));
    }
}
