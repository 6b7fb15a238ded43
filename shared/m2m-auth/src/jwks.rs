//! The signing-key cache, shared by every request of a warm function.
//!
//! Keys are trusted for `ttl` after a fetch. A `kid` the cache does not know triggers at most one refresh
//! per [`MIN_UNKNOWN_KID_REFRESH_INTERVAL`], so a flood of made-up `kid`s costs the provider one request; a
//! failed fetch is retried no sooner either, and meanwhile the keys already held keep working. Concurrent
//! requests that need a refresh wait for a single fetch (single flight).

use crate::algorithm::Algorithm;
use crate::keys::{VerifyingKey, parse_jwk};
use crate::{VerifyError, fetch};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// The least time between two refreshes caused by unknown `kid`s, and between a failed fetch and the next.
pub const MIN_UNKNOWN_KID_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// At most this many keys of a set are considered (Descope publishes two or three).
const MAX_KEYS: usize = 64;

/// Where the key set is published.
#[derive(Debug, Clone)]
pub enum JwksLocation {
    /// A fixed URL, as for Descope: `{base}/v2/keys/{projectId}`.
    Url(String),
    /// Found through OpenID Connect discovery (`jwks_uri`).
    Discovery(Arc<fetch::Discovery>),
    /// Nowhere: the keys were handed over at construction ([`JwksCache::preloaded`]) and are never fetched.
    Preloaded,
}

#[derive(Debug, Clone)]
pub struct JwksCacheOptions {
    pub ttl: Duration,
    /// While refreshes fail, cached keys are used for at most this long after the last successful fetch.
    pub max_stale: Duration,
    pub unknown_kid_interval: Duration,
    pub fetch_timeout: Duration,
    pub max_bytes: usize,
}

impl Default for JwksCacheOptions {
    fn default() -> Self {
        JwksCacheOptions {
            ttl: Duration::from_secs(600),
            max_stale: Duration::from_secs(86_400),
            unknown_kid_interval: MIN_UNKNOWN_KID_REFRESH_INTERVAL,
            fetch_timeout: crate::budget::KEY_FETCH,
            max_bytes: 150_000,
        }
    }
}

type KeySet = HashMap<String, Arc<VerifyingKey>>;

#[derive(Default)]
struct CacheState {
    keys: KeySet,
    fetched_at: Option<Instant>,
    failed_at: Option<Instant>,
    last_unknown_kid_refresh: Option<Instant>,
    /// Counts finished fetch attempts, so a request that waited for another's fetch can tell it happened.
    attempts: u64,
}

enum KeyLookup {
    Use(Arc<VerifyingKey>),
    Refuse(VerifyError),
    Fetch { unknown_kid: bool },
}

impl CacheState {
    fn decide(&self, kid: &str, now: Instant, options: &JwksCacheOptions) -> KeyLookup {
        let key = self.keys.get(kid);
        let stale = self
            .fetched_at
            .is_none_or(|at| now.duration_since(at) >= options.ttl);
        let backoff_left = self
            .failed_at
            .map(|at| {
                options
                    .unknown_kid_interval
                    .saturating_sub(now.duration_since(at))
            })
            .filter(|left| !left.is_zero());
        match (key, stale, backoff_left) {
            (Some(key), false, _) => KeyLookup::Use(key.clone()),
            (Some(key), true, Some(left)) => match self.trusted(key, now, options) {
                Some(key) => KeyLookup::Use(key),
                None => KeyLookup::Refuse(VerifyError::KeysUnavailable { retry_after: left }),
            },
            (Some(_), true, None) => KeyLookup::Fetch { unknown_kid: false },
            (None, _, Some(left)) => {
                KeyLookup::Refuse(VerifyError::KeysUnavailable { retry_after: left })
            }
            (None, true, None) => KeyLookup::Fetch { unknown_kid: false },
            (None, false, None) => {
                let recently = self
                    .last_unknown_kid_refresh
                    .is_some_and(|at| now.duration_since(at) < options.unknown_kid_interval);
                if recently {
                    KeyLookup::Refuse(VerifyError::UnknownKey)
                } else {
                    KeyLookup::Fetch { unknown_kid: true }
                }
            }
        }
    }

