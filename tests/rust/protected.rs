//! The protected endpoints against tokens from the local issuer: grants, the self-grant attack, tenants,
//! and every kind of invalid token.

use m2m_api::{ADMIN, PROTECTED, USER};
use m2m_tests::*;
use serde_json::json;

#[tokio::test]
async fn each_endpoint_enforces_its_grant() {
    let issuer = start_issuer().await;
    let token_api = token_api(&issuer, &[]);
    let apis = [
        protected_api(&issuer, PROTECTED, &[]),
        protected_api(&issuer, USER, &[]),
        protected_api(&issuer, ADMIN, &[]),
    ];
    for (key, expected) in [
        ("dev-admin-key", [200, 200, 200]),
        ("dev-reader-key", [200, 200, 403]),
        ("dev-nogrants-key", [200, 403, 403]),
    ] {
        let jwt = token_for(&token_api, key, &[]).await;
        for (api, status) in apis.iter().zip(expected) {
            let reply = call(api, bearer("/api/x", &jwt)).await;
            assert_eq!(reply.status, status, "{key}: {}", reply.body);
        }
    }
    let jwt = token_for(&token_api, "dev-reader-key", &["read:data"]).await;
    let reply = call(&apis[1], bearer("/api/user", &jwt)).await;
    assert_eq!(reply.body["message"], "User API call succeeded!");
    assert_eq!(reply.body["claims"]["sub"], "K2LocalReader");
    let reply = call(&apis[0], bearer("/api/protected", &jwt)).await;
    assert_eq!(reply.body["message"], "Protected API call succeeded!");
    let reply = call(&apis[2], bearer("/api/admin", &jwt)).await;
    assert_eq!(reply.error(), "Missing required scope: 'admin'");
    assert_eq!(
        reply.header("www-authenticate"),
        r#"Bearer error="insufficient_scope", scope="admin""#
    );
    let admin_jwt = token_for(&token_api, "dev-admin-key", &[]).await;
    let reply = call(&apis[2], bearer("/api/admin", &admin_jwt)).await;
    assert_eq!(reply.body["message"], "Admin API call succeeded!");
}

#[tokio::test]
async fn requested_scopes_narrow_what_the_token_may_do() {
    let issuer = start_issuer().await;
    let token_api = token_api(&issuer, &[]);
    let admin = protected_api(&issuer, ADMIN, &[]);
    let jwt = token_for(&token_api, "dev-admin-key", &["read:data"]).await;
    assert_eq!(call(&admin, bearer("/api/admin", &jwt)).await.status, 403);
}

