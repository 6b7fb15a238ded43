//! The authorizer (docs/contract.md section 6), in-process, fed the shipped API Gateway events
//! (tests/events/) with tokens of the local issuer: every event kind, valid and refused tokens, grants per
//! route, tenants, narrowing scopes, odd Authorization headers, bad configuration, and cache safety — the
//! policy answered for one route is evaluated as IAM would for every other route.

use m2m_auth::{GrantModel, Grants};
use m2m_authorizer::{Authorizer, AuthorizerError, MethodArn, RouteGrants, api_policy};
use m2m_tests::*;
use proptest::prelude::*;
use serde_json::{Value, json};

const GRANTS: &str = r#"{"POST /api/admin": "admin", "POST /api/user": "read:data", "GET /reports/{id}": "reports:read"}"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    V2Simple,
    V2Iam,
    HttpV1,
    RestRequest,
    RestToken,
}

const KINDS: [Kind; 5] = [
    Kind::V2Simple,
    Kind::V2Iam,
    Kind::HttpV1,
    Kind::RestRequest,
    Kind::RestToken,
];

/// How the request carries its credentials.
#[derive(Debug, Clone, Copy)]
enum Auth<'a> {
    Header(&'a str),
    Repeated(&'a str),
    Missing,
    NoHeaders,
}

fn shipped(kind: Kind) -> Value {
    let text = match kind {
        Kind::V2Simple | Kind::V2Iam => include_str!("../events/authorizer-http-v2.json"),
        Kind::HttpV1 => include_str!("../events/authorizer-http-v1.json"),
        Kind::RestRequest => include_str!("../events/authorizer-rest-request.json"),
        Kind::RestToken => include_str!("../events/authorizer-rest-token.json"),
    };
    serde_json::from_str(text).expect("a shipped event is JSON")
}

fn stage(kind: Kind) -> &'static str {
    match kind {
        Kind::RestRequest | Kind::RestToken => {
            "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod"
        }
        _ => "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/$default",
    }
}

/// The shipped event of `kind`, for the request `method path` with `auth`.
fn event(kind: Kind, method: &str, path: &str, auth: Auth<'_>) -> Value {
    let mut event = shipped(kind);
    let arn = format!("{}/{method}{path}", stage(kind));
    match kind {
        Kind::V2Simple | Kind::V2Iam => {
            event["routeKey"] = json!(format!("{method} {path}"));
            event["routeArn"] = json!(arn);
            event["rawPath"] = json!(path);
            event["requestContext"]["routeKey"] = json!(format!("{method} {path}"));
        }
        Kind::HttpV1 | Kind::RestRequest => {
            event["methodArn"] = json!(arn);
            event["resource"] = json!(path);
            event["path"] = json!(path);
            event["httpMethod"] = json!(method);
        }
        Kind::RestToken => event["methodArn"] = json!(arn),
    }
    let header = if kind == Kind::RestRequest {
        "Authorization"
    } else {
        "authorization"
    };
    match (kind, auth) {
        (Kind::RestToken, Auth::Header(value) | Auth::Repeated(value)) => {
            event["authorizationToken"] = json!(value)
        }
        (Kind::RestToken, Auth::Missing | Auth::NoHeaders) => {
            event.as_object_mut().unwrap().remove("authorizationToken");
        }
        (_, Auth::Header(value)) => {
            event["headers"][header] = json!(value);
            if kind == Kind::RestRequest {
                event["multiValueHeaders"][header] = json!([value]);
            }
        }
        // API Gateway joins repeated headers with a comma in `headers` (HTTP APIs); REST keeps them apart in
        // `multiValueHeaders` and the last in `headers`.
        (Kind::RestRequest, Auth::Repeated(value)) => {
            event["headers"][header] = json!(value);
            event["multiValueHeaders"][header] = json!([value, value]);
        }
        (_, Auth::Repeated(value)) => event["headers"][header] = json!(format!("{value},{value}")),
        (_, Auth::Missing) => {
            event["headers"].as_object_mut().unwrap().remove(header);
            if let Some(multi) = event["multiValueHeaders"].as_object_mut() {
                multi.remove(header);
            }
        }
        (_, Auth::NoHeaders) => {
            event["headers"] = Value::Null;
            if event.get("multiValueHeaders").is_some() {
                event["multiValueHeaders"] = Value::Null;
            }
        }
    }
    event
}

