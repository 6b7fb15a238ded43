//! The cache of verified tokens through `Verifier::verify_at`, against the local issuer's keys held in
//! memory (no network): a repeated token is answered from the cache with the same result, each time rule is
//! re-checked on a hit, refused tokens never enter, and the bounds on entries and bytes hold.

use descope_local::{IssuerConfig, LocalIssuer};
use m2m_auth::{
    AuthConfig, KeySource, MAX_VERIFIED_TOKEN_CACHE_BYTES, TokenCacheStats, VerifiedToken,
    Verifier, VerifyError,
};
use serde_json::{Value, json};
use std::sync::Arc;

const PROJECT: &str = "P2LocalDevProject";
const T0: i64 = 1_800_000_000;
const LEEWAY: f64 = 5.0;

struct Fixture {
    issuer: Arc<LocalIssuer>,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            issuer: LocalIssuer::new(IssuerConfig::dev()),
        }
    }

    fn verifier(&self, entries: usize) -> Verifier {
        let config = AuthConfig::descope(&self.issuer.base_url(), PROJECT);
        let keys = KeySource::Preloaded {
            jwks: self.issuer.public_jwks(),
            base_url: self.issuer.base_url(),
            project_id: PROJECT.to_owned(),
        };
        Verifier::new(&config, keys).with_token_cache_entries(entries)
    }

    /// A token of the issuer's current key with these claims on top of valid ones (`exp` = T0 + 600).
    fn token(&self, extra: Value) -> String {
        let mut claims = json!({
            "iss": self.issuer.issuer_url(), "sub": "K2LocalAdmin", "iat": T0, "exp": T0 + 600,
            "drn": "DS", "roles": ["admin"], "permissions": ["read:data"],
        });
        for (name, value) in extra.as_object().unwrap() {
            claims[name] = value.clone();
        }
        let header = json!({"alg": "RS256", "kid": self.issuer.current_kid(), "typ": "JWT"});
        self.issuer.sign_raw(&header, &claims)
    }
}

fn at(verifier: &Verifier, token: &str, now: f64) -> Result<Arc<VerifiedToken>, VerifyError> {
    verifier.verify_held_at(token, now)
}

fn same(a: &VerifiedToken, b: &VerifiedToken) -> bool {
    a.header == b.header
        && a.claims == b.claims
        && a.grants == b.grants
        && a.expires_at == b.expires_at
}

#[test]
fn a_repeated_token_is_answered_from_the_cache_with_the_same_result() {
    let fixture = Fixture::new();
    let verifier = fixture.verifier(16);
    let uncached = fixture.verifier(0);
    let token = fixture.token(json!({}));
    let now = (T0 + 10) as f64;

    let first = at(&verifier, &token, now).unwrap();
    let again = at(&verifier, &token, now).unwrap();
    assert!(
        Arc::ptr_eq(&first, &again),
        "the hit is the remembered answer"
    );
    assert!(same(&again, &at(&uncached, &token, now).unwrap()));
    assert!(again.grants.contains("admin"));
    let stats = verifier.cache_stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (1, 1, 1));
    assert!(
        stats.bytes > token.len() && stats.bytes < 64 * 1024,
        "{stats:?}"
    );

    // Turned off: nothing is remembered or counted, and every answer is still right.
    assert!(same(&at(&uncached, &token, now).unwrap(), &first));
    assert_eq!(
        uncached.cache_stats(),
        TokenCacheStats::default(),
        "a verifier with the cache off keeps nothing"
    );
}

#[test]
fn every_time_rule_is_checked_again_on_a_hit() {
    let fixture = Fixture::new();
    let verifier = fixture.verifier(16);
    let uncached = fixture.verifier(0);
    let exp = (T0 + 600) as f64;
    let token = fixture.token(json!({"nbf": T0}));
    at(&verifier, &token, (T0 + 1) as f64).unwrap();

    // `exp` with the leeway: accepted up to the last instant before exp + leeway, refused at it.
    for (now, accepted) in [
        (exp, true),
        (exp + LEEWAY - 0.001, true),
        (exp + LEEWAY, false),
        (exp + LEEWAY + 3600.0, false),
    ] {
        // The entry is dropped once the token is refused, so each instant starts from a warm cache.
        at(&verifier, &token, (T0 + 1) as f64).unwrap();
        let hits = verifier.cache_stats().hits;
        let cached = at(&verifier, &token, now);
        assert_eq!(verifier.cache_stats().hits, hits + u64::from(accepted));
        assert_eq!(cached.is_ok(), accepted, "at exp + {}", now - exp);
        assert_eq!(cached.err(), at(&uncached, &token, now).err());
    }
    assert_eq!(
        at(&verifier, &token, exp + LEEWAY).unwrap_err(),
        VerifyError::Expired
    );

    // `nbf` and `iat` likewise, asked about an instant before the one the token was verified at.
    let early = fixture.token(json!({"nbf": T0 + 100, "iat": T0 + 200}));
    at(&verifier, &early, (T0 + 300) as f64).unwrap();
    assert_eq!(
        at(&verifier, &early, T0 as f64 + 100.0 - LEEWAY - 1.0).unwrap_err(),
        VerifyError::NotYetValid
    );
    at(&verifier, &early, (T0 + 300) as f64).unwrap();
    assert_eq!(
        at(&verifier, &early, T0 as f64 + 200.0 - LEEWAY - 1.0).unwrap_err(),
        VerifyError::IssuedInFuture
    );
}

