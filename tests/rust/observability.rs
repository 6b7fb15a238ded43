//! What an operator sees, through the log layer and the metrics the functions ship: every request of the
//! protected and token functions gives one JSON request line (timestamp, level, request id, trace id) and one
//! CloudWatch EMF line whose counts match what was sent, outcome by outcome, and whose dimension values come
//! from the function's configuration and the fixed outcome set only — never from a request or a token.

use lambda_http::{Request, RequestExt};
use m2m_api::{ADMIN, PROTECTED, USER};
use m2m_telemetry::{LogFormat, LogSettings, MetricsSettings, Outcome};
use m2m_tests::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use tracing_subscriber::layer::SubscriberExt;

const FUNCTION: &str = "m2m-observed";
const NAMESPACE: &str = "M2MTest";
/// Put in every place a caller or a token controls; it must reach no metric.
const MARKER: &str = "MARKER7c1e";

/// The JSON logs at INFO, as Lambda's `LoggingConfig` (format JSON) asks, and the metrics of this process.
fn capture() -> (LogBuffer, LogBuffer) {
    let (logs, metrics) = (LogBuffer::default(), LogBuffer::default());
    let settings = LogSettings::from_lookup(lookup(&[
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
        ("RUST_LOG", "trace"),
    ]));
    assert_eq!(settings.format, LogFormat::Json);
    let subscriber = tracing_subscriber::registry()
        .with(settings.filter)
        .with(m2m_telemetry::lambda_json_layer(logs.clone()));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    let metrics_settings = MetricsSettings::from_lookup(lookup(&[
        ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
        ("METRICS_NAMESPACE", NAMESPACE),
    ]));
    assert!(m2m_telemetry::install_metrics(
        &metrics_settings,
        metrics.clone()
    ));
    (logs, metrics)
}

/// `request` as the runtime hands it over: with the invocation's Lambda context.
fn invoked(request: Request, number: usize) -> Request {
    let mut context = lambda_http::Context::default();
    context.request_id = format!("request-{number}");
    context.xray_trace_id = Some(format!("Root=1-6790a1b2-{number:024}"));
    request.with_lambda_context(context)
}

/// `2026-12-01T09:19:41.123Z`.
fn is_rfc3339_millis(timestamp: &str) -> bool {
    timestamp.len() == 24
        && timestamp.bytes().enumerate().all(|(at, byte)| match at {
            4 | 7 => byte == b'-',
            10 => byte == b'T',
            13 | 16 => byte == b':',
            19 => byte == b'.',
            23 => byte == b'Z',
            _ => byte.is_ascii_digit(),
        })
        && timestamp[5..7]
            .parse::<u8>()
            .is_ok_and(|month| (1..=12).contains(&month))
}

/// The EMF document of `line`, checked against the specification's structure: `_aws` with a millisecond
/// `Timestamp` and `CloudWatchMetrics` directives, every dimension and metric they name present at the root.
fn emf(line: &str) -> Value {
    let document: Value = serde_json::from_str(line).expect(line);
    // What Lambda needs to keep the line whatever the application log level (here INFO).
    assert!(
        is_rfc3339_millis(document["timestamp"].as_str().expect(line)),
        "{line}"
    );
    assert_eq!(document["level"], "INFO", "{line}");
    let metadata = &document["_aws"];
    let now_ms = u64::try_from(now()).unwrap() * 1000;
    let timestamp = metadata["Timestamp"].as_u64().expect(line);
    assert!(now_ms.abs_diff(timestamp) < 120_000, "{line}");
    let directives = metadata["CloudWatchMetrics"].as_array().expect(line);
    assert_eq!(directives.len(), 2, "{line}");
    let mut metrics = BTreeSet::new();
    for directive in directives {
        assert_eq!(directive["Namespace"], NAMESPACE, "{line}");
        for set in directive["Dimensions"].as_array().expect(line) {
            for name in set.as_array().expect(line) {
                assert!(document[name.as_str().unwrap()].is_string(), "{line}");
            }
        }
        for metric in directive["Metrics"].as_array().expect(line) {
            let name = metric["Name"].as_str().expect(line);
            assert!(metric["Unit"].is_string(), "{line}");
            assert!(document[name].is_number(), "{name} missing: {line}");
            metrics.insert(name.to_owned());
        }
    }
    let expected = [
        "IssuedTokenCacheHits",
        "IssuedTokenCacheMisses",
        "JwksFetchFailures",
        "JwksFetches",
        "Latency",
        "Requests",
        "SecretReadFailures",
        "VerifiedTokenCacheEvictions",
        "VerifiedTokenCacheHits",
        "VerifiedTokenCacheMisses",
    ];
    assert_eq!(metrics, expected.map(str::to_owned).into(), "{line}");
    document
}

