//! The tower layers in-process: `RequireGrant` on a user's own lambda_http service and on an axum router
//! (the verified token reaches the handler; 401 and 403 exactly as the protected functions answer them),
//! `ApiLayer`'s CORS and method rules, and the event guard every HTTP function runs behind: hostile
//! `X-Forwarded-Proto` and `Host` values that make lambda_http panic are answered normally, a panic fails
//! its invocation alone with a contract-shaped 500, and the next event is served.

use axum::routing::post;
use lambda_http::http::StatusCode;
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Context, LambdaEvent, Request, Response};
use m2m_api::{ApiLayer, Cors, PROTECTED, Require, RequireGrant, VerifiedToken};
use m2m_tests::*;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use tower::{Service, ServiceBuilder, ServiceExt};

/// A user's own handler: it reads the token the layer verified.
async fn reports(request: Request) -> Result<Response<Body>, Infallible> {
    let token = request
        .extensions()
        .get::<Arc<VerifiedToken>>()
        .expect("the layer put the verified token in the extensions");
    let body = json!({"sub": token.claims["sub"], "grants": token.grants.to_vec()});
    Ok(m2m_api::json_response(StatusCode::OK, &body))
}

fn verifier(issuer: &descope_local::RunningIssuer) -> Arc<m2m_api::Verifier> {
    Arc::new(m2m_api::verifier(&auth_config(issuer, &[])).expect("verifier"))
}

/// What a refusal looks like, from the layer and from the protected function alike.
fn assert_same_refusal(ours: &Reply, theirs: &Reply) {
    assert_eq!(ours.status, theirs.status);
    assert_eq!(ours.body, theirs.body);
    for name in [
        "www-authenticate",
        "content-type",
        "cache-control",
        "x-content-type-options",
        "content-security-policy",
        "referrer-policy",
    ] {
        assert_eq!(ours.header(name), theirs.header(name), "{name}");
    }
}

#[tokio::test]
async fn the_layer_protects_a_lambda_http_service() {
    let issuer = start_issuer().await;
    let tokens = token_api(&issuer, &[]);
    let admin = token_for(&tokens, "dev-admin-key", &[]).await;
    let reader = token_for(&tokens, "dev-reader-key", &[]).await;
    let service = ServiceBuilder::new()
        .layer(RequireGrant::new(
            verifier(&issuer),
            Require::Grant("admin"),
        ))
        .service_fn(reports);
    let ok = reply(
        service
            .clone()
            .oneshot(bearer("/reports", &admin))
            .await
            .unwrap(),
    );
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["sub"], "K2LocalAdmin");
    assert_eq!(
        ok.body["grants"],
        json!(["admin", "read:data", "write:data"])
    );
    assert_eq!(ok.header("cache-control"), "no-store");

    // The refusals are the protected functions' own, byte for byte: compare with /api/admin.
    let admin_function = protected_api(&issuer, m2m_api::ADMIN, &[]);
    let forged = descope_local::corrupt_signature(&admin);
    for (request, status, challenge) in [
        (request("POST", "/r", &[], None), 401, "Bearer"),
        (
            request("POST", "/r", &[("authorization", "Basic eDp5")], None),
            401,
            "Bearer",
        ),
        (
            bearer("/r", &forged),
            401,
            r#"Bearer error="invalid_token""#,
        ),
        (
            bearer("/r", &reader),
            403,
            r#"Bearer error="insufficient_scope", scope="admin""#,
        ),
    ] {
        let theirs = call(&admin_function, clone_request(&request)).await;
        let ours = reply(service.clone().oneshot(request).await.unwrap());
        assert_eq!(ours.status, status, "{}", ours.body);
        assert_eq!(ours.header("www-authenticate"), challenge);
        assert_eq!(ours.body["success"], false);
        assert_same_refusal(&ours, &theirs);
    }
}

fn clone_request(request: &Request) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(request.method())
        .uri(request.uri());
    for (name, value) in request.headers() {
        builder = builder.header(name, value);
    }
    builder.body(Body::Empty).unwrap()
}

