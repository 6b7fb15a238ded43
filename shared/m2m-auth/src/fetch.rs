//! Bounded HTTP GETs of JSON documents (key sets, discovery metadata).

use serde_json::Value;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("request timed out")]
    Timeout,
    #[error("request failed: {0}")]
    Transport(String),
    #[error("unexpected status {0}")]
    Status(u16),
    #[error("response is not JSON")]
    NotJson,
    #[error("response exceeds {0} bytes")]
    TooLarge(usize),
    #[error("invalid document: {0}")]
    Invalid(&'static str),
}

impl From<reqwest::Error> for FetchError {
    fn from(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            FetchError::Timeout
        } else {
            // Without the URL: it may carry a project id, which is harmless, but the habit keeps logs clean.
            FetchError::Transport(error.without_url().to_string())
        }
    }
}

/// GETs `url` and parses a JSON object, refusing redirects (the client is built without them), other
/// statuses than 200, other content types than JSON and bodies over `max_bytes`.
pub async fn get_json(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
    max_bytes: usize,
) -> Result<Value, FetchError> {
    // reqwest's timeout runs from connecting until the body is read, and reads as `is_timeout`.
    let response = client
        .get(url)
        .header("accept", "application/json")
        .timeout(timeout)
        .send()
        .await?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(FetchError::Status(status));
    }
    let is_json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    if !is_json {
        return Err(FetchError::NotJson);
    }
    let body = read_capped(response, max_bytes).await?;
    serde_json::from_slice::<Value>(&body).map_err(|_| FetchError::NotJson)
}

/// Reads a response body, giving up as soon as it grows past `max_bytes`.
pub async fn read_capped(
    mut response: reqwest::Response,
    max_bytes: usize,
) -> Result<Vec<u8>, FetchError> {
    if response
        .content_length()
        .is_some_and(|len| len > max_bytes as u64)
    {
        return Err(FetchError::TooLarge(max_bytes));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max_bytes {
            return Err(FetchError::TooLarge(max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What discovery tells about an OpenID Connect / OAuth 2.0 provider.
#[derive(Debug, Clone)]
pub struct ProviderMetadata {
    pub jwks_uri: String,
    pub token_endpoint: Option<String>,
}

/// OpenID Connect discovery (`{issuer}/.well-known/openid-configuration`), done once on first use and kept
/// for the life of the process. A failed attempt is not kept; the next caller tries again.
#[derive(Debug)]
pub struct Discovery {
    issuer: String,
    client: reqwest::Client,
    timeout: Duration,
    metadata: tokio::sync::OnceCell<ProviderMetadata>,
}

impl Discovery {
    pub fn new(client: reqwest::Client, issuer: &str, timeout: Duration) -> Self {
        Discovery {
            issuer: issuer.to_owned(),
            client,
            timeout,
            metadata: tokio::sync::OnceCell::new(),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub async fn metadata(&self) -> Result<&ProviderMetadata, FetchError> {
        self.metadata
            .get_or_try_init(|| async {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.issuer.trim_end_matches('/')
                );
                let document = get_json(&self.client, &url, self.timeout, 64 * 1024).await?;
                let text = |name: &str| Some(document.get(name)?.as_str()?.to_owned());
                // OpenID Connect Discovery 1.0 section 4.3: the document must name the issuer it was asked for.
                if text("issuer").as_deref() != Some(self.issuer.as_str()) {
                    return Err(FetchError::Invalid(
                        "discovery 'issuer' differs from the configured issuer",
                    ));
                }
                let jwks_uri =
                    text("jwks_uri").ok_or(FetchError::Invalid("discovery has no 'jwks_uri'"))?;
                let token_endpoint = text("token_endpoint");
                for url in std::iter::once(&jwks_uri).chain(token_endpoint.as_ref()) {
                    crate::config::parse_base_url("OIDC_ISSUER", url).map_err(|_| {
                        FetchError::Invalid("discovery names a URL that is not https")
                    })?;
                }
                Ok(ProviderMetadata {
                    jwks_uri,
                    token_endpoint,
                })
            })
            .await
    }
}

/// The HTTP client every function builds once at start-up: rustls, no redirects (a redirected key or token
/// request is an error, never followed), bounded connect and total time.
///
/// Trusted roots: the Mozilla root set compiled into the binary ([`webpki_root_certs`]), unless
/// `SSL_CERT_FILE` or `SSL_CERT_DIR` is set, in which case the system's store is read as before (a private CA
/// for an internal OIDC provider). Reading the system store costs a cold start several milliseconds (every
/// file under `/etc/ssl/certs` is read and parsed, PEM first); the compiled-in set costs a fraction of one
/// and is the set Amazon Linux ships anyway.
pub fn build_client(total_timeout: Duration) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(crate::budget::CONNECT)
        .timeout(total_timeout)
        .pool_idle_timeout(Duration::from_secs(50))
        .user_agent(concat!("m2m-auth/", env!("CARGO_PKG_VERSION")));
    let builder = if system_roots_configured() {
        builder
    } else {
        builder.tls_certs_only(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .filter_map(|der| reqwest::Certificate::from_der(der).ok()),
        )
    };
    builder.build().expect("the TLS backend is compiled in")
}

/// Whether the operator pointed the process at a trust store of its own.
fn system_roots_configured() -> bool {
    ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}