#[tokio::test]
async fn claims_that_say_admin_without_the_role_are_refused() {
    // The original sample trusted a `scope` claim; any key could ask for `admin`.
    let issuer = start_issuer().await;
    let admin = protected_api(&issuer, ADMIN, &[]);
    for claims in [
        json!({"scope": "admin"}),
        json!({"scopes": ["admin"]}),
        json!({"nsec": {"scope": "admin"}}),
        json!({"nsec": {"roles": ["admin"], "permissions": ["admin"]}}),
        json!({"roles": ["user"], "nsec": {"scope": "admin"}, "scope": "admin read:data"}),
        json!({"roles": ["notadmin", "Admin", "admin:read", "аdmin"]}),
        json!({"roles": "admin"}),
        json!({"tenants": {"T2Acme": {"roles": ["admin"]}}}),
        json!({"dct": "T2Other", "tenants": {"T2Acme": {"roles": ["admin"]}, "T2Other": {"roles": []}}}),
    ] {
        let token = signed(&issuer, json!({}), claims.clone());
        let reply = call(&admin, bearer("/api/admin", &token)).await;
        assert_eq!(reply.status, 403, "{claims}: {}", reply.body);
    }
    let current_tenant = signed(
        &issuer,
        json!({}),
        json!({"dct": "T2Acme", "tenants": {"T2Acme": {"roles": ["admin"]}}}),
    );
    assert_eq!(
        call(&admin, bearer("/api/admin", &current_tenant))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn invalid_tokens_are_401_with_the_reason() {
    let issuer = start_issuer().await;
    let api = protected_api(&issuer, PROTECTED, &[("JWT_AUDIENCE", "")]);
    let now = now();
    let public_der = issuer.issuer().current_public_key_der();
    let hs256_with_public_key = {
        let header = b64(
            json!({"alg": "HS256", "kid": issuer.issuer().current_kid(), "typ": "JWT"}).to_string(),
        );
        let payload = b64(claims(&issuer, json!({})).to_string());
        let input = format!("{header}.{payload}");
        // HS256 keyed with the RSA public key: the classic algorithm-confusion forgery.
        let key = hmac_sha256(&public_der, input.as_bytes());
        format!("{input}.{}", b64(key))
    };
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "kid": issuer.issuer().current_kid()}).to_string()),
        b64(claims(&issuer, json!({})).to_string())
    );
    let cases = [
        (
            "expired",
            signed(&issuer, json!({}), json!({"exp": now - 60})),
            "token expired",
        ),
        (
            "not yet valid",
            signed(&issuer, json!({}), json!({"nbf": now + 60})),
            "token not yet valid",
        ),
        (
            "issued in the future",
            signed(&issuer, json!({}), json!({"iat": now + 60})),
            "token issued in the future",
        ),
        (
            "no exp",
            signed(&issuer, json!({}), json!({"exp": null})),
            "claim 'exp' is required",
        ),
        (
            "exp as text",
            signed(&issuer, json!({}), json!({"exp": (now + 60).to_string()})),
            "claim 'exp' has the wrong type",
        ),
        (
            "wrong issuer",
            signed(
                &issuer,
                json!({}),
                json!({"iss": "https://evil.example/v1/apps/P2LocalDevProject"}),
            ),
            "issuer not accepted",
        ),
        (
            "wrong audience",
            signed(&issuer, json!({}), json!({"aud": "someone-else"})),
            "audience not accepted",
        ),
        (
            "refresh token",
            signed(&issuer, json!({}), json!({"drn": "DSR"})),
            "not a session token",
        ),
        ("alg none", unsigned, "malformed token: empty signature"),
        (
            "hs256 with public key",
            hs256_with_public_key,
            "algorithm not accepted",
        ),
        (
            "unknown kid",
            signed(&issuer, json!({"kid": "no-such-kid"}), json!({})),
            "no signing key matches the token's 'kid'",
        ),
        (
            "no kid",
            signed(&issuer, json!({"kid": null}), json!({})),
            "header is missing 'kid'",
        ),
        (
            "crit",
            signed(&issuer, json!({"crit": ["exp"]}), json!({})),
            "header parameter 'crit' is not supported",
        ),
        (
            "b64",
            signed(&issuer, json!({"b64": false}), json!({})),
            "header parameter 'b64' is not supported",
        ),
        (
            "typ",
            signed(&issuer, json!({"typ": "JWE"}), json!({})),
            "header 'typ' must be JWT or at+jwt",
        ),
        (
            "garbage",
            "garbage".to_owned(),
            "malformed token: expected three dot-separated parts",
        ),
        (
            "oversized",
            format!(
                "{}.{}.{}",
                "a".repeat(5000),
                "b".repeat(3000),
                "c".repeat(300)
            ),
            "token exceeds 8192 bytes",
        ),
    ];
    for (name, token, reason) in cases {
        let reply = call(&api, bearer("/api/protected", &token)).await;
        assert_eq!(reply.status, 401, "{name}: {}", reply.body);
        assert_eq!(
            reply.error(),
            format!("JWT verification failed: {reason}"),
            "{name}"
        );
        assert_eq!(
            reply.header("www-authenticate"),
            r#"Bearer error="invalid_token""#,
            "{name}"
        );
    }
    let tampered = {
        let token = signed(&issuer, json!({}), json!({"roles": ["user"]}));
        let (head, rest) = token.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        format!(
            "{head}.{}.{signature}",
            b64(claims(&issuer, json!({"roles": ["admin"]})).to_string())
        )
    };
    let reply = call(&api, bearer("/api/protected", &tampered)).await;
    assert_eq!(reply.error(), "JWT verification failed: invalid signature");
}

#[tokio::test]
async fn missing_or_malformed_authorization_is_401() {
    let issuer = start_issuer().await;
    let api = protected_api(&issuer, PROTECTED, &[]);
    for headers in [
        vec![],
        vec![("authorization", "Basic dXNlcjpwYXNz")],
        vec![("authorization", "Bearer")],
        vec![("authorization", "Bearer a b")],
    ] {
        let reply = call(&api, request("POST", "/api/protected", &headers, None)).await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.error(), "Missing or invalid Authorization header");
    }
    let jwt = signed(&issuer, json!({}), json!({}));
    let lower = call(
        &api,
        request(
            "POST",
            "/api/protected",
            &[("authorization", &format!("bearer {jwt}"))],
            None,
        ),
    )
    .await;
    assert_eq!(lower.status, 200, "the scheme is case-insensitive");
}

#[tokio::test]
async fn audience_and_issuer_settings_are_honoured() {
    let issuer = start_issuer().await;
    let with_audience = protected_api(&issuer, PROTECTED, &[("JWT_AUDIENCE", "my-api")]);
    let token = signed(&issuer, json!({}), json!({"aud": ["other", "my-api"]}));
    assert_eq!(call(&with_audience, bearer("/a", &token)).await.status, 200);
    let token = signed(&issuer, json!({}), json!({}));
    assert_eq!(
        call(&with_audience, bearer("/a", &token)).await.error(),
        "JWT verification failed: claim 'aud' is required"
    );
    let default = protected_api(&issuer, PROTECTED, &[]);
    let token = signed(&issuer, json!({}), json!({"aud": PROJECT}));
    assert_eq!(call(&default, bearer("/a", &token)).await.status, 200);
    for iss in [
        PROJECT.to_owned(),
        format!("{}/{PROJECT}", issuer.base_url()),
    ] {
        let token = signed(&issuer, json!({}), json!({"iss": iss}));
        assert_eq!(
            call(&default, bearer("/a", &token)).await.status,
            200,
            "{iss}"
        );
    }
    let extra = protected_api(
        &issuer,
        PROTECTED,
        &[("JWT_ISSUERS", "https://issuer.example/x")],
    );
    let token = signed(
        &issuer,
        json!({}),
        json!({"iss": "https://issuer.example/x"}),
    );
    assert_eq!(call(&extra, bearer("/a", &token)).await.status, 200);
    assert_eq!(call(&default, bearer("/a", &token)).await.status, 401);
}
