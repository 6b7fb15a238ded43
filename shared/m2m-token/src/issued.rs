//! The tokens the token function has handed out, kept to hand out again (docs/contract.md section 1): every
//! caller entitled to the same answer (the same project, key, scopes and tenant) gets the same token until
//! [`m2m_auth::lifetime::renew_at`], then the next caller triggers one new exchange. The provider's exchange
//! endpoint is rate-limited, and a fleet asking every minute needs one token per lifetime, not one per ask.
//!
//! Entries are found by a keyed hash (HMAC-SHA256 under a key drawn at start-up) of what they answer, never
//! by the access key itself. Concurrent callers of a missing or stale entry wait for one exchange (single
//! flight), and share its failure; a failure is never kept for later callers.

use crate::TokenError;
use aws_lc_rs::hmac;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Entries kept when `ISSUED_TOKEN_CACHE_ENTRIES` is unset.
pub const DEFAULT_ISSUED_TOKEN_CACHE_ENTRIES: usize = 256;
/// The most `ISSUED_TOKEN_CACHE_ENTRIES` may ask for.
pub const MAX_ISSUED_TOKEN_CACHE_ENTRIES: usize = 1024;
/// The largest answer kept. A token is at most 8 KiB (m2m_auth::MAX_TOKEN_BYTES) and its answer repeats
/// it decoded, so real answers are well below; with the entry bound this bounds the bytes held (6 MiB by
/// default, 24 MiB at most).
const MAX_KEPT_ANSWER_BYTES: usize = 24 * 1024;

/// What makes two requests entitled to the same token.
pub(crate) struct Entitlement<'a> {
    pub project_id: &'a str,
    pub access_key: &'a str,
    pub scopes: &'a [String],
    pub tenant: Option<&'a str>,
    /// The scopes are an IAM principal's allowance (narrowed to the key's grants), not a request.
    pub narrowed: bool,
}

type Fingerprint = [u8; 32];

/// The kept answers (200 bodies), at most `entries` of them, the least recently used dropped first.
pub(crate) struct IssuedTokens {
    key: hmac::Key,
    slots: Option<Mutex<lru::LruCache<Fingerprint, Arc<Slot>>>>,
    /// The fingerprint of the stack's own key last exchanged: when the secret's key changes, every kept
    /// answer goes (one exchange per caller, at a rotation).
    stack_key: Mutex<Option<Fingerprint>>,
}

#[derive(Default)]
struct Slot {
    /// Exchanges finished for this entry, so a waiter can tell a failure it waited for from an older one.
    finished: AtomicU64,
    state: tokio::sync::Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    kept: Option<Kept>,
    /// The last failed exchange and its number: shared with the callers that were waiting for it only.
    failure: Option<(u64, Arc<TokenError>)>,
}

struct Kept {
    answer: Arc<str>,
    renew_at: i64,
    /// The exchange that made it (see [`Slot::finished`]).
    attempt: u64,
}

/// An answer, and whether it was handed out before.
pub(crate) struct Issued {
    pub answer: Arc<str>,
    pub reused: bool,
}

impl IssuedTokens {
    /// A cache of `entries` answers; 0 turns it off (every request is an exchange).
    pub(crate) fn new(entries: usize) -> Self {
        // From the operating system, not aws-lc's generator: starting that one costs 23 ms of CPU
        // (BENCHMARKS.md, "Ready before the first request"), which would land in every init.
        // Drawing fails only without an operating-system random source, where nothing would work.
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the operating system's random source");
        let key = hmac::Key::new(hmac::HMAC_SHA256, &secret);
        IssuedTokens {
            key,
            slots: NonZeroUsize::new(entries).map(|n| Mutex::new(lru::LruCache::new(n))),
            stack_key: Mutex::new(None),
        }
    }

    fn fingerprint(&self, entitlement: &Entitlement<'_>) -> Fingerprint {
        let mut scopes: Vec<&str> = entitlement.scopes.iter().map(String::as_str).collect();
        scopes.sort_unstable();
        scopes.dedup();
        let mut context = hmac::Context::with_key(&self.key);
        // Each part with its length first, so no two entitlements give the same bytes.
        let mut part = |bytes: &[u8]| {
            context.update(&(bytes.len() as u64).to_be_bytes());
            context.update(bytes);
        };
        part(entitlement.project_id.as_bytes());
        part(entitlement.access_key.as_bytes());
        part(entitlement.tenant.unwrap_or_default().as_bytes());
        part(&[
            u8::from(entitlement.tenant.is_some()),
            u8::from(entitlement.narrowed),
        ]);
        for scope in scopes {
            part(scope.as_bytes());
        }
        let mut fingerprint = [0; 32];
        fingerprint.copy_from_slice(context.sign().as_ref());
        fingerprint
    }

