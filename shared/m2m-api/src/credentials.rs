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

/// Credential settings (docs/contract.md section 2), read once at start-up.
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
    /// How the Secrets Manager client is built.
    pub aws: AwsClientSettings,
}

/// What the Secrets Manager client is built with: values read through the same lookup as the rest of the
/// configuration (so tests can give each function its own), else the SDK's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsClientSettings {
    /// `AWS_ENDPOINT_URL_SECRETS_MANAGER`, else `AWS_ENDPOINT_URL` (both ignored when
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`). Unset: the SDK's endpoint for the region.
    pub endpoint_url: Option<String>,
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`. Unset: the SDK's region chain.
    pub region: Option<String>,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, used only when the first two are
    /// both set (as the SDK's own first provider would). Otherwise the SDK's credential chain.
    pub credentials: Option<AwsKeys>,
}

/// Explicit AWS credentials for the Secrets Manager client. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for AwsKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsKeys")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
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
            .field("secret_fields", &self.secret_fields)
            .field("aws", &self.aws)
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
        let ignore_endpoints = get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let endpoint_url = if ignore_endpoints {
            None
        } else {
            get("AWS_ENDPOINT_URL_SECRETS_MANAGER").or_else(|| get("AWS_ENDPOINT_URL"))
        };
        let credentials = match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret_access_key)) => Some(AwsKeys {
                access_key_id,
                secret_access_key,
                session_token: get("AWS_SESSION_TOKEN"),
            }),
            _ => None,
        };
        Ok(CredentialSettings {
            secret_id: get("DESCOPE_SECRET_ID"),
            secret_ttl,
            project_id: get(project_var),
            access_key: get(key_var),
            allow_override,
            secret_fields,
            aws: AwsClientSettings {
                endpoint_url,
                region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
                credentials,
            },
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
            .map(|id| SecretSource::new(id, &settings));
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
    aws: AwsClientSettings,
    client: tokio::sync::OnceCell<aws_sdk_secretsmanager::Client>,
    /// Held across a read, so concurrent requests share one `GetSecretValue` (single flight), whether it
    /// succeeds or fails.
    state: tokio::sync::Mutex<SecretState>,
    reads: AtomicU64,
}

impl CredentialSettings {
    /// A Secrets Manager client built exactly as the token function builds its own (endpoint, region,
    /// credentials, timeouts, retries, HTTP stack), for tools and tests that manage the secret.
    pub async fn secrets_manager_client(&self) -> aws_sdk_secretsmanager::Client {
        build_client(&self.aws).await
    }
}

#[derive(Default)]
struct SecretState {
    /// The last good value and when it was read.
    value: Option<(Instant, Arc<SecretValue>)>,
    /// The last failed read: when it ended and its detail (for logs). Shared only with requests that were
    /// already waiting for it; it is never served from a cache.
    failure: Option<(Instant, Arc<str>)>,
}

#[derive(Debug, thiserror::Error)]
enum SecretError {
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

impl SecretSource {
    fn new(id: String, settings: &CredentialSettings) -> Self {
        SecretSource {
            id,
            ttl: settings.secret_ttl,
            fields: settings.secret_fields,
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

    async fn value(&self) -> Result<Arc<SecretValue>, ApiError> {
        let arrived = Instant::now();
        let mut state = self.state.lock().await;
        // A value read while this request waited counts as fresh even with a TTL of 0.
        if let Some((read_at, value)) = state.value.as_ref()
            && (*read_at >= arrived || read_at.elapsed() < self.ttl)
        {
            return Ok(value.clone());
        }
        // A read that failed while this request waited is its answer too; later requests try again.
        if let Some((failed_at, detail)) = state.failure.as_ref()
            && *failed_at >= arrived
        {
            return Err(ApiError::SecretUnavailable(detail.to_string()));
        }
        // The span names the secret, never its value.
        let read = self.read();
        match tracing::Instrument::instrument(
            read,
            tracing::info_span!("secret_read", secret_id = %self.id),
        )
        .await
        {
            Ok(value) => {
                let value = Arc::new(value);
                state.value = Some((Instant::now(), value.clone()));
                state.failure = None;
                Ok(value)
            }
            Err(error) => {
                // Named by id and cause only; the value never reaches a log line or a response. The one log
                // line is written where the response is made (`answer`), from this detail.
                let detail: Arc<str> =
                    format!("secret '{}' (DESCOPE_SECRET_ID): {error}", self.id).into();
                state.failure = Some((Instant::now(), detail.clone()));
                crate::metrics::secret_read_failed();
                Err(ApiError::SecretUnavailable(detail.to_string()))
            }
        }
    }

    async fn read(&self) -> Result<SecretValue, SecretError> {
        use aws_sdk_secretsmanager::error::SdkError;
        self.reads.fetch_add(1, Ordering::Relaxed);
        // Building the client (region and credential discovery) counts against the same time limit.
        let call = async {
            let client = self.client.get_or_init(|| build_client(&self.aws)).await;
            client.get_secret_value().secret_id(&self.id).send().await
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
        parse_secret(text, self.fields)
    }
}

/// The error code, message and HTTP status of a failed call. None of them can hold the secret's value: only
/// a successful response carries it, and an unreadable response is described by its status alone.
fn service_error_summary<E>(
    error: &aws_sdk_secretsmanager::error::SdkError<
        E,
        aws_sdk_secretsmanager::config::http::HttpResponse,
    >,
) -> String
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_secretsmanager::error::SdkError;
    let response = error.raw_response();
    let status = response.map(|response| response.status().as_u16());
    let status_text = status
        .map(|status| format!(" (HTTP {status})"))
        .unwrap_or_default();
    match error {
        SdkError::ServiceError(service) => {
            let service = service.err();
            let code = service.code().unwrap_or(match status {
                Some(401 | 403) => "access denied",
                _ => "unrecognised error",
            });
            // An error in a shape the SDK does not know (a proxy's, an emulator's): a short excerpt of it.
            let message = match service.message() {
                Some(message) => message.to_owned(),
                None => response
                    .and_then(|response| response.body().bytes())
                    .map(excerpt)
                    .filter(|text| !text.is_empty())
                    .unwrap_or_else(|| "no message".to_owned()),
            };
            format!("{code}{status_text}: {message}")
        }
        SdkError::ResponseError(_) => format!("unreadable response{status_text}"),
        other => error_chain(other),
    }
}

/// An error and its sources, on one line: `dispatch failure: io error: ...: Connection refused`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// At most 300 characters of an error body, on one line.
fn excerpt(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect::<String>()
        .trim()
        .to_owned()
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

async fn build_client(options: &AwsClientSettings) -> aws_sdk_secretsmanager::Client {
    use aws_config::{retry::RetryConfig, timeout::TimeoutConfig};
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(SECRET_READ_TIMEOUT)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        // The functions' own HTTP stack (compiled-in roots, no redirects); see `aws_http`.
        .http_client(crate::aws_http::ReqwestHttpClient::new(
            m2m_auth::fetch::build_client(SECRET_READ_TIMEOUT),
        ));
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = &options.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(keys) = &options.credentials {
        loader = loader.credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            &keys.access_key_id,
            &keys.secret_access_key,
            keys.session_token.clone(),
            None,
            "configuration",
        ));
    }
    aws_sdk_secretsmanager::Client::new(&loader.load().await)
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

    #[test]
    fn aws_client_settings_come_from_the_standard_variables() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            CredentialSettings::from_lookup(false, move |name| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            })
            .unwrap()
        };
        let none = vars(&[]);
        assert_eq!(
            (none.aws.endpoint_url, none.aws.region, none.aws.credentials),
            (None, None, None)
        );
        let all = vars(&[
            ("AWS_ENDPOINT_URL", "http://general"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://secrets"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "aws-sekrit"),
            ("AWS_SESSION_TOKEN", "session-sekrit"),
        ]);
        assert_eq!(all.aws.endpoint_url.as_deref(), Some("http://secrets"));
        assert_eq!(all.aws.region.as_deref(), Some("us-east-1"));
        let keys = all.aws.credentials.as_ref().unwrap();
        assert_eq!(keys.session_token.as_deref(), Some("session-sekrit"));
        let printed = format!("{all:?}");
        assert!(!printed.contains("aws-sekrit") && !printed.contains("session-sekrit"));
        let partial = vars(&[
            ("AWS_ENDPOINT_URL", "http://general"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ]);
        assert_eq!(partial.aws.endpoint_url, None);
        // A key id alone is not a credential: the SDK's chain decides.
        assert!(partial.aws.credentials.is_none());
        let general = vars(&[("AWS_ENDPOINT_URL", "http://general")]);
        assert_eq!(general.aws.endpoint_url.as_deref(), Some("http://general"));
    }
}
