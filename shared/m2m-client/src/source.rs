//! The token source: exchanges once, keeps the token until the shared renewal rule says to replace it,
//! refreshes one at a time, backs off after a failure.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::provider::SharedCredentialsProvider;
use serde_json::{Value, json};

use crate::iam::IamSigner;
use crate::{AccessKey, Error};

/// What a refresh waits for at most, by default (the token function's own provider budget is below it).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The first wait after a failed refresh; it doubles with each failure in a row, up to [`MAX_BACKOFF`].
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait after failed refreshes (a longer `Retry-After` from the server still wins).
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The largest answer read from the token function (its own are a few KiB: a JWT of at most 8 KiB, decoded).
const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// The longest server message an error passes on (the token function's own are far shorter).
const MAX_MESSAGE_CHARS: usize = 1_000;
/// A kept token is handed out only while it has at least this long to live (by the server's clock).
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(1);

/// A clock: the current time. Tests inject one to move time forward without waiting.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// A token from the token function, with what its answer said about it.
///
/// Its `Debug` does not print the JWT (a bearer credential).
#[derive(Clone)]
pub struct Token {
    jwt: String,
    issued_at: i64,
    expires_at: i64,
    answer: Value,
}

impl Token {
    /// The JWT, for an `Authorization: Bearer` header.
    pub fn jwt(&self) -> &str {
        &self.jwt
    }

    /// `iat` (unix seconds, the issuer's clock).
    pub fn issued_at(&self) -> i64 {
        self.issued_at
    }

    /// `exp` (unix seconds, the issuer's clock).
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// The effective grants of the token (the answer's `scopes`).
    pub fn scopes(&self) -> Vec<String> {
        self.answer["scopes"]
            .as_array()
            .map(|scopes| {
                scopes
                    .iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The token function's whole answer (`success`, `jwt`, `decodedHeader`, `decodedPayload`,
    /// `expiresAt`, `scopes`).
    pub fn answer(&self) -> &Value {
        &self.answer
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("jwt", &"[redacted]")
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes())
            .finish()
    }
}

#[derive(Clone, Debug)]
enum Credential {
    AccessKey(AccessKey),
    /// The stack's own key, through `POST /m2m/token/iam` signed with SigV4; resolved on first use.
    Iam {
        region: Option<String>,
        provider: Option<SharedCredentialsProvider>,
    },
}

/// Builds a [`TokenSource`]: [`TokenSource::access_key`] or [`TokenSource::iam`] first.
pub struct TokenSourceBuilder {
    base_url: String,
    credential: Credential,
    scopes: Vec<String>,
    tenant: Option<String>,
    http: Option<reqwest::Client>,
    timeout: Duration,
    clock: Clock,
    cache_dir: Option<PathBuf>,
}

impl std::fmt::Debug for TokenSourceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSourceBuilder")
            .field("base_url", &self.base_url)
            .field("credential", &self.credential)
            .field("scopes", &self.scopes)
            .field("tenant", &self.tenant)
            .field("timeout", &self.timeout)
            .field("cache_dir", &self.cache_dir)
            .finish_non_exhaustive()
    }
}

impl TokenSourceBuilder {
    /// The scopes to ask for (they only narrow the key's grants; docs/contract.md section 4).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The tenant to select (the token's `dct`).
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// The HTTP client for the exchanges (default: rustls with the compiled-in root set, no redirects,
    /// the same as the functions' own clients).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// How long one exchange may take (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The clock the source reads (default: the system's). Used for every decision: renewal, expiry,
    /// backoff.
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// IAM route only: the region to sign for, instead of the region chain (`AWS_REGION`, ...).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        if let Credential::Iam { region: r, .. } = &mut self.credential {
            *r = Some(region.into());
        }
        self
    }

    /// IAM route only: a credentials provider to use instead of the standard chain (for instance
    /// `aws_credential_types::Credentials` themselves).
    pub fn aws_credentials(mut self, provider: SharedCredentialsProvider) -> Self {
        if let Credential::Iam { provider: p, .. } = &mut self.credential {
            *p = Some(provider);
        }
        self
    }

    /// Keeps tokens between processes in `dir` (created with mode 0700; each file mode 0600, named by a
    /// hash of the stack, the credential, the scopes and the tenant, never holding the key). A process
    /// that finds a token there that the renewal rule still allows uses it without an exchange.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// The source. Fails on a base URL that is not an absolute `http`/`https` URL.
    pub fn build(self) -> Result<TokenSource, Error> {
        let base_url = parse_base_url(&self.base_url)?;
        let http = self
            .http
            .unwrap_or_else(|| m2m_auth::fetch::build_client(self.timeout));
        let cache_file = self.cache_dir.map(|dir| {
            dir.join(cache_file_name(
                &base_url,
                &self.credential,
                &self.scopes,
                &self.tenant,
            ))
        });
        Ok(TokenSource {
            inner: Arc::new(Inner {
                base_url,
                credential: self.credential,
                scopes: self.scopes,
                tenant: self.tenant,
                http,
                timeout: self.timeout,
                clock: self.clock,
                cache_file,
                state: Mutex::new(State::default()),
                refresh: tokio::sync::Mutex::new(None),
                exchanges: AtomicU64::new(0),
            }),
        })
    }
}