#[tokio::test]
async fn logs_and_metrics_tell_each_request_apart_and_count_it() {
    // The subscriber, the metrics sink and the totals it compares with are the process's: no other test may
    // send a request through them.
    in_a_process_of_its_own();
    let (logs, metrics) = capture();
    let issuer = start_issuer().await;
    let tokens_api = token_api(&issuer, &[]);
    let protected = protected_api(&issuer, PROTECTED, &[]);
    let user = protected_api(&issuer, USER, &[]);
    let admin = protected_api(&issuer, ADMIN, &[]);
    let down = protected_api(
        &issuer,
        PROTECTED,
        &[("DESCOPE_BASE_URL", "http://127.0.0.1:9")],
    );

    let mut sent = 0;
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    let mut count = |outcome: Outcome| {
        *expected.entry(outcome.name()).or_default() += 1;
        sent += 1;
        sent
    };
    let mut tokens = BTreeMap::new();
    for key in ["dev-admin-key", "dev-reader-key", "dev-nogrants-key"] {
        let number = count(Outcome::Issued);
        let body = json!({"accessKey": key}).to_string();
        let reply = call(&tokens_api, invoked(post_json("/m2m/token", &body), number)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        tokens.insert(key, reply.body["jwt"].as_str().unwrap().to_owned());
    }
    let refusals = [
        ("not json", Outcome::BadRequest, 400),
        (
            r#"{"accessKey":"not-a-real-key-7f3a9c"}"#,
            Outcome::AuthenticationFailed,
            401,
        ),
    ];
    for (body, outcome, status) in refusals {
        let number = count(outcome);
        let reply = call(&tokens_api, invoked(post_json("/m2m/token", body), number)).await;
        assert_eq!(reply.status, status, "{}", reply.body);
    }
    // The stack's own key lives in a secret that cannot be read (nothing listens at the endpoint).
    let no_secret = token_api(
        &issuer,
        &[
            ("DESCOPE_SECRET_ID", "m2m/unreachable"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ],
    );
    let number = count(Outcome::SecretUnavailable);
    let iam_request = from_iam_caller(post_json("/m2m/token/iam", "{}"));
    let reply = call(&no_secret, invoked(iam_request, number)).await;
    assert_eq!(reply.status, 500, "{}", reply.body);
    // A public caller without a key is refused before any secret is read.
    let number = count(Outcome::AccessKeyRequired);
    let reply = call(&no_secret, invoked(post_json("/m2m/token", "{}"), number)).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    // The caller chooses the path, the token's subject and tenant: none of it may become a dimension.
    let marked = signed(
        &issuer,
        json!({}),
        json!({"sub": MARKER, "dct": MARKER, "tenants": {MARKER: {"roles": ["admin"]}}}),
    );
    let now = now();
    let forged = descope_local::corrupt_signature(&tokens["dev-admin-key"]);
    let cases = [
        (
            &protected,
            tokens["dev-admin-key"].clone(),
            Outcome::Granted,
            200,
        ),
        (&protected, marked.clone(), Outcome::Granted, 200),
        (
            &user,
            tokens["dev-reader-key"].clone(),
            Outcome::Granted,
            200,
        ),
        (
            &user,
            tokens["dev-nogrants-key"].clone(),
            Outcome::InsufficientGrant,
            403,
        ),
        (
            &admin,
            tokens["dev-reader-key"].clone(),
            Outcome::InsufficientGrant,
            403,
        ),
        (
            &protected,
            signed(&issuer, json!({}), json!({"exp": now - 60})),
            Outcome::InvalidTokenExpired,
            401,
        ),
        (&protected, forged, Outcome::InvalidTokenSignature, 401),
        (
            &protected,
            "abc".to_owned(),
            Outcome::InvalidTokenMalformed,
            401,
        ),
        (
            &protected,
            signed(&issuer, json!({}), json!({"iss": "https://evil.example"})),
            Outcome::InvalidTokenClaims,
            401,
        ),
        (&down, marked.clone(), Outcome::KeysUnavailable, 503),
    ];
    for (api, token, outcome, status) in cases {
        let number = count(outcome);
        let path = format!("/api/{MARKER}");
        let request = request(
            "POST",
            &path,
            &[
                ("authorization", &format!("Bearer {token}")),
                ("x-tenant", MARKER),
            ],
            Some(MARKER),
        );
        let reply = call(api, invoked(request, number)).await;
        assert_eq!(reply.status, status, "{outcome:?}: {}", reply.body);
    }
    let number = count(Outcome::MissingAuthorization);
    let reply = call(
        &protected,
        invoked(post_json("/api/protected", "{}"), number),
    )
    .await;
    assert_eq!(reply.status, 401);
    issuer.shutdown().await;

    // Metrics: one valid EMF line per request; the counts match, granted and refused told apart.
    let metrics = metrics.text();
    let documents: Vec<Value> = metrics.lines().map(emf).collect();
    assert_eq!(documents.len(), sent, "{metrics}");
    let mut counted: BTreeMap<&str, u64> = BTreeMap::new();
    let outcomes: BTreeSet<&str> = Outcome::ALL.iter().map(|outcome| outcome.name()).collect();
    for document in &documents {
        assert_eq!(document["Function"], FUNCTION);
        let outcome = document["Outcome"].as_str().unwrap();
        let outcome = outcomes.get(outcome).expect("a fixed outcome");
        *counted.entry(outcome).or_default() += document["Requests"].as_u64().unwrap();
        assert!(document["Latency"].as_f64().unwrap() >= 0.0);
    }
    assert_eq!(counted, expected);
    assert!(
        !metrics.contains(MARKER),
        "a metric holds request data:\n{metrics}"
    );
    let total = |name: &str| {
        documents
            .iter()
            .map(|d| d[name].as_u64().unwrap())
            .sum::<u64>()
    };
    let counted = |name: &str| m2m_telemetry::metrics::counted(name).expect(name);
    let (fetches, failures) = (counted("JwksFetches"), counted("JwksFetchFailures"));
    assert_eq!(total("JwksFetches"), fetches);
    assert_eq!(total("JwksFetchFailures"), failures);
    assert!(
        fetches >= 4 && failures >= 1,
        "{fetches} fetches, {failures} failures"
    );
    assert_eq!(total("SecretReadFailures"), 1);
    // The protected functions' verified-token caches: each first sight of a token is a miss, a repeat a hit.
    assert_eq!(
        total("VerifiedTokenCacheHits"),
        counted("VerifiedTokenCacheHits")
    );
    let misses = counted("VerifiedTokenCacheMisses");
    assert_eq!(total("VerifiedTokenCacheMisses"), misses);
    assert!(misses >= 1, "{misses} misses");

    // Logs: every line JSON with a timestamp and a level; one request line per request, with its ids.
    let logs = logs.text();
    let mut request_ids = BTreeSet::new();
    for line in logs.lines() {
        let line: Value = serde_json::from_str(line).expect(line);
        let timestamp = line["timestamp"].as_str().unwrap_or_default();
        assert!(is_rfc3339_millis(timestamp), "{line}");
        assert!(
            ["INFO", "WARN", "ERROR"].contains(&line["level"].as_str().unwrap()),
            "{line}"
        );
        // The functions' request lines (the local issuer logs its own, without an outcome).
        if line["message"] == "request" && line.get("outcome").is_some() {
            let id = line["requestId"].as_str().expect("a request id").to_owned();
            let number = id.trim_start_matches("request-");
            assert!(
                line["xrayTraceId"].as_str().unwrap().ends_with(number),
                "{line}"
            );
            assert!(
                outcomes.contains(line["outcome"].as_str().unwrap()),
                "{line}"
            );
            request_ids.insert(id);
        }
    }
    let sent_ids: BTreeSet<String> = (1..=sent).map(|n| format!("request-{n}")).collect();
    assert_eq!(request_ids, sent_ids);
}
