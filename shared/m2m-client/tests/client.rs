//! m2m-client against the project's own token and protected functions, served in-process over HTTP on
//! 127.0.0.1 (m2m_tests::http_stack) with a local issuer: the requests that reach the token function
//! are counted there, and the issuer counts its exchanges.

use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use descope_local::IssuerConfig;
use m2m_client::{AccessKey, AuthorizedClient, Error, TokenSource};
use m2m_tests::http_stack::{self, HttpStack};

const READER: &str = "dev-reader-key";

fn reader(stack: &HttpStack) -> m2m_client::TokenSourceBuilder {
    TokenSource::access_key(stack.base_url(), AccessKey::new(READER).unwrap())
}

/// A clock that tests move forward: the system's time plus an offset.
#[derive(Clone, Default)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds * 1000, Ordering::SeqCst);
    }
    fn set(&self, seconds: i64) {
        self.0.store(seconds * 1000, Ordering::SeqCst);
    }
    fn now(&self) -> SystemTime {
        let offset = self.0.load(Ordering::SeqCst);
        if offset >= 0 {
            SystemTime::now() + Duration::from_millis(offset as u64)
        } else {
            SystemTime::now() - Duration::from_millis((-offset) as u64)
        }
    }
    fn unix(&self) -> i64 {
        self.now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
    }
    fn install(&self) -> impl Fn() -> SystemTime + Send + Sync + 'static {
        let clock = self.clone();
        move || clock.now()
    }
}

fn issuer_with_ttl(seconds: u64) -> IssuerConfig {
    let mut config = IssuerConfig::dev();
    config.session_ttl = Duration::from_secs(seconds);
    config
}

/// A stack whose token function keeps no handed-out tokens, for tests that move only the client's clock:
/// by the function's clock, which stands still, a kept token is never due, so it would answer every refresh
/// with the first token and the client's refreshes could not be told from the function's cache.
async fn stack_without_kept_tokens(ttl_seconds: u64) -> HttpStack {
    http_stack::start_with(
        issuer_with_ttl(ttl_seconds),
        &[("ISSUED_TOKEN_CACHE_ENTRIES", "0")],
        &[],
    )
    .await
}

mod caching {
    use super::*;

