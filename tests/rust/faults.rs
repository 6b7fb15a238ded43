//! Faults of the dependencies (the JWKS endpoint and the issuer's exchange), beyond what keys.rs and
//! exchange.rs already cover: a slow key endpoint cut off by the fetch timeout, an endpoint that goes down
//! for real (closed port) with stale and unknown keys, redirects to someone else's keys, 10 MB bodies with
//! and without a length, odd but valid documents, duplicate kids, weak and malformed keys, rotation under
//! 1,000 concurrent requests, and an issuer that is slow, rate-limited or hands out tokens that must fail.

use m2m_api::{PROTECTED, USER};
use m2m_tests::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn json_body(value: &Value) -> Fault {
    Fault::Body {
        status: 200,
        content_type: "application/json".into(),
        body: value.to_string().into_bytes(),
    }
}

// ---- the JWKS endpoint -----------------------------------------------------------------------------------

#[tokio::test]
async fn a_slow_key_endpoint_is_cut_off_by_the_fetch_timeout() {
    let issuer = start_issuer().await;
    issuer.issuer().set_fault(
        IssuerEndpoint::Keys,
        Some(Fault::Delay(Duration::from_secs(5))),
    );
    let api = protected_api(&issuer, PROTECTED, &[]);
    let token = signed(&issuer, json!({}), json!({}));
    let started = Instant::now();
    let reply = call(&api, bearer("/api/protected", &token)).await;
    let elapsed = started.elapsed();
    assert_eq!(
        (reply.status, reply.error()),
        (503, "Signing keys unavailable")
    );
    assert!(reply.header("retry-after").parse::<u64>().unwrap() >= 1);
    assert!(
        elapsed >= Duration::from_millis(2900),
        "answered before the timeout: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(3500),
        "the 3 s fetch timeout was not honoured: {elapsed:?}"
    );
    // The failure is remembered: the next request does not wait another 3 s.
    let started = Instant::now();
    assert_eq!(
        call(&api, bearer("/api/protected", &token)).await.status,
        503
    );
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(issuer.issuer().request_count(IssuerEndpoint::Keys), 1);
}

