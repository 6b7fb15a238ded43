//! Default credentials of the token function: the request body (when overrides are allowed), then the
//! Secrets Manager secret, then plain environment variables (local runs).

use crate::{ApiError, TokenRequest};
use m2m_auth::ConfigError;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long one `GetSecretValue` may take, retries included; well under the function's own timeout.
const SECRET_READ_TIMEOUT: Duration = Duration::from_secs(3);

/// Credential settings (CONTRACT section 2), read once at start-up.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialSettings {
    /// `DESCOPE_SECRET_ID`: the secret's name or ARN.
    pub secret_id: Option<String>,
    /// `SECRET_CACHE_SECONDS`.
    pub secret_ttl: Duration,
    /// `DESCOPE_PROJECT_ID` (or `OIDC_CLIENT_ID`).
    pub project_id: Option<String>,
    /// `DESCOPE_ACCESS_KEY` (or `OIDC_CLIENT_SECRET`).
    pub access_key: Option<String>,
    /// `ALLOW_CREDENTIAL_OVERRIDE`.
    pub allow_override: bool,
    /// Secret members holding the two values: `projectId`/`accessKey`, or `clientId`/`clientSecret` (OIDC).
    pub secret_fields: (&'static str, &'static str),
}

impl fmt::Debug for CredentialSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialSettings")
            .field("secret_id", &self.secret_id)
            .field("secret_ttl", &self.secret_ttl)
            .field("project_id", &self.project_id)
            .field(
                "access_key",
                &self.access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("allow_override", &self.allow_override)
            .finish()
    }
}

impl CredentialSettings {
    pub fn from_lookup(
        oidc: bool,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let (project_var, key_var, secret_fields) = if oidc {
            (
                "OIDC_CLIENT_ID",
                "OIDC_CLIENT_SECRET",
                ("clientId", "clientSecret"),
            )
        } else {
            (
                "DESCOPE_PROJECT_ID",
                "DESCOPE_ACCESS_KEY",
                ("projectId", "accessKey"),
            )
        };
        let allow_override = match get("ALLOW_CREDENTIAL_OVERRIDE")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(_) => {
                return Err(ConfigError::new(
                    "ALLOW_CREDENTIAL_OVERRIDE",
                    "must be true or false",
                ));
            }
        };
        let secret_ttl = match get("SECRET_CACHE_SECONDS") {
            None => Duration::from_secs(300),
            Some(text) => match text.parse::<u64>() {
                Ok(secs) if secs <= 86_400 => Duration::from_secs(secs),
                _ => {
                    return Err(ConfigError::new(
                        "SECRET_CACHE_SECONDS",
                        "must be a whole number from 0 to 86400",
                    ));
                }
            },
        };
        Ok(CredentialSettings {
            secret_id: get("DESCOPE_SECRET_ID"),
            secret_ttl,
            project_id: get(project_var),
            access_key: get(key_var),
            allow_override,
            secret_fields,
        })
    }
}

/// The credentials one exchange uses, and where the access key came from (for logs).
pub(crate) struct ResolvedCredentials {
    pub project_id: String,
    pub access_key: String,
    pub source: &'static str,
}

/// The value of the secret.
#[derive(Clone, PartialEq, Eq)]
struct SecretValue {
    project_id: Option<String>,
    access_key: String,
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretValue")
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

/// Where the default credentials come from.
pub struct Credentials {
    settings: CredentialSettings,
    secret: Option<SecretSource>,
}

impl Credentials {
    pub fn new(settings: CredentialSettings) -> Self {
        let secret = settings
            .secret_id
            .clone()
            .map(|id| SecretSource::new(id, settings.secret_ttl, settings.secret_fields));
        Credentials { settings, secret }
    }

    pub fn settings(&self) -> &CredentialSettings {
        &self.settings
    }

    pub fn secret(&self) -> Option<&SecretSource> {
        self.secret.as_ref()
    }