#[tokio::test]
async fn the_layer_protects_an_axum_router() {
    use axum::Extension;
    let issuer = start_issuer().await;
    let tokens = token_api(&issuer, &[]);
    let reader = token_for(&tokens, "dev-reader-key", &[]).await;
    let nogrants = token_for(&tokens, "dev-nogrants-key", &[]).await;
    async fn handler(Extension(token): Extension<Arc<VerifiedToken>>) -> axum::Json<Value> {
        axum::Json(json!({"sub": token.claims["sub"], "exp": token.expires_at}))
    }
    let router = axum::Router::new()
        .route("/reports", post(handler))
        .layer(RequireGrant::new(
            verifier(&issuer),
            Require::Grant("read:data"),
        ));
    let send = |authorization: Option<String>| {
        let router = router.clone();
        async move {
            let mut builder = axum::http::Request::post("/reports");
            if let Some(value) = authorization {
                builder = builder.header("authorization", value);
            }
            let response = router
                .oneshot(builder.body(axum::body::Body::empty()).unwrap())
                .await
                .unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            (
                status,
                headers,
                serde_json::from_slice::<Value>(&bytes).unwrap(),
            )
        }
    };
    let (status, _, body) = send(Some(format!("bearer {reader}"))).await;
    assert_eq!((status, &body["sub"]), (200, &json!("K2LocalReader")));
    assert!(body["exp"].as_i64().unwrap() > now());
    let (status, headers, body) = send(None).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"success": false, "error": "Missing or invalid Authorization header"})
    );
    assert_eq!(headers["www-authenticate"], "Bearer");
    let (status, headers, body) = send(Some(format!("Bearer {nogrants}"))).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "Missing required scope: 'read:data'");
    assert_eq!(
        headers["www-authenticate"],
        r#"Bearer error="insufficient_scope", scope="read:data""#
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn api_layer_answers_cors_and_methods_as_before() {
    let issuer = start_issuer().await;
    let tokens = token_api(&issuer, &[]);
    let token = token_for(&tokens, "dev-reader-key", &[]).await;
    let cors = Cors::parse("https://app.example").unwrap();
    let service = ServiceBuilder::new()
        .layer(ApiLayer::new(cors))
        .layer(RequireGrant::new(verifier(&issuer), Require::AnyValidToken))
        .service_fn(reports);
    let send = |request: Request| {
        let service = service.clone();
        async move { reply(service.oneshot(request).await.unwrap()) }
    };
    let auth = format!("Bearer {token}");
    let allowed = send(request(
        "POST",
        "/api/x",
        &[("origin", "https://app.example"), ("authorization", &auth)],
        None,
    ))
    .await;
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        "https://app.example"
    );
    assert!(
        allowed
            .header("vary")
            .to_ascii_lowercase()
            .contains("origin")
    );
    for origin in ["https://evil.example", "https://app.example.evil", "null"] {
        let refused = send(request(
            "POST",
            "/api/x",
            &[("origin", origin), ("authorization", &auth)],
            None,
        ))
        .await;
        assert_eq!(refused.status, 200);
        assert_eq!(refused.header("access-control-allow-origin"), "");
    }
    // A refusal from the layer carries the CORS headers too, so a browser can read it.
    let unauthorized = send(request(
        "POST",
        "/api/x",
        &[("origin", "https://app.example")],
        None,
    ))
    .await;
    assert_eq!(unauthorized.status, 401);
    assert_eq!(
        unauthorized.header("access-control-allow-origin"),
        "https://app.example"
    );
    // Preflight: answered without a token, never `*`.
    let preflight = send(request(
        "OPTIONS",
        "/api/x",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization,content-type",
            ),
        ],
        None,
    ))
    .await;
    assert!(preflight.status < 300, "{}", preflight.status);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        "https://app.example"
    );
    assert!(
        preflight
            .header("access-control-allow-methods")
            .contains("POST")
    );
    let allowed_headers = preflight
        .header("access-control-allow-headers")
        .to_ascii_lowercase();
    assert!(allowed_headers.contains("authorization") && allowed_headers.contains("content-type"));
    assert_eq!(preflight.header("access-control-max-age"), "600");
    assert!(preflight.headers.iter().all(|(_, v)| v != "*"));
    let get = send(request("GET", "/api/x", &[("authorization", &auth)], None)).await;
    assert_eq!(get.status, 405);
    assert_eq!(get.header("allow"), "POST, OPTIONS");
    assert_eq!(
        get.body,
        json!({"success": false, "error": "Method not allowed"})
    );
}

