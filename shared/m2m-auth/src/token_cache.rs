//! Tokens that passed every check, remembered so that the same token presented again costs a lookup
//! instead of a signature check (docs/contract.md section 3).
//!
//! An M2M client exchanges once and presents the same token for its whole lifetime, so a warm function sees
//! it again and again. An entry is found only by the exact, whole token (a hash map keyed by the full
//! string, never a prefix, the `kid` or the claims), and only tokens that passed every check enter. The
//! caller ([`crate::Verifier`]) re-checks on each hit what can change after the check: the time claims and
//! whether the key the token was verified with is still the one the key cache holds for its `kid`.
//!
//! A full cache admits a token only when it comes back (see [`Doorkeeper`]), so that tokens presented once
//! cost a hash rather than an eviction.
//!
//! Timing: the map's hasher is seeded at random per process (`foldhash` through `hashbrown`), so a probe is
//! compared byte by byte only with an entry whose secret-seeded hash happens to match, which the prober cannot
//! steer; a prefix of another caller's token cannot be learnt from lookup times.

use crate::keys::VerifyingKey;
use crate::verified::{Validity, VerifiedToken};
use crate::{JsonObject, MAX_TOKEN_BYTES};
use lru::LruCache;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Entries kept by default (`VERIFIED_TOKEN_CACHE_ENTRIES`, docs/contract.md section 2).
pub const DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES: usize = 1024;

/// The most memory the entries of one verifier may hold, whatever their number: as much as 1,024 tokens of
/// the largest accepted size. Each entry is charged an estimate of its heap (the token, its decoded header
/// and claims, its grants), because a small token can decode to many small JSON values.
pub const MAX_VERIFIED_TOKEN_CACHE_BYTES: usize = 1024 * MAX_TOKEN_BYTES;

/// What was learnt by checking one token in full.
pub(crate) struct CachedToken {
    pub verified: Arc<VerifiedToken>,
    pub kid: String,
    /// The key the signature was checked with: a hit is valid only while the key cache still holds this
    /// very key (`Arc::ptr_eq`) for `kid`, so a refresh that drops or replaces it ends the entry.
    pub key: Arc<VerifyingKey>,
    pub validity: Validity,
}

/// How the cache has been used. The counters only grow; `entries` and `bytes` are the current contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenCacheStats {
    /// Answers served from an entry, without a signature check.
    pub hits: u64,
    /// Signature checks done because the token had no usable entry (refusals found before the signature,
    /// such as malformed input, count as neither).
    pub misses: u64,
    /// Entries dropped to make room (least recently used first).
    pub evictions: u64,
    pub entries: usize,
    pub bytes: usize,
    /// The configured bound on entries (0: the cache is off).
    pub capacity: usize,
}

struct Slot {
    entry: Arc<CachedToken>,
    /// What [`entry_weight`] charged it, kept so that removing it needs no second walk of its claims.
    weight: usize,
}

struct Entries {
    map: LruCache<Box<str>, Slot>,
    bytes: usize,
    doorkeeper: Doorkeeper,
}

/// Who may take a full cache's room: a token whose full check is its second since the cache filled up (the
/// "doorkeeper" of TinyLFU). A stream of tokens presented once (a flood, or clients that never reuse a token)
/// then costs one keyed hash each instead of an insertion and an eviction, and cannot push out the tokens
/// clients keep presenting; a token presented again pays one more signature check before it is remembered.
struct Doorkeeper {
    /// Seeded at random per process, like the map's: the fingerprints cannot be steered.
    hasher: lru::DefaultHasher,
    /// One fingerprint (`| 1`, so never the empty 0) per slot; allocated when the cache first fills.
    slots: Vec<u64>,
    len: usize,
}

impl Doorkeeper {
    fn new(capacity: usize) -> Self {
        Doorkeeper {
            hasher: lru::DefaultHasher::default(),
            slots: Vec::new(),
            len: (capacity * 2).next_power_of_two(),
        }
    }

    /// Whether `token` was seen since its slot last changed hands; if not, it is remembered in it now. Another
    /// token landing in the same slot meanwhile only means one more full check for this one.
    fn seen_before(&mut self, token: &str) -> bool {
        use std::hash::BuildHasher;
        if self.slots.is_empty() {
            self.slots = vec![0; self.len];
        }
        let fingerprint = self.hasher.hash_one(token);
        let slot = &mut self.slots[fingerprint as usize & (self.len - 1)];
        if *slot == fingerprint | 1 {
            *slot = 0;
            true
        } else {
            *slot = fingerprint | 1;
            false
        }
    }
}

/// A bounded map from whole tokens to what their full check found, most recently used kept.
pub(crate) struct VerifiedTokenCache {
    /// `None` when the cache is off (`VERIFIED_TOKEN_CACHE_ENTRIES=0`).
    entries: Option<Mutex<Entries>>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    len: AtomicUsize,
    bytes: AtomicUsize,
}