/// What API Gateway would do with an answer for one request.
#[derive(Debug, PartialEq)]
enum Outcome {
    Allowed(Value),
    Denied(Value),
    /// The Lambda error `Unauthorized` (a 401).
    Unauthorized,
}

/// `*` matches any run of characters, as in IAM resource ARNs.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|skip| glob(rest, &text[head.len() + skip..]))
        }
    }
}

/// IAM evaluation of an authorizer policy for `arn`: an explicit Deny wins, else an Allow is needed.
fn policy_allows(policy: &Value, arn: &str) -> bool {
    let statements = policy["Statement"].as_array().expect("statements");
    let matching = |effect: &str| {
        statements.iter().any(|statement| {
            statement["Effect"] == effect
                && statement["Action"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a == "execute-api:Invoke")
                && statement["Resource"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| glob(r.as_str().unwrap(), arn))
        })
    };
    !matching("Deny") && matching("Allow")
}

fn authorizer(issuer: &descope_local::RunningIssuer, vars: &[(&str, &str)]) -> Authorizer {
    let all = with_issuer(issuer, vars);
    let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Authorizer::from_lookup(lookup(&refs)).expect("valid authorizer configuration")
}

/// The outcome for `method path`, plus the answer's policy when it has one (to check other routes with).
async fn decide(
    authorizer: &Authorizer,
    kind: Kind,
    method: &str,
    path: &str,
    auth: Auth<'_>,
) -> (Outcome, Option<Value>) {
    let answer = match authorizer.answer(event(kind, method, path, auth)).await {
        Ok(answer) => answer,
        Err(AuthorizerError::Unauthorized) => return (Outcome::Unauthorized, None),
        Err(other) => panic!("{kind:?}: unexpected invocation error {other}"),
    };
    let context = answer["context"].clone();
    let allowed = if kind == Kind::V2Simple {
        assert_eq!(answer.as_object().unwrap().len(), 2, "{answer}");
        answer["isAuthorized"].as_bool().expect("isAuthorized")
    } else {
        assert!(answer["principalId"].is_string(), "{answer}");
        assert_eq!(answer["policyDocument"]["Version"], "2012-10-17");
        policy_allows(
            &answer["policyDocument"],
            &format!("{}/{method}{path}", stage(kind)),
        )
    };
    let policy = (kind != Kind::V2Simple).then(|| answer["policyDocument"].clone());
    let outcome = if allowed {
        Outcome::Allowed(context)
    } else {
        Outcome::Denied(context)
    };
    (outcome, policy)
}

async fn outcome(
    authorizer: &Authorizer,
    kind: Kind,
    method: &str,
    path: &str,
    auth: Auth<'_>,
) -> Outcome {
    decide(authorizer, kind, method, path, auth).await.0
}

fn bearer_value(token: &str) -> String {
    format!("Bearer {token}")
}

/// Refused tokens: refused in every kind's own way (no context leaks into a refusal).
fn refused(kind: Kind) -> Outcome {
    match kind {
        Kind::RestToken => Outcome::Unauthorized,
        _ => Outcome::Denied(json!({})),
    }
}

fn is_allowed(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Allowed(_))
}