/// An HTTP API (payload 2.0) event as API Gateway hands it over (tests/events/http-api-v2-post.json).
fn v2_event(token: &str, headers: &[(&str, &str)]) -> Value {
    let mut event: Value =
        serde_json::from_str(include_str!("../events/http-api-v2-post.json")).unwrap();
    event["headers"]["authorization"] = json!(format!("Bearer {token}"));
    for (name, value) in headers {
        event["headers"][*name] = json!(value);
    }
    event
}

/// A REST API (payload 1.0) proxy event with the same request.
fn v1_event(token: &str, headers: &[(&str, &str)]) -> Value {
    let mut single = json!({"Authorization": format!("Bearer {token}"), "Host": "abcdef1234.execute-api.us-east-1.amazonaws.com"});
    let mut multi = json!({"Authorization": [format!("Bearer {token}")]});
    for (name, value) in headers {
        single[*name] = json!(value);
        multi[*name] = json!([value]);
    }
    json!({
        "resource": "/api/protected", "path": "/api/protected", "httpMethod": "POST",
        "headers": single, "multiValueHeaders": multi,
        "queryStringParameters": null, "multiValueQueryStringParameters": null,
        "pathParameters": null, "stageVariables": null, "body": null, "isBase64Encoded": false,
        "requestContext": {"accountId": "123456789012", "apiId": "abcdef1234", "stage": "prod",
            "resourceId": "a1b2c3", "resourcePath": "/api/protected", "httpMethod": "POST",
            "requestId": "6a4f5e2d", "path": "/prod/api/protected",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "identity": {"sourceIp": "192.0.2.10"}}
    })
}

fn lambda_event(event: &Value) -> LambdaEvent<LambdaRequest> {
    LambdaEvent::new(
        serde_json::from_value(event.clone()).expect("an API Gateway event"),
        Context::default(),
    )
}

