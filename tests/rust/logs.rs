//! Secrets stay secret: every log line (at TRACE, in the text format used locally and in the JSON format
//! used on Lambda) of a run through every handler path — success, each error, provider faults — is captured,
//! and no access key, no issued or presented token (nor its signature part) appears in it, nor in any
//! error body.

use m2m_api::{ADMIN, PROTECTED, USER};
use m2m_tests::*;
use serde_json::{Value, json};
use std::sync::OnceLock;
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt;

/// Everything logged by any thread of this process, through the layers and the filter the functions
/// ship (`m2m_telemetry::init_telemetry`), at the most verbose level the configuration can ask for.
fn capture() -> &'static LogBuffer {
    static CAPTURE: OnceLock<LogBuffer> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = LogBuffer::default();
        let (text, json) = (capture.clone(), capture.clone());
        let settings = m2m_telemetry::LogSettings::from_lookup(lookup(&[
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
            ("RUST_LOG", "trace"),
        ]));
        let subscriber = tracing_subscriber::registry()
            .with(settings.filter)
            .with(m2m_telemetry::text_layer(text))
            .with(m2m_telemetry::lambda_json_layer(json));
        tracing::subscriber::set_global_default(subscriber)
            .expect("the only subscriber of this process");
        capture
    })
}

/// Every access key of the local issuer, and one it does not know.
fn access_keys() -> Vec<String> {
    let mut keys: Vec<String> = descope_local::IssuerConfig::dev()
        .access_keys
        .into_iter()
        .map(|key| key.secret)
        .collect();
    keys.push("not-a-real-key-7f3a9c".to_owned());
    keys
}

/// What must never be seen: the access keys, and every token (and signature part) that went by.
struct Secrets {
    tokens: Vec<String>,
    error_bodies: Vec<String>,
    other_bodies: Vec<String>,
}

impl Secrets {
    fn token(&mut self, token: &str) {
        self.tokens.push(token.to_owned());
    }

    fn reply(&mut self, reply: &Reply) {
        if let Some(jwt) = reply.body.get("jwt").and_then(Value::as_str) {
            self.tokens.push(jwt.to_owned());
        }
        if reply.status == 200 {
            // A token function's 200 carries its token: that is the point of it. Other 200s must not.
            if reply.body.get("jwt").is_none() {
                self.other_bodies.push(reply.body.to_string());
            }
        } else {
            assert_eq!(reply.body["success"], false, "{}", reply.body);
            self.error_bodies.push(reply.body.to_string());
        }
    }

    /// Needles: the keys, each token, its signature part, and a long piece of its payload.
    fn needles(&self) -> Vec<String> {
        let mut needles = access_keys();
        for token in &self.tokens {
            needles.push(token.clone());
            let parts: Vec<&str> = token.split('.').collect();
            if let [_, payload, signature] = parts[..] {
                if signature.len() >= 16 {
                    needles.push(signature.to_owned());
                }
                if payload.len() >= 40 {
                    needles.push(payload[..40].to_owned());
                }
            }
        }
        needles
    }
}

async fn protected_paths(issuer: &descope_local::RunningIssuer, secrets: &mut Secrets) {
    let apis = [
        protected_api(issuer, PROTECTED, &[]),
        protected_api(issuer, USER, &[]),
        protected_api(issuer, ADMIN, &[]),
    ];
    let token_api = token_api(issuer, &[]);
    let mut tokens = Vec::new();
    for key in ["dev-admin-key", "dev-reader-key", "dev-nogrants-key"] {
        let reply = exchange(&token_api, json!({"accessKey": key})).await;
        assert_eq!(reply.status, 200);
        secrets.reply(&reply);
        tokens.push(reply.body["jwt"].as_str().unwrap().to_owned());
    }
    let now = now();
    for (changes, header) in [
        (json!({"exp": now - 60}), json!({})),
        (json!({"nbf": now + 600}), json!({})),
        (json!({"iss": "https://evil.example"}), json!({})),
        (json!({"aud": "other"}), json!({})),
        (json!({"drn": "DSR"}), json!({})),
        (json!({"roles": ["admin"]}), json!({"kid": "unknown-kid"})),
        (json!({}), json!({"alg": "RS512"})),
        (json!({}), json!({"crit": ["x"]})),
    ] {
        tokens.push(signed(issuer, header, changes));
    }
    let forged = {
        let token = signed(issuer, json!({}), json!({}));
        let (input, _) = token.rsplit_once('.').unwrap();
        format!("{input}.{}", b64([7u8; 256]))
    };
    tokens.push(forged);
    for token in &tokens {
        secrets.token(token);
        for api in &apis {
            let reply = call(api, bearer("/api/x", token)).await;
            secrets.reply(&reply);
        }
    }
    for value in [
        "Basic ZGV2LWFkbWluLWtleTo=",
        "Bearer dev-admin-key extra",
        "Bearer",
    ] {
        let reply = call(
            &apis[0],
            request("POST", "/api/protected", &[("authorization", value)], None),
        )
        .await;
        assert_eq!(reply.status, 401);
        secrets.reply(&reply);
    }
    // Keys unavailable: 503.
    let down = protected_api(
        issuer,
        PROTECTED,
        &[("DESCOPE_BASE_URL", "http://127.0.0.1:9")],
    );
    let reply = call(&down, bearer("/api/protected", &tokens[0])).await;
    assert_eq!(reply.status, 503);
    secrets.reply(&reply);
}