    #[tokio::test]
    async fn n_calls_through_one_client_cost_one_exchange() {
        let stack = http_stack::start().await;
        let api = AuthorizedClient::new(reader(&stack).scopes(["read:data"]).build().unwrap());
        for _ in 0..20 {
            let answer = api
                .send(api.post(format!("{}/api/user", stack.base_url())))
                .await
                .unwrap();
            assert_eq!(answer.status(), 200);
        }
        assert_eq!(stack.requests("/api/user"), 20);
        // Counted where the token function receives them, and at the issuer.
        assert_eq!(stack.requests("/m2m/token"), 1);
        assert_eq!(stack.issuer_exchanges(), 1);
        assert_eq!(api.tokens().exchanges(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fifty_concurrent_first_calls_cost_one_exchange() {
        let stack = http_stack::start().await;
        let api = AuthorizedClient::new(reader(&stack).build().unwrap());
        let url = format!("{}/api/protected", stack.base_url());
        let calls: Vec<_> = (0..50)
            .map(|_| {
                let api = api.clone();
                let url = url.clone();
                tokio::spawn(async move { api.send(api.post(url)).await.unwrap().status() })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap(), 200);
        }
        assert_eq!(stack.requests("/api/protected"), 50);
        assert_eq!(stack.requests("/m2m/token"), 1);
        assert_eq!(stack.issuer_exchanges(), 1);
    }

    #[tokio::test]
    async fn a_short_lived_token_is_refreshed_before_it_expires() {
        // Two-minute tokens: kept for exp - 60 s, so replaced from their 60th second on.
        let stack = stack_without_kept_tokens(120).await;
        let clock = TestClock::default();
        let tokens = reader(&stack).clock(clock.install()).build().unwrap();
        let first = tokens.token().await.unwrap();
        assert_eq!(first.expires_at() - first.issued_at(), 120);
        clock.advance(30);
        assert_eq!(tokens.token().await.unwrap().jwt(), first.jwt());
        assert_eq!(stack.requests("/m2m/token"), 1);
        clock.advance(31); // 61 s after iat: past renew_at, 59 s before exp
        assert!(clock.unix() < first.expires_at());
        // (The issuer's clock did not move: the new token may be the same text, so count the exchanges.)
        let second = tokens.token().await.unwrap();
        assert_eq!(stack.requests("/m2m/token"), 2);
        assert_eq!(stack.issuer_exchanges(), 2);
        // ... and the new one is kept in turn.
        assert_eq!(tokens.token().await.unwrap().jwt(), second.jwt());
        assert_eq!(stack.requests("/m2m/token"), 2);
    }

    #[tokio::test]
    async fn a_skewed_local_clock_neither_refreshes_each_time_nor_keeps_a_token_too_long() {
        for skew in [3_600, -3_600] {
            let stack = stack_without_kept_tokens(600).await;
            let clock = TestClock::default();
            clock.set(skew);
            let tokens = reader(&stack).clock(clock.install()).build().unwrap();
            let first = tokens.token().await.unwrap();
            for _ in 0..5 {
                assert_eq!(
                    tokens.token().await.unwrap().jwt(),
                    first.jwt(),
                    "skew {skew}"
                );
            }
            assert_eq!(stack.requests("/m2m/token"), 1, "skew {skew}");
            // 481 s later (past exp - 120 s by the server's clock) it is replaced, whatever the skew.
            clock.advance(481);
            tokens.token().await.unwrap();
            assert_eq!(stack.requests("/m2m/token"), 2, "skew {skew}");
            tokens.token().await.unwrap();
            assert_eq!(stack.requests("/m2m/token"), 2, "skew {skew}");
        }
    }

    #[tokio::test]
    async fn a_failed_refresh_backs_off_keeps_the_valid_token_and_never_hands_out_an_expired_one() {
        let stack = stack_without_kept_tokens(120).await;
        let clock = TestClock::default();
        let tokens = reader(&stack).clock(clock.install()).build().unwrap();
        let first = tokens.token().await.unwrap();
        stack.issuer().issuer().set_fault(
            descope_local::Endpoint::Exchange,
            Some(descope_local::Fault::Status(500)),
        );
        // Due for renewal: the refresh fails (502 from the token function), the unexpired token is
        // still handed out, and the next calls wait for the backoff instead of calling again.
        clock.advance(61);
        assert_eq!(tokens.token().await.unwrap().jwt(), first.jwt());
        assert_eq!(stack.requests("/m2m/token"), 2);
        for _ in 0..5 {
            assert_eq!(tokens.token().await.unwrap().jwt(), first.jwt());
        }
        assert_eq!(stack.requests("/m2m/token"), 2);
        // After the first backoff (1 s) one more attempt; then 2 s.
        clock.advance(1);
        tokens.token().await.unwrap();
        assert_eq!(stack.requests("/m2m/token"), 3);
        tokens.token().await.unwrap();
        assert_eq!(stack.requests("/m2m/token"), 3);
        // At expiry (less the margin) the failing source answers an error, never the expired token.
        clock.set(
            first.expires_at()
                - SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64,
        );
        match tokens.token().await {
            Err(Error::ServerError { status: 502, .. }) => {}
            other => panic!("expected the 502, got {other:?}"),
        }
        match tokens.token().await {
            Err(Error::BackingOff { last, .. }) => {
                assert!(matches!(*last, Error::ServerError { status: 502, .. }))
            }
            other => panic!("expected the backoff, got {other:?}"),
        }
        // Once the issuer is back, the next attempt after the backoff succeeds.
        stack
            .issuer()
            .issuer()
            .set_fault(descope_local::Endpoint::Exchange, None);
        clock.advance(60);
        let before = stack.issuer_exchanges();
        tokens.token().await.unwrap();
        assert_eq!(stack.issuer_exchanges(), before + 1);
    }

    /// A gateway in front of the stack that answers 503 with `Retry-After: 30` (API Gateway or a proxy
    /// would; the token function itself sends none on its route).
    #[tokio::test]
    async fn retry_after_is_honoured() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicI64::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().fallback(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                (
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    [("retry-after", "30"), ("content-type", "application/json")],
                    r#"{"success": false, "error": "Service unavailable"}"#,
                )
            }
        });
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let clock = TestClock::default();
        let tokens = TokenSource::access_key(&base, AccessKey::new(READER).unwrap())
            .clock(clock.install())
            .build()
            .unwrap();
        let error = tokens.token().await.unwrap_err();
        assert_eq!(error.status(), Some(503));
        assert_eq!(error.retry_after(), Some(Duration::from_secs(30)));
        clock.advance(10); // past the exponential backoff, not past Retry-After
        assert!(matches!(
            tokens.token().await,
            Err(Error::BackingOff { .. })
        ));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        clock.advance(21);
        tokens.token().await.unwrap_err();
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        server.abort();
    }
}