/// [`m2m_api::ApiGatewayEvent`] (lambda_http's reading, its panics caught) reads every event as lambda_http
/// reads it: the same `LambdaRequest` of the same kind, or an error for the same texts.
#[test]
fn events_are_read_as_lambda_http_reads_them() {
    let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJLMiJ9.c2ln";
    let v2 = v2_event(token, &[]);
    let mut texts: Vec<String> = vec![
        v2.to_string(),
        v1_event(token, &[]).to_string(),
        serde_json::to_string_pretty(&v2).unwrap(),
    ];
    // The two ways out of the fast path: a text naming `httpMethod`, and a `\u` escape anywhere.
    let mut named = v2.clone();
    named["body"] = json!(r#"{"httpMethod":"GET"}"#);
    texts.push(named.to_string());
    texts.push(
        v2.to_string()
            .replacen("\"rawPath\"", "\"raw\\u0050ath\"", 1),
    );
    texts.push(
        v2.to_string()
            .replacen("\"version\"", "\"httpMethod\":\"GET\",\"version\"", 1),
    );
    texts.push(v2.to_string().replacen(
        "\"version\"",
        "\"http\\u004dethod\":\"GET\",\"version\"",
        1,
    ));
    // A REST event that an HTTP API reading would take too (its context has `http.method`, all that one
    // requires): lambda_http reads it as REST. Also with `httpMethod` spelled with an escape.
    let mut both = v1_event(token, &[]);
    both["requestContext"]["http"] = json!({"method": "POST", "path": "/api/protected"});
    texts.push(both.to_string());
    texts.push(
        both.to_string()
            .replace("\"httpMethod\"", "\"http\\u004dethod\""),
    );
    // An HTTP API event in payload format 1.0 (a REST-shaped event with a version).
    let mut format_1 = v1_event(token, &[]);
    format_1["version"] = json!("1.0");
    texts.push(format_1.to_string());
    // A body, a query string, cookies and stage variables.
    let mut full = v2.clone();
    full["body"] = json!("eyJhIjoxfQ==");
    full["isBase64Encoded"] = json!(true);
    full["rawQueryString"] = json!("a=1&b=2&b=3");
    full["queryStringParameters"] = json!({"a": "1", "b": "2,3"});
    full["cookies"] = json!(["a=1", "b=2"]);
    full["stageVariables"] = json!({"s": "v", "t": "w"});
    full["pathParameters"] = json!({"p": "q", "r": "s"});
    texts.push(full.to_string());
    for file in [
        include_str!("../events/http-api-v2-post.json"),
        include_str!("../events/http-api-v2-whoami.json"),
        include_str!("../events/authorizer-http-v1.json"),
        include_str!("../events/authorizer-http-v2.json"),
        include_str!("../events/authorizer-rest-request.json"),
        include_str!("../events/authorizer-rest-token.json"),
    ] {
        texts.push(file.to_owned());
    }
    // What reads as neither, or only as one of them.
    let mut mistyped = v2.clone();
    mistyped["headers"] = json!(5);
    texts.push(mistyped.to_string());
    let mut no_context = v2.clone();
    no_context.as_object_mut().unwrap().remove("requestContext");
    texts.push(no_context.to_string());
    // Structs read from arrays too, field by field: one long enough for either shape.
    texts.push(
        json!([
            null,
            "/p",
            "POST",
            {},
            {},
            null,
            null,
            null,
            null,
            {},
            null,
            false
        ])
        .to_string(),
    );
    for garbage in [
        "{}",
        "[]",
        "null",
        "5",
        r#"{"version":"2.0"}"#,
        "{\"version\":",
    ] {
        texts.push(garbage.to_owned());
    }
    let mut fast = 0;
    for text in &texts {
        let ours = serde_json::from_str::<m2m_api::ApiGatewayEvent>(text).map(|event| event.0);
        let theirs = serde_json::from_str::<LambdaRequest>(text);
        match (ours, theirs) {
            (Ok(LambdaRequest::ApiGatewayV2(a)), Ok(LambdaRequest::ApiGatewayV2(b))) => {
                assert_eq!(a, b, "{text}");
                fast += usize::from(!text.contains("httpMethod") && !text.contains("\\u"));
            }
            (Ok(LambdaRequest::ApiGatewayV1(a)), Ok(LambdaRequest::ApiGatewayV1(b))) => {
                assert_eq!(a, b, "{text}")
            }
            (Err(_), Err(_)) => {}
            (ours, theirs) => panic!("{text}\nours: {ours:?}\nlambda_http: {theirs:?}"),
        }
    }
    assert!(fast >= 4, "only {fast} texts could take the fast path");
}

/// Responses of every kind the functions give, and of kinds a user's service might: built afresh for each
/// call (a response is not `Clone`).
fn sample_responses() -> Vec<Response<Body>> {
    fn with(status: u16, headers: &[(&str, &[u8])], body: Body) -> Response<Body> {
        let mut response = Response::new(body);
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        for (name, value) in headers {
            response.headers_mut().append(
                lambda_http::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                lambda_http::http::HeaderValue::from_bytes(value).unwrap(),
            );
        }
        response
    }
    let ok = |headers: &[(&str, &[u8])], body: Body| with(200, headers, body);
    let typed = |content_type: &str, text: &str| {
        ok(
            &[("content-type", content_type.as_bytes())],
            Body::Text(text.into()),
        )
    };
    let json_type: (&str, &[u8]) = ("content-type", b"application/json");
    vec![
        m2m_api::json_response(
            StatusCode::OK,
            &json!({"success": true, "claims": {"sub": "K2\"\\\u{1}é\u{2028}", "n": 1.5}}),
        ),
        m2m_api::ApiError::MissingAuthorization.into_response(),
        // The answer of a panicked invocation.
        with(
            500,
            &[json_type, ("vary", b"Origin")],
            Body::Text(r#"{"success":false,"error":"Internal error"}"#.into()),
        ),
        // JSON text lambda_http's decoding changes: a byte order mark is dropped.
        ok(&[json_type], Body::Text("\u{feff}{}".into())),
        m2m_api::ApiError::MethodNotAllowed.into_response(),
        with(200, &[json_type], Body::Text(String::new())),
        with(200, &[json_type], Body::Empty),
        with(
            204,
            &[
                ("access-control-allow-origin", b"https://a.example"),
                ("vary", b"origin"),
            ],
            Body::Empty,
        ),
        ok(
            &[
                ("set-cookie", b"a=1; Secure"),
                ("set-cookie", b"b=2"),
                ("content-type", b"text/plain"),
            ],
            Body::Text("hi".into()),
        ),
        // Text of content types lambda_http reads in other ways (a charset, a second type).
        typed("text/html; charset=utf-8", "<p>é</p>"),
        typed("application/json; charset=utf-8", "{\"a\":1}"),
        typed("application/json; charset=latin1", "{\"a\":\"é\"}"),
        ok(
            &[json_type, ("content-type", b"text/plain")],
            Body::Text("{}".into()),
        ),
        ok(
            &[("content-type", b"image/png")],
            Body::Binary(vec![0x89, b'P', b'N', b'G', 0, 255]),
        ),
        ok(&[json_type], Body::Binary(b"{\"binary\":true}".to_vec())),
        ok(
            &[json_type, ("content-encoding", b"gzip")],
            Body::Text("{}".into()),
        ),
        ok(
            &[
                ("x-dup", b"one"),
                ("x-dup", b"two"),
                ("x-utf8", "é".as_bytes()),
            ],
            Body::Text("t".into()),
        ),
        with(500, &[], Body::Text("no type".into())),
    ]
}

/// The guard answers the JSON lambda_http's Adapter answers for the same response, for both origins: it adds
/// nothing and drops nothing on the way.
#[tokio::test]
async fn answers_are_written_as_lambda_http_writes_them() {
    let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJLMiJ9.c2ln";
    let count = sample_responses().len();
    for event in [v2_event(token, &[]), v1_event(token, &[])] {
        for index in 0..count {
            let respond = move |_: Request| {
                std::future::ready(Ok::<_, Infallible>(sample_responses().swap_remove(index)))
            };
            let ours = invoke(&mut m2m_api::guard(tower::service_fn(respond)), &event).await;
            let mut adapter = lambda_http::Adapter::from(tower::service_fn(respond));
            let theirs = adapter
                .ready()
                .await
                .unwrap()
                .call(lambda_event(&event))
                .await
                .unwrap();
            assert_eq!(
                ours,
                serde_json::to_value(theirs).unwrap(),
                "response {index}, event {}",
                event["version"]
            );
        }
    }
}

/// What a service sees of its request, as JSON: everything lambda_http's conversion puts in it.
fn seen(request: &Request) -> Value {
    use base64::Engine as _;
    use lambda_http::RequestExt;
    let mut headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.to_string(), value)
        })
        .collect();
    headers.sort();
    let bytes: &[u8] = match request.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    let body = base64::engine::general_purpose::STANDARD.encode(bytes);
    let context = request.lambda_context();
    json!({
        "method": request.method().as_str(),
        "uri": request.uri().to_string(),
        "version": format!("{:?}", request.version()),
        "headers": headers,
        "body": body,
        "requestId": context.request_id,
        "xrayTraceId": context.xray_trace_id,
        "context": serde_json::to_value(request.request_context()).unwrap(),
        "query": serde_json::to_value(request.query_string_parameters()).unwrap(),
        "path": serde_json::to_value(request.path_parameters()).unwrap(),
        "stage": serde_json::to_value(request.stage_variables()).unwrap(),
        "rawPath": request.raw_http_path(),
    })
}