#[tokio::test]
async fn a_delay_under_the_timeout_is_waited_for() {
    let issuer = start_issuer().await;
    issuer.issuer().set_fault(
        IssuerEndpoint::Keys,
        Some(Fault::Delay(Duration::from_millis(1500))),
    );
    let api = protected_api(&issuer, PROTECTED, &[]);
    let reply = call(&api, bearer("/a", &signed(&issuer, json!({}), json!({})))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn a_key_endpoint_that_goes_down_keeps_the_cached_keys_even_when_stale() {
    let issuer = start_issuer().await;
    // Keys are trusted for 1 s, so the next request after that tries (and fails) to refresh them.
    let api = protected_api(&issuer, PROTECTED, &[("JWKS_CACHE_SECONDS", "1")]);
    let token = signed(&issuer, json!({}), json!({}));
    let unknown = signed(&issuer, json!({"kid": "rotated-while-down"}), json!({}));
    assert_eq!(call(&api, bearer("/a", &token)).await.status, 200);
    issuer.shutdown().await; // connection refused from now on
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let reply = call(&api, bearer("/a", &token)).await;
    assert_eq!(
        reply.status, 200,
        "a failed refresh keeps serving the cached keys: {}",
        reply.body
    );
    assert_eq!(api.verifier().keys().fetch_count(), 2);
    let reply = call(&api, bearer("/a", &unknown)).await;
    assert_eq!(
        (reply.status, reply.error()),
        (503, "Signing keys unavailable")
    );
    let retry_after: u64 = reply.header("retry-after").parse().unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert!(
        reply.header("www-authenticate").is_empty(),
        "a 503 is not the token's fault"
    );
    // Within the back-off nothing is fetched again, and the cached key still works.
    assert_eq!(call(&api, bearer("/a", &token)).await.status, 200);
    assert_eq!(call(&api, bearer("/a", &unknown)).await.status, 503);
    assert_eq!(api.verifier().keys().fetch_count(), 2);
}

#[tokio::test]
async fn a_closed_port_at_cold_start_is_503_with_retry_after() {
    let issuer = start_issuer().await;
    let token = signed(&issuer, json!({}), json!({}));
    let api = protected_api(
        &issuer,
        PROTECTED,
        &[("DESCOPE_BASE_URL", "http://127.0.0.1:9")],
    );
    let started = Instant::now();
    let reply = call(&api, bearer("/a", &token)).await;
    assert_eq!(
        (reply.status, reply.error()),
        (503, "Signing keys unavailable")
    );
    assert!(reply.header("retry-after").parse::<u64>().unwrap() >= 1);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_redirect_to_someone_elses_keys_is_not_followed() {
    let issuer = start_issuer().await;
    let attacker = start_issuer().await;
    issuer.issuer().set_fault(
        IssuerEndpoint::Keys,
        Some(Fault::Redirect(format!(
            "{}/v2/keys/{PROJECT}",
            attacker.base_url()
        ))),
    );
    let api = protected_api(&issuer, PROTECTED, &[]);
    // Signed by the attacker's key, with the trusted issuer's claims.
    let forged = attacker.issuer().sign_raw(
        &header(&attacker, json!({})),
        &claims(&issuer, json!({"roles": ["admin"]})),
    );
    let reply = call(&api, bearer("/a", &forged)).await;
    assert_eq!(reply.status, 503);
    assert_eq!(
        attacker.issuer().request_count(IssuerEndpoint::Keys),
        0,
        "the redirect was followed"
    );
}

/// A local HTTP/1.1 server that answers every request with a 200 chunked body of `size` bytes (no
/// Content-Length, so only a cap on what is read protects the reader). Returns its base URL and the bytes
/// it managed to write.
async fn endless_body_server(
    size: usize,
    content_type: &'static str,
) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n"
                );
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 * 1024];
                let mut sent = 0;
                while sent < size {
                    let frame =
                        [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
                    if socket.write_all(&frame).await.is_err() {
                        return;
                    }
                    sent += chunk.len();
                    counter.fetch_add(chunk.len(), Ordering::Relaxed);
                }
                let _ = socket.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    (base_url, written)
}

#[tokio::test]
async fn ten_megabyte_key_sets_are_refused_with_or_without_a_length() {
    let issuer = start_issuer().await;
    let token = signed(&issuer, json!({}), json!({}));
    // With a Content-Length: refused before reading.
    let ten_mb = Fault::Body {
        status: 200,
        content_type: "application/json".into(),
        body: vec![b' '; 10 << 20],
    };
    issuer
        .issuer()
        .set_fault(IssuerEndpoint::Keys, Some(ten_mb));
    let api = protected_api(&issuer, PROTECTED, &[]);
    let started = Instant::now();
    assert_eq!(call(&api, bearer("/a", &token)).await.status, 503);
    assert!(started.elapsed() < Duration::from_secs(3));
    // Chunked, no length: reading stops at the cap (150,000 bytes).
    let (base_url, written) = endless_body_server(10 << 20, "application/json").await;
    let api = protected_api(&issuer, PROTECTED, &[("DESCOPE_BASE_URL", &base_url)]);
    let started = Instant::now();
    let reply = call(&api, bearer("/a", &token)).await;
    assert_eq!(reply.status, 503);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        written.load(Ordering::Relaxed) < 10 << 20,
        "the whole body was read"
    );
}