/// Gets tokens from the token function and keeps them: lazy (nothing happens before the first
/// [`token`](TokenSource::token)), cached until `exp − max(60 s, 20% of the lifetime)`
/// ([`m2m_auth::lifetime::renew_at`], the rule the token function's own cache follows), one refresh at a
/// time however many tasks ask, a failed refresh backed off (at least the server's `Retry-After`) while
/// an unexpired kept token is still handed out, and never an expired one. The token's times are read
/// against the server's clock (its `Date` header, or the token's `iat`), so a skewed local clock
/// neither refreshes every time nor keeps a token too long.
///
/// Cloning is cheap and clones share the cache.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), m2m_client::Error> {
/// # let stack = m2m_tests::http_stack::start().await;
/// # let base_url = stack.base_url(); // the stack's URL, e.g. https://api.example.com or http://127.0.0.1:9000
/// use m2m_client::{AccessKey, TokenSource};
///
/// let tokens = TokenSource::access_key(base_url, AccessKey::new("dev-reader-key")?)
///     .scopes(["read:data"])
///     .build()?;
/// let token = tokens.token().await?; // exchanges once ...
/// let again = tokens.token().await?; // ... and reuses it until the renewal rule says otherwise
/// assert_eq!(token.jwt(), again.jwt());
/// assert_eq!(token.scopes(), ["read:data"]);
/// assert_eq!(tokens.exchanges(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("base_url", &self.inner.base_url)
            .field("credential", &self.inner.credential)
            .field("scopes", &self.inner.scopes)
            .field("tenant", &self.inner.tenant)
            .finish_non_exhaustive()
    }
}

struct Inner {
    base_url: String,
    credential: Credential,
    scopes: Vec<String>,
    tenant: Option<String>,
    http: reqwest::Client,
    timeout: Duration,
    clock: Clock,
    cache_file: Option<PathBuf>,
    state: Mutex<State>,
    /// Held by the one task refreshing; holds the IAM signer once resolved.
    refresh: tokio::sync::Mutex<Option<IamSigner>>,
    exchanges: AtomicU64,
}

#[derive(Default)]
struct State {
    kept: Option<Kept>,
    /// Counts refresh attempts (successful or not): a task that waited for one takes its result.
    generation: u64,
    failure: Option<Failure>,
    /// The disk cache was read (once per source).
    disk_read: bool,
    /// The next exchange asks the server not to answer from a cache (`Cache-Control: no-cache`): the
    /// kept token was refused.
    no_cache: bool,
}

#[derive(Clone)]
struct Kept {
    token: Arc<Token>,
    /// Server clock minus this source's clock, in milliseconds.
    skew_ms: i64,
    /// Handed out without a refresh while the server's time is before this (unix ms).
    renew_at_ms: i64,
    /// Never handed out once the server's time reaches this (unix ms).
    expires_at_ms: i64,
}

impl Kept {
    fn new(token: Token, skew_ms: i64) -> Kept {
        let renew_at = m2m_auth::lifetime::renew_at(token.issued_at, token.expires_at);
        Kept {
            skew_ms,
            renew_at_ms: renew_at.saturating_mul(1000),
            expires_at_ms: token
                .expires_at
                .saturating_mul(1000)
                .saturating_sub(EXPIRY_MARGIN.as_millis() as i64),
            token: Arc::new(token),
        }
    }

    fn fresh(&self, local_ms: i64) -> bool {
        local_ms.saturating_add(self.skew_ms) < self.renew_at_ms
    }