#[tokio::test]
async fn every_kind_allows_granted_tokens_and_refuses_the_rest() {
    let issuer = start_issuer().await;
    let tokens = token_api(&issuer, &[]);
    let admin = token_for(&tokens, "dev-admin-key", &[]).await;
    let reader = token_for(&tokens, "dev-reader-key", &[]).await;
    let nogrants = token_for(&tokens, "dev-nogrants-key", &[]).await;
    let now = now();
    let expired = signed(
        &issuer,
        json!({}),
        json!({"exp": now - 60, "roles": ["admin"]}),
    );
    let foreign = signed(
        &issuer,
        json!({}),
        json!({"iss": "https://evil.example/P2LocalDevProject", "roles": ["admin"]}),
    );
    let forged = descope_local::corrupt_signature(&admin);
    for kind in KINDS {
        let iam = if kind == Kind::V2Iam { "iam" } else { "simple" };
        let authorizer = authorizer(
            &issuer,
            &[("AUTHORIZER_GRANTS", GRANTS), ("AUTHORIZER_RESPONSE", iam)],
        );
        let admin_auth = bearer_value(&admin);
        let on = |method: &'static str, path: &'static str, token: &str| {
            let value = bearer_value(token);
            let authorizer = &authorizer;
            async move { outcome(authorizer, kind, method, path, Auth::Header(&value)).await }
        };
        // The admin's context: scalars of the token only.
        match outcome(
            &authorizer,
            kind,
            "POST",
            "/api/admin",
            Auth::Header(&admin_auth),
        )
        .await
        {
            Outcome::Allowed(context) => {
                let object = context.as_object().unwrap();
                assert_eq!(context["sub"], "K2LocalAdmin", "{kind:?}");
                assert_eq!(context["grants"], "admin read:data write:data", "{kind:?}");
                assert!(context["exp"].as_i64().unwrap() > now, "{kind:?}");
                assert!(object.get("tenant").is_none(), "{kind:?}");
                assert!(object.values().all(|v| !v.is_object() && !v.is_array()));
            }
            other => panic!("{kind:?}: admin refused: {other:?}"),
        }
        // Routes with a grant, without one, and a parameterised one.
        assert!(
            is_allowed(&on("POST", "/api/user", &admin).await),
            "{kind:?}"
        );
        assert!(
            is_allowed(&on("POST", "/api/user", &reader).await),
            "{kind:?}"
        );
        assert!(
            matches!(on("POST", "/api/admin", &reader).await, Outcome::Denied(_)),
            "{kind:?}"
        );
        assert!(
            matches!(on("POST", "/api/user", &nogrants).await, Outcome::Denied(_)),
            "{kind:?}"
        );
        assert!(
            is_allowed(&on("POST", "/api/protected", &nogrants).await),
            "{kind:?}"
        );
        assert!(
            matches!(on("GET", "/reports/42", &admin).await, Outcome::Denied(_)),
            "{kind:?}"
        );
        // A route granted for one method is not for another (GET /api/admin is unnamed).
        assert!(
            is_allowed(&on("GET", "/api/admin", &reader).await),
            "{kind:?}"
        );
        for bad in [&expired, &foreign, &forged, &"not-a-token".to_owned()] {
            for path in ["/api/protected", "/api/admin"] {
                assert_eq!(
                    on("POST", path, bad).await,
                    refused(kind),
                    "{kind:?} {path}"
                );
            }
        }
        // The shipped event as it is (its placeholder is no token).
        let answer = authorizer.answer(shipped(kind)).await;
        match kind {
            Kind::RestToken => assert!(matches!(answer, Err(AuthorizerError::Unauthorized))),
            Kind::V2Simple => assert_eq!(answer.unwrap()["isAuthorized"], false),
            _ => assert!(!policy_allows(
                &answer.unwrap()["policyDocument"],
                &format!("{}/POST/api/admin", stage(kind))
            )),
        }
    }
}

