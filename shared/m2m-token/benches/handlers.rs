//! The functions' handlers next to the cryptographic floor, measured in the same run.
//!
//! Floor: aws-lc-rs `UnparsedPublicKey::verify` (RSA-2048, PKCS#1 v1.5, SHA-256) on the token's own signing
//! input, measured first and last; `bench/run.sh` divides every case by the mean of the two.
//!
//! A tiny in-process HTTP/1.1 server on loopback (`Canned`) stands in for Descope: it answers the JWKS route
//! with the local issuer's public keys and the exchange route with a canned `sessionJwt` minted by the local
//! issuer beforehand, so no RSA signing happens per request. The protected handlers fetch the keys once before
//! timing (a warm container); nothing in their timed loop touches the network. The token handler's timed
//! loop does include its one loopback round trip to the canned exchange; `api/exchange_roundtrip_only`
//! measures that round trip alone (same client, same request) so it can be subtracted.
//!
//! The protected handlers see one token again and again (answered from the verified-token cache), except in
//! `protected_handler_new_token` (a token the cache does not hold in every iteration) and
//! `protected_handler_no_cache` (the cache turned off: the full check, as before the cache).
//!
//! The authorizer's cases and the RequireGrant layer's overhead (the layer against the verifier called
//! directly) are measured in the same run, against the same floor.
//!
//! Every handler runs as on Lambda: on a current-thread Tokio runtime, with the JSON log subscriber and the
//! EMF metrics installed (both writing to a sink instead of stdout), one log line and one metrics line per
//! request. `api/observability_per_request` is that per-request line pair alone (`m2m_api::
//! RequestLine`, which formats and writes both).

#[path = "../../m2m-auth/benches/support/floor.rs"]
mod floor;
#[path = "../../m2m-auth/benches/support/tokens.rs"]
mod tokens;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use descope_local::{IssuerConfig, LocalIssuer};
use lambda_http::tower::Service;
use lambda_http::{Context, LambdaEvent, Request, RequestExt};
use m2m_api::{AuthConfig, PROTECTED, ProtectedApi, USER};
use m2m_token::{TokenApi, TokenSettings};
use std::hint::black_box;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PROJECT: &str = "P2LocalDevProject";

/// An HTTP/1.1 server with two canned answers (keep-alive, `Content-Length` bodies only), on a thread of
/// its own so that it never competes with the measured runtime for a poll.
fn start_canned(listener: std::net::TcpListener, jwks: String, exchange: String) {
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let answers: &'static (String, String) = Box::leak(Box::new((jwks, exchange)));
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                stream.set_nodelay(true).unwrap();
                tokio::spawn(serve(stream, answers));
            }
        });
    });
}

async fn serve(mut stream: tokio::net::TcpStream, (jwks, exchange): &'static (String, String)) {
    let mut buffer = Vec::with_capacity(4096);
    loop {
        let head_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if stream.read_buf(&mut buffer).await.unwrap_or(0) == 0 {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
        let body_len: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        while buffer.len() < head_end + body_len {
            if stream.read_buf(&mut buffer).await.unwrap_or(0) == 0 {
                return;
            }
        }
        let body = if head.starts_with("get /v2/keys/") {
            jwks
        } else {
            exchange
        };
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
        buffer.drain(..head_end + body_len);
    }
}

/// An API Gateway HTTP API (payload 2.0) event, as the Lambda runtime hands it over.
fn event(path: &str, authorization: Option<&str>, body: Option<&str>) -> String {
    let mut headers =
        serde_json::json!({"content-type": "application/json", "host": "api.example.com"});
    if let Some(value) = authorization {
        headers["authorization"] = value.into();
    }
    serde_json::json!({
        "version": "2.0",
        "routeKey": format!("POST {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
            "domainPrefix": "api", "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.1", "userAgent": "bench"}, "requestId": "id", "routeKey": format!("POST {path}"),
            "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 1767225600000u64
        },
        "body": body,
        "isBase64Encoded": false
    })
    .to_string()
}

