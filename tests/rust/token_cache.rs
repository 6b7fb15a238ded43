//! The verified-token cache through the real handlers and the local issuer: a token whose key leaves the
//! published key set is refused on its next use, a refresh that re-publishes the same key re-checks the
//! token in full, many concurrent requests for one new token check its signature only a few times, and a
//! flood of distinct valid tokens keeps the cache and the process's memory bounded.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use m2m_api::{PROTECTED, USER};
use m2m_auth::{
    AuthConfig, DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES, KeySource, MAX_VERIFIED_TOKEN_CACHE_BYTES,
    Verifier, parse_algorithm,
};
use m2m_tests::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Rotates the issuer's signing key until the key that signed `old_kid`'s tokens is no longer published.
fn rotate_until_unpublished(issuer: &descope_local::RunningIssuer, old_kid: &str) -> String {
    let mut kid = old_kid.to_owned();
    while issuer.issuer().public_jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|key| key["kid"] == old_kid)
    {
        kid = issuer.issuer().rotate_signing_key();
    }
    kid
}

#[tokio::test]
async fn a_token_is_refused_on_its_next_use_once_its_key_leaves_the_key_set() {
    let issuer = start_issuer().await;
    let api = protected_api(&issuer, USER, &[]);
    let old_kid = issuer.issuer().current_kid();
    let old = signed(&issuer, json!({}), json!({"permissions": ["read:data"]}));
    for _ in 0..3 {
        assert_eq!(call(&api, bearer("/api/user", &old)).await.status, 200);
    }
    assert_eq!(api.verifier().cache_stats().hits, 2);

    // A token of the newest key makes the function refresh; the new set no longer holds the old key.
    rotate_until_unpublished(&issuer, &old_kid);
    let new = signed(&issuer, json!({}), json!({"permissions": ["read:data"]}));
    assert_eq!(call(&api, bearer("/api/user", &new)).await.status, 200);
    assert_eq!(api.verifier().keys().fetch_count(), 2);

    let refused = call(&api, bearer("/api/user", &old)).await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.error(),
        "JWT verification failed: no signing key matches the token's 'kid'"
    );
    // Its entry is gone: the next use is refused the same way, and nothing of it is answered again.
    let hits = api.verifier().cache_stats().hits;
    assert_eq!(call(&api, bearer("/api/user", &old)).await.status, 401);
    assert_eq!(api.verifier().cache_stats().hits, hits);
    assert_eq!(call(&api, bearer("/api/user", &new)).await.status, 200);
}