    fn usable(&self, local_ms: i64) -> bool {
        local_ms.saturating_add(self.skew_ms) < self.expires_at_ms
    }
}

struct Failure {
    error: Error,
    attempts: u32,
    /// No refresh before this (local unix ms).
    until_ms: i64,
}

impl TokenSource {
    /// A source exchanging the caller's own key at `POST {base_url}/m2m/token`.
    pub fn access_key(base_url: impl Into<String>, key: AccessKey) -> TokenSourceBuilder {
        TokenSourceBuilder::new(base_url.into(), Credential::AccessKey(key))
    }

    /// A source for AWS workloads: `POST {base_url}/m2m/token/iam` signed with SigV4 for
    /// `execute-api`, with credentials from the standard AWS chain (environment, profile, web identity,
    /// ECS or EC2 metadata) and the region from `AWS_REGION` / `AWS_DEFAULT_REGION` / the profile,
    /// resolved on the first exchange. The stack exchanges its own key for the caller.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), m2m_client::Error> {
    /// # let stack = m2m_tests::http_stack::start().await; // trusts every caller, as the local stack does
    /// # let base_url = stack.base_url();
    /// use aws_credential_types::Credentials;
    /// use aws_credential_types::provider::SharedCredentialsProvider;
    ///
    /// // Without these two lines: the region and credentials of the standard AWS chain.
    /// let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "example");
    /// let tokens = m2m_client::TokenSource::iam(base_url)
    ///     .region("eu-west-1")
    ///     .aws_credentials(SharedCredentialsProvider::new(credentials))
    ///     .build()?;
    /// let token = tokens.token().await?;
    /// assert!(token.expires_at() > token.issued_at());
    /// # Ok(()) }
    /// ```
    pub fn iam(base_url: impl Into<String>) -> TokenSourceBuilder {
        TokenSourceBuilder::new(
            base_url.into(),
            Credential::Iam {
                region: None,
                provider: None,
            },
        )
    }