mod retry {
    use super::*;

    #[tokio::test]
    async fn a_refused_token_costs_exactly_one_refresh_and_one_retry() {
        // Keys trusted 1 s: after three rotations the first token's key has left the issuer's key set,
        // and the protected function, refetching, refuses it as invalid_token.
        let fast = [("JWKS_CACHE_SECONDS", "1"), ("JWKS_MAX_STALE_SECONDS", "1")];
        let stack = http_stack::start_with(IssuerConfig::dev(), &fast, &fast).await;
        let api = AuthorizedClient::new(reader(&stack).build().unwrap());
        let url = format!("{}/api/user", stack.base_url());
        assert_eq!(api.send(api.post(&url)).await.unwrap().status(), 200);
        let first = api.tokens().token().await.unwrap();
        for _ in 0..3 {
            stack.issuer().issuer().rotate_signing_key();
        }
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let answer = api.send(api.post(&url)).await.unwrap();
        assert_eq!(answer.status(), 200);
        // 1 + the refused call + its retry; one more exchange, asked past any server cache.
        assert_eq!(stack.requests("/api/user"), 3);
        assert_eq!(stack.requests("/m2m/token"), 2);
        let headers = stack.last_headers("/m2m/token").unwrap();
        assert_eq!(headers.get("cache-control").unwrap(), "no-cache");
        assert_ne!(api.tokens().token().await.unwrap().jwt(), first.jwt());
    }

    #[tokio::test]
    async fn a_token_refused_again_is_not_retried_a_second_time() {
        // The protected functions want an audience the issuer never sets: every token is invalid_token.
        let stack = http_stack::start_with(
            IssuerConfig::dev(),
            &[],
            &[("JWT_AUDIENCE", "someone-else")],
        )
        .await;
        let api = AuthorizedClient::new(reader(&stack).build().unwrap());
        let answer = api
            .send(api.post(format!("{}/api/user", stack.base_url())))
            .await
            .unwrap();
        assert_eq!(answer.status(), 401);
        assert!(
            answer.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
        assert_eq!(stack.requests("/api/user"), 2);
        assert_eq!(stack.requests("/m2m/token"), 2);
    }

    #[tokio::test]
    async fn a_403_or_a_missing_header_401_is_not_retried() {
        let stack = http_stack::start().await;
        let api = AuthorizedClient::new(reader(&stack).build().unwrap());
        let answer = api
            .send(api.post(format!("{}/api/admin", stack.base_url())))
            .await
            .unwrap();
        assert_eq!(answer.status(), 403);
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["error"], "Missing required scope: 'admin'");
        assert_eq!(stack.requests("/api/admin"), 1);
        assert_eq!(stack.requests("/m2m/token"), 1);
    }
}