    /// `key` while the set it came from is within the maximum staleness (a revoked key must stop working even
    /// when the provider cannot be reached to say so).
    fn trusted(
        &self,
        key: &Arc<VerifyingKey>,
        now: Instant,
        options: &JwksCacheOptions,
    ) -> Option<Arc<VerifyingKey>> {
        let fresh_enough = self
            .fetched_at
            .is_some_and(|at| now.duration_since(at) < options.max_stale);
        fresh_enough.then(|| key.clone())
    }

    /// What a request gets once the fetch it needed (its own or another's) has finished.
    fn after_fetch(
        &self,
        kid: &str,
        now: Instant,
        options: &JwksCacheOptions,
    ) -> Result<Arc<VerifyingKey>, VerifyError> {
        if let Some(key) = self
            .keys
            .get(kid)
            .and_then(|key| self.trusted(key, now, options))
        {
            return Ok(key);
        }
        match self.failed_at {
            Some(at) => Err(VerifyError::KeysUnavailable {
                retry_after: options
                    .unknown_kid_interval
                    .saturating_sub(now.duration_since(at)),
            }),
            None => Err(VerifyError::UnknownKey),
        }
    }
}

/// Signing keys of one issuer, cached across invocations.
pub struct JwksCache {
    client: reqwest::Client,
    location: JwksLocation,
    algorithms: Vec<Algorithm>,
    options: JwksCacheOptions,
    state: RwLock<CacheState>,
    refresh: tokio::sync::Mutex<()>,
    fetch_count: AtomicU64,
}

impl JwksCache {
    /// `algorithms` are those tokens may use; a key that fits none of them is left out.
    pub fn new(
        client: reqwest::Client,
        location: JwksLocation,
        algorithms: Vec<Algorithm>,
        options: JwksCacheOptions,
    ) -> Self {
        JwksCache {
            client,
            location,
            algorithms,
            options,
            state: RwLock::default(),
            refresh: tokio::sync::Mutex::new(()),
            fetch_count: AtomicU64::new(0),
        }
    }

    /// A cache that holds the keys of `jwks` (a JWK Set document, `{"keys": [...]}`) for good and never
    /// fetches: for fuzzing, benchmarks and tests without a network. Entries are filtered exactly as fetched
    /// ones are (docs/contract.md section 3); a `kid` it does not hold is [`VerifyError::UnknownKey`].
    pub fn preloaded(jwks: &Value, algorithms: Vec<Algorithm>) -> Self {
        let mut cache = JwksCache::new(
            reqwest::Client::new(),
            JwksLocation::Preloaded,
            algorithms,
            JwksCacheOptions::default(),
        );
        let keys = match jwks.get("keys") {
            Some(Value::Array(entries)) => cache.usable_keys(entries),
            _ => KeySet::new(),
        };
        let state = cache
            .state
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        state.keys = keys;
        state.fetched_at = Some(Instant::now());
        cache
    }

    /// How many times the key set has been requested from the provider.
    pub fn fetch_count(&self) -> u64 {
        self.fetch_count.load(Ordering::Relaxed)
    }

    /// How many fetch attempts have finished (successful or not): a request that saw this number change
    /// while it waited for a key knows another request's fetch completed meanwhile.
    pub(crate) fn finished_fetches(&self) -> u64 {
        self.read_state().attempts
    }

    /// The number of keys currently held.
    pub fn len(&self) -> usize {
        self.read_state().keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, CacheState> {
        // A panic while holding the lock cannot leave the state half-written (every write is one
        // assignment), so a poisoned lock is still safe to use.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key this cache holds for `kid`, without fetching: a preloaded key, or a fetched one while it is
    /// trusted (within the maximum staleness).
    pub(crate) fn held_key(&self, kid: &str) -> Result<Arc<VerifyingKey>, VerifyError> {
        let state = self.read_state();
        let key = state.keys.get(kid).ok_or(VerifyError::UnknownKey)?;
        if let JwksLocation::Preloaded = self.location {
            return Ok(key.clone());
        }
        state
            .trusted(key, Instant::now(), &self.options)
            .ok_or(VerifyError::KeysUnavailable {
                retry_after: self.options.unknown_kid_interval,
            })
    }

    pub(crate) async fn verifying_key(&self, kid: &str) -> Result<Arc<VerifyingKey>, VerifyError> {
        if let JwksLocation::Preloaded = self.location {
            let state = self.read_state();
            return state.keys.get(kid).cloned().ok_or(VerifyError::UnknownKey);
        }
        let (attempts_seen, unknown_kid) = {
            let state = self.read_state();
            match state.decide(kid, Instant::now(), &self.options) {
                KeyLookup::Use(key) => return Ok(key),
                KeyLookup::Refuse(error) => return Err(error),
                KeyLookup::Fetch { unknown_kid } => (state.attempts, unknown_kid),
            }
        };
        let _single_flight = self.refresh.lock().await;
        {
            let state = self.read_state();
            if state.attempts != attempts_seen {
                return state.after_fetch(kid, Instant::now(), &self.options);
            }
        }
        let started = Instant::now();
        let outcome =
            tracing::Instrument::instrument(self.fetch(), tracing::info_span!("jwks_fetch")).await;
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.attempts += 1;
        if unknown_kid {
            state.last_unknown_kid_refresh = Some(started);
        }
        match outcome {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "signing keys refreshed");
                state.keys = keys;
                state.fetched_at = Some(started);
                state.failed_at = None;
            }
            Err(error) => {
                metrics::counter!("JwksFetchFailures").increment(1);
                tracing::warn!(%error, cached_keys = state.keys.len(), "signing keys could not be fetched");
                state.failed_at = Some(Instant::now());
            }
        }
        state.after_fetch(kid, Instant::now(), &self.options)
    }

