//! The signing-key cache under rotation, floods of unknown `kid`s and a misbehaving JWKS endpoint.

use m2m_api::{PROTECTED, USER};
use m2m_tests::*;
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn keys_are_fetched_once_and_reused() {
    let issuer = start_issuer().await;
    let api = protected_api(&issuer, PROTECTED, &[]);
    for _ in 0..20 {
        let token = signed(&issuer, json!({}), json!({}));
        assert_eq!(call(&api, bearer("/a", &token)).await.status, 200);
    }
    assert_eq!(issuer.issuer().request_count(IssuerEndpoint::Keys), 1);
}

#[tokio::test]
async fn rotation_fails_no_request() {
    let issuer = start_issuer().await;
    // Every call a new exchange: the token after the rotation is signed with the new key, not handed out
    // again from the token function's cache.
    let token_api = token_api(&issuer, &[("ISSUED_TOKEN_CACHE_ENTRIES", "0")]);
    let api = Arc::new(protected_api(&issuer, USER, &[]));
    let old = token_for(&token_api, "dev-reader-key", &[]).await;
    assert_eq!(call(&*api, bearer("/a", &old)).await.status, 200);
    let new_kid = issuer.issuer().rotate_signing_key();
    let new = token_for(&token_api, "dev-reader-key", &[]).await;
    assert!(new.starts_with(
        &b64(json!({"alg": "RS256", "kid": new_kid, "typ": "JWT"}).to_string())[..10]
    ));
    // Old and new tokens, interleaved and concurrent, all succeed across the rollover.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let api = api.clone();
        let token = if i % 2 == 0 { old.clone() } else { new.clone() };
        tasks.push(tokio::spawn(async move {
            call(&*api, bearer("/a", &token)).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(
        api.verifier().keys().fetch_count(),
        2,
        "one fetch at start, one for the new kid"
    );
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_at_most_one_fetch() {
    let issuer = start_issuer().await;
    let api = Arc::new(protected_api(&issuer, PROTECTED, &[]));
    let warm = signed(&issuer, json!({}), json!({}));
    assert_eq!(call(&*api, bearer("/a", &warm)).await.status, 200);
    let mut tasks = Vec::new();
    for i in 0..500 {
        let api = api.clone();
        let token = signed(&issuer, json!({"kid": format!("made-up-{i}")}), json!({}));
        tasks.push(tokio::spawn(async move {
            call(&*api, bearer("/a", &token)).await
        }));
    }
    for task in tasks {
        let reply = task.await.unwrap();
        assert_eq!(reply.status, 401);
        assert_eq!(
            reply.error(),
            "JWT verification failed: no signing key matches the token's 'kid'"
        );
    }
    assert_eq!(issuer.issuer().request_count(IssuerEndpoint::Keys), 2);
    assert_eq!(
        api.verifier().keys().len(),
        1,
        "unknown kids are not remembered"
    );
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_endpoint_is_down() {
    let issuer = start_issuer().await;
    let api = protected_api(&issuer, PROTECTED, &[]);
    let token = signed(&issuer, json!({}), json!({}));
    assert_eq!(call(&api, bearer("/a", &token)).await.status, 200);
    issuer
        .issuer()
        .set_fault(IssuerEndpoint::Keys, Some(Fault::Status(500)));
    assert_eq!(call(&api, bearer("/a", &token)).await.status, 200);
    // A new kid needs the endpoint: 503 with Retry-After, and no second attempt within the interval.
    let unknown = signed(&issuer, json!({"kid": "rotated-while-down"}), json!({}));
    let reply = call(&api, bearer("/a", &unknown)).await;
    assert_eq!(
        (reply.status, reply.error()),
        (503, "Signing keys unavailable")
    );
    assert!(reply.header("retry-after").parse::<u64>().unwrap() >= 1);
    let again = call(&api, bearer("/a", &unknown)).await;
    assert_eq!(again.status, 503);
    assert_eq!(issuer.issuer().request_count(IssuerEndpoint::Keys), 2);
    assert_eq!(call(&api, bearer("/a", &token)).await.status, 200);
}

#[tokio::test]
async fn a_cold_start_without_keys_is_503() {
    let issuer = start_issuer().await;
    issuer
        .issuer()
        .set_fault(IssuerEndpoint::Keys, Some(Fault::Garbage));
    let api = protected_api(&issuer, PROTECTED, &[]);
    let token = signed(&issuer, json!({}), json!({}));
    let reply = call(&api, bearer("/a", &token)).await;
    assert_eq!(reply.status, 503);
    assert!(reply.header("retry-after").parse::<u64>().unwrap() <= 30);
}

async fn status_with_keys_fault(fault: Fault) -> u16 {
    let issuer = start_issuer().await;
    issuer.issuer().set_fault(IssuerEndpoint::Keys, Some(fault));
    let api = protected_api(&issuer, PROTECTED, &[]);
    call(&api, bearer("/a", &signed(&issuer, json!({}), json!({}))))
        .await
        .status
}

#[tokio::test]
async fn a_misbehaving_key_endpoint_is_never_trusted() {
    let issuer = start_issuer().await;
    let jwks = issuer.issuer().public_jwks();
    let redirect_target = format!("{}/v2/keys/{PROJECT}", issuer.base_url());
    assert_eq!(
        status_with_keys_fault(Fault::Redirect(redirect_target)).await,
        503
    );
    assert_eq!(status_with_keys_fault(Fault::Html).await, 503);
    let big = Fault::Body {
        status: 200,
        content_type: "application/json".into(),
        body: vec![b' '; 200_000],
    };
    assert_eq!(status_with_keys_fault(big).await, 503);
    let text_plain = Fault::Body {
        status: 200,
        content_type: "text/plain".into(),
        body: jwks.to_string().into_bytes(),
    };
    assert_eq!(status_with_keys_fault(text_plain).await, 503);
    let started = std::time::Instant::now();
    assert_eq!(status_with_keys_fault(Fault::Hang).await, 503);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the 3 s fetch timeout is honoured"
    );
}

#[tokio::test]
async fn weak_symmetric_and_duplicated_keys_are_ignored() {
    let issuer = start_issuer().await;
    let api = protected_api(&issuer, PROTECTED, &[]);
    let good = issuer.issuer().public_jwks()["keys"][0].clone();
    let kid = good["kid"].as_str().unwrap().to_owned();
    let token = signed(&issuer, json!({}), json!({}));
    let serve = |keys: serde_json::Value| {
        issuer.issuer().set_fault(
            IssuerEndpoint::Keys,
            Some(Fault::Body {
                status: 200,
                content_type: "application/json".into(),
                body: json!({"keys": keys}).to_string().into_bytes(),
            }),
        )
    };
    let mut short = good.clone();
    short["n"] = json!(b64([0xC3u8; 128]));
    let mut other_exponent = good.clone();
    other_exponent["e"] = json!("Aw");
    let mut encryption = good.clone();
    encryption["use"] = json!("enc");
    let mut wrong_alg = good.clone();
    wrong_alg["alg"] = json!("RS512");
    let symmetric = json!({"kty": "oct", "kid": kid, "k": "c2VjcmV0"});
    for (name, keys) in [
        ("1024-bit", json!([short])),
        ("e=3", json!([other_exponent])),
        ("use=enc", json!([encryption])),
        ("alg RS512", json!([wrong_alg])),
        ("oct", json!([symmetric])),
        ("duplicate kid", json!([good.clone(), good.clone()])),
    ] {
        serve(keys);
        let fresh = protected_api(&issuer, PROTECTED, &[]);
        assert_eq!(
            call(&fresh, bearer("/a", &token)).await.status,
            503,
            "{name}"
        );
    }
    // One malformed entry does not spoil the others.
    serve(json!([{"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"}, good]));
    assert_eq!(call(&api, bearer("/a", &token)).await.status, 200);
}