#[tokio::test]
async fn odd_but_valid_key_documents_are_read_and_broken_ones_are_not() {
    let issuer = start_issuer().await;
    let token = signed(&issuer, json!({}), json!({}));
    let jwks = issuer.issuer().public_jwks();
    let good = jwks["keys"][0].clone();
    let cases: Vec<(&str, Fault, u16)> = vec![
        // RFC 7517 section 8.5.1: the JWK Set media type.
        (
            "application/jwk-set+json",
            Fault::Body {
                status: 200,
                content_type: "application/jwk-set+json".into(),
                body: jwks.to_string().into_bytes(),
            },
            200,
        ),
        (
            "json with charset",
            Fault::Body {
                status: 200,
                content_type: "application/json; charset=utf-8".into(),
                body: jwks.to_string().into_bytes(),
            },
            200,
        ),
        (
            "extra members",
            json_body(&json!({"keys": [good], "next": "x", "meta": {"a": 1}})),
            200,
        ),
        (
            "html sent as json",
            Fault::Body {
                status: 200,
                content_type: "application/json".into(),
                body: b"<html>maintenance</html>".to_vec(),
            },
            503,
        ),
        ("top-level array", json_body(&json!([good])), 503),
        (
            "keys is an object",
            json_body(&json!({"keys": {"0": good}})),
            503,
        ),
        ("keys is empty", json_body(&json!({"keys": []})), 503),
        (
            "204 no content",
            Fault::Body {
                status: 204,
                content_type: "application/json".into(),
                body: vec![],
            },
            503,
        ),
        (
            "200 with an empty body",
            Fault::Body {
                status: 200,
                content_type: "application/json".into(),
                body: vec![],
            },
            503,
        ),
        ("a 404", Fault::Status(404), 503),
        ("a 503", Fault::Status(503), 503),
        (
            "truncated json",
            Fault::Body {
                status: 200,
                content_type: "application/json".into(),
                body: jwks.to_string().as_bytes()[..40].to_vec(),
            },
            503,
        ),
    ];
    for (name, fault, status) in cases {
        issuer.issuer().set_fault(IssuerEndpoint::Keys, Some(fault));
        let api = protected_api(&issuer, PROTECTED, &[]);
        let reply = call(&api, bearer("/a", &token)).await;
        assert_eq!(reply.status, status, "{name}: {}", reply.body);
        if status == 503 {
            // A key set with no usable key is a failed fetch: the back-off applies, nothing is refetched.
            assert_eq!(call(&api, bearer("/a", &token)).await.status, 503, "{name}");
            assert_eq!(api.verifier().keys().fetch_count(), 1, "{name}");
        }
    }
}