mod errors {
    use super::*;

    #[tokio::test]
    async fn the_servers_refusals_are_typed_and_never_show_the_key() {
        let stack = http_stack::start().await;
        let scope = reader(&stack).scopes(["admin"]).build().unwrap();
        assert_eq!(
            scope.token().await.unwrap_err(),
            Error::Refused {
                status: 403,
                message: "Scope not granted to this access key: 'admin'".into()
            }
        );
        let key = "K2NotAKeyOfThisProjectAtAll";
        let refused = TokenSource::access_key(stack.base_url(), AccessKey::new(key).unwrap())
            .build()
            .unwrap();
        let error = refused.token().await.unwrap_err();
        assert!(
            matches!(error, Error::Refused { status: 401, .. }),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("Authentication failed"),
            "{error}"
        );
        for text in [
            error.to_string(),
            format!("{error:?}"),
            format!("{refused:?}"),
            format!("{:?}", AccessKey::new(key).unwrap()),
        ] {
            assert!(!text.contains(key) && !text.contains(&key[..10]), "{text}");
        }
        // Backing off after it, still typed and still without the key.
        let again = refused.token().await.unwrap_err();
        assert!(matches!(again, Error::BackingOff { .. }), "{again:?}");
        assert_eq!(again.status(), Some(401));
        assert!(!format!("{again:?}{again}").contains(key));
    }

    /// A server that is not the token function (a proxy, a look-alike) and quotes the key back upper-cased
    /// and split by zero-width spaces, in the error shape and in a page: the client's errors show none of it.
    #[tokio::test]
    async fn a_server_quoting_the_key_back_in_any_form_never_gets_it_shown() {
        let key = "K2NotAKeyOfThisProjectAtAll";
        let disguised: String = (key.to_ascii_uppercase().chars())
            .map(|c| format!("{c}\u{200b}"))
            .collect();
        for (status, body) in [
            (
                401,
                format!(r#"{{"success": false, "error": "bad key {disguised}"}}"#),
            ),
            (502, format!("<html>bad key {disguised}</html>")),
        ] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let answer = (axum::http::StatusCode::from_u16(status).unwrap(), body);
            let app = axum::Router::new().fallback(move || async move { answer });
            let server = tokio::spawn(async move { axum::serve(listener, app).await });
            let tokens = TokenSource::access_key(&base, AccessKey::new(key).unwrap())
                .build()
                .unwrap();
            let error = tokens.token().await.unwrap_err();
            assert_eq!(error.status(), Some(status));
            let shown = format!("{error} {error:?}").replace('\u{200b}', "");
            assert!(shown.contains("bad key [redacted]"), "{shown}");
            let folded = shown.to_ascii_lowercase();
            for run in key.to_ascii_lowercase().as_bytes().windows(8) {
                assert!(
                    !folded.contains(std::str::from_utf8(run).unwrap()),
                    "{shown}"
                );
            }
            server.abort();
        }
    }

    /// A server that answers without end (a proxy streaming a page, a look-alike) is read only so far.
    #[tokio::test]
    async fn an_answer_too_large_is_its_own_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(|| async { "x".repeat(4 * 1024 * 1024) });
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let tokens = TokenSource::access_key(&base, AccessKey::new(READER).unwrap())
            .build()
            .unwrap();
        let error = tokens.token().await.unwrap_err();
        assert!(
            matches!(&error, Error::UnexpectedAnswer { status: 200, detail, .. } if detail == "an answer over 262144 bytes"),
            "{error:?}"
        );
        server.abort();
    }

    #[tokio::test]
    async fn an_unreachable_stack_is_its_own_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let tokens = TokenSource::access_key(&base, AccessKey::new(READER).unwrap())
            .build()
            .unwrap();
        assert!(matches!(
            tokens.token().await,
            Err(Error::Unreachable { .. })
        ));
        assert!(matches!(
            TokenSource::access_key("127.0.0.1:9000", AccessKey::new(READER).unwrap()).build(),
            Err(Error::InvalidBaseUrl { .. })
        ));
    }
}

