//! `POST /m2m/token` against the local issuer: success, the scope self-grant attack, tenants, provider
//! failures and invalid bodies.

use m2m_tests::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn exchange_returns_a_verified_token_with_its_grants() {
    let issuer = start_issuer().await;
    let api = token_api(&issuer, &[]);
    let reply = exchange(
        &api,
        json!({"accessKey": "dev-reader-key", "scopes": ["read:data"]}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), "no-store");
    assert_eq!(reply.body["success"], true);
    assert_eq!(reply.body["decodedHeader"]["alg"], "RS256");
    assert_eq!(
        reply.body["decodedHeader"]["kid"],
        issuer.issuer().current_kid().as_str()
    );
    let payload = &reply.body["decodedPayload"];
    assert_eq!(payload["sub"], "K2LocalReader");
    assert_eq!(payload["drn"], "DS");
    assert_eq!(payload["nsec"]["scope"], "read:data");
    assert_eq!(reply.body["expiresAt"], payload["exp"]);
    assert_eq!(reply.body["scopes"], json!(["read:data"]));
    let jwt = reply.body["jwt"].as_str().unwrap();
    assert_eq!(jwt.split('.').count(), 3);
}

#[tokio::test]
async fn without_requested_scopes_the_grants_are_the_keys_own() {
    let issuer = start_issuer().await;
    let api = token_api(&issuer, &[]);
    let reply = exchange(&api, json!({"accessKey": "dev-admin-key"})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body["scopes"],
        json!(["admin", "read:data", "write:data"])
    );
    assert!(reply.body["decodedPayload"].get("nsec").is_none());
}

#[tokio::test]
async fn asking_for_a_scope_the_key_lacks_is_refused() {
    let issuer = start_issuer().await;
    let api = token_api(&issuer, &[]);
    let reply = exchange(
        &api,
        json!({"accessKey": "dev-reader-key", "scopes": ["read:data", "admin"]}),
    )
    .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.error(),
        "Scope not granted to this access key: 'admin'"
    );
    assert!(reply.body.get("jwt").is_none());
}