impl VerifiedTokenCache {
    pub fn new(capacity: usize) -> Self {
        VerifiedTokenCache {
            entries: std::num::NonZeroUsize::new(capacity).map(|cap| {
                Mutex::new(Entries {
                    map: LruCache::new(cap),
                    bytes: 0,
                    doorkeeper: Doorkeeper::new(cap.get()),
                })
            }),
            capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            len: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.entries.is_some()
    }

    fn lock(&self) -> Option<MutexGuard<'_, Entries>> {
        // Every update below leaves the map and its byte count consistent before anything can panic, so a
        // poisoned lock is still safe to use.
        self.entries
            .as_ref()
            .map(|entries| entries.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The entry for exactly `token`, marked as the most recently used.
    pub fn get(&self, token: &str) -> Option<Arc<CachedToken>> {
        if token.len() > MAX_TOKEN_BYTES {
            return None;
        }
        self.lock()?.map.get(token).map(|slot| slot.entry.clone())
    }

    pub fn record_hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("VerifiedTokenCacheHits").increment(1);
    }

    pub fn record_miss(&self) {
        if self.is_enabled() {
            self.misses.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("VerifiedTokenCacheMisses").increment(1);
        }
    }

    /// Remembers a token that passed every check: at once while there is room, and in a full cache when
    /// the [`Doorkeeper`] has seen it before, evicting the least recently used entries while the bounds on
    /// entries or bytes are exceeded.
    pub fn insert(&self, token: &str, entry: CachedToken) {
        let Some(mut entries) = self.lock() else {
            return;
        };
        // Replacing its own entry (two requests checked it at once) takes no one's room.
        let replacing = entries.map.contains(token);
        // Asked before the claims are weighed, so that a token kept out of a cache full by count costs no walk.
        let full_by_count = !replacing && entries.map.len() >= entries.map.cap().get();
        if full_by_count && !entries.doorkeeper.seen_before(token) {
            return;
        }
        let weight = entry_weight(token, &entry.verified);
        if weight > MAX_VERIFIED_TOKEN_CACHE_BYTES {
            return;
        }
        let full_by_bytes =
            !replacing && !full_by_count && entries.bytes + weight > MAX_VERIFIED_TOKEN_CACHE_BYTES;
        if full_by_bytes && !entries.doorkeeper.seen_before(token) {
            return;
        }
        let mut evicted = 0;
        // Dropped after the lock is released: freeing a token's claims is not work to do while holding it.
        let mut dropped = Vec::new();
        let slot = Slot {
            entry: Arc::new(entry),
            weight,
        };
        if let Some((old_token, old)) = entries.map.push(token.into(), slot) {
            // The same token again (two requests checked it at once), or the least recently used one.
            if *old_token != *token {
                evicted += 1;
            }
            entries.bytes -= old.weight;
            dropped.push(old);
        }
        entries.bytes += weight;
        while entries.bytes > MAX_VERIFIED_TOKEN_CACHE_BYTES {
            let Some((_, old)) = entries.map.pop_lru() else {
                break;
            };
            entries.bytes -= old.weight;
            evicted += 1;
            dropped.push(old);
        }
        self.len.store(entries.map.len(), Ordering::Relaxed);
        self.bytes.store(entries.bytes, Ordering::Relaxed);
        drop(entries);
        if evicted > 0 {
            self.evictions.fetch_add(evicted, Ordering::Relaxed);
            metrics::counter!("VerifiedTokenCacheEvictions").increment(evicted);
        }
        drop(dropped);
    }

    /// Forgets `token` (its entry can no longer answer for it).
    pub fn remove(&self, token: &str) {
        let Some(mut entries) = self.lock() else {
            return;
        };
        let removed = entries.map.pop(token);
        if let Some(old) = &removed {
            entries.bytes -= old.weight;
            self.len.store(entries.map.len(), Ordering::Relaxed);
            self.bytes.store(entries.bytes, Ordering::Relaxed);
        }
        drop(entries);
        drop(removed);
    }

    pub fn stats(&self) -> TokenCacheStats {
        TokenCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            entries: self.len.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            capacity: self.capacity,
        }
    }
}

/// Bytes an entry is charged: the key, the entry itself, an estimate of its decoded JSON and grants, and the
/// claims text it may come to keep ([`VerifiedToken::claims_json`], at most the token's length).
fn entry_weight(token: &str, verified: &VerifiedToken) -> usize {
    const ENTRY: usize = std::mem::size_of::<CachedToken>() + std::mem::size_of::<VerifiedToken>();
    const NODE: usize = 64; // the map node, the two reference counts and allocator rounding
    let grants: usize = verified.grants.iter().map(|g| g.len() + 48).sum();
    2 * token.len()
        + ENTRY
        + NODE
        + object_weight(&verified.header)
        + object_weight(&verified.claims)
        + grants
}

fn object_weight(object: &JsonObject) -> usize {
    object
        .iter()
        .map(|(name, value)| 48 + name.len() + value_weight(value))
        .sum()
}

fn value_weight(value: &Value) -> usize {
    const VALUE: usize = std::mem::size_of::<Value>();
    VALUE
        + match value {
            Value::String(s) => s.len(),
            Value::Array(items) => items.iter().map(value_weight).sum(),
            Value::Object(object) => object_weight(object),
            Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        }
}