/// The guard hands its service the request lambda_http's Adapter would: the same method, URI, headers
/// (with the invocation's trace id), body, invocation context and request context, for both origins.
#[tokio::test]
async fn requests_are_made_as_lambda_http_makes_them() {
    let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJLMiJ9.c2ln";
    let mut full = v2_event(token, &[("x-forwarded-proto", "https")]);
    full["body"] = json!("eyJhIjoxfQ==");
    full["isBase64Encoded"] = json!(true);
    full["rawQueryString"] = json!("a=1&b=2&b=3");
    full["queryStringParameters"] = json!({"a": "1", "b": "2,3"});
    full["cookies"] = json!(["a=1", "b=2"]);
    full["stageVariables"] = json!({"s": "v"});
    full["pathParameters"] = json!({"p": "q"});
    let mut rest = v1_event(token, &[("Cookie", "a=1")]);
    rest["body"] = json!("{\"a\":1}");
    rest["queryStringParameters"] = json!({"a": "1"});
    rest["multiValueQueryStringParameters"] = json!({"a": ["1"]});
    let respond = |request: Request| {
        let body = seen(&request).to_string();
        std::future::ready(Ok::<_, Infallible>(Response::new(Body::Text(body))))
    };
    for event in [v2_event(token, &[]), full, v1_event(token, &[]), rest] {
        for trace_id in [
            None,
            Some("Root=1-67891233-abcdef012345678912345678;Sampled=1"),
            Some("bad\nid"),
        ] {
            let mut context = Context::default();
            context.request_id = "req-1".to_owned();
            context.xray_trace_id = trace_id.map(str::to_owned);
            let text = event.to_string();
            let ours = m2m_api::guard(tower::service_fn(respond))
                .call(LambdaEvent::new(
                    serde_json::from_str(&text).unwrap(),
                    context.clone(),
                ))
                .await
                .unwrap();
            let theirs = lambda_http::Adapter::from(tower::service_fn(respond))
                .call(LambdaEvent::new(
                    serde_json::from_str(&text).unwrap(),
                    context,
                ))
                .await
                .unwrap();
            let body = |answer: Value| -> Value {
                serde_json::from_str(answer["body"].as_str().expect("a text body")).unwrap()
            };
            let ours = body(serde_json::to_value(ours).unwrap());
            assert_eq!(
                ours,
                body(serde_json::to_value(theirs).unwrap()),
                "{trace_id:?}: {text}"
            );
            if let Some(id) = trace_id.filter(|id| !id.contains('\n')) {
                assert!(ours["headers"].to_string().contains(id), "{ours}");
            }
        }
    }
}