#[tokio::test]
async fn one_policy_is_right_for_every_route_of_the_api() {
    let issuer = start_issuer().await;
    let tokens = token_api(&issuer, &[]);
    let reader = bearer_value(&token_for(&tokens, "dev-reader-key", &[]).await);
    let admin = bearer_value(&token_for(&tokens, "dev-admin-key", &[]).await);
    let routes = [
        ("POST", "/api/protected"),
        ("POST", "/api/user"),
        ("POST", "/api/admin"),
        ("GET", "/reports/7"),
        ("GET", "/reports/7/pages/2"),
        ("DELETE", "/anything"),
    ];
    for kind in [
        Kind::V2Iam,
        Kind::HttpV1,
        Kind::RestRequest,
        Kind::RestToken,
    ] {
        let authorizer = authorizer(
            &issuer,
            &[
                ("AUTHORIZER_GRANTS", GRANTS),
                ("AUTHORIZER_RESPONSE", "iam"),
            ],
        );
        for (token, may_admin) in [(&reader, false), (&admin, true)] {
            // Whatever route the (cached) answer was made for, it holds for every route.
            for (method, path) in routes {
                let (_, policy) =
                    decide(&authorizer, kind, method, path, Auth::Header(token)).await;
                let policy = policy.expect("a policy");
                for (other_method, other_path) in routes {
                    let arn = format!("{}/{other_method}{other_path}", stage(kind));
                    let expected = match (other_method, other_path) {
                        ("POST", "/api/admin") => may_admin,
                        ("GET", p) if p.starts_with("/reports/") => false,
                        _ => true,
                    };
                    assert_eq!(
                        policy_allows(&policy, &arn),
                        expected,
                        "{kind:?}: answer for {method} {path}, then {other_method} {other_path}: {policy}"
                    );
                }
                // Another stage or API is never covered.
                assert!(!policy_allows(
                    &policy,
                    "arn:aws:execute-api:us-east-1:123456789012:other12345/prod/POST/api/protected"
                ));
            }
        }
    }
}

#[tokio::test]
async fn tenant_grants_and_requested_scopes_follow_the_grant_rules() {
    let issuer = start_issuer().await;
    let tokens = token_api(&issuer, &[]);
    let table = r#"{"GET /reports/{id}": "read:data", "POST /api/admin": "admin", "POST /api/write": "write:data"}"#;
    // The tenant key: admin and read:data in T2Acme, write:data in T2Other; nothing without a tenant.
    let acme = exchange(
        &tokens,
        json!({"accessKey": "dev-tenant-key", "tenant": "T2Acme"}),
    )
    .await;
    assert_eq!(acme.status, 200, "{}", acme.body);
    let acme = bearer_value(acme.body["jwt"].as_str().unwrap());
    let plain = bearer_value(&token_for(&tokens, "dev-tenant-key", &[]).await);
    // Self-granted under nsec: narrowing only, never adding.
    let narrowed = bearer_value(&token_for(&tokens, "dev-admin-key", &["read:data"]).await);
    let self_granted = bearer_value(&signed(
        &issuer,
        json!({}),
        json!({"permissions": ["read:data"], "nsec": {"scope": "admin read:data", "roles": ["admin"]}}),
    ));
    for kind in KINDS {
        let mode = if kind == Kind::V2Iam { "iam" } else { "simple" };
        let authorizer = authorizer(
            &issuer,
            &[("AUTHORIZER_GRANTS", table), ("AUTHORIZER_RESPONSE", mode)],
        );
        for (token, method, path, allowed) in [
            (&acme, "POST", "/api/admin", true),
            (&acme, "GET", "/reports/1", true),
            (&acme, "POST", "/api/write", false),
            (&plain, "POST", "/api/admin", false),
            (&plain, "GET", "/reports/1", false),
            (&narrowed, "GET", "/reports/1", true),
            (&narrowed, "POST", "/api/admin", false),
            (&self_granted, "GET", "/reports/1", true),
            (&self_granted, "POST", "/api/admin", false),
        ] {
            let got = outcome(&authorizer, kind, method, path, Auth::Header(token)).await;
            assert_eq!(
                is_allowed(&got),
                allowed,
                "{kind:?} {method} {path}: {got:?}"
            );
            if token == &acme {
                let (Outcome::Allowed(context) | Outcome::Denied(context)) = got else {
                    panic!("{kind:?}: a valid token is not Unauthorized");
                };
                assert_eq!(context["tenant"], "T2Acme", "{kind:?}");
            }
        }
    }
}