    /// Notes the stack's key an exchange is about to use; a different one than last time drops every kept
    /// answer.
    pub(crate) fn stack_key_in_use(&self, project_id: &str, access_key: &str) {
        let Some(slots) = &self.slots else { return };
        let fingerprint = self.fingerprint(&Entitlement {
            project_id,
            access_key,
            scopes: &[],
            tenant: None,
            narrowed: false,
        });
        let mut current = lock(&self.stack_key);
        if current.is_some_and(|seen| seen != fingerprint) {
            lock(slots).clear();
        }
        *current = Some(fingerprint);
    }

    /// The kept answer for `entitlement` while it is fresh (before its renewal time, `now` in unix
    /// seconds); otherwise the answer of `issue` (a 200 body and its renewal time), kept when it fits. With
    /// `revalidate` (the caller sent `Cache-Control: no-cache`, as a client does after its token was refused)
    /// only an answer exchanged while the caller waited counts: concurrent revalidations still share one.
    pub(crate) async fn get_or_issue(
        &self,
        entitlement: &Entitlement<'_>,
        revalidate: bool,
        now: impl Fn() -> i64,
        issue: impl Future<Output = Result<(String, i64), TokenError>>,
    ) -> Result<Issued, Arc<TokenError>> {
        let Some(slots) = &self.slots else {
            let (answer, _) = issue.await.map_err(Arc::new)?;
            return Ok(Issued {
                answer: answer.into(),
                reused: false,
            });
        };
        let fingerprint = self.fingerprint(entitlement);
        let slot = lock(slots)
            .get_or_insert(fingerprint, || Arc::new(Slot::default()))
            .clone();
        let seen = slot.finished.load(Ordering::Acquire);
        let mut state = slot.state.lock().await;
        if let Some(kept) = &state.kept
            && now() < kept.renew_at
            && (!revalidate || kept.attempt > seen)
        {
            metrics::counter!("IssuedTokenCacheHits").increment(1);
            return Ok(Issued {
                answer: kept.answer.clone(),
                reused: true,
            });
        }
        if let Some((attempt, error)) = &state.failure
            && *attempt > seen
        {
            return Err(error.clone());
        }
        metrics::counter!("IssuedTokenCacheMisses").increment(1);
        let result = issue.await;
        let attempt = slot.finished.fetch_add(1, Ordering::AcqRel) + 1;
        match result {
            Ok((answer, renew_at)) => {
                let answer: Arc<str> = answer.into();
                state.failure = None;
                state.kept =
                    (answer.len() <= MAX_KEPT_ANSWER_BYTES && now() < renew_at).then(|| Kept {
                        answer: answer.clone(),
                        renew_at,
                        attempt,
                    });
                Ok(Issued {
                    answer,
                    reused: false,
                })
            }
            Err(error) => {
                let error = Arc::new(error);
                state.kept = None;
                state.failure = Some((attempt, error.clone()));
                Err(error)
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.as_ref().map_or(0, |slots| lock(slots).len())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn entitlement<'a>(key: &'a str, scopes: &'a [String]) -> Entitlement<'a> {
        Entitlement {
            project_id: "P2Test",
            access_key: key,
            scopes,
            tenant: None,
            narrowed: false,
        }
    }

    #[tokio::test]
    async fn one_exchange_per_lifetime_for_concurrent_callers() {
        let cache = Arc::new(IssuedTokens::new(8));
        let exchanges = Arc::new(AtomicUsize::new(0));
        let now = Arc::new(AtomicU64::new(1_000));
        let ask = |cache: Arc<IssuedTokens>, exchanges: Arc<AtomicUsize>, now: Arc<AtomicU64>| async move {
            let scopes = ["read:data".to_owned()];
            let clock = now.clone();
            cache
                .get_or_issue(
                    &entitlement("K2key", &scopes),
                    false,
                    move || clock.load(Ordering::Relaxed) as i64,
                    async {
                        let n = exchanges.fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        Ok((format!("token-{n}"), 1_480))
                    },
                )
                .await
                .map(|issued| issued.answer.to_string())
                .map_err(|_| ())
        };
        let answers = futures_util::future::join_all(
            (0..50).map(|_| ask(cache.clone(), exchanges.clone(), now.clone())),
        )
        .await;
        assert_eq!(exchanges.load(Ordering::SeqCst), 1);
        assert!(answers.iter().all(|a| a.as_deref() == Ok("token-0")));
        // Still fresh one second before the renewal time; then the next caller exchanges once more.
        now.store(1_479, Ordering::Relaxed);
        assert_eq!(
            ask(cache.clone(), exchanges.clone(), now.clone())
                .await
                .unwrap(),
            "token-0"
        );
        now.store(1_480, Ordering::Relaxed);
        assert_eq!(
            ask(cache.clone(), exchanges.clone(), now.clone())
                .await
                .unwrap(),
            "token-1"
        );
        assert_eq!(exchanges.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn failures_are_shared_with_waiters_only_and_never_kept() {
        let cache = IssuedTokens::new(8);
        let scopes: [String; 0] = [];
        let exchanges = AtomicUsize::new(0);
        let failing = || async {
            exchanges.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Err::<(String, i64), _>(TokenError::ProviderTimeout)
        };
        let e = entitlement("K2key", &scopes);
        let (a, b) = tokio::join!(
            cache.get_or_issue(&e, false, || 0, failing()),
            cache.get_or_issue(&e, false, || 0, failing()),
        );
        assert!(a.is_err() && b.is_err());
        assert_eq!(
            exchanges.load(Ordering::SeqCst),
            1,
            "the waiter shared the failure"
        );
        // A later caller tries again.
        let later = cache
            .get_or_issue(&e, false, || 0, async { Ok(("ok".to_owned(), 100)) })
            .await
            .unwrap();
        assert_eq!(&*later.answer, "ok");
        assert!(!later.reused);
    }

    #[tokio::test]
    async fn entitlements_differ_by_every_part_and_scopes_are_a_set() {
        let cache = IssuedTokens::new(64);
        let one = ["a".to_owned(), "b".to_owned()];
        let swapped = ["b".to_owned(), "a".to_owned(), "a".to_owned()];
        let base = entitlement("K2key", &one);
        assert_eq!(
            cache.fingerprint(&base),
            cache.fingerprint(&entitlement("K2key", &swapped))
        );
        let variants = [
            entitlement("K2other", &one),
            Entitlement {
                project_id: "P2Other",
                ..entitlement("K2key", &one)
            },
            Entitlement {
                tenant: Some("T1"),
                ..entitlement("K2key", &one)
            },
            Entitlement {
                tenant: Some(""),
                ..entitlement("K2key", &one)
            },
            Entitlement {
                narrowed: true,
                ..entitlement("K2key", &one)
            },
            entitlement("K2key", &one[..1]),
        ];
        for variant in &variants {
            assert_ne!(cache.fingerprint(&base), cache.fingerprint(variant));
        }
        // Another process (another key) fingerprints differently: nothing is derivable from the key alone.
        assert_ne!(
            IssuedTokens::new(1).fingerprint(&base),
            cache.fingerprint(&base)
        );
    }

    #[tokio::test]
    async fn a_new_stack_key_drops_what_was_kept_and_off_keeps_nothing() {
        let cache = IssuedTokens::new(8);
        let scopes: [String; 0] = [];
        cache.stack_key_in_use("P2Test", "K2old");
        cache
            .get_or_issue(&entitlement("K2old", &scopes), false, || 0, async {
                Ok(("t".into(), 100))
            })
            .await
            .unwrap();
        assert_eq!(cache.len(), 1);
        cache.stack_key_in_use("P2Test", "K2old");
        assert_eq!(cache.len(), 1);
        cache.stack_key_in_use("P2Test", "K2new");
        assert_eq!(cache.len(), 0);

        let off = IssuedTokens::new(0);
        for _ in 0..2 {
            let issued = off
                .get_or_issue(&entitlement("K2", &scopes), false, || 0, async {
                    Ok(("t".into(), 100))
                })
                .await
                .unwrap();
            assert!(!issued.reused);
        }
        // Too large to keep, or already due for renewal: handed out, not kept.
        let big = "x".repeat(MAX_KEPT_ANSWER_BYTES + 1);
        let cache = IssuedTokens::new(8);
        for (key, answer) in [("K2big", big), ("K2stale", "stale".to_owned())] {
            let renew_at = if answer == "stale" { 0 } else { 100 };
            let e = entitlement(key, &scopes);
            cache
                .get_or_issue(&e, false, || 0, async { Ok((answer.clone(), renew_at)) })
                .await
                .unwrap();
            let again = cache
                .get_or_issue(&e, false, || 0, async { Ok(("new".into(), 100)) })
                .await
                .unwrap();
            assert!(!again.reused);
        }
    }

    #[tokio::test]
    async fn a_revalidating_caller_gets_a_new_exchange_shared_with_its_waiters() {
        let cache = IssuedTokens::new(8);
        let scopes: [String; 0] = [];
        let e = entitlement("K2key", &scopes);
        let exchanges = AtomicUsize::new(0);
        let issue = || async {
            let n = exchanges.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok((format!("token-{n}"), 100))
        };
        cache.get_or_issue(&e, false, || 0, issue()).await.unwrap();
        let (a, b) = tokio::join!(
            cache.get_or_issue(&e, true, || 0, issue()),
            cache.get_or_issue(&e, true, || 0, issue()),
        );
        assert_eq!(
            exchanges.load(Ordering::SeqCst),
            2,
            "one revalidation for both"
        );
        assert_eq!(&*a.unwrap().answer, "token-1");
        assert_eq!(&*b.unwrap().answer, "token-1");
        let plain = cache.get_or_issue(&e, false, || 0, issue()).await.unwrap();
        assert!(plain.reused && &*plain.answer == "token-1");
    }
}