mod iam {
    use super::*;
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;

    #[tokio::test]
    async fn the_iam_route_is_called_signed_and_answers_the_stacks_token() {
        let stack = http_stack::start().await;
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            Some("session".into()),
            None,
            "test",
        );
        let tokens = TokenSource::iam(stack.base_url())
            .region("eu-west-1")
            .aws_credentials(SharedCredentialsProvider::new(credentials))
            .scopes(["read:data"])
            .build()
            .unwrap();
        let token = tokens.token().await.unwrap();
        assert_eq!(token.answer()["decodedPayload"]["sub"], "K2LocalReader");
        assert_eq!(stack.requests("/m2m/token/iam"), 1);
        let headers = stack.last_headers("/m2m/token/iam").unwrap();
        let authorization = headers["authorization"].to_str().unwrap();
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
                && authorization.contains("/eu-west-1/execute-api/aws4_request"),
            "{authorization}"
        );
        assert_eq!(headers["x-amz-security-token"], "session");
        assert!(headers.contains_key("x-amz-date"));
        tokens.token().await.unwrap();
        assert_eq!(stack.requests("/m2m/token/iam"), 1);
    }
}

mod sigv4 {
    use super::*;

    fn python() -> std::path::PathBuf {
        let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
        assert!(
            venv.exists(),
            "{} is missing: run `bash scripts/setup.sh` (it installs moto, and with it botocore)",
            venv.display()
        );
        venv
    }

    /// The signed IAM request, with fixed credentials, region and time, against botocore's `SigV4Auth`.
    #[test]
    fn the_signed_iam_request_matches_botocore() {
        let cases = [
            (
                "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/m2m/token/iam",
                r#"{"scopes":["read:data"]}"#,
                "eu-west-1",
                Some("IQoJb3JpZ2luX2VjEXAMPLE+/=token"),
            ),
            (
                "http://127.0.0.1:9000/m2m/token/iam",
                "{}",
                "us-east-1",
                None,
            ),
        ];
        for (url, body, region, session) in cases {
            let credentials = aws_credential_types::Credentials::new(
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                session.map(str::to_owned),
                None,
                "test",
            );
            let time = 1_714_564_800; // 2024-05-01T12:00:00Z
            let ours = m2m_client::iam::sign_request(
                "POST",
                url,
                &[("content-type", "application/json")],
                body.as_bytes(),
                &credentials,
                region,
                UNIX_EPOCH + Duration::from_secs(time),
            )
            .unwrap();
            let spec = serde_json::json!({
                "method": "POST", "url": url, "headers": {"Content-Type": "application/json"},
                "body": body, "accessKeyId": "AKIDEXAMPLE",
                "secretAccessKey": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "sessionToken": session,
                "region": region, "service": "execute-api", "unixTime": time,
            });
            let script =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/botocore_sigv4.py");
            let mut child = Command::new(python())
                .arg(script)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(spec.to_string().as_bytes())
                .unwrap();
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let botocore: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            let ours: std::collections::BTreeMap<String, String> = ours.into_iter().collect();
            println!("{url}\n  ours:     {ours:?}\n  botocore: {botocore}");
            for (name, value) in &ours {
                assert_eq!(botocore[name.as_str()], value.as_str(), "{name} for {url}");
            }
            let expected = if session.is_some() { 3 } else { 2 };
            assert_eq!(ours.len(), expected, "{ours:?}");
            assert!(ours["authorization"].contains("SignedHeaders=content-type;host;x-amz-date"));
            // Everything botocore added, we added.
            for name in ["authorization", "x-amz-date"] {
                assert!(ours.contains_key(name));
            }
        }
    }
}

mod command {
    use super::*;

    /// Arguments, environment, standard input.
    type Run<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, Option<&'a str>);