#[tokio::test]
async fn authorization_headers_are_read_as_the_protected_functions_read_them() {
    let issuer = start_issuer().await;
    let tokens = token_api(&issuer, &[]);
    let token = token_for(&tokens, "dev-admin-key", &[]).await;
    let lower = format!("bearer {token}");
    let upper = format!("BEARER {token}");
    let basic = "Basic ZGV2LWFkbWluLWtleTo=".to_owned();
    let raw = token.clone();
    for kind in KINDS {
        let mode = if kind == Kind::V2Iam { "iam" } else { "simple" };
        let authorizer = authorizer(
            &issuer,
            &[("AUTHORIZER_GRANTS", GRANTS), ("AUTHORIZER_RESPONSE", mode)],
        );
        for value in [&lower, &upper] {
            let got = outcome(&authorizer, kind, "POST", "/api/admin", Auth::Header(value)).await;
            assert!(is_allowed(&got), "{kind:?} {got:?}");
        }
        for value in [&basic, &raw] {
            let got = outcome(
                &authorizer,
                kind,
                "POST",
                "/api/protected",
                Auth::Header(value),
            )
            .await;
            assert_eq!(got, refused(kind), "{kind:?}");
        }
        for auth in [Auth::Missing, Auth::NoHeaders] {
            let got = outcome(&authorizer, kind, "POST", "/api/protected", auth).await;
            assert_eq!(got, refused(kind), "{kind:?} {auth:?}");
        }
        if kind != Kind::RestToken {
            let value = bearer_value(&token);
            let got = outcome(
                &authorizer,
                kind,
                "POST",
                "/api/protected",
                Auth::Repeated(&value),
            )
            .await;
            assert_eq!(
                got,
                refused(kind),
                "{kind:?}: repeated Authorization headers are ambiguous"
            );
        }
    }
}