    /// Fetches the key set now unless it is preloaded or already fetched: for a function's init, so that
    /// its first request (on a container started ahead of traffic, the first of many) finds the keys in
    /// place. A failure is logged and counted but sets no back-off: the first request simply fetches.
    pub async fn hydrate(&self) -> Result<usize, fetch::FetchError> {
        if let JwksLocation::Preloaded = self.location {
            return Ok(self.len());
        }
        let _single_flight = self.refresh.lock().await;
        if self.read_state().fetched_at.is_some() {
            return Ok(self.len());
        }
        let started = Instant::now();
        let outcome =
            tracing::Instrument::instrument(self.fetch(), tracing::info_span!("jwks_hydrate"))
                .await;
        match outcome {
            Ok(keys) => {
                let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
                tracing::info!(keys = keys.len(), "signing keys fetched during init");
                state.attempts += 1;
                state.keys = keys;
                state.fetched_at = Some(started);
                state.failed_at = None;
                Ok(state.keys.len())
            }
            Err(error) => {
                metrics::counter!("JwksFetchFailures").increment(1);
                tracing::warn!(%error, "signing keys could not be fetched during init; the first request will");
                Err(error)
            }
        }
    }

    async fn fetch(&self) -> Result<KeySet, fetch::FetchError> {
        self.fetch_count.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("JwksFetches").increment(1);
        let url = match &self.location {
            JwksLocation::Url(url) => url.clone(),
            JwksLocation::Discovery(discovery) => discovery.metadata().await?.jwks_uri.clone(),
            JwksLocation::Preloaded => {
                return Err(fetch::FetchError::Invalid(
                    "a preloaded key set is never fetched",
                ));
            }
        };
        let document = fetch::get_json(
            &self.client,
            &url,
            self.options.fetch_timeout,
            self.options.max_bytes,
        )
        .await?;
        let Some(Value::Array(entries)) = document.get("keys") else {
            return Err(fetch::FetchError::Invalid("no 'keys' array"));
        };
        let keys = self.usable_keys(entries);
        if keys.is_empty() {
            return Err(fetch::FetchError::Invalid("no usable key"));
        }
        Ok(keys)
    }

    /// Each entry is parsed on its own ([`parse_jwk`]), not the document as one `jsonwebtoken::jwk::JwkSet`:
    /// that type fails as a whole when a single entry has a member of the wrong type, and one odd key the
    /// provider publishes (a new key type, an encryption key with extra members) must not take the keys
    /// that do fit with it.
    fn usable_keys(&self, entries: &[Value]) -> KeySet {
        let mut keys = KeySet::new();
        let mut duplicated = Vec::new();
        for entry in entries.iter().take(MAX_KEYS) {
            match parse_jwk(entry, &self.algorithms) {
                Ok((kid, key)) => {
                    if keys.insert(kid.clone(), Arc::new(key)).is_some() {
                        duplicated.push(kid);
                    }
                }
                Err(reason) => tracing::debug!(reason, "JWKS entry ignored"),
            }
        }
        for kid in duplicated {
            // Two keys under one kid: neither can be told apart from the other, so neither is trusted.
            tracing::warn!("JWKS holds two keys under one kid; both ignored");
            keys.remove(&kid);
        }
        keys
    }
}
