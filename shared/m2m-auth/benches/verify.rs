//! Verification cost next to the cryptographic floor, measured in the same run.
//!
//! The floor is what any RS256 verifier must do at least: `UnparsedPublicKey::verify` of aws-lc-rs (parse the
//! public key, RSA-2048 PKCS#1 v1.5 verify with SHA-256) on the token's own signing input and signature. The
//! floor is measured first and last; `bench/run.sh` divides every case by the mean of the two.
//!
//! The token is a realistic Descope session token (RS256, RSA-2048, ~650 bytes) minted by the local issuer,
//! whose key set the verifier fetched once over loopback before timing starts (a warm cache, as in a warm
//! Lambda container). Nothing in the timed loop touches the network.
//!
//! Three paths of a valid token: presented again (answered from the verified-token cache), new (every
//! iteration a token a full cache does not hold: a full check and the doorkeeper's fingerprint, which keeps
//! a token presented once out), and the same token with the cache turned off (the full check alone, as
//! before the cache).

#[path = "support/floor.rs"]
mod floor;
#[path = "support/tokens.rs"]
mod tokens;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use descope_local::{IssuerConfig, LocalIssuer};
use m2m_auth::{AuthConfig, Verifier, fetch::build_client};
use std::hint::black_box;
use std::time::Duration;

/// The clock read `Verifier::verify` makes, kept in the measured path.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

struct Fixture {
    verifier: Verifier,
    uncached: Verifier,
    token: String,
    new_tokens: Vec<String>,
    der: Vec<u8>,
}

/// Starts the local issuer on loopback in a background thread (it serves the JWKS once), mints a token and
/// warms the verifier's key cache.
fn fixture() -> Fixture {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let mut config = IssuerConfig::dev();
            // Long enough for any bench run; the token's shape does not depend on it.
            config.session_ttl = Duration::from_secs(24 * 3600);
            let issuer = LocalIssuer::new(config);
            let running = issuer
                .start("127.0.0.1:0".parse().unwrap())
                .await
                .expect("bind loopback");
            let token = issuer.mint("K2LocalAdmin", None, None).expect("dev key");
            let new_tokens = tokens::distinct_tokens(&issuer, &token, tokens::NEW_TOKENS);
            sender
                .send((
                    running.base_url(),
                    new_tokens,
                    issuer.current_public_key_der(),
                ))
                .unwrap();
            std::future::pending::<()>().await;
            drop(running);
        });
    });
    // The repeated token is one of the new tokens' kind (same size and claims), verified once more.
    let (base_url, new_tokens, der) = receiver.recv().unwrap();
    let token = new_tokens[0].clone();
    let config = AuthConfig::from_lookup(|name| match name {
        "DESCOPE_BASE_URL" => Some(base_url.clone()),
        "DESCOPE_PROJECT_ID" => Some("P2LocalDevProject".into()),
        "JWKS_CACHE_SECONDS" => Some("86400".into()),
        _ => None,
    })
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let warm = |entries: usize| {
        runtime.block_on(async {
            let verifier = Verifier::from_config(&config, build_client(Duration::from_secs(5)))
                .unwrap()
                .with_token_cache_entries(entries);
            verifier
                .verify(&token)
                .await
                .expect("the minted token verifies");
            assert_eq!(verifier.keys().fetch_count(), 1);
            verifier
        })
    };
    Fixture {
        verifier: warm(m2m_auth::DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES),
        uncached: warm(0),
        token,
        new_tokens,
        der,
    }
}

fn benches(c: &mut Criterion) {
    let Fixture {
        verifier,
        uncached,
        token,
        new_tokens,
        der,
    } = fixture();
    let mut floor = floor::floor(&der, &token);
    let forged = descope_local::corrupt_signature(&token);
    // Random printable bytes of a token's length: never three base64url parts.
    let garbage: String = (0..token.len())
        .map(|i| (b'!' + ((i * 7919) % 90) as u8) as char)
        .collect();
    // Three parts of the right alphabet, but the header is not JSON: refused before the key is looked up.
    let bad_header = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(b"{\"alg\":\"RS256\",kid}"),
        token.split_once('.').unwrap().1
    );

    let mut group = c.benchmark_group("auth");
    group.bench_function("floor_first", &mut floor);
    group.bench_function("verify_grants_repeated", |b| {
        b.iter(|| {
            verifier
                .verify_held_at(black_box(&token), unix_now())
                .unwrap()
        })
    });
    // Kept across criterion's calls of the closure (one per sample): restarting at the first token each time
    // would present the same few tokens again, which the cache then holds.
    let next = std::cell::Cell::new(0);
    group.bench_function("verify_grants_new", |b| {
        b.iter(|| {
            next.set((next.get() + 1) % new_tokens.len());
            verifier
                .verify_held_at(black_box(&new_tokens[next.get()]), unix_now())
                .unwrap()
        })
    });
    group.bench_function("verify_grants_no_cache", |b| {
        b.iter(|| {
            uncached
                .verify_held_at(black_box(&token), unix_now())
                .unwrap()
        })
    });
    group.bench_function("refused_bad_signature", |b| {
        b.iter(|| {
            verifier
                .verify_held_at(black_box(&forged), unix_now())
                .unwrap_err()
        })
    });
    group.bench_function("refused_garbage", |b| {
        b.iter(|| {
            verifier
                .verify_held_at(black_box(&garbage), unix_now())
                .unwrap_err()
        })
    });
    group.bench_function("refused_bad_header", |b| {
        b.iter(|| {
            verifier
                .verify_held_at(black_box(&bad_header), unix_now())
                .unwrap_err()
        })
    });
    group.bench_function("floor_last", &mut floor);
    group.finish();
    let stats = verifier.cache_stats();
    assert!(stats.evictions > 0 && stats.hits > 0, "{stats:?}");
    println!(
        "token bytes: {}; verified-token cache: {stats:?}",
        token.len()
    );
}

criterion_group!(auth, benches);
criterion_main!(auth);