/// The authorizer on every token seen so far, in the payload 2.0 and REST TOKEN kinds, and on an event of
/// another kind that carries one.
async fn authorizer_paths(issuer: &descope_local::RunningIssuer, secrets: &mut Secrets) {
    let all = with_issuer(
        issuer,
        &[("AUTHORIZER_GRANTS", r#"{"POST /api/admin": "admin"}"#)],
    );
    let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let authorizer = m2m_authorizer::Authorizer::from_lookup(lookup(&refs)).unwrap();
    let events = [
        include_str!("../events/authorizer-http-v2.json"),
        include_str!("../events/authorizer-rest-token.json"),
        include_str!("../events/http-api-v2-post.json"),
    ];
    for token in secrets.tokens.clone() {
        for event in events {
            let event: Value =
                serde_json::from_str(&event.replace("REPLACE-WITH-A-TOKEN", &token)).unwrap();
            match authorizer.answer(event).await {
                Ok(answer) => secrets.other_bodies.push(answer.to_string()),
                Err(error) => secrets.error_bodies.push(error.to_string()),
            }
        }
    }
}

async fn token_paths(issuer: &descope_local::RunningIssuer, secrets: &mut Secrets) {
    let api = token_api(issuer, &[]);
    let with_default = token_api(issuer, &[("DESCOPE_ACCESS_KEY", "dev-admin-key")]);
    let locked = token_api(
        issuer,
        &[
            ("DESCOPE_ACCESS_KEY", "dev-reader-key"),
            ("ALLOW_CREDENTIAL_OVERRIDE", "false"),
        ],
    );
    let bodies = [
        json!({"accessKey": "dev-reader-key", "scopes": ["read:data"]}),
        json!({"accessKey": "dev-tenant-key", "tenant": "T2Acme"}),
        json!({"accessKey": "dev-hostile-key"}),
        json!({"accessKey": "dev-reader-key", "scopes": ["admin"]}),
        json!({"accessKey": "dev-reader-key", "tenant": "T2Acme"}),
        json!({"accessKey": "dev-expired-key"}),
        json!({"accessKey": "dev-disabled-key"}),
        json!({"accessKey": "not-a-real-key-7f3a9c"}),
        json!({"accessKey": "dev-admin-key", "projectId": "P2Other"}),
        json!({"accessKey": "dev-admin-key", "scopes": ["a b"]}),
        json!({"accessKey": "dev-admin-key", "unknown": "dev-admin-key"}),
        json!({"accessKey": ["dev-admin-key"]}),
        json!({"accessKey": "dev-admin-key with space"}),
        json!({"projectId": "dev-admin-key!"}),
        json!({}),
    ];
    for body in &bodies {
        let reply = exchange(&api, body.clone()).await;
        secrets.reply(&reply);
    }
    for raw in [
        r#"{"accessKey":"dev-admin-key","accessKey":"dev-admin-key"}"#,
        "dev-admin-key",
        r#"{"accessKey":"dev-admin-key""#,
    ] {
        let reply = call(&api, post_json("/m2m/token", raw)).await;
        assert_eq!(reply.status, 400);
        secrets.reply(&reply);
    }
    let reply = exchange_as_iam_caller(&with_default, json!({})).await;
    assert_eq!(reply.status, 200);
    secrets.reply(&reply);
    for body in [json!({}), json!({"accessKey": "dev-admin-key"})] {
        let reply = exchange(&locked, body.clone()).await;
        secrets.reply(&reply);
        let reply = exchange_as_iam_caller(&locked, body).await;
        secrets.reply(&reply);
    }
    // Provider faults: each status, garbage, HTML, a foreign signature, a redirect, a timeout.
    for fault in [
        Fault::Status(400),
        Fault::Status(401),
        Fault::Status(403),
        Fault::Status(429),
        Fault::Status(500),
        Fault::Garbage,
        Fault::Html,
        Fault::ForeignSignature,
        Fault::Redirect("http://127.0.0.1:9/x".into()),
        Fault::Delay(Duration::from_secs(6)),
    ] {
        issuer
            .issuer()
            .set_fault(IssuerEndpoint::Exchange, Some(fault.clone()));
        let reply = exchange(&api, json!({"accessKey": "dev-admin-key"})).await;
        assert!(reply.status >= 400, "{fault:?}");
        secrets.reply(&reply);
    }
    issuer.issuer().set_fault(IssuerEndpoint::Exchange, None);
    // A provider error message that repeats the key it was sent.
    let echo = json!({"errorCode": "E062803", "errorDescription": "Invalid access key", "errorMessage": "key dev-admin-key is invalid"});
    issuer.issuer().set_fault(
        IssuerEndpoint::Exchange,
        Some(Fault::Body {
            status: 401,
            content_type: "application/json".into(),
            body: echo.to_string().into_bytes(),
        }),
    );
    let reply = exchange(&api, json!({"accessKey": "dev-admin-key"})).await;
    assert_eq!(reply.status, 401);
    secrets.reply(&reply);
    issuer.issuer().set_fault(IssuerEndpoint::Exchange, None);
    let down = token_api(issuer, &[("DESCOPE_BASE_URL", "http://127.0.0.1:9")]);
    let reply = exchange(&down, json!({"accessKey": "dev-admin-key"})).await;
    assert_eq!(reply.status, 502);
    secrets.reply(&reply);
}

#[tokio::test]
async fn no_secret_reaches_a_log_line_or_an_error_body() {
    // Its global subscriber at TRACE would capture (and slow) every other test of the binary.
    in_a_process_of_its_own();
    let capture = capture();
    let issuer = start_issuer().await;
    let mut secrets = Secrets {
        tokens: Vec::new(),
        error_bodies: Vec::new(),
        other_bodies: Vec::new(),
    };
    token_paths(&issuer, &mut secrets).await;
    protected_paths(&issuer, &mut secrets).await;
    authorizer_paths(&issuer, &mut secrets).await;
    issuer.shutdown().await;

    let logs = capture.text();
    // The capture works, at every level, in both formats.
    for expected in [
        "token issued",
        "token verified",
        "signing keys refreshed",
        "\"status\":401",
        "status=503",
        "request",
        "authorizer",
        "decision=\"not_granted\"",
    ] {
        assert!(
            logs.contains(expected),
            "the logs lack {expected:?}:\n{}",
            &logs[..logs.len().min(3000)]
        );
    }
    assert!(
        secrets.tokens.len() >= 15,
        "{} tokens",
        secrets.tokens.len()
    );
    assert!(
        secrets.error_bodies.len() >= 50,
        "{} error bodies",
        secrets.error_bodies.len()
    );
    let needles = secrets.needles();
    let mut leaks = Vec::new();
    for needle in &needles {
        for line in logs.lines().filter(|line| line.contains(needle.as_str())) {
            leaks.push(format!("log line holds {needle:.24}…: {line:.300}"));
        }
        for body in secrets
            .error_bodies
            .iter()
            .chain(&secrets.other_bodies)
            .filter(|body| body.contains(needle.as_str()))
        {
            leaks.push(format!("body holds {needle:.24}…: {body:.300}"));
        }
    }
    println!(
        "{} log bytes, {} lines, {} bodies, {} needles checked",
        logs.len(),
        logs.lines().count(),
        secrets.error_bodies.len() + secrets.other_bodies.len(),
        needles.len()
    );
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}