#[tokio::test]
async fn cached_keys_stop_being_trusted_after_the_maximum_staleness() {
    let issuer = start_issuer().await;
    // Fresh for 1 s, trusted for 2 s in all while every refresh fails.
    let api = protected_api(
        &issuer,
        PROTECTED,
        &[("JWKS_CACHE_SECONDS", "1"), ("JWKS_MAX_STALE_SECONDS", "2")],
    );
    let token = signed(&issuer, json!({}), json!({}));
    assert_eq!(call(&api, bearer("/a", &token)).await.status, 200);
    issuer.shutdown().await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Stale, the refresh fails: still trusted (within 2 s of the last good fetch).
    let reply = call(&api, bearer("/a", &token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // Past the maximum staleness: a key that may have been revoked is no longer accepted.
    let reply = call(&api, bearer("/a", &token)).await;
    assert_eq!(
        (reply.status, reply.error()),
        (503, "Signing keys unavailable"),
        "{}",
        reply.body
    );
    assert!(reply.header("retry-after").parse::<u64>().unwrap() >= 1);
}

#[tokio::test]
async fn duplicate_kids_are_ignored_unless_only_one_is_usable() {
    let issuer = start_issuer().await;
    let first = issuer.issuer().public_jwks()["keys"][0].clone();
    let kid = first["kid"].as_str().unwrap().to_owned();
    let old_token = signed(&issuer, json!({}), json!({}));
    issuer.issuer().rotate_signing_key();
    let mut second = issuer.issuer().public_jwks()["keys"][0].clone();
    second["kid"] = json!(kid); // a different key under the same kid
    let new_token = signed(&issuer, json!({"kid": kid}), json!({}));
    let mut encryption = second.clone();
    encryption["use"] = json!("enc");
    for (name, keys, statuses) in [
        (
            "two usable keys, one kid",
            json!([first, second]),
            [503, 503],
        ),
        ("three copies", json!([first, first, first]), [503, 503]),
        // RFC 7517 section 4.5: one kid may name keys of different uses; the encryption key is ignored
        // first, so the one signing key stands alone.
        (
            "a signing and an encryption key",
            json!([encryption, first]),
            [200, 401],
        ),
    ] {
        issuer.issuer().set_fault(
            IssuerEndpoint::Keys,
            Some(json_body(&json!({"keys": keys}))),
        );
        let api = protected_api(&issuer, PROTECTED, &[]);
        for (token, status) in [&old_token, &new_token].into_iter().zip(statuses) {
            let reply = call(&api, bearer("/a", token)).await;
            assert_eq!(reply.status, status, "{name}: {}", reply.body);
        }
    }
}

#[tokio::test]
async fn weak_and_malformed_keys_are_ignored() {
    let issuer = start_issuer().await;
    let token = signed(&issuer, json!({}), json!({}));
    let good = issuer.issuer().public_jwks()["keys"][0].clone();
    let with = |changes: Value| {
        let mut key = good.clone();
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                key.as_object_mut().unwrap().remove(name);
            } else {
                key[name] = value.clone();
            }
        }
        key
    };
    let n = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        good["n"].as_str().unwrap(),
    )
    .unwrap();
    let mut n_2047 = vec![0x7F];
    n_2047.extend(std::iter::repeat_n(0xFF, 255));
    let mut n_8200 = vec![0xC3];
    n_8200.extend(std::iter::repeat_n(0xC3, 1025));
    let mut n_leading_zero = vec![0];
    n_leading_zero.extend(&n);
    let mut n_even = n.clone();
    *n_even.last_mut().unwrap() &= 0xFE;
    let p256_point = |x: u8| json!({"kty": "EC", "crv": "P-256", "kid": good["kid"], "x": b64([x; 32]), "y": b64([x; 32])});
    type WeakKeyCase<'a> = (&'a str, Value, &'a [(&'a str, &'a str)], u16);
    let cases: Vec<WeakKeyCase> = vec![
        ("RSA 2047 bits", with(json!({"n": b64(&n_2047)})), &[], 503),
        ("RSA 8200 bits", with(json!({"n": b64(&n_8200)})), &[], 503),
        ("e = 1", with(json!({"e": "AQ"})), &[], 503),
        (
            "RSA modulus even",
            with(json!({"n": b64(&n_even)})),
            &[],
            503,
        ),
        (
            "e = 65537 with leading zeros",
            with(json!({"e": "AAEAAQ"})),
            &[],
            200,
        ),
        (
            "n with a leading zero byte",
            with(json!({"n": b64(&n_leading_zero)})),
            &[],
            200,
        ),
        (
            "declared alg HS256",
            with(json!({"alg": "HS256"})),
            &[],
            503,
        ),
        ("declared alg none", with(json!({"alg": "none"})), &[], 503),
        (
            "declared alg not a string",
            with(json!({"alg": 256})),
            &[],
            503,
        ),
        ("no kty", with(json!({"kty": null})), &[], 503),
        ("kty lowercase", with(json!({"kty": "rsa"})), &[], 503),
        ("use with a space", with(json!({"use": "sig "})), &[], 503),
        ("no kid", with(json!({"kid": null})), &[], 503),
        ("n not base64url", with(json!({"n": "+/+/"})), &[], 503),
        // An empty modulus once underflowed the bit count (a panic in debug builds).
        ("n empty", with(json!({"n": ""})), &[], 503),
        (
            "n all zero bytes",
            with(json!({"n": b64([0u8; 256])})),
            &[],
            503,
        ),
        (
            "EC point not on the curve",
            p256_point(1),
            &[("JWT_ALGORITHMS", "ES256")],
            503,
        ),
        (
            "EC point of zeros",
            p256_point(0),
            &[("JWT_ALGORITHMS", "ES256")],
            503,
        ),
        (
            "EC on P-521",
            json!({"kty": "EC", "crv": "P-521", "kid": good["kid"], "x": b64([1; 66]), "y": b64([1; 66])}),
            &[("JWT_ALGORITHMS", "ES256")],
            503,
        ),
        (
            "Ed25519 of 31 bytes",
            json!({"kty": "OKP", "crv": "Ed25519", "kid": good["kid"], "x": b64([1; 31])}),
            &[("JWT_ALGORITHMS", "EdDSA")],
            503,
        ),
        (
            "X25519 (not a signing curve)",
            json!({"kty": "OKP", "crv": "X25519", "kid": good["kid"], "x": b64([9; 32])}),
            &[("JWT_ALGORITHMS", "EdDSA")],
            503,
        ),
    ];
    for (name, key, vars, status) in cases {
        issuer.issuer().set_fault(
            IssuerEndpoint::Keys,
            Some(json_body(&json!({"keys": [key]}))),
        );
        let api = protected_api(&issuer, PROTECTED, vars);
        // The token names the configured algorithm, so that only the key decides the answer.
        let token = match vars.first() {
            Some((_, alg)) => signed(&issuer, json!({"alg": alg}), json!({})),
            None => token.clone(),
        };
        let reply = call(&api, bearer("/a", &token)).await;
        assert_eq!(reply.status, status, "{name}: {}", reply.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_a_thousand_concurrent_requests_fails_none() {
    let issuer = start_issuer().await;
    let api = Arc::new(protected_api(&issuer, USER, &[]));
    let old = signed(&issuer, json!({}), json!({"permissions": ["read:data"]}));
    assert_eq!(call(&*api, bearer("/api/user", &old)).await.status, 200);
    let mut tasks = Vec::with_capacity(1000);
    for _ in 0..500 {
        let (api, token) = (api.clone(), old.clone());
        tasks.push(tokio::spawn(async move {
            call(&*api, bearer("/api/user", &token)).await.status
        }));
    }
    // Mid-flight: a new key signs from now on; the old one stays published.
    let new_kid = issuer.issuer().rotate_signing_key();
    let new = signed(&issuer, json!({}), json!({"permissions": ["read:data"]}));
    assert!(new.starts_with(&b64(
        json!({"alg": "RS256", "kid": new_kid, "typ": "JWT"}).to_string()
    )));
    for i in 0..500 {
        let api = api.clone();
        let token = if i % 2 == 0 { new.clone() } else { old.clone() };
        tasks.push(tokio::spawn(async move {
            call(&*api, bearer("/api/user", &token)).await.status
        }));
    }
    let mut failed = 0;
    for task in tasks {
        if task.await.unwrap() != 200 {
            failed += 1;
        }
    }
    assert_eq!(failed, 0, "requests failed across the rotation");
    assert_eq!(
        api.verifier().keys().fetch_count(),
        2,
        "one fetch at start, one (shared) for the new kid"
    );
    assert_eq!(api.verifier().keys().len(), 2);
}

// ---- the issuer's exchange -------------------------------------------------------------------------------

#[tokio::test]
async fn a_slow_issuer_under_the_timeout_still_succeeds() {
    let (reply, elapsed) = exchange_with_fault(Fault::Delay(Duration::from_secs(3))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(elapsed >= Duration::from_secs(3));
}

#[tokio::test]
async fn an_issuer_slower_than_the_timeout_is_504() {
    let (reply, elapsed) = exchange_with_fault(Fault::Delay(Duration::from_secs(6))).await;
    assert_eq!(
        (reply.status, reply.error()),
        (504, "Identity provider timed out")
    );
    assert!(
        elapsed < Duration::from_millis(5800),
        "the 5 s provider timeout was not honoured: {elapsed:?}"
    );
    assert!(elapsed >= Duration::from_millis(4900), "{elapsed:?}");
}

#[tokio::test]
async fn an_issuer_that_refuses_or_rate_limits_is_502() {
    for (status, text) in [
        (503, "unexpected status 503"),
        (429, "rate limited by the provider; retry later"),
        (302, "unexpected status 302"),
    ] {
        let (reply, _) = exchange_with_fault(Fault::Status(status)).await;
        assert_eq!(reply.status, 502, "{status}: {}", reply.body);
        assert_eq!(reply.error(), format!("Identity provider error: {text}"));
    }
}

#[tokio::test]
async fn a_ten_megabyte_exchange_answer_is_502() {
    let (reply, _) = exchange_with_fault(Fault::Body {
        status: 200,
        content_type: "application/json".into(),
        body: vec![b' '; 10 << 20],
    })
    .await;
    assert_eq!(
        (reply.status, reply.error()),
        (502, "Identity provider error: response too large")
    );
    let issuer = start_issuer().await;
    let (base_url, _) = endless_body_server(10 << 20, "application/json").await;
    let api = token_api(&issuer, &[("DESCOPE_BASE_URL", &base_url)]);
    let reply = exchange(&api, json!({"accessKey": "dev-reader-key"})).await;
    assert_eq!(
        (reply.status, reply.error()),
        (502, "Identity provider error: response too large")
    );
}

#[tokio::test]
async fn tokens_the_issuer_should_not_have_issued_are_502() {
    let issuer = start_issuer().await;
    let api = token_api(&issuer, &[]);
    let answer = |jwt: &str| {
        json_body(
            &json!({"sessionJwt": jwt, "keyId": "K2LocalReader", "projectId": PROJECT, "expiration": now() + 600}),
        )
    };
    let cases = [
        ("empty sessionJwt", answer("")),
        ("not a JWT", answer("abc")),
        (
            "a refresh token",
            answer(&signed(&issuer, json!({}), json!({"drn": "DSR"}))),
        ),
        (
            "expired",
            answer(&signed(&issuer, json!({}), json!({"exp": now() - 60}))),
        ),
        (
            "another project's",
            answer(&signed(
                &issuer,
                json!({}),
                json!({"iss": "P2OtherProject"}),
            )),
        ),
        (
            "alg none",
            answer(&format!(
                "{}.{}.",
                b64(json!({"alg": "none"}).to_string()),
                b64(claims(&issuer, json!({})).to_string())
            )),
        ),
        (
            "no sessionJwt",
            json_body(&json!({"keyId": "K2LocalReader"})),
        ),
        ("sessionJwt a number", json_body(&json!({"sessionJwt": 5}))),
    ];
    for (name, fault) in cases {
        issuer
            .issuer()
            .set_fault(IssuerEndpoint::Exchange, Some(fault));
        let reply = exchange(&api, json!({"accessKey": "dev-reader-key"})).await;
        assert_eq!(reply.status, 502, "{name}: {}", reply.body);
        assert!(
            reply.error().starts_with("Identity provider error: "),
            "{name}: {}",
            reply.error()
        );
        assert!(reply.body.get("jwt").is_none(), "{name}");
    }
}

#[tokio::test]
async fn an_issued_token_whose_keys_cannot_be_fetched_is_502() {
    let issuer = start_issuer().await;
    issuer
        .issuer()
        .set_fault(IssuerEndpoint::Keys, Some(Fault::Status(500)));
    let api = token_api(&issuer, &[]);
    let reply = exchange(&api, json!({"accessKey": "dev-reader-key"})).await;
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert_eq!(
        reply.error(),
        "Identity provider error: the issued token failed verification: signing keys unavailable"
    );
}