#[tokio::test]
async fn tenant_grants_count_only_in_the_selected_tenant() {
    let issuer = start_issuer().await;
    let api = token_api(&issuer, &[]);
    let reply = exchange(
        &api,
        json!({"accessKey": "dev-tenant-key", "tenant": "T2Acme"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["decodedPayload"]["dct"], "T2Acme");
    assert_eq!(reply.body["scopes"], json!(["admin", "read:data"]));

    let other = exchange(
        &api,
        json!({"accessKey": "dev-tenant-key", "tenant": "T2Other"}),
    )
    .await;
    assert_eq!(other.body["scopes"], json!(["write:data"]));
    let none = exchange(&api, json!({"accessKey": "dev-tenant-key"})).await;
    assert_eq!(none.body["scopes"], json!([]));
    let refused = exchange(
        &api,
        json!({"accessKey": "dev-tenant-key", "tenant": "T2Other", "scopes": ["admin"]}),
    )
    .await;
    assert_eq!(refused.status, 403);
}

#[tokio::test]
async fn a_tenant_the_key_is_not_in_is_the_providers_400() {
    let issuer = start_issuer().await;
    let api = token_api(&issuer, &[]);
    let reply = exchange(
        &api,
        json!({"accessKey": "dev-reader-key", "tenant": "T2Acme"}),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply
            .error()
            .starts_with("Identity provider rejected the request: "),
        "{}",
        reply.error()
    );
}

#[tokio::test]
async fn rejected_keys_are_401_with_the_providers_reason() {
    let issuer = start_issuer().await;
    let api = token_api(&issuer, &[]);
    for key in ["no-such-key", "dev-expired-key", "dev-disabled-key"] {
        let reply = exchange(&api, json!({"accessKey": key})).await;
        assert_eq!(reply.status, 401, "{key}: {}", reply.body);
        assert!(
            reply.error().starts_with("Authentication failed: "),
            "{}",
            reply.error()
        );
        assert!(
            !reply.body.to_string().contains(key),
            "the key is echoed: {}",
            reply.body
        );
    }
    let expired = exchange(&api, json!({"accessKey": "dev-expired-key"})).await;
    assert!(
        expired.error().to_lowercase().contains("expired"),
        "{}",
        expired.error()
    );
    let wrong_project = exchange(
        &api,
        json!({"projectId": "P2Other", "accessKey": "dev-admin-key"}),
    )
    .await;
    assert_eq!(wrong_project.status, 401);
}

#[tokio::test]
async fn the_stack_key_is_exchanged_for_trusted_callers_only() {
    let issuer = start_issuer().await;
    let api = token_api(&issuer, &[("DESCOPE_ACCESS_KEY", "dev-admin-key")]);
    // A public caller who brings no key gets no token, whatever else it asks for.
    for body in [
        json!({}),
        json!({"tenant": "T2Acme"}),
        json!({"scopes": ["admin"]}),
    ] {
        let reply = exchange(&api, body.clone()).await;
        assert_eq!(
            (reply.status, reply.error()),
            (401, "An access key is required"),
            "{body}"
        );
        assert!(reply.body.get("jwt").is_none());
    }
    let empty_body = call(&api, request("POST", "/m2m/token", &[], None)).await;
    assert_eq!(empty_body.status, 401);
    // Headers cannot claim an IAM identity: only API Gateway's request context can.
    let forged = call(
        &api,
        request(
            "POST",
            "/m2m/token/iam",
            &[
                ("x-amz-user-arn", "arn:aws:iam::123456789012:root"),
                ("authorization", "AWS4-HMAC-SHA256 Credential=AKIA/x"),
            ],
            Some("{}"),
        ),
    )
    .await;
    assert_eq!(forged.status, 401);

    // A caller API Gateway authenticated with IAM gets the stack's key.
    let reply = exchange_as_iam_caller(&api, json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["decodedPayload"]["sub"], "K2LocalAdmin");
    // The caller's own key wins over the configured one, for anyone.
    let reply = exchange(&api, json!({"accessKey": "dev-reader-key"})).await;
    assert_eq!(reply.body["decodedPayload"]["sub"], "K2LocalReader");
    let reply = exchange_as_iam_caller(&api, json!({"accessKey": "dev-reader-key"})).await;
    assert_eq!(reply.body["decodedPayload"]["sub"], "K2LocalReader");

    // The development stack trusts every caller, and says so explicitly.
    let local = token_api(
        &issuer,
        &[
            ("DESCOPE_ACCESS_KEY", "dev-admin-key"),
            ("STACK_KEY_CALLERS", "any"),
        ],
    );
    let reply = exchange(&local, json!({})).await;
    assert_eq!(reply.body["decodedPayload"]["sub"], "K2LocalAdmin");
}

#[tokio::test]
async fn named_projects_follow_the_override_rules() {
    let issuer = start_issuer().await;
    let api = token_api(&issuer, &[]);
    // A trusted caller with nothing configured: 400.
    let reply = exchange_as_iam_caller(&api, json!({})).await;
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("No access key"), "{}", reply.error());
    // A project without a key would pair the caller's choice with the stack's key.
    let reply = exchange_as_iam_caller(&api, json!({"projectId": PROJECT})).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply
            .error()
            .contains("'projectId' can only be sent with 'accessKey'"),
        "{}",
        reply.error()
    );

    let locked = token_api(
        &issuer,
        &[
            ("DESCOPE_ACCESS_KEY", "dev-reader-key"),
            ("ALLOW_CREDENTIAL_OVERRIDE", "false"),
        ],
    );
    assert_eq!(exchange_as_iam_caller(&locked, json!({})).await.status, 200);
    // Overrides off: the caller's own key is still exchanged, with or without the configured project id
    // (the deployed page always sends it).
    let own = exchange(&locked, json!({"accessKey": "dev-admin-key"})).await;
    assert_eq!(own.body["decodedPayload"]["sub"], "K2LocalAdmin");
    let page = exchange(
        &locked,
        json!({"projectId": PROJECT, "accessKey": "dev-admin-key"}),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let other = exchange(
        &locked,
        json!({"projectId": "P2SomeoneElse", "accessKey": "dev-admin-key"}),
    )
    .await;
    assert_eq!(other.status, 400);
    assert!(
        other.error().contains("overrides are disabled"),
        "{}",
        other.error()
    );

    // Overrides on, with a list: only listed projects (and the configured one) may be named.
    let listed = token_api(&issuer, &[("ALLOWED_PROJECT_IDS", "P2Partner")]);
    let refused = exchange(
        &listed,
        json!({"projectId": "P2SomeoneElse", "accessKey": "dev-admin-key"}),
    )
    .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused
            .error()
            .contains("not a project this deployment accepts"),
        "{}",
        refused.error()
    );
    assert!(!refused.error().contains("P2SomeoneElse"));
    let configured = exchange(
        &listed,
        json!({"projectId": PROJECT, "accessKey": "dev-admin-key"}),
    )
    .await;
    assert_eq!(configured.status, 200, "{}", configured.body);
    // A listed project reaches the provider (which does not know it here: its refusal, not ours).
    let partner = exchange(
        &listed,
        json!({"projectId": "P2Partner", "accessKey": "dev-admin-key"}),
    )
    .await;
    assert_eq!(partner.status, 401, "{}", partner.body);
}