    /// Drops the kept token if it is `jwt` (a protected API refused it as `invalid_token`), so that the
    /// next [`token`](TokenSource::token) exchanges again. A token that was already replaced is left
    /// alone, so many tasks reporting the same refused token cause one refresh.
    pub fn invalidate(&self, jwt: &str) {
        let mut state = self.inner.state.lock().expect("token state");
        if state.kept.as_ref().is_some_and(|k| k.token.jwt == jwt) {
            state.kept = None;
            state.no_cache = true;
            if let Some(path) = &self.inner.cache_file {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    /// How many exchanges this source (and its clones) sent to the token function.
    pub fn exchanges(&self) -> u64 {
        self.inner.exchanges.load(Ordering::SeqCst)
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    fn now_ms(&self) -> i64 {
        unix_ms((self.inner.clock)())
    }

    /// A token that the renewal rule still allows: the kept one, or a new one exchanged now (by this
    /// task, or by the task already doing it, whose result every waiting task shares).
    pub async fn token(&self) -> Result<Arc<Token>, Error> {
        let seen = {
            let mut state = self.inner.state.lock().expect("token state");
            if !state.disk_read {
                state.disk_read = true;
                if state.kept.is_none() {
                    state.kept = self.read_disk();
                }
            }
            if let Some(kept) = &state.kept
                && kept.fresh(self.now_ms())
            {
                return Ok(kept.token.clone());
            }
            state.generation
        };

        let mut signer = self.inner.refresh.lock().await;
        {
            let state = self.inner.state.lock().expect("token state");
            let now = self.now_ms();
            let kept_usable = state.kept.as_ref().filter(|k| k.usable(now));
            if let Some(kept) = &state.kept
                && kept.fresh(now)
            {
                return Ok(kept.token.clone());
            }
            if state.generation != seen {
                // A refresh ran while this task waited: share its result (even a token the rule already
                // calls stale, as one shorter-lived than two minutes is from the start).
                if let Some(kept) = kept_usable {
                    return Ok(kept.token.clone());
                }
                if let Some(failure) = &state.failure {
                    return Err(failure.error.clone());
                }
            }
            if let Some(failure) = &state.failure
                && now < failure.until_ms
            {
                if let Some(kept) = kept_usable {
                    return Ok(kept.token.clone());
                }
                return Err(Error::BackingOff {
                    retry_in: Duration::from_millis((failure.until_ms - now) as u64),
                    last: Box::new(failure.error.clone()),
                });
            }
        }

        let no_cache = std::mem::take(&mut self.inner.state.lock().expect("token state").no_cache);
        let result = self.exchange(&mut signer, no_cache).await;
        let mut state = self.inner.state.lock().expect("token state");
        state.generation += 1;
        match result {
            Ok(kept) => {
                state.failure = None;
                self.write_disk(&kept);
                let token = kept.token.clone();
                state.kept = Some(kept);
                Ok(token)
            }
            Err((error, retry_after)) => {
                let attempts = state.failure.as_ref().map_or(0, |f| f.attempts) + 1;
                let exponential = INITIAL_BACKOFF
                    .saturating_mul(1u32 << (attempts - 1).min(16))
                    .min(MAX_BACKOFF);
                let wait = retry_after.map_or(exponential, |r| r.max(exponential));
                let now = self.now_ms();
                tracing::warn!(error = %error, retry_in_ms = wait.as_millis() as u64, "token refresh failed");
                state.failure = Some(Failure {
                    error: error.clone(),
                    attempts,
                    until_ms: now.saturating_add(wait.as_millis() as i64),
                });
                match state.kept.as_ref().filter(|k| k.usable(now)) {
                    Some(kept) => Ok(kept.token.clone()),
                    None => Err(error),
                }
            }
        }
    }

    /// One exchange: the answer as a kept token, or the error and the server's `Retry-After`.
    async fn exchange(
        &self,
        signer: &mut Option<IamSigner>,
        no_cache: bool,
    ) -> Result<Kept, (Error, Option<Duration>)> {
        let inner = &*self.inner;
        let mut body = serde_json::Map::new();
        let path = match &inner.credential {
            Credential::AccessKey(key) => {
                body.insert("accessKey".into(), json!(key.expose()));
                "/m2m/token"
            }
            Credential::Iam { .. } => "/m2m/token/iam",
        };
        if !inner.scopes.is_empty() {
            body.insert("scopes".into(), json!(inner.scopes));
        }
        if let Some(tenant) = &inner.tenant {
            body.insert("tenant".into(), json!(tenant));
        }
        let body = Value::Object(body).to_string();
        let url = format!("{}{path}", inner.base_url);

        let mut request = inner
            .http
            .post(&url)
            .timeout(inner.timeout)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::USER_AGENT, USER_AGENT);
        if no_cache {
            request = request.header(http::header::CACHE_CONTROL, "no-cache");
        }
        if let Credential::Iam { region, provider } = &inner.credential {
            if signer.is_none() {
                *signer = Some(match provider {
                    Some(provider) => IamSigner {
                        credentials: provider.clone(),
                        region: match region {
                            Some(region) => region.clone(),
                            None => {
                                IamSigner::from_chain(inner.http.clone(), None)
                                    .await
                                    .map_err(|e| (e, None))?
                                    .region
                            }
                        },
                    },
                    None => IamSigner::from_chain(inner.http.clone(), region.clone())
                        .await
                        .map_err(|e| (e, None))?,
                });
            }
            let signer = signer.as_ref().expect("resolved above");
            let credentials = signer.credentials().await.map_err(|e| (e, None))?;
            let signed = crate::iam::sign_request(
                "POST",
                &url,
                &[("content-type", "application/json")],
                body.as_bytes(),
                &credentials,
                &signer.region,
                (inner.clock)(),
            )
            .map_err(|e| (e, None))?;
            for (name, value) in signed {
                request = request.header(name, value);
            }
        }

        inner.exchanges.fetch_add(1, Ordering::SeqCst);
        tracing::debug!(url = %url, "exchanging for a token");
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| (Error::from_reqwest(&url, inner.timeout, e), None))?;
        let received_ms = self.now_ms();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, (inner.clock)()));
        let date_ms = response
            .headers()
            .get(http::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .map(unix_ms);
        let body = m2m_auth::fetch::read_capped(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| (Error::from_body(&url, inner.timeout, status, e), None))?;
        let text = String::from_utf8_lossy(&body);
        // The token function's own rule for what a remote says, applied again on this side.
        let key = match &inner.credential {
            Credential::AccessKey(key) => key.expose(),
            Credential::Iam { .. } => "",
        };
        let answer: Option<Value> = serde_json::from_str(&text).ok();
        if !(200..300).contains(&status) {
            let message = answer
                .as_ref()
                .and_then(|a| a["error"].as_str())
                .map(|message| m2m_redact::shown(message, key, MAX_MESSAGE_CHARS));
            let error = match (status, message) {
                (429, message) => Error::RateLimited {
                    message: message.unwrap_or_else(|| "Too Many Requests".into()),
                    retry_after,
                },
                (400..=499, Some(message)) => Error::Refused { status, message },
                (500..=599, Some(message)) => Error::ServerError {
                    status,
                    message,
                    retry_after,
                },
                (_, None) => Error::UnexpectedAnswer {
                    url,
                    status,
                    detail: format!(
                        "not the token function's error shape: {}",
                        excerpt(&text, key)
                    ),
                },
                (_, Some(message)) => Error::UnexpectedAnswer {
                    url,
                    status,
                    detail: message,
                },
            };
            return Err((error, retry_after));
        }
        let unexpected = |detail: &str| Error::UnexpectedAnswer {
            url: url.clone(),
            status,
            detail: detail.to_owned(),
        };
        let answer = answer.ok_or_else(|| (unexpected("not JSON"), None))?;
        let jwt = answer["jwt"]
            .as_str()
            .filter(|jwt| !jwt.is_empty())
            .ok_or_else(|| (unexpected("no `jwt`"), None))?
            .to_owned();
        let expires_at = answer["expiresAt"]
            .as_i64()
            .or_else(|| answer["decodedPayload"]["exp"].as_i64())
            .ok_or_else(|| (unexpected("no `expiresAt`"), None))?;
        let server_now_ms = date_ms.unwrap_or(received_ms);
        let issued_at = answer["decodedPayload"]["iat"]
            .as_i64()
            .unwrap_or(server_now_ms / 1000);
        let token = Token {
            jwt,
            issued_at,
            expires_at,
            answer,
        };
        let skew_ms = estimate_skew(received_ms, date_ms, &token);
        tracing::debug!(expires_at, skew_ms, "token received");
        Ok(Kept::new(token, skew_ms))
    }

    fn read_disk(&self) -> Option<Kept> {
        let path = self.inner.cache_file.as_ref()?;
        let text = crate::disk::read_private(path)?;
        let stored: Value = serde_json::from_str(&text).ok()?;
        let answer = stored["answer"].clone();
        let token = Token {
            jwt: answer["jwt"].as_str()?.to_owned(),
            issued_at: answer["decodedPayload"]["iat"].as_i64()?,
            expires_at: answer["expiresAt"].as_i64()?,
            answer,
        };
        let kept = Kept::new(token, stored["skewMs"].as_i64()?);
        tracing::debug!(path = %path.display(), "token read from the cache directory");
        Some(kept)
    }

    fn write_disk(&self, kept: &Kept) {
        let Some(path) = &self.inner.cache_file else {
            return;
        };
        let stored = json!({"answer": kept.token.answer, "skewMs": kept.skew_ms});
        if let Err(error) = crate::disk::write_private(path, stored.to_string().as_bytes()) {
            tracing::warn!(error = %error, "the token could not be kept in the cache directory");
        }
    }
}

impl TokenSourceBuilder {
    fn new(base_url: String, credential: Credential) -> TokenSourceBuilder {
        TokenSourceBuilder {
            base_url,
            credential,
            scopes: Vec::new(),
            tenant: None,
            http: None,
            timeout: DEFAULT_TIMEOUT,
            clock: Arc::new(SystemTime::now),
            cache_dir: None,
        }
    }
}

const USER_AGENT: &str = concat!("m2m-client/", env!("CARGO_PKG_VERSION"));

/// Server clock minus local clock. The `Date` header when it is plausible for this token (the server
/// issued it or kept it: its time lies between `iat` and `exp`); otherwise the token's `iat`, when the
/// local clock is outside the window in which the server could have handed the token out.
fn estimate_skew(received_ms: i64, date_ms: Option<i64>, token: &Token) -> i64 {
    let iat_ms = token.issued_at.saturating_mul(1000);
    let exp_ms = token.expires_at.saturating_mul(1000);
    if let Some(date_ms) = date_ms {
        // `Date` has whole seconds: its middle is the best guess.
        let date_ms = date_ms + 500;
        if date_ms >= iat_ms - 1000 && date_ms <= exp_ms {
            return date_ms - received_ms;
        }
    }
    let renew_ms =
        m2m_auth::lifetime::renew_at(token.issued_at, token.expires_at).saturating_mul(1000);
    if received_ms >= iat_ms && received_ms < renew_ms.max(iat_ms + 1000) {
        0
    } else {
        iat_ms - received_ms
    }
}

fn unix_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_millis() as i64,
        Err(before) => -(before.duration().as_millis() as i64),
    }
}

