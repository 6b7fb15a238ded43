//! Load and memory, in-process: 10,000 requests at 256 concurrency on a protected handler with no error and
//! flat memory across a second identical round; floods of made-up kids and random tokens that leave the key
//! cache as it was; and the token function's per-project verifier cache, which stays bounded.
//!
//! The two tests that read the process's memory need a process of their own (cargo-nextest's, checked by
//! `in_a_process_of_its_own`): the other tests of the binary would move its figures.

use m2m_api::{PROTECTED, USER};
use m2m_tests::*;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

const REQUESTS: usize = 10_000;
const CONCURRENCY: usize = 256;
const MEMORY_GROWTH_LIMIT_KB: i64 = 8 * 1024;

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn memory_kb() -> (i64, i64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<i64>().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/self/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Sends `tokens` round-robin, `REQUESTS` times, at most `CONCURRENCY` at once; returns the statuses that
/// were not `expected` and the time taken.
async fn round(
    api: &Arc<m2m_api::ProtectedApi>,
    tokens: &Arc<Vec<String>>,
    expected: u16,
) -> (Vec<u16>, Duration) {
    let started = Instant::now();
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let unexpected = Arc::new(std::sync::Mutex::new(Vec::new()));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(CONCURRENCY);
    for i in 0..REQUESTS {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let (api, tokens, unexpected, in_flight, peak) = (
            api.clone(),
            tokens.clone(),
            unexpected.clone(),
            in_flight.clone(),
            peak.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let token = &tokens[i % tokens.len()];
            let status = api
                .handle(bearer("/api/user", token))
                .await
                .status()
                .as_u16();
            if status != expected {
                unexpected.lock().unwrap().push(status);
            }
            in_flight.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
        }));
        tasks.retain(|task| !task.is_finished());
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert!(peak.load(Ordering::SeqCst) <= CONCURRENCY);
    let unexpected = std::mem::take(&mut *unexpected.lock().unwrap());
    (unexpected, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_requests_at_256_concurrency_fail_none_and_memory_stays_flat() {
    in_a_process_of_its_own();
    let issuer = start_issuer().await;
    let api = Arc::new(protected_api(&issuer, USER, &[]));
    let tokens: Vec<String> = (0..16)
        .map(|i| {
            signed(
                &issuer,
                json!({}),
                json!({"sub": format!("K2Load{i}"), "permissions": ["read:data"]}),
            )
        })
        .collect();
    let tokens = Arc::new(tokens);

    let (failures, first) = round(&api, &tokens, 200).await;
    assert!(
        failures.is_empty(),
        "{} of {REQUESTS} requests failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    let (rss_after_first, hwm_after_first) = memory_kb();
    let (failures, second) = round(&api, &tokens, 200).await;
    assert!(
        failures.is_empty(),
        "{} of {REQUESTS} requests failed in the second round",
        failures.len()
    );
    let (rss_after_second, hwm_after_second) = memory_kb();
    println!(
        "{REQUESTS} requests at {CONCURRENCY} concurrency: {first:?}, then {second:?} ({:.0} and {:.0} requests/s); \
         VmRSS {rss_after_first} -> {rss_after_second} KiB, VmHWM {hwm_after_first} -> {hwm_after_second} KiB",
        REQUESTS as f64 / first.as_secs_f64(),
        REQUESTS as f64 / second.as_secs_f64(),
    );
    assert!(
        rss_after_second - rss_after_first < MEMORY_GROWTH_LIMIT_KB,
        "VmRSS grew by {} KiB over an identical round",
        rss_after_second - rss_after_first
    );
    assert!(
        hwm_after_second - hwm_after_first < MEMORY_GROWTH_LIMIT_KB,
        "VmHWM grew by {} KiB over an identical round",
        hwm_after_second - hwm_after_first
    );
    assert_eq!(
        issuer.issuer().request_count(IssuerEndpoint::Keys),
        1,
        "the keys were fetched once"
    );
    assert_eq!(api.verifier().keys().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_of_made_up_kids_and_random_tokens_grow_no_cache() {
    in_a_process_of_its_own();
    let issuer = start_issuer().await;
    let api = Arc::new(protected_api(&issuer, PROTECTED, &[]));
    let good = signed(&issuer, json!({}), json!({}));
    assert_eq!(call(&*api, bearer("/a", &good)).await.status, 200);
    let payload = b64(claims(&issuer, json!({})).to_string());

    // 10,000 distinct made-up kids (rejected before any signature check, so no need to sign them).
    let random_kids: Vec<String> = (0..REQUESTS)
        .map(|i| {
            let header = b64(json!({"alg": "RS256", "kid": format!("flood-{i}-{}", random_hex(8)), "typ": "JWT"}).to_string());
            format!("{header}.{payload}.{}", b64(random_bytes(256)))
        })
        .collect();
    let rss_before = memory_kb().0;
    let (unexpected, elapsed) = round(&api, &Arc::new(random_kids), 401).await;
    assert!(
        unexpected.is_empty(),
        "{:?}",
        &unexpected[..unexpected.len().min(10)]
    );
    assert_eq!(api.verifier().keys().len(), 1, "made-up kids became keys");
    assert!(
        issuer.issuer().request_count(IssuerEndpoint::Keys) <= 2,
        "the flood cost more than one refresh"
    );

    // 10,000 random tokens: random bytes in three base64url parts, and random printable strings.
    let random_tokens: Vec<String> = (0..REQUESTS)
        .map(|i| {
            if i % 2 == 0 {
                format!(
                    "{}.{}.{}",
                    b64(random_bytes(20)),
                    b64(random_bytes(200)),
                    b64(random_bytes(64))
                )
            } else {
                random_hex(1 + i % 300)
            }
        })
        .collect();
    let (unexpected, elapsed_random) = round(&api, &Arc::new(random_tokens), 401).await;
    assert!(
        unexpected.is_empty(),
        "{:?}",
        &unexpected[..unexpected.len().min(10)]
    );
    assert_eq!(api.verifier().keys().len(), 1);
    assert!(issuer.issuer().request_count(IssuerEndpoint::Keys) <= 2);
    let rss_after = memory_kb().0;
    println!(
        "kid flood {elapsed:?}, random tokens {elapsed_random:?}; VmRSS {rss_before} -> {rss_after} KiB"
    );
    assert!(
        rss_after - rss_before < MEMORY_GROWTH_LIMIT_KB,
        "VmRSS grew by {} KiB",
        rss_after - rss_before
    );
    // The genuine token still works.
    assert_eq!(call(&*api, bearer("/a", &good)).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_functions_verifier_cache_stays_bounded() {
    let issuer = start_issuer().await;
    let api = token_api(&issuer, &[]);
    // 100 projects the issuer does not know: refused at the exchange, so nothing is kept for them.
    for i in 0..100 {
        let reply = exchange(
            &api,
            json!({"projectId": format!("P2Unknown{i}"), "accessKey": "dev-reader-key"}),
        )
        .await;
        assert_eq!(reply.status, 401, "{}", reply.body);
    }
    assert_eq!(api.cached_verifiers(), 0);
    // 100 projects whose exchange "succeeds" (the issuer answers with a token whatever the project): each
    // gets a verifier, whose keys cannot be fetched (the issuer knows no such project); at most 16 are kept.
    let jwt = signed(&issuer, json!({}), json!({}));
    let answer = json!({"sessionJwt": jwt, "keyId": "K2LocalReader", "projectId": PROJECT, "expiration": now() + 600});
    issuer.issuer().set_fault(
        IssuerEndpoint::Exchange,
        Some(Fault::Body {
            status: 200,
            content_type: "application/json".into(),
            body: answer.to_string().into_bytes(),
        }),
    );
    for i in 0..100 {
        let reply = exchange(
            &api,
            json!({"projectId": format!("P2Other{i}"), "accessKey": "dev-reader-key"}),
        )
        .await;
        assert_eq!(reply.status, 502, "{}", reply.body);
        assert!(
            api.cached_verifiers() <= 16,
            "{} verifiers after {} projects",
            api.cached_verifiers(),
            i + 1
        );
    }
    assert_eq!(api.cached_verifiers(), 16);
    // The configured project still works, and counts as one of the 16.
    issuer.issuer().set_fault(IssuerEndpoint::Exchange, None);
    let reply = exchange(&api, json!({"accessKey": "dev-reader-key"})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(api.cached_verifiers(), 16);
}

fn random_bytes(n: usize) -> Vec<u8> {
    use aws_lc_rs::rand::SecureRandom;
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .unwrap();
    bytes
}

fn random_hex(n: usize) -> String {
    random_bytes(n.div_ceil(2))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..n]
        .to_owned()
}