#[tokio::test]
async fn invalid_bodies_are_400_naming_the_field() {
    let issuer = start_issuer().await;
    let api = token_api(&issuer, &[("DESCOPE_ACCESS_KEY", "dev-reader-key")]);
    for (body, expected) in [
        ("not json", "JSON object"),
        ("[1,2]", "JSON object"),
        (r#"{"accessKey": 12}"#, "'accessKey'"),
        (r#"{"accessKey": ""}"#, "'accessKey'"),
        (r#"{"projectId": "a b"}"#, "'projectId'"),
        (r#"{"scopes": "read:data"}"#, "'scopes'"),
        (r#"{"scopes": [1]}"#, "'scopes[0]'"),
        (r#"{"tenant": ""}"#, "'tenant'"),
        (r#"{"admin": true}"#, "unknown field"),
        (r#"{"admin": null}"#, "unknown field"),
        (r#"{"scopes": [], "scopes": ["admin"]}"#, "duplicate"),
    ] {
        let reply = call(&api, post_json("/m2m/token", body)).await;
        assert_eq!(reply.status, 400, "{body}");
        assert!(
            reply.error().contains(expected),
            "{body}: {}",
            reply.error()
        );
        assert_eq!(reply.body["success"], false);
    }
    let huge = format!(r#"{{"tenant": "{}"}}"#, "a".repeat(20_000));
    let reply = call(&api, post_json("/m2m/token", &huge)).await;
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("16384"));
    let get = call(&api, request("GET", "/m2m/token", &[], None)).await;
    assert_eq!(get.status, 405);
}

#[tokio::test]
async fn provider_failures_map_to_the_contracts_statuses() {
    let (reply, _) = exchange_with_fault(Fault::Status(400)).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply
            .error()
            .starts_with("Identity provider rejected the request: ")
    );
    let (reply, _) = exchange_with_fault(Fault::Status(401)).await;
    assert_eq!(reply.status, 401);
    let (reply, _) = exchange_with_fault(Fault::Status(500)).await;
    assert_eq!(
        (reply.status, reply.error()),
        (502, "Identity provider error: unexpected status 500")
    );
    let (reply, _) = exchange_with_fault(Fault::Garbage).await;
    assert_eq!(reply.status, 502);
    let (reply, _) = exchange_with_fault(Fault::Html).await;
    assert_eq!(reply.status, 502);
    let (reply, _) =
        exchange_with_fault(Fault::Redirect("http://127.0.0.1:9/elsewhere".into())).await;
    assert_eq!(reply.status, 502);
    let (reply, _) = exchange_with_fault(Fault::ForeignSignature).await;
    assert_eq!(reply.status, 502);
    assert!(
        reply.error().contains("failed verification"),
        "{}",
        reply.error()
    );
}

#[tokio::test]
async fn a_hanging_provider_times_out_with_504() {
    let (reply, elapsed) = exchange_with_fault(Fault::Hang).await;
    assert_eq!(reply.status, 504);
    assert_eq!(reply.error(), "Identity provider timed out");
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
}

#[tokio::test]
async fn an_unreachable_provider_is_502() {
    let issuer = start_issuer().await;
    let api = token_api(&issuer, &[("DESCOPE_BASE_URL", "http://127.0.0.1:9")]);
    let reply = exchange(&api, json!({"accessKey": "dev-reader-key"})).await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.error(), "Identity provider error: unreachable");
}

#[tokio::test]
async fn answers_never_contain_the_access_key() {
    let issuer = start_issuer().await;
    let api = token_api(&issuer, &[]);
    for body in [
        json!({"accessKey": "dev-admin-key", "scopes": ["nope"]}),
        json!({"accessKey": "dev-admin-key", "tenant": "T2Nope"}),
        json!({"accessKey": "dev-admin-key", "projectId": "P2Wrong"}),
        json!({"accessKey": "dev-admin-key", "extra": "dev-admin-key"}),
    ] {
        let reply = exchange(&api, body).await;
        assert_ne!(reply.status, 200);
        assert!(
            !reply.body.to_string().contains("dev-admin-key"),
            "{}",
            reply.body
        );
    }
    let _: Value = Value::Null;
}

/// docs/contract.md section 1, "Tokens handed out again": every caller entitled to the same answer gets the
/// same token, concurrent first callers wait for one exchange, and the cache can be switched off.
#[tokio::test]
async fn callers_entitled_to_the_same_answer_share_one_exchange() {
    let issuer = start_issuer().await;
    let api = Arc::new(token_api(&issuer, &[]));
    let exchanges = || issuer.issuer().request_count(IssuerEndpoint::Exchange);
    let body = json!({"accessKey": "dev-reader-key", "scopes": ["read:data"]});
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (api, body) = (api.clone(), body.clone());
            tokio::spawn(async move { exchange(&api, body).await })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.expect("no panic"));
    }
    assert_eq!(exchanges(), 1, "50 concurrent first calls");
    let jwts: std::collections::HashSet<_> = replies
        .iter()
        .map(|reply| reply.body["jwt"].as_str().expect("a token").to_owned())
        .collect();
    assert_eq!(jwts.len(), 1);
    // Another answer (scopes, tenant, key) is another exchange; the same one again is none.
    exchange(&api, json!({"accessKey": "dev-reader-key"})).await;
    exchange(
        &api,
        json!({"accessKey": "dev-admin-key", "scopes": ["read:data"]}),
    )
    .await;
    assert_eq!(exchanges(), 3);
    for _ in 0..20 {
        let reply = exchange(&api, body.clone()).await;
        assert!(jwts.contains(reply.body["jwt"].as_str().unwrap()));
    }
    assert_eq!(exchanges(), 3);
    // A refusal is never kept: each refused call asks the provider again.
    for _ in 0..3 {
        let reply = exchange(&api, json!({"accessKey": "dev-disabled-key"})).await;
        assert_eq!(reply.status, 401);
    }
    assert_eq!(exchanges(), 6);
    // Off: every call an exchange.
    let off = token_api(&issuer, &[("ISSUED_TOKEN_CACHE_ENTRIES", "0")]);
    for _ in 0..3 {
        exchange(&off, body.clone()).await;
    }
    assert_eq!(exchanges(), 9);
}

/// An IAM principal that STACK_KEY_PRINCIPALS does not list gets a 403 before anything is exchanged, and a
/// listed role's sessions get only what the role is allowed.
#[tokio::test]
async fn iam_principals_get_what_they_are_listed_for_and_nothing_else() {
    let issuer = start_issuer().await;
    let principals = r#"{"arn:aws:iam::123456789012:role/ops/reporting": ["read:data"]}"#;
    let api = token_api(
        &issuer,
        &[
            ("DESCOPE_ACCESS_KEY", "dev-admin-key"),
            ("STACK_KEY_PRINCIPALS", principals),
        ],
    );
    let call_as = |principal: &'static str, body: serde_json::Value| {
        call(
            &api,
            from_iam_principal(post_json("/m2m/token/iam", &body.to_string()), principal),
        )
    };
    let reader = "arn:aws:sts::123456789012:assumed-role/reporting/i-1";
    let reply = call_as(reader, json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["scopes"], json!(["read:data"]));
    let reply = call_as(reader, json!({"scopes": ["admin"]})).await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.error(),
        "Scope not granted to this IAM principal: 'admin'"
    );
    let before = issuer.issuer().request_count(IssuerEndpoint::Exchange);
    for stranger in [
        IAM_CALLER,
        "arn:aws:sts::999999999999:assumed-role/reporting/i-1",
        "arn:aws:iam::123456789012:user/reporting",
    ] {
        let reply = call_as(stranger, json!({})).await;
        assert_eq!(reply.status, 403, "{stranger}");
        assert_eq!(
            reply.error(),
            "This IAM principal may not use the stack's key"
        );
    }
    assert_eq!(
        issuer.issuer().request_count(IssuerEndpoint::Exchange),
        before
    );
    // Unset: nobody.
    let nobody = token_api(
        &issuer,
        &[
            ("DESCOPE_ACCESS_KEY", "dev-admin-key"),
            ("STACK_KEY_PRINCIPALS", ""),
        ],
    );
    let reply = exchange_as_iam_caller(&nobody, json!({})).await;
    assert_eq!(reply.status, 403);
}