/// `Retry-After`: delay seconds or an HTTP date.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds.min(3600)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or_default()
            .min(Duration::from_secs(3600)),
    )
}

/// The first 200 characters of an unexpected answer, as [`m2m_redact::shown`] shows them.
fn excerpt(text: &str, key: &str) -> String {
    let text = m2m_redact::shown(text.trim(), key, 201);
    match text.char_indices().nth(200) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text,
    }
}

fn parse_base_url(url: &str) -> Result<String, Error> {
    let invalid = |reason: &str| Error::InvalidBaseUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("a base URL has no query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("a base URL holds no user name or password"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// The cache file of one source: a hash of everything that makes its tokens differ, never the key in
/// clear.
fn cache_file_name(
    base_url: &str,
    credential: &Credential,
    scopes: &[String],
    tenant: &Option<String>,
) -> String {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut part = |bytes: &[u8]| {
        context.update(&(bytes.len() as u64).to_be_bytes());
        context.update(bytes);
    };
    part(b"m2m-client token cache v1");
    part(base_url.as_bytes());
    match credential {
        Credential::AccessKey(key) => {
            part(b"access-key");
            part(key.expose().as_bytes());
        }
        Credential::Iam { region, .. } => {
            part(b"iam");
            part(region.as_deref().unwrap_or_default().as_bytes());
            part(std::env::var("AWS_PROFILE").unwrap_or_default().as_bytes());
        }
    }
    for scope in scopes {
        part(scope.as_bytes());
    }
    part(tenant.as_deref().unwrap_or_default().as_bytes());
    let digest = context.finish();
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("token-{hex}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(iat: i64, exp: i64) -> Token {
        Token {
            jwt: "a.b.c".into(),
            issued_at: iat,
            expires_at: exp,
            answer: Value::Null,
        }
    }

    #[test]
    fn skew_comes_from_the_date_header_or_else_from_iat() {
        let t = token(1_000, 1_600);
        // In step with the server.
        assert_eq!(estimate_skew(1_000_000, Some(1_000_000), &t), 500);
        // The local clock an hour ahead, with and without a Date header.
        assert_eq!(
            estimate_skew(4_600_000, Some(1_000_000), &t),
            500 - 3_600_000
        );
        assert_eq!(estimate_skew(4_600_000, None, &t), 1_000_000 - 4_600_000);
        // An hour behind.
        assert_eq!(estimate_skew(1_000_000 - 3_600_000, None, &t), 3_600_000);
        // A kept token handed out later by the server's cache: no Date, clock in the window, no skew.
        assert_eq!(estimate_skew(1_300_000, None, &t), 0);
        // An implausible Date (before the token was issued) is ignored.
        assert_eq!(estimate_skew(1_300_000, Some(10_000), &t), 0);
    }

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            parse_base_url("http://127.0.0.1:9000/").unwrap(),
            "http://127.0.0.1:9000"
        );
        assert_eq!(
            parse_base_url("https://api.example/prod").unwrap(),
            "https://api.example/prod"
        );
        for bad in [
            "127.0.0.1:9000",
            "ftp://x",
            "http://u:p@x",
            "http://x/?a=1",
            "nope",
        ] {
            assert!(parse_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cache_file_names_hide_the_key() {
        let key = Credential::AccessKey(AccessKey::new("dev-reader-key").unwrap());
        let name = cache_file_name("http://x", &key, &[], &None);
        assert!(!name.contains("dev-reader-key") && name.starts_with("token-"));
        let other = Credential::AccessKey(AccessKey::new("dev-admin-key").unwrap());
        assert_ne!(name, cache_file_name("http://x", &other, &[], &None));
        assert_ne!(
            name,
            cache_file_name("http://x", &key, &["read:data".into()], &None)
        );
        assert_ne!(name, cache_file_name("http://y", &key, &[], &None));
    }
}
