//! The Secrets Manager client: its settings, read through the same lookup as the rest of the configuration
//! (so tests can give each function its own), its timeouts, and failures described without their payload.

use std::fmt;
use std::time::Duration;

/// How long one `GetSecretValue` may take, retries included; within the budget of `crate::budget`.
pub(crate) const SECRET_READ_TIMEOUT: Duration = m2m_auth::budget::SECRET_READ;

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

impl AwsClientSettings {
    /// The standard variables, as the SDK's own providers would read them first.
    pub(crate) fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Self {
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
        AwsClientSettings {
            endpoint_url,
            region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
            credentials,
        }
    }
}

/// The error code, message and HTTP status of a failed call. None of them can hold the secret's value: only
/// a successful response carries it, and an unreadable response is described by its status alone.
pub(crate) fn service_error_summary<E>(
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

pub(crate) async fn build_client(options: &AwsClientSettings) -> aws_sdk_secretsmanager::Client {
    use aws_config::{retry::RetryConfig, timeout::TimeoutConfig};
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(m2m_auth::budget::SECRET_CONNECT)
                // The HTTP client bounds an attempt by connect + read: the attempt's own limit.
                .read_timeout(
                    m2m_auth::budget::SECRET_READ_ATTEMPT - m2m_auth::budget::SECRET_CONNECT,
                )
                .operation_attempt_timeout(m2m_auth::budget::SECRET_READ_ATTEMPT)
                .operation_timeout(SECRET_READ_TIMEOUT)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        // The functions' own HTTP stack (compiled-in roots, no redirects); see the aws-reqwest crate.
        .http_client(aws_reqwest::ReqwestHttpClient::new(
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

    #[test]
    fn aws_client_settings_come_from_the_standard_variables() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            let lookup = move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            };
            AwsClientSettings::from_lookup(&lookup)
        };
        let none = vars(&[]);
        assert_eq!(
            (none.endpoint_url, none.region, none.credentials),
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
        assert_eq!(all.endpoint_url.as_deref(), Some("http://secrets"));
        assert_eq!(all.region.as_deref(), Some("us-east-1"));
        let keys = all.credentials.as_ref().unwrap();
        assert_eq!(keys.session_token.as_deref(), Some("session-sekrit"));
        let printed = format!("{all:?}");
        assert!(!printed.contains("aws-sekrit") && !printed.contains("session-sekrit"));
        let partial = vars(&[
            ("AWS_ENDPOINT_URL", "http://general"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ]);
        assert_eq!(partial.endpoint_url, None);
        // A key id alone is not a credential: the SDK's chain decides.
        assert!(partial.credentials.is_none());
        let general = vars(&[("AWS_ENDPOINT_URL", "http://general")]);
        assert_eq!(general.endpoint_url.as_deref(), Some("http://general"));
    }
}