#[test]
fn refused_tokens_never_enter() {
    let fixture = Fixture::new();
    let verifier = fixture.verifier(16);
    let now = (T0 + 10) as f64;
    let valid = fixture.token(json!({}));
    let refused = [
        descope_local::corrupt_signature(&valid),
        fixture.token(json!({"exp": T0 - 60})),
        fixture.token(json!({"iss": "https://evil.example"})),
        fixture.token(json!({"drn": "DSR"})),
        fixture.token(json!({"aud": "someone-else"})),
        "not.a.token".to_owned(),
        "x".repeat(m2m_auth::MAX_TOKEN_BYTES + 1),
    ];
    for token in &refused {
        for _ in 0..3 {
            assert!(at(&verifier, token, now).is_err());
        }
    }
    let stats = verifier.cache_stats();
    assert_eq!(
        (stats.entries, stats.bytes, stats.hits),
        (0, 0, 0),
        "{stats:?}"
    );
}

#[test]
fn the_least_recently_used_entry_is_evicted_first() {
    let fixture = Fixture::new();
    let verifier = fixture.verifier(2);
    let now = (T0 + 10) as f64;
    let [a, b, c] = ["a", "b", "c"].map(|jti| fixture.token(json!({"jti": jti})));
    at(&verifier, &a, now).unwrap();
    at(&verifier, &b, now).unwrap();
    at(&verifier, &a, now).unwrap(); // a is now the most recently used
    at(&verifier, &c, now).unwrap(); // the cache is full: c is not taken in on its first check
    let stats = verifier.cache_stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.evictions, stats.entries),
        (1, 3, 0, 2)
    );
    at(&verifier, &b, now).unwrap();
    assert_eq!(verifier.cache_stats().hits, 2, "b stayed");
    at(&verifier, &a, now).unwrap(); // a is the most recently used again, b the least
    at(&verifier, &c, now).unwrap(); // c's second check: it is taken in, in place of b
    let stats = verifier.cache_stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.evictions, stats.entries),
        (3, 4, 1, 2)
    );
    at(&verifier, &a, now).unwrap();
    at(&verifier, &c, now).unwrap();
    assert_eq!(verifier.cache_stats().hits, 5, "a and c stayed");
    at(&verifier, &b, now).unwrap();
    assert_eq!(
        verifier.cache_stats().misses,
        5,
        "b was checked in full again"
    );
}

#[test]
fn tokens_presented_once_never_push_out_those_presented_again() {
    let fixture = Fixture::new();
    let verifier = fixture.verifier(8);
    let now = (T0 + 10) as f64;
    let kept: Vec<String> = (0..8).map(|n| fixture.token(json!({"jti": n}))).collect();
    for token in &kept {
        at(&verifier, token, now).unwrap();
    }
    // A flood of distinct valid tokens, each presented once, against a full cache.
    for n in 8..500 {
        at(&verifier, &fixture.token(json!({"jti": n})), now).unwrap();
    }
    let stats = verifier.cache_stats();
    assert_eq!((stats.evictions, stats.entries), (0, 8), "{stats:?}");
    for token in &kept {
        at(&verifier, token, now).unwrap();
    }
    assert_eq!(
        verifier.cache_stats().hits,
        8,
        "every token presented again stayed"
    );
}

#[test]
fn entries_are_bounded_in_bytes_whatever_their_number() {
    let fixture = Fixture::new();
    let verifier = fixture.verifier(100_000);
    let now = (T0 + 10) as f64;
    // Tokens near the 8 KiB cap whose claims decode to many small JSON values.
    let filler = vec![0u8; 2500];
    let first = fixture.token(json!({"jti": 0, "filler": filler}));
    assert!(first.len() < m2m_auth::MAX_TOKEN_BYTES, "{}", first.len());
    let mut tokens = vec![first];
    for jti in 1..150 {
        tokens.push(fixture.token(json!({"jti": jti, "filler": filler})));
    }
    // Each presented twice: once the bytes are full, a token is taken in on its second check.
    for token in &tokens {
        at(&verifier, token, now).unwrap();
        at(&verifier, token, now).unwrap();
    }
    let stats = verifier.cache_stats();
    assert!(stats.bytes <= MAX_VERIFIED_TOKEN_CACHE_BYTES, "{stats:?}");
    assert!(stats.evictions > 0 && stats.entries < 150, "{stats:?}");
    // What is left are the most recent.
    let hits = stats.hits;
    at(&verifier, tokens.last().unwrap(), now).unwrap();
    assert_eq!(verifier.cache_stats().hits, hits + 1);
}
