//! Outgoing calls: a `reqwest` client that sends the source's token and retries once when the token is
//! refused as `invalid_token`.

use crate::{Error, TokenSource};

/// A `reqwest::Client` that adds `Authorization: Bearer <token>` from a [`TokenSource`] to each
/// request. When the answer is a `401` with `WWW-Authenticate: Bearer error="invalid_token"` (the token
/// was refused: expired early, or signed by a key the API no longer trusts), the token is dropped, a fresh
/// one is fetched and the request is sent **once** more; any other answer, and the second answer, are
/// returned as they are (a 403 is the token's grants, not its validity).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let stack = m2m_tests::http_stack::start().await;
/// # let base_url = stack.base_url();
/// use m2m_client::{AccessKey, AuthorizedClient, TokenSource};
///
/// let tokens = TokenSource::access_key(base_url, AccessKey::new("dev-reader-key")?).build()?;
/// let api = AuthorizedClient::new(tokens);
/// for _ in 0..3 {
///     let answer = api.send(api.post(format!("{base_url}/api/user"))).await?;
///     assert_eq!(answer.status(), 200);
/// }
/// assert_eq!(api.tokens().exchanges(), 1); // one token for the three calls
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AuthorizedClient {
    http: reqwest::Client,
    tokens: TokenSource,
}

/// A failed authorized call: no token could be had, or the request could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No token: the token source's error.
    #[error(transparent)]
    Token(#[from] Error),
    /// The request could not be built (an invalid URL, a body that does not serialize).
    #[error("invalid request: {0}")]
    Request(String),
    /// The request was sent and failed in transport (connection, timeout, TLS).
    #[error("{0}")]
    Transport(Error),
}

impl AuthorizedClient {
    /// Calls through a default client (the same settings as the token source's, 30 s per request).
    pub fn new(tokens: TokenSource) -> AuthorizedClient {
        AuthorizedClient::with_http(
            m2m_auth::fetch::build_client(std::time::Duration::from_secs(30)),
            tokens,
        )
    }

    /// Calls through `http` (your own timeouts, proxies, roots).
    pub fn with_http(http: reqwest::Client, tokens: TokenSource) -> AuthorizedClient {
        AuthorizedClient { http, tokens }
    }

    /// The token source.
    pub fn tokens(&self) -> &TokenSource {
        &self.tokens
    }

    /// A request builder of the underlying client, for [`send`](AuthorizedClient::send).
    pub fn request(
        &self,
        method: reqwest::Method,
        url: impl reqwest::IntoUrl,
    ) -> reqwest::RequestBuilder {
        self.http.request(method, url)
    }

    /// `request(Method::GET, url)`.
    pub fn get(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.http.get(url)
    }

    /// `request(Method::POST, url)`.
    pub fn post(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.http.post(url)
    }

    /// Sends `request` with the token (see [`execute`](AuthorizedClient::execute)).
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, CallError> {
        let request = request
            .build()
            .map_err(|error| CallError::Request(error.without_url().to_string()))?;
        self.execute(request).await
    }

    /// Sends `request` with `Authorization: Bearer <token>`; on a `401` with `error="invalid_token"`,
    /// once more with a fresh token (when the request can be repeated: its body is not a stream).
    pub async fn execute(&self, request: reqwest::Request) -> Result<reqwest::Response, CallError> {
        let retry = request.try_clone();
        let token = self.tokens.token().await?;
        let response = self.send_with(request, token.jwt()).await?;
        let Some(retry) = retry else {
            return Ok(response);
        };
        if !refused_as_invalid(&response) {
            return Ok(response);
        }
        tracing::debug!(
            url = %response.url().path(),
            "the token was refused as invalid_token: fetching a fresh one and retrying once"
        );
        self.tokens.invalidate(token.jwt());
        let fresh = self.tokens.token().await?;
        self.send_with(retry, fresh.jwt()).await
    }

    async fn send_with(
        &self,
        mut request: reqwest::Request,
        jwt: &str,
    ) -> Result<reqwest::Response, CallError> {
        let url = request.url().clone();
        let mut value = http::HeaderValue::try_from(format!("Bearer {jwt}"))
            .map_err(|_| CallError::Request("the token is not a valid header value".into()))?;
        value.set_sensitive(true);
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, value);
        let timeout = request.timeout().copied().unwrap_or_default();
        self.http.execute(request).await.map_err(|error| {
            CallError::Transport(Error::from_reqwest(
                url_without_query(&url).as_str(),
                timeout,
                error,
            ))
        })
    }
}

/// `401` with a `Bearer` challenge whose `error` is `invalid_token` (RFC 6750 section 3.1).
pub(crate) fn refused_as_invalid(response: &reqwest::Response) -> bool {
    response.status() == reqwest::StatusCode::UNAUTHORIZED
        && response
            .headers()
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|challenge| {
                let lower = challenge.trim_start().to_ascii_lowercase();
                lower.starts_with("bearer")
                    && (lower.contains("error=\"invalid_token\"")
                        || lower.contains("error=invalid_token"))
            })
}

fn url_without_query(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    let _ = url.set_password(None);
    let _ = url.set_username("");
    url.to_string()
}