#[tokio::test]
async fn bad_configuration_fails_at_start_naming_the_variable() {
    let issuer = start_issuer().await;
    for (name, value) in [
        ("AUTHORIZER_GRANTS", "not json"),
        ("AUTHORIZER_GRANTS", "[]"),
        ("AUTHORIZER_GRANTS", r#"{"POST /api/admin": ""}"#),
        ("AUTHORIZER_GRANTS", r#"{"POST /api/admin": ["admin"]}"#),
        ("AUTHORIZER_GRANTS", r#"{"POST /api/admin": "has space"}"#),
        ("AUTHORIZER_GRANTS", r#"{"/api/admin": "admin"}"#),
        ("AUTHORIZER_GRANTS", r#"{"FETCH /api/admin": "admin"}"#),
        ("AUTHORIZER_GRANTS", r#"{"POST api": "admin"}"#),
        ("AUTHORIZER_GRANTS", r#"{"POST /a": "x", "POST /a": "y"}"#),
        ("AUTHORIZER_RESPONSE", "policy"),
    ] {
        let all = with_issuer(&issuer, &[(name, value)]);
        let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let error = Authorizer::from_lookup(lookup(&refs))
            .err()
            .map(|e| e.to_string());
        let error = error.unwrap_or_else(|| panic!("{name}={value} was accepted"));
        assert!(error.starts_with(name), "{name}={value}: {error}");
    }
    // The verifier's own settings are checked too.
    let all = with_issuer(&issuer, &[("JWT_ALGORITHMS", "HS256")]);
    let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert!(Authorizer::from_lookup(lookup(&refs)).is_err());
}

#[tokio::test]
async fn other_events_are_invocation_errors_and_the_authorizer_goes_on() {
    let issuer = start_issuer().await;
    let tokens = token_api(&issuer, &[]);
    let token = bearer_value(&token_for(&tokens, "dev-reader-key", &[]).await);
    let authorizer = authorizer(&issuer, &[("AUTHORIZER_GRANTS", GRANTS)]);
    let http_event = json!({"version": "2.0", "routeKey": "POST /api/user", "rawPath": "/api/user",
        "headers": {"authorization": token}, "requestContext": {"http": {"method": "POST"}}});
    for event in [
        json!({}),
        json!([]),
        json!("TOKEN"),
        json!({"type": "token", "authorizationToken": token}),
        http_event,
        json!({"type": "TOKEN", "authorizationToken": token, "methodArn": "arn:aws:s3:::bucket"}),
        json!({"type": "REQUEST", "version": "2.0", "headers": "not a map"}),
    ] {
        let error = authorizer
            .answer(event.clone())
            .await
            .expect_err("no answer");
        let message = error.to_string();
        assert!(
            message.starts_with("not an API Gateway authorizer event"),
            "{event}: {message}"
        );
        assert!(!message.contains(&token[7..]), "no error echoes the token");
        // Still answering.
        let got = outcome(
            &authorizer,
            Kind::V2Simple,
            "POST",
            "/api/user",
            Auth::Header(&token),
        )
        .await;
        assert!(is_allowed(&got));
    }
    // API Gateway's 401 for TOKEN authorizers is this exact Lambda error message.
    let diagnostic = lambda_runtime::Diagnostic::from(AuthorizerError::Unauthorized);
    assert_eq!(diagnostic.error_message, "Unauthorized");
}

/// The token's grants from a random subset of a small pool.
fn grants_of(pool: &[&str], mask: u8) -> Grants {
    let permissions: Vec<&str> = pool
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, g)| *g)
        .collect();
    Grants::from_claims(
        json!({"permissions": permissions}).as_object().unwrap(),
        GrantModel::Descope,
    )
}

fn route_strategy() -> impl Strategy<Value = (String, String)> {
    let method = prop_oneof![Just("GET"), Just("POST"), Just("DELETE"), Just("ANY")];
    let segment = prop_oneof![Just("api"), Just("x"), Just("{id}"), Just("reports")];
    (method, proptest::collection::vec(segment, 0..4)).prop_map(|(method, segments)| {
        let path = format!("/{}", segments.join("/"));
        (method.to_owned(), path)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// For any grant table and any token grants, the REST TOKEN policy allows exactly the requests the
    /// token's grants allow: every named route a request is on must have its grant held, whatever route the
    /// answer was first made for.
    #[test]
    fn the_token_policy_allows_exactly_what_the_grants_allow(
        table in proptest::collection::vec((route_strategy(), 0usize..4), 0..6),
        mask in 0u8..16,
        requests in proptest::collection::vec((prop_oneof![Just("GET"), Just("POST"), Just("DELETE")],
            proptest::collection::vec(prop_oneof![Just("api"), Just("x"), Just("7"), Just("reports"), Just("a/b")], 0..4)), 1..8),
    ) {
        let pool = ["admin", "read:data", "reports:read", "write:data"];
        let mut object = serde_json::Map::new();
        for ((method, path), grant) in &table {
            object.insert(format!("{method} {path}"), json!(pool[*grant]));
        }
        let routes = RouteGrants::parse(&Value::Object(object.clone()).to_string()).unwrap();
        let grants = grants_of(&pool, mask);
        let arn = MethodArn::parse("arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/GET/first").unwrap();
        let policy = serde_json::to_value(api_policy(Some(&grants), &routes, &arn)).unwrap();
        for (method, segments) in requests {
            let path = format!("/{}", segments.join("/"));
            // Independent of the authorizer's own matcher: each named route as the IAM glob it stands for.
            let expected = object.iter().all(|(key, grant)| {
                let (route_method, route_path) = key.split_once(' ').unwrap();
                let pattern: Vec<&str> = route_path.split('/').map(|s| if s.starts_with('{') { "*" } else { s }).collect();
                let method_glob = if route_method == "ANY" { "*" } else { route_method };
                let on_route = glob(&format!("{method_glob}{}", pattern.join("/")), &format!("{method}{path}"));
                !on_route || grants.contains(grant.as_str().unwrap())
            });
            let target = format!("arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/{method}{path}");
            prop_assert_eq!(policy_allows(&policy, &target), expected, "{} {} in {}", method, path, policy);
            prop_assert_eq!(routes.missing(&grants, &format!("{method}{path}")).is_none(), expected);
        }
    }
}

#[tokio::test]
async fn each_decision_is_classified_for_the_metrics() {
    use m2m_auth::VerifyError;
    use m2m_authorizer::Decision;
    let issuer = start_issuer().await;
    let tokens = token_api(&issuer, &[]);
    let reader = token_for(&tokens, "dev-reader-key", &[]).await;
    let expired = signed(&issuer, json!({}), json!({"exp": now() - 3600}));
    let authorizer = authorizer(&issuer, &[("AUTHORIZER_GRANTS", GRANTS)]);
    let bearer = |token: &str| bearer_value(token);
    for (kind, method, path, auth, expected) in [
        (
            Kind::V2Simple,
            "POST",
            "/api/user",
            Some(bearer(&reader)),
            Decision::Allowed,
        ),
        (
            Kind::V2Simple,
            "POST",
            "/api/admin",
            Some(bearer(&reader)),
            Decision::NotGranted,
        ),
        (Kind::V2Simple, "POST", "/api/user", None, Decision::NoToken),
        (
            Kind::RestToken,
            "POST",
            "/api/user",
            Some(bearer(&expired)),
            Decision::Refused(VerifyError::Expired),
        ),
        (
            Kind::HttpV1,
            "POST",
            "/api/user",
            Some(bearer("not.a.token")),
            Decision::Refused(VerifyError::Malformed("not base64url")),
        ),
    ] {
        let auth = match &auth {
            Some(value) => Auth::Header(value),
            None => Auth::Missing,
        };
        let verdict = authorizer
            .decide(event(kind, method, path, auth))
            .await
            .decision;
        match (&verdict, &expected) {
            // The exact reason of a malformed token is the verifier's business; its class is what counts.
            (
                Decision::Refused(VerifyError::Malformed(_)),
                Decision::Refused(VerifyError::Malformed(_)),
            ) => {}
            _ => assert_eq!(verdict, expected, "{kind:?} {method} {path}"),
        }
    }
    let decided = authorizer.decide(json!({"hello": "world"})).await;
    assert!(decided.answer.is_err());
    assert_eq!(decided.decision, Decision::NotAnAuthorizerEvent);
}

/// A grant on a path that a parameter route (or an `ANY` route) serves: the simple answer and the IAM answer
/// decide alike, by the request's own method and path, whatever route API Gateway matched.
#[tokio::test]
async fn simple_and_iam_answers_decide_alike_when_a_parameter_or_any_route_serves_the_request() {
    let issuer = start_issuer().await;
    let tokens = token_api(&issuer, &[]);
    let reader = bearer_value(&token_for(&tokens, "dev-reader-key", &[]).await);
    let admin = bearer_value(&token_for(&tokens, "dev-admin-key", &[]).await);
    let grants = r#"{"GET /reports/secret": "admin", "GET /x": "admin"}"#;
    let simple = authorizer(&issuer, &[("AUTHORIZER_GRANTS", grants)]);
    let iam = authorizer(
        &issuer,
        &[
            ("AUTHORIZER_GRANTS", grants),
            ("AUTHORIZER_RESPONSE", "iam"),
        ],
    );
    // (route API Gateway matched, method, path, reader allowed?)
    let cases = [
        ("GET /reports/{id}", "GET", "/reports/secret", false),
        ("GET /reports/{id}", "GET", "/reports/1", true),
        ("ANY /x", "GET", "/x", false),
        ("ANY /x", "POST", "/x", true),
        ("GET /{proxy+}", "GET", "/reports/secret", false),
    ];
    for (route, method, path, reader_allowed) in cases {
        for (mode, authorizer, kind) in [
            ("simple", &simple, Kind::V2Simple),
            ("iam", &iam, Kind::V2Iam),
        ] {
            for (who, auth, expected) in
                [("reader", &reader, reader_allowed), ("admin", &admin, true)]
            {
                let mut event = event(kind, method, path, Auth::Header(auth));
                event["routeKey"] = json!(route);
                event["requestContext"]["routeKey"] = json!(route);
                let answer = authorizer.answer(event).await.expect("an answer");
                let allowed = match kind {
                    Kind::V2Simple => answer["isAuthorized"].as_bool().expect("isAuthorized"),
                    _ => policy_allows(
                        &answer["policyDocument"],
                        &format!("{}/{method}{path}", stage(kind)),
                    ),
                };
                assert_eq!(
                    allowed, expected,
                    "{mode}: {who} on {route} at {method} {path}"
                );
            }
        }
    }
}