#[tokio::test]
async fn an_expired_key_set_is_refreshed_by_a_hit_and_its_keys_are_checked_anew() {
    let issuer = start_issuer().await;
    let api = protected_api(&issuer, PROTECTED, &[("JWKS_CACHE_SECONDS", "1")]);
    let old_kid = issuer.issuer().current_kid();
    let token = signed(&issuer, json!({}), json!({}));
    assert_eq!(call(&api, bearer("/a", &token)).await.status, 200);
    assert_eq!(call(&api, bearer("/a", &token)).await.status, 200);
    let stats = api.verifier().cache_stats();
    assert_eq!((stats.hits, stats.misses), (1, 1));

    // The key set is refreshed (same key, parsed again): the entry was tied to the old parsed key, so the
    // token is checked in full once more, then answered from the cache again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(call(&api, bearer("/a", &token)).await.status, 200);
    assert_eq!(api.verifier().keys().fetch_count(), 2);
    assert_eq!(api.verifier().cache_stats().misses, 2);
    assert_eq!(call(&api, bearer("/a", &token)).await.status, 200);
    assert_eq!(api.verifier().cache_stats().hits, 2);

    // The key leaves the set: the hit itself refreshes the expired set and refuses the token.
    rotate_until_unpublished(&issuer, &old_kid);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refused = call(&api, bearer("/a", &token)).await;
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    assert_eq!(api.verifier().keys().fetch_count(), 3);
    assert_eq!(api.verifier().cache_stats().entries, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_for_one_new_token_check_it_a_few_times_and_agree() {
    const REQUESTS: u64 = 200;
    let issuer = start_issuer().await;
    // A cold function: the first requests also wait together for the key set.
    let api = Arc::new(protected_api(&issuer, USER, &[]));
    let token = signed(
        &issuer,
        json!({}),
        json!({"permissions": ["read:data"], "sub": "K2Concurrent"}),
    );
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|_| {
            let api = api.clone();
            let token = token.clone();
            tokio::spawn(async move { call(&*api, bearer("/api/user", &token)).await })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    assert!(replies.iter().all(|reply| reply.status == 200));
    assert!(
        replies.iter().all(|reply| reply.body == replies[0].body),
        "every request got the same claims"
    );
    assert_eq!(replies[0].body["claims"]["sub"], "K2Concurrent");
    let stats = api.verifier().cache_stats();
    println!("{REQUESTS} concurrent requests for one new token: {stats:?}");
    assert_eq!(api.verifier().keys().fetch_count(), 1);
    assert!(
        (1..=8).contains(&stats.misses),
        "the signature was checked {} times",
        stats.misses
    );
    assert_eq!(stats.hits + stats.misses, REQUESTS);
    assert_eq!(stats.entries, 1);
}

/// `VmRSS` of this process, in KiB.
fn rss_kb() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .expect("VmRSS in /proc/self/status")
}

#[test]
fn a_flood_of_distinct_valid_tokens_keeps_the_cache_and_memory_bounded() {
    // It reads the process's RSS, which the other tests' allocations (on their own threads) would move.
    in_a_process_of_its_own();
    const FLOOD: usize = 100_000;
    const BASE_URL: &str = "http://127.0.0.1:0";
    // Ed25519 signs fast enough to mint a hundred thousand tokens in a test; the cache does not care which
    // algorithm verified a token.
    let key = Ed25519KeyPair::generate().unwrap();
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "flood",
                                "x": b64(key.public_key().as_ref())}]});
    let mut config = AuthConfig::descope(BASE_URL, PROJECT);
    config.algorithms = vec![parse_algorithm("EdDSA").unwrap()];
    let verifier = Verifier::new(
        &config,
        KeySource::Preloaded {
            jwks,
            base_url: BASE_URL.to_owned(),
            project_id: PROJECT.to_owned(),
        },
    );
    let header = b64(json!({"alg": "EdDSA", "kid": "flood", "typ": "JWT"}).to_string());
    let t0 = now();
    let token = |n: usize| {
        // Shaped like a Descope session token: roles, permissions, tenants.
        let claims = json!({
            "iss": format!("{BASE_URL}/v1/apps/{PROJECT}"), "sub": format!("K2Flood{n}"), "iat": t0,
            "exp": t0 + 600, "drn": "DS", "roles": ["user"], "permissions": ["read:data", "write:data"],
            "tenants": {"T2Acme": {"roles": ["admin"], "permissions": ["read:data"]}},
        });
        let input = format!("{header}.{}", b64(claims.to_string()));
        let signature = key.sign(input.as_bytes());
        format!("{input}.{}", b64(signature.as_ref()))
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let verify = |n: usize| {
        let verified = runtime
            .block_on(verifier.verify_at(&token(n), (t0 + 1) as f64))
            .unwrap();
        assert!(verified.grants.contains("write:data"));
    };
    verify(0);
    // From an empty cache (one token verified, so that lazily built state is there): the growth includes
    // filling the cache.
    let before = rss_kb();
    let mut full = 0;
    for n in 1..=FLOOD {
        verify(n);
        if n == FLOOD / 10 {
            full = rss_kb();
        }
    }
    let after = rss_kb();
    let stats = verifier.cache_stats();
    println!(
        "flood of {FLOOD} distinct valid tokens: VmRSS {before} KiB, {full} KiB after {}, {after} KiB \
         after all; cache {stats:?}",
        FLOOD / 10
    );
    assert_eq!(stats.entries, DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES);
    assert!(stats.bytes <= MAX_VERIFIED_TOKEN_CACHE_BYTES);
    // Once full, a token presented once is not taken in: the flood evicts nothing.
    assert_eq!(stats.evictions, 0);
    assert_eq!(stats.hits, 0);
    verify(0);
    assert_eq!(
        verifier.cache_stats().hits,
        1,
        "the first token is still remembered"
    );
    assert!(
        after - before < 10 * 1024,
        "VmRSS grew by {} KiB",
        after - before
    );
    // Flat once the cache is full: the last 90,000 tokens add (almost) nothing.
    assert!(
        after - full < 2 * 1024,
        "VmRSS grew by {} KiB with a full cache",
        after - full
    );
}

#[tokio::test]
async fn a_token_answered_from_the_cache_echoes_the_claims_it_was_verified_with() {
    let issuer = start_issuer().await;
    let api = protected_api(&issuer, USER, &[]);
    let note = "\"quoted\" \\ é \u{1} \u{2028} </script>";
    let token = signed(
        &issuer,
        json!({}),
        json!({"permissions": ["read:data"], "note": note, "ratio": 0.125, "big": 1e300}),
    );
    let payload: serde_json::Value =
        serde_json::from_slice(&unb64(token.split('.').nth(1).unwrap())).unwrap();
    let first = call(&api, bearer("/api/user", &token)).await;
    let again = call(&api, bearer("/api/user", &token)).await;
    assert_eq!(api.verifier().cache_stats().hits, 1);
    assert_eq!(first.status, 200);
    assert_eq!(first.body, again.body);
    assert_eq!(first.body["claims"], payload);
    assert_eq!(first.body["claims"]["note"], note);

    // The kept text is the claims': a clone whose claims change answers its own.
    let verified = api.verifier().verify(&token).await.unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&verified.claims_json()).unwrap(),
        payload
    );
    let mut changed = (*verified).clone();
    changed.claims.insert("note".into(), json!("changed"));
    let text: serde_json::Value = serde_json::from_str(&changed.claims_json()).unwrap();
    assert_eq!(text["note"], "changed");
}