    /// Precedence: request body (if allowed) > secret > environment. The secret is read only when the
    /// request does not bring what it holds.
    pub(crate) async fn resolve(
        &self,
        request: &TokenRequest,
    ) -> Result<ResolvedCredentials, ApiError> {
        let fields = self.settings.secret_fields;
        if !self.settings.allow_override {
            for (given, name) in [
                (request.project_id.is_some(), fields.0),
                (request.access_key.is_some(), fields.1),
            ] {
                if given {
                    let name = if name == "clientId" {
                        "projectId"
                    } else if name == "clientSecret" {
                        "accessKey"
                    } else {
                        name
                    };
                    return Err(ApiError::BadRequest(format!(
                        "'{name}' cannot be sent: credential overrides are disabled on this deployment"
                    )));
                }
            }
        }
        let needs_secret = request.access_key.is_none()
            || (request.project_id.is_none() && self.settings.project_id.is_none());
        let secret = match (&self.secret, needs_secret) {
            (Some(source), true) => Some(source.value().await?),
            _ => None,
        };
        let (access_key, source) = match (&request.access_key, &secret, &self.settings.access_key) {
            (Some(key), _, _) => (key.clone(), "request"),
            (None, Some(secret), _) => (secret.access_key.clone(), "secret"),
            (None, None, Some(key)) => (key.clone(), "environment"),
            (None, None, None) => {
                return Err(ApiError::BadRequest(
                    "No access key given and none configured: send 'accessKey' or configure DESCOPE_SECRET_ID or DESCOPE_ACCESS_KEY".into(),
                ));
            }
        };
        let project_id = match (&request.project_id, source, &secret) {
            (Some(id), _, _) => Some(id.clone()),
            // A key from the request pairs with the configured project before the secret's.
            (None, "request", secret) => self
                .settings
                .project_id
                .clone()
                .or_else(|| secret.as_ref().and_then(|s| s.project_id.clone())),
            (None, _, secret) => secret
                .as_ref()
                .and_then(|s| s.project_id.clone())
                .or_else(|| self.settings.project_id.clone()),
        };
        let project_id = project_id.ok_or_else(|| {
            ApiError::BadRequest("No project id given and none configured: send 'projectId' or configure DESCOPE_PROJECT_ID".into())
        })?;
        Ok(ResolvedCredentials {
            project_id,
            access_key,
            source,
        })
    }
}

/// The Secrets Manager secret, read lazily on first need and reused for `ttl`.
pub struct SecretSource {
    id: String,
    ttl: Duration,
    fields: (&'static str, &'static str),
    client: tokio::sync::OnceCell<aws_sdk_secretsmanager::Client>,
    /// Held across a read, so concurrent first requests share one `GetSecretValue` (single flight).
    cached: tokio::sync::Mutex<Option<(Instant, Arc<SecretValue>)>>,
    reads: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
enum SecretError {
    #[error("GetSecretValue failed: {0}")]
    Service(String),
    #[error("GetSecretValue timed out")]
    Timeout,
    #[error("the secret has no string value")]
    NoString,
    #[error("the secret is not a JSON object")]
    NotJson,
    #[error("the secret has no non-empty string member '{0}'")]
    MissingMember(&'static str),
    #[error("the secret's '{0}' is not valid")]
    InvalidMember(&'static str),
}

impl SecretSource {
    fn new(id: String, ttl: Duration, fields: (&'static str, &'static str)) -> Self {
        SecretSource {
            id,
            ttl,
            fields,
            client: tokio::sync::OnceCell::new(),
            cached: tokio::sync::Mutex::new(None),
            reads: AtomicU64::new(0),
        }
    }

    /// How many times the secret was requested from Secrets Manager.
    pub fn read_count(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    async fn value(&self) -> Result<Arc<SecretValue>, ApiError> {
        let mut cached = self.cached.lock().await;
        if let Some((read_at, value)) = cached.as_ref()
            && read_at.elapsed() < self.ttl
        {
            return Ok(value.clone());
        }
        match self.read().await {
            Ok(value) => {
                let value = Arc::new(value);
                *cached = Some((Instant::now(), value.clone()));
                Ok(value)
            }
            Err(error) => {
                // Named by id and cause only; the value never reaches a log line or a response.
                tracing::error!(secret_id = %self.id, cause = %error, "default credentials unavailable");
                Err(ApiError::Misconfigured(format!(
                    "secret {}: {error}",
                    self.id
                )))
            }
        }
    }

    async fn read(&self) -> Result<SecretValue, SecretError> {
        let client = self.client.get_or_init(build_client).await;
        self.reads.fetch_add(1, Ordering::Relaxed);
        let request = client.get_secret_value().secret_id(&self.id).send();
        let output = match tokio::time::timeout(SECRET_READ_TIMEOUT, request).await {
            Err(_) => return Err(SecretError::Timeout),
            Ok(Err(error)) => {
                let text = aws_sdk_secretsmanager::error::DisplayErrorContext(&error).to_string();
                return Err(if text.contains("timeout") || text.contains("timed out") {
                    SecretError::Timeout
                } else {
                    SecretError::Service(service_error_summary(&error))
                });
            }
            Ok(Ok(output)) => output,
        };
        let text = output.secret_string().ok_or(SecretError::NoString)?;
        parse_secret(text, self.fields)
    }
}

/// The error code and message of a failed call (they never contain the secret's value).
fn service_error_summary<E, R>(error: &aws_sdk_secretsmanager::error::SdkError<E, R>) -> String
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    match error.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("unknown error"),
            service.message().unwrap_or("no message")
        ),
        None => aws_sdk_secretsmanager::error::DisplayErrorContext(error).to_string(),
    }
}

fn parse_secret(
    text: &str,
    (project_field, key_field): (&'static str, &'static str),
) -> Result<SecretValue, SecretError> {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) else {
        return Err(SecretError::NotJson);
    };
    let access_key = match object.get(key_field) {
        Some(Value::String(key)) if !key.trim().is_empty() => key.trim().to_owned(),
        _ => return Err(SecretError::MissingMember(key_field)),
    };
    if !access_key.bytes().all(|b| b.is_ascii_graphic()) || access_key.len() > 1024 {
        return Err(SecretError::InvalidMember(key_field));
    }
    let project_id = match object.get(project_field) {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if id.is_empty() => None,
        Some(Value::String(id))
            if project_field == "clientId" || crate::request::is_identifier(id) =>
        {
            Some(id.clone())
        }
        Some(_) => return Err(SecretError::InvalidMember(project_field)),
    };
    Ok(SecretValue {
        project_id,
        access_key,
    })
}

async fn build_client() -> aws_sdk_secretsmanager::Client {
    use aws_config::{retry::RetryConfig, timeout::TimeoutConfig};
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(SECRET_READ_TIMEOUT)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&config)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: (&str, &str) = ("projectId", "accessKey");

    #[test]
    fn parses_the_secret_document() {
        let value = parse_secret(r#"{"projectId":"P2x","accessKey":"K2:abc"}"#, FIELDS).unwrap();
        assert_eq!(value.project_id.as_deref(), Some("P2x"));
        assert_eq!(value.access_key, "K2:abc");
        assert!(
            parse_secret(r#"{"accessKey":"k"}"#, FIELDS)
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
            let error = parse_secret(text, FIELDS).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn settings_never_print_the_access_key() {
        let settings = CredentialSettings::from_lookup(false, |name| {
            (name == "DESCOPE_ACCESS_KEY").then(|| "sekrit".into())
        })
        .unwrap();
        assert!(!format!("{settings:?}").contains("sekrit"));
        assert!(settings.allow_override);
    }
}