    fn m2m(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_m2m"));
        command
            .args(args)
            .env_remove("DESCOPE_ACCESS_KEY")
            .env_remove("M2M_BASE_URL")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the m2m binary");
        if let Some(text) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    }

    async fn run(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let stdin = stdin.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            m2m(&args, &env, stdin.as_deref())
        })
        .await
        .unwrap()
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_commands_token_is_accepted_and_call_exits_non_zero_on_a_403() {
        let stack = http_stack::start().await;
        let env = [
            ("M2M_BASE_URL", stack.base_url()),
            ("DESCOPE_ACCESS_KEY", READER),
        ];
        let out = run(&["token", "--scopes", "read:data"], &env, None).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let jwt = text(&out.stdout).trim().to_owned();
        assert_eq!(jwt.split('.').count(), 3);
        let answer = reqwest::Client::new()
            .post(format!("{}/api/user", stack.base_url()))
            .bearer_auth(&jwt)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);

        let out = run(&["token", "--json"], &env, None).await;
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(answer["success"], true);
        assert_eq!(answer["decodedPayload"]["sub"], "K2LocalReader");

        let out = run(
            &["call", "POST", &format!("{}/api/user", stack.base_url())],
            &env,
            None,
        )
        .await;
        assert!(out.status.success());
        assert!(text(&out.stdout).contains("User API call succeeded!"));

        let out = run(&["call", "POST", "/api/admin"], &env, None).await;
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stdout).contains("Missing required scope: 'admin'"),
            "{}",
            text(&out.stdout)
        );
        assert!(
            text(&out.stderr).contains("403 Forbidden"),
            "{}",
            text(&out.stderr)
        );

        let out = run(
            &["call", "POST", "/api/protected", "--data", r#"{"a":1}"#],
            &env,
            None,
        )
        .await;
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clear_errors_and_documented_exit_codes() {
        let stack = http_stack::start().await;
        let base = [("M2M_BASE_URL", stack.base_url())];
        let out = run(&["token"], &base, None).await;
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).starts_with("m2m: no access key: set DESCOPE_ACCESS_KEY"));
        let out = run(&["token"], &[("DESCOPE_ACCESS_KEY", READER)], None).await;
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).starts_with("m2m: no stack URL"));
        let out = run(
            &["token", "--scopes", "admin"],
            &[base[0], ("DESCOPE_ACCESS_KEY", READER)],
            None,
        )
        .await;
        assert_eq!(out.status.code(), Some(3));
        assert!(text(&out.stderr).contains("Scope not granted to this access key: 'admin'"));
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", listener.local_addr().unwrap())
        };
        let out = run(
            &["token", "--base-url", &closed],
            &[("DESCOPE_ACCESS_KEY", READER)],
            None,
        )
        .await;
        assert_eq!(out.status.code(), Some(4));
        assert!(
            text(&out.stderr).starts_with("m2m: cannot reach"),
            "{}",
            text(&out.stderr)
        );
        for help in [&["--help"][..], &["token", "--help"], &["call", "--help"]] {
            let out = run(help, &[], None).await;
            assert!(out.status.success());
            assert!(text(&out.stdout).contains("Exit codes:"));
        }
        assert_eq!(text(&out.stderr).lines().count(), 1);
    }

    /// Every path (success, refusal, unreachable, bad arguments, the key on the command line), at every
    /// verbosity, with the key from the environment, a file and stdin: the key is in no output.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_key_appears_in_no_output_at_any_verbosity() {
        let stack = http_stack::start().await;
        let dir = std::env::temp_dir().join(format!("m2m-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("key");
        let mut seen = 0;
        for key in [READER, "K2DefinitelyNotAKnownKey0123"] {
            std::fs::write(&file, format!("{key}\n")).unwrap();
            let file = file.to_str().unwrap().to_owned();
            for verbosity in ["-q", "-v", "-vv", "-vvv"] {
                let verbosity = if verbosity == "-q" {
                    vec![]
                } else {
                    vec![verbosity]
                };
                let runs: Vec<Run> = vec![
                    (vec!["token"], vec![("DESCOPE_ACCESS_KEY", key)], None),
                    (
                        vec!["token", "--json", "--scopes", "admin"],
                        vec![("DESCOPE_ACCESS_KEY", key)],
                        None,
                    ),
                    (vec!["token", "--access-key-file", &file], vec![], None),
                    (vec!["token", "--access-key-file", "-"], vec![], Some(key)),
                    (
                        vec!["call", "POST", "/api/admin"],
                        vec![("DESCOPE_ACCESS_KEY", key)],
                        None,
                    ),
                    (
                        vec!["token", "--base-url", "http://127.0.0.1:9"],
                        vec![("DESCOPE_ACCESS_KEY", key)],
                        None,
                    ),
                    (vec!["token", key], vec![("DESCOPE_ACCESS_KEY", key)], None),
                ];
                for (mut args, mut env, stdin) in runs {
                    args.extend(verbosity.iter().copied());
                    env.push(("M2M_BASE_URL", stack.base_url()));
                    let out = run(&args, &env, stdin).await;
                    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
                    assert!(!all.contains(key), "{args:?}: {all}");
                    seen += all.len();
                }
            }
            let out = run(&["token", &format!("--access-key={key}")], &[], None).await;
            assert_eq!(out.status.code(), Some(2));
            assert!(!text(&out.stderr).contains(key));
        }
        // The verbose runs did log (the check above looked at real output).
        assert!(seen > 10_000, "{seen}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cache_keeps_tokens_between_runs_in_private_files() {
        let stack = http_stack::start().await;
        let cache = std::env::temp_dir().join(format!("m2m-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&cache);
        let env = [
            ("M2M_BASE_URL", stack.base_url()),
            ("DESCOPE_ACCESS_KEY", READER),
            ("XDG_CACHE_HOME", cache.to_str().unwrap()),
        ];
        let mut jwts = Vec::new();
        for _ in 0..3 {
            let out = run(&["token", "--cache"], &env, None).await;
            assert!(out.status.success(), "{}", text(&out.stderr));
            jwts.push(text(&out.stdout));
        }
        assert!(jwts.iter().all(|jwt| jwt == &jwts[0]));
        assert_eq!(stack.requests("/m2m/token"), 1);
        // Without --cache each run exchanges.
        run(&["token"], &env, None).await;
        assert_eq!(stack.requests("/m2m/token"), 2);
        // Other scopes: another file.
        run(&["token", "--cache", "--scopes", "read:data"], &env, None).await;
        assert_eq!(stack.requests("/m2m/token"), 3);
        use std::os::unix::fs::PermissionsExt;
        let dir = cache.join("m2m");
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 2, "{files:?}");
        for file in files {
            assert_eq!(
                std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
                0o600
            );
            let name = file.file_name().unwrap().to_str().unwrap().to_owned();
            assert!(name.starts_with("token-") && !name.contains(READER));
            assert!(!std::fs::read_to_string(&file).unwrap().contains(READER));
        }
        std::fs::remove_dir_all(&cache).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn iam_with_credentials_from_the_environment() {
        let stack = http_stack::start().await;
        let env = [
            ("M2M_BASE_URL", stack.base_url()),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            (
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            ),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_CONFIG_FILE", "/nonexistent"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
        ];
        let out = run(&["token", "--iam", "--json", "-vvv"], &env, None).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(!text(&out.stderr).contains("wJalrXUtnFEMI"));
        let headers = stack.last_headers("/m2m/token/iam").unwrap();
        assert!(
            headers["authorization"]
                .to_str()
                .unwrap()
                .contains("/eu-west-1/execute-api/")
        );
        let out = run(&["token", "--iam"], &[env[0], env[4], env[5]], None).await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).starts_with("m2m: no AWS region"),
            "{}",
            text(&out.stderr)
        );
    }
}