fn request(event: &str) -> Request {
    lambda_http::request::from_str(event).expect("a valid API Gateway event")
}

fn benches(c: &mut Criterion) {
    // The JSON log lines and EMF metrics the functions write on Lambda (`m2m_telemetry::init_telemetry`, with the
    // logging configuration of the templates), formatted for real but written nowhere.
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let on_lambda = |name: &str| match name {
            "AWS_LAMBDA_LOG_FORMAT" => Some("JSON".to_owned()),
            "AWS_LAMBDA_LOG_LEVEL" => Some("INFO".to_owned()),
            "AWS_LAMBDA_FUNCTION_NAME" => Some("m2m-protected".to_owned()),
            _ => None,
        };
        let settings = m2m_telemetry::LogSettings::from_lookup(on_lambda);
        m2m_telemetry::install_json_request_lines(&settings, std::io::sink);
        tracing_subscriber::registry()
            .with(settings.filter)
            .with(m2m_telemetry::lambda_json_layer(std::io::sink))
            .init();
        m2m_telemetry::install_metrics(
            &m2m_telemetry::MetricsSettings::from_lookup(on_lambda),
            std::io::sink,
        );
    }

    // The canned server's address is the base URL, which the token names in `iss`: bind, mint, then serve.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let mut config = IssuerConfig::dev();
    config.session_ttl = Duration::from_secs(24 * 3600);
    let issuer = LocalIssuer::new(config);
    issuer.set_base_url(&base_url);
    let minted = issuer.mint("K2LocalAdmin", None, None).expect("dev key");
    let new_tokens = tokens::distinct_tokens(&issuer, &minted, tokens::NEW_TOKENS);
    // The repeated token is one of the new tokens' kind (same size and claims).
    let token = new_tokens[0].clone();
    let exchange = serde_json::json!({
        "sessionJwt": token, "keyId": "K2LocalAdmin", "projectId": PROJECT, "expiration": 0
    });
    start_canned(
        listener,
        issuer.public_jwks().to_string(),
        exchange.to_string(),
    );
    let der = issuer.current_public_key_der();

    let vars = [
        ("DESCOPE_BASE_URL", base_url.as_str()),
        ("DESCOPE_PROJECT_ID", PROJECT),
        ("JWKS_CACHE_SECONDS", "86400"),
    ];
    let lookup = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let auth = AuthConfig::from_lookup(lookup).unwrap();
    let protected = ProtectedApi::new(PROTECTED, &auth, m2m_api::Cors::default()).unwrap();
    let user = ProtectedApi::new(USER, &auth, m2m_api::Cors::default()).unwrap();
    let uncached_auth = AuthConfig {
        verified_token_cache_entries: 0,
        ..auth.clone()
    };
    let uncached = ProtectedApi::new(PROTECTED, &uncached_auth, m2m_api::Cors::default()).unwrap();
    // Every call an exchange (the kept-token cache off): this bench prices the exchange.
    let token_api = TokenApi::new(
        TokenSettings::from_lookup(|name| match name {
            "ISSUED_TOKEN_CACHE_ENTRIES" => Some("0".to_owned()),
            other => lookup(other),
        })
        .unwrap(),
    )
    .unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bearer = format!("Bearer {token}");
    let valid = event("/api/protected", Some(&bearer), None);
    let forged = event(
        "/api/protected",
        Some(&format!(
            "Bearer {}",
            descope_local::corrupt_signature(&token)
        )),
        None,
    );
    let garbage_token: String = (0..token.len())
        .map(|i| (b'a' + ((i * 7919) % 26) as u8) as char)
        .collect();
    let garbage = event(
        "/api/protected",
        Some(&format!("Bearer {garbage_token}")),
        None,
    );
    let exchange_body = r#"{"accessKey":"dev-admin-key"}"#;
    let token_event = event("/m2m/token", None, Some(exchange_body));

    let new_events: Vec<String> = new_tokens
        .iter()
        .map(|t| event("/api/protected", Some(&format!("Bearer {t}")), None))
        .collect();

    // Warm up: each function fetches the key set once, as the first invocation of a container does.
    runtime.block_on(async {
        for api in [&protected, &user, &uncached] {
            let response = api.handle(request(&valid)).await;
            assert_eq!(response.status(), 200, "{:?}", response.body());
        }
        let response = token_api.handle(request(&token_event)).await;
        assert_eq!(response.status(), 200, "{:?}", response.body());
        assert_eq!(protected.handle(request(&forged)).await.status(), 401);
        assert_eq!(protected.handle(request(&garbage)).await.status(), 401);
    });

    let mut floor = floor::floor(&der, &token);
    // The handler gets a `lambda_http::Request` built from the event (outside the timing), and its
    // `Response` body is the serialized JSON.
    let handler = |api, event, status| handler_bench(&runtime, api, event, status);

    let mut group = c.benchmark_group("api");
    group.bench_function("floor_first", &mut floor);
    group.bench_function("protected_handler", handler(&protected, &valid, 200));
    group.bench_function("user_handler", handler(&user, &valid, 200));
    // Kept across criterion's calls of the closure (one per sample): restarting at the first token each time
    // would present the same few tokens again, which the cache then holds.
    let next = std::cell::Cell::new(0);
    group.bench_function("protected_handler_new_token", |b| {
        b.iter_batched(
            || {
                next.set((next.get() + 1) % new_events.len());
                request(&new_events[next.get()])
            },
            |request| {
                let response = runtime.block_on(protected.handle(request));
                assert_eq!(response.status(), 200);
                response
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function(
        "protected_handler_no_cache",
        handler(&uncached, &valid, 200),
    );
    group.bench_function(
        "protected_refused_bad_signature",
        handler(&protected, &forged, 401),
    );
    group.bench_function(
        "protected_refused_garbage",
        handler(&protected, &garbage, 401),
    );
    // Everything the Lambda runtime does in-process for one invocation: the event JSON in, the API Gateway
    // response JSON out (only the HTTP exchange with the Runtime API is left out).
    group.bench_function("protected_invocation_event_to_json", |b| {
        let mut adapter = m2m_api::guard(
            ProtectedApi::new(PROTECTED, &auth, m2m_api::Cors::default())
                .unwrap()
                .service(),
        );
        runtime
            .block_on(adapter.call(LambdaEvent::new(
                serde_json::from_str::<m2m_api::ApiGatewayEvent>(&valid).unwrap(),
                Context::default(),
            )))
            .unwrap();
        b.iter(|| {
            let payload: m2m_api::ApiGatewayEvent =
                serde_json::from_str(black_box(&valid)).unwrap();
            let response = runtime
                .block_on(adapter.call(LambdaEvent::new(payload, Context::default())))
                .unwrap();
            serde_json::to_vec(&response).unwrap()
        })
    });
    group.bench_function("token_handler_incl_loopback_exchange", |b| {
        b.iter_batched(
            || request(&token_event),
            |request| {
                let response = runtime.block_on(token_api.handle(request));
                assert_eq!(response.status(), 200);
                response
            },
            BatchSize::SmallInput,
        )
    });
    // The part of the line above that is not the handler's own work: one POST to the canned exchange over
    // loopback with a client built like the function's, its answer read in full.
    group.bench_function("exchange_roundtrip_only", |b| {
        let client = m2m_auth::fetch::build_client(Duration::from_secs(5));
        let url = format!("{base_url}/v1/auth/accesskey/exchange");
        b.iter(|| {
            runtime.block_on(async {
                let response = client
                    .post(&url)
                    .bearer_auth(format!("{PROJECT}:dev-admin-key"))
                    .json(&serde_json::json!({}))
                    .send()
                    .await
                    .unwrap();
                response.bytes().await.unwrap()
            })
        })
    });
    // What logging and metrics add to every request: the request line and the EMF line, formatted and
    // written (to a sink), for a request carrying its Lambda context (request id, trace id).
    group.bench_function("observability_per_request", |b| {
        let mut context = Context::default();
        context.request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".to_owned();
        context.xray_trace_id = Some("Root=1-5759e988-bd862e3fe1be46a994272793".to_owned());
        let request = request(&valid).with_lambda_context(context);
        b.iter(|| {
            m2m_telemetry::RequestLine::of(black_box(&request)).finish(
                200,
                m2m_telemetry::Outcome::Granted,
                None,
            )
        })
    });
    // The authorizer (shared/m2m-authorizer) on the shipped payload 2.0 and REST TOKEN events: the event
    // as the runtime hands it over (a JSON value, cloned outside the timing) to the answer's JSON.
    let grants = r#"{"POST /api/user": "read:data", "POST /api/admin": "admin", "GET /reports/{id}": "reports:read"}"#;
    let authorizer_lookup = |name: &str| match name {
        "AUTHORIZER_GRANTS" => Some(grants.to_owned()),
        other => lookup(other),
    };
    let authorizer = m2m_authorizer::Authorizer::from_lookup(authorizer_lookup).unwrap();
    let shipped = |text: &str| -> serde_json::Value {
        serde_json::from_str(&text.replace("REPLACE-WITH-A-TOKEN", &token)).unwrap()
    };
    let v2 = shipped(include_str!(
        "../../../tests/events/authorizer-http-v2.json"
    ));
    let rest_token = shipped(include_str!(
        "../../../tests/events/authorizer-rest-token.json"
    ));
    runtime.block_on(async {
        let answer = authorizer.answer(v2.clone()).await.unwrap();
        assert_eq!(answer["isAuthorized"], true, "{answer}");
        authorizer.answer(rest_token.clone()).await.unwrap();
    });
    for (name, event) in [
        ("authorizer_v2_simple", &v2),
        ("authorizer_rest_token_policy", &rest_token),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || event.clone(),
                |event| {
                    let answer = runtime.block_on(authorizer.answer(event)).unwrap();
                    serde_json::to_vec(&answer).unwrap()
                },
                BatchSize::SmallInput,
            )
        });
    }
    // What RequireGrant adds: the verifier called directly on the request's bearer token (with the grant
    // check) against the layer around a handler that answers an empty 200.
    let verifier = std::sync::Arc::new(m2m_api::verifier(&auth).unwrap());
    group.bench_function("verifier_direct", |b| {
        b.iter_batched(
            || request(&valid),
            |request| {
                runtime.block_on(async {
                    let token = m2m_auth::bearer_token(request.headers()).unwrap();
                    let verified = verifier.verify(token).await.unwrap();
                    m2m_api::Require::Grant("read:data")
                        .check(&verified.grants)
                        .unwrap();
                    verified
                })
            },
            BatchSize::SmallInput,
        )
    });
    let layered = tower::ServiceBuilder::new()
        .layer(m2m_api::RequireGrant::new(
            verifier.clone(),
            m2m_api::Require::Grant("read:data"),
        ))
        .service_fn(|request: Request| async move {
            Ok::<_, std::convert::Infallible>(lambda_http::Response::new(lambda_http::Body::Empty))
                .map(|r| (r, request).0)
        });
    group.bench_function("require_grant_layer", |b| {
        b.iter_batched(
            || request(&valid),
            |request| {
                let response = runtime
                    .block_on(tower::ServiceExt::oneshot(layered.clone(), request))
                    .unwrap();
                assert_eq!(response.status(), 200);
                response
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("floor_last", &mut floor);
    group.finish();
}

/// The handler gets a `lambda_http::Request` built from the event (outside the timing), and its
/// `Response` body is the serialized JSON.
fn handler_bench<'a>(
    runtime: &'a tokio::runtime::Runtime,
    api: &'a ProtectedApi,
    event: &'a str,
    status: u16,
) -> impl FnMut(&mut criterion::Bencher) + 'a {
    move |b| {
        b.iter_batched(
            || request(event),
            |request| {
                let response = runtime.block_on(api.handle(request));
                assert_eq!(response.status(), status);
                response
            },
            BatchSize::SmallInput,
        )
    }
}

criterion_group!(api, benches);
criterion_main!(api);
