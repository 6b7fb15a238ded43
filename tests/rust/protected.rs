//! The protected endpoints with tokens the token function issued for the dev keys: each endpoint's grant, the
//! success bodies, and requested scopes narrowing what a token may do. Invalid, malformed, look-alike and
//! self-granted tokens, the Authorization header and the audience and issuer settings are rows of the attack
//! table (attacks.rs).

use m2m_api::{ADMIN, PROTECTED, USER};
use m2m_tests::*;

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