/// One invocation through the guard and lambda_http's Adapter, the event read from its text as the runtime
/// reads it, answered as the runtime would post it.
async fn invoke<S, F>(guard: &mut S, event: &Value) -> Value
where
    S: Service<LambdaEvent<m2m_api::ApiGatewayEvent>, Future = F>,
    F: std::future::Future<Output = Result<S::Response, S::Error>>,
    S::Response: serde::Serialize,
    S::Error: std::fmt::Debug,
{
    let response = guard
        .ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(
            serde_json::from_str(&event.to_string()).expect("an API Gateway event"),
            Context::default(),
        ))
        .await
        .unwrap();
    serde_json::to_value(response).unwrap()
}

const HOSTILE: [(&str, &str); 7] = [
    ("x-forwarded-proto", "evil, https"),
    ("x-forwarded-proto", "a b"),
    ("x-forwarded-proto", "1"),
    ("x-forwarded-proto", "https://x"),
    ("host", "bad host"),
    ("host", "a:99999"),
    ("host", "x/y?z"),
];

#[tokio::test]
async fn hostile_headers_are_answered_and_the_next_event_is_served() {
    let issuer = start_issuer().await;
    let tokens = token_api(&issuer, &[]);
    let token = token_for(&tokens, "dev-reader-key", &[]).await;
    let api = protected_api(&issuer, PROTECTED, &[]);
    let mut guard = m2m_api::guard(api.service());
    for (name, value) in HOSTILE {
        // Without the guard, lambda_http itself panics on these (so the check below can fail).
        let mut bare = lambda_http::Adapter::from(api.service());
        let event = lambda_event(&v2_event(&token, &[(name, value)]));
        let panicked =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(bare.call(event))))
                .is_err();
        for event in [
            v2_event(&token, &[(name, value)]),
            v1_event(&token, &[(name, value)]),
        ] {
            let answer = invoke(&mut guard, &event).await;
            assert_eq!(answer["statusCode"], 200, "{name}: {value}: {answer}");
            let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
            assert_eq!(body["message"], "Protected API call succeeded!");
        }
        let next = invoke(&mut guard, &v2_event(&token, &[])).await;
        assert_eq!(next["statusCode"], 200);
        if !["https://x", "x/y?z"].contains(&value) {
            assert!(
                panicked,
                "lambda_http 1.3 no longer panics on {name}: {value}"
            );
        }
    }
}

/// A service that panics in `call` itself (before any future exists) for one path.
#[derive(Clone)]
struct PanicsInCall<S>(S);

impl<S: Service<Request>> Service<Request> for PanicsInCall<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;
    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }
    fn call(&mut self, request: Request) -> S::Future {
        if request.uri().path().ends_with("/api/sync-panic") {
            panic!("sync panic with secret-text-1");
        }
        self.0.call(request)
    }
}

#[tokio::test]
async fn a_panic_fails_its_own_invocation_with_a_contract_shaped_500() {
    let issuer = start_issuer().await;
    let tokens = token_api(&issuer, &[]);
    let token = token_for(&tokens, "dev-reader-key", &[]).await;
    let handler = tower::service_fn(|request: Request| async move {
        if request.uri().path().ends_with("/api/async-panic") {
            panic!("async panic with secret-text-2");
        }
        reports(request).await
    });
    let service = ServiceBuilder::new()
        .layer(ApiLayer::default())
        .layer(RequireGrant::new(verifier(&issuer), Require::AnyValidToken))
        .service(PanicsInCall(handler));
    let mut guard = m2m_api::guard(service);
    for path in ["/api/async-panic", "/api/sync-panic"] {
        for mut event in [v2_event(&token, &[]), v1_event(&token, &[])] {
            if event.get("rawPath").is_some() {
                event["rawPath"] = json!(path);
            } else {
                event["path"] = json!(path);
            }
            let answer = invoke(&mut guard, &event).await;
            assert_eq!(answer["statusCode"], 500, "{path}: {answer}");
            assert!(!answer.to_string().contains("secret-text"), "{answer}");
            let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
            assert_eq!(body, json!({"success": false, "error": "Internal error"}));
            let headers = if answer["headers"].as_object().is_some_and(|h| !h.is_empty()) {
                answer["headers"]["content-type"].clone()
            } else {
                answer["multiValueHeaders"]["content-type"][0].clone()
            };
            assert_eq!(headers, "application/json");
            // The same guard (the same process) serves the next event.
            let next = invoke(&mut guard, &v2_event(&token, &[])).await;
            assert_eq!(next["statusCode"], 200, "{next}");
        }
    }
}

#[tokio::test]
async fn whoami_answers_the_authorizer_context_and_nothing_without_it() {
    let event: Value =
        serde_json::from_str(include_str!("../events/http-api-v2-whoami.json")).unwrap();
    let mut guard = m2m_api::guard(tower::service_fn(m2m_api::whoami));
    let answer = invoke(&mut guard, &event).await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"success": true, "authorizer": {"sub": "K2LocalAdmin", "grants": "admin read:data write:data", "exp": 1796116200}})
    );
    let mut bare = event.clone();
    bare["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let answer = invoke(&mut guard, &bare).await;
    assert_eq!(answer["statusCode"], 401, "{answer}");
}

/// What lambda_http cannot make a request of is the event's fault: a 400 in the contract's shape, and the
/// process serves the next event. The raw query and the base64 body are refused before the conversion; a
/// path lambda_http 1.3 cannot build a URI from (`:99999`) panics inside it and is caught there.
#[tokio::test]
async fn events_lambda_http_cannot_convert_are_a_400_and_the_next_event_is_served() {
    let issuer = start_issuer().await;
    let tokens = token_api(&issuer, &[]);
    let token = token_for(&tokens, "dev-reader-key", &[]).await;
    let api = protected_api(&issuer, PROTECTED, &[]);
    let mut guard = m2m_api::guard(api.service());
    let mut bad_query = v2_event(&token, &[]);
    bad_query["rawQueryString"] = json!("a b");
    let mut bad_body = v2_event(&token, &[]);
    bad_body["body"] = json!("not base64!");
    bad_body["isBase64Encoded"] = json!(true);
    let mut bad_path = v2_event(&token, &[]);
    bad_path["rawPath"] = json!(":99999");
    for (name, event) in [("query", bad_query), ("body", bad_body), ("path", bad_path)] {
        let answer = invoke(&mut guard, &event).await;
        assert_eq!(answer["statusCode"], 400, "{name}: {answer}");
        let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"success": false, "error": "Malformed request"}),
            "{name}"
        );
        assert_eq!(
            answer["headers"]["content-type"], "application/json",
            "{name}"
        );
        let next = invoke(&mut guard, &v2_event(&token, &[])).await;
        assert_eq!(next["statusCode"], 200, "{name}: {next}");
    }
}
