//! Default credentials from AWS Secrets Manager, against a real AWS API server: every test starts its own
//! moto server (`moto_server`, from the project's `.venv/`, made by `scripts/setup.sh`) and points the token
//! function's SDK client at it through its configuration (`AWS_ENDPOINT_URL`, `AWS_REGION`, keys), so tests
//! run in parallel.
//! Calls are counted twice: by the function (`SecretSource::read_count`) and by moto's own request
//! recording.

use aws_sdk_secretsmanager as sm;
use m2m_tests::*;
use m2m_token::{TokenApi, TokenSettings};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const GENERIC: &str = "Server misconfigured; see the function's logs";
const SECRET_ID: &str = "m2m/descope";
const ADMIN_SECRET: &str = r#"{"projectId":"P2LocalDevProject","accessKey":"dev-admin-key"}"#;
const READER_SECRET: &str = r#"{"projectId":"P2LocalDevProject","accessKey":"dev-reader-key"}"#;

/// `MOTO_SERVER` when set, else the project's `.venv/bin/moto_server` (the one place scripts/setup.sh installs
/// Python tools), else `moto_server` from `PATH`.
fn moto_program() -> String {
    if let Ok(program) = std::env::var("MOTO_SERVER") {
        return program;
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
    if venv.is_file() {
        return venv.to_string_lossy().into_owned();
    }
    "moto_server".to_owned()
}

/// A moto server on a free loopback port; killed when dropped, so also when a test fails.
struct Moto {
    child: Child,
    port: u16,
    recording: PathBuf,
}

impl Moto {
    async fn start() -> Moto {
        Moto::start_with(&[]).await
    }

    async fn start_with(env: &[(&str, &str)]) -> Moto {
        let port = free_port();
        let recording =
            std::env::temp_dir().join(format!("m2m-moto-{}-{port}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&recording);
        let program = moto_program();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ENABLE_RECORDING", "true")
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start {program} (bash scripts/setup.sh installs it into .venv/): {error}")
            });
        let mut moto = Moto {
            child,
            port,
            recording,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = http.get(format!("{}/moto-api/", moto.url())).send().await
                && response.status().is_success()
            {
                return moto;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited early: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A Secrets Manager client of the test itself (the real SDK), to create and rotate secrets.
    async fn admin(&self) -> sm::Client {
        sdk_client(&self.url()).await
    }

    async fn create(&self, id: &str, value: &str) {
        self.admin()
            .await
            .create_secret()
            .name(id)
            .secret_string(value)
            .send()
            .await
            .expect("create_secret");
    }

    async fn put(&self, id: &str, value: &str) {
        self.admin()
            .await
            .put_secret_value()
            .secret_id(id)
            .secret_string(value)
            .send()
            .await
            .expect("put_secret_value");
    }

    /// `GetSecretValue` calls moto received, from its own request recording.
    async fn get_secret_value_calls(&self) -> usize {
        let text = reqwest::get(format!(
            "{}/moto-api/recorder/download-recording",
            self.url()
        ))
        .await
        .expect("moto recording")
        .text()
        .await
        .expect("moto recording text");
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|entry| {
                entry["headers"].as_object().is_some_and(|headers| {
                    headers.iter().any(|(name, value)| {
                        name.eq_ignore_ascii_case("x-amz-target")
                            && value == "secretsmanager.GetSecretValue"
                    })
                })
            })
            .count()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.recording);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A client of the real SDK, built as the token function builds its own.
async fn sdk_client(endpoint: &str) -> sm::Client {
    let vars = [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    TokenSettings::from_lookup(lookup(&vars))
        .expect("valid settings")
        .credentials
        .secrets_manager_client()
        .await
}

/// The token function reading `secret_id` from the Secrets Manager at `endpoint`, plus `vars` (which win).
fn secret_api(
    issuer: &descope_local::RunningIssuer,
    endpoint: &str,
    secret_id: &str,
    vars: &[(&str, &str)],
) -> TokenApi {
    let mut all = vec![
        ("DESCOPE_SECRET_ID", secret_id),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    all.extend_from_slice(vars);
    token_api(issuer, &all)
}

fn reads(api: &TokenApi) -> u64 {
    api.credentials()
        .secret()
        .expect("a secret is configured")
        .read_count()
}

fn subject(reply: &Reply) -> &str {
    reply.body["decodedPayload"]["sub"]
        .as_str()
        .unwrap_or_default()
}

/// Log lines of the current thread (where a `current_thread` test runs all its tasks), as the function
/// writes them at its default level (`info`), and separately everything down to `trace`.
struct Capture {
    info: LogBuffer,
    all: LogBuffer,
    _guard: tracing::subscriber::DefaultGuard,
}

fn capture_logs() -> Capture {
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::prelude::*;
    let (info, all) = (LogBuffer::default(), LogBuffer::default());
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(info.clone())
                .with_filter(LevelFilter::INFO),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(all.clone())
                .with_filter(LevelFilter::TRACE),
        );
    Capture {
        info,
        all,
        _guard: tracing::subscriber::set_default(subscriber),
    }
}

impl Capture {
    /// Asserts what a failed read must log: one line (at the default level) naming the secret and `cause`,
    /// and `hidden` in no line at any level.
    fn assert_logged_once(&self, secret_id: &str, cause: &str, hidden: &[&str]) {
        let info = self.info.take();
        let all = self.all.take();
        let naming: Vec<&str> = info
            .lines()
            .filter(|line| line.contains(secret_id))
            .collect();
        assert_eq!(
            naming.len(),
            1,
            "{secret_id}: expected one log line naming the secret, got:\n{info}"
        );
        assert!(
            naming[0].contains(cause),
            "{secret_id}: the log line does not name the cause '{cause}': {}",
            naming[0]
        );
        for value in hidden {
            assert!(
                !all.contains(value),
                "{secret_id}: '{value}' was logged:\n{all}"
            );
        }
    }

    fn clear(&self) {
        self.info.take();
        self.all.take();
    }
}

fn assert_generic_500(reply: &Reply, hidden: &[&str]) {
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert_eq!(reply.body, json!({"success": false, "error": GENERIC}));
    for value in hidden {
        assert!(!reply.body.to_string().contains(value));
    }
}

#[tokio::test]
async fn the_secret_is_read_on_first_need_and_then_reused() {
    let (issuer, moto) = tokio::join!(start_issuer(), Moto::start());
    moto.create(SECRET_ID, ADMIN_SECRET).await;
    let logs = capture_logs();
    let api = secret_api(&issuer, &moto.url(), SECRET_ID, &[]);
    // Nothing is read at start-up.
    assert_eq!(reads(&api), 0);
    assert_eq!(moto.get_secret_value_calls().await, 0);
    for _ in 0..10 {
        let reply = exchange_as_iam_caller(&api, json!({})).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(subject(&reply), "K2LocalAdmin");
        assert!(!reply.body.to_string().contains("dev-admin-key"));
    }
    assert_eq!(reads(&api), 1);
    assert_eq!(moto.get_secret_value_calls().await, 1);
    // The key read from the secret is in no log line, at any level.
    let all = logs.all.take();
    assert!(all.contains("token issued"), "{all}");
    assert!(
        !all.contains("dev-admin-key"),
        "the access key was logged:\n{all}"
    );

    // The secret's projectId is used when none is configured.
    let api = secret_api(
        &issuer,
        &moto.url(),
        SECRET_ID,
        &[("DESCOPE_PROJECT_ID", "")],
    );
    let reply = exchange_as_iam_caller(&api, json!({"scopes": ["admin"]})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(subject(&reply), "K2LocalAdmin");
    assert_eq!(reply.body["scopes"], json!(["admin"]));
    assert_eq!(moto.get_secret_value_calls().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_requests_share_one_read() {
    let (issuer, moto) = tokio::join!(start_issuer(), Moto::start());
    moto.create(SECRET_ID, ADMIN_SECRET).await;
    let api = Arc::new(secret_api(&issuer, &moto.url(), SECRET_ID, &[]));
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let api = api.clone();
        requests.spawn(async move { exchange_as_iam_caller(&api, json!({})).await });
    }
    while let Some(reply) = requests.join_next().await {
        let reply = reply.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(subject(&reply), "K2LocalAdmin");
    }
    assert_eq!(reads(&api), 1);
    assert_eq!(moto.get_secret_value_calls().await, 1);
}

#[tokio::test]
async fn a_rotated_secret_is_used_after_the_cache_time_and_not_before() {
    let (issuer, moto) = tokio::join!(start_issuer(), Moto::start());
    moto.create(SECRET_ID, ADMIN_SECRET).await;
    let api = secret_api(
        &issuer,
        &moto.url(),
        SECRET_ID,
        &[("SECRET_CACHE_SECONDS", "1")],
    );
    let first = exchange_as_iam_caller(&api, json!({})).await;
    let read_at = Instant::now();
    assert_eq!(subject(&first), "K2LocalAdmin", "{}", first.body);

    moto.put(SECRET_ID, READER_SECRET).await;
    let cached = exchange_as_iam_caller(&api, json!({})).await;
    assert!(
        read_at.elapsed() < Duration::from_millis(900),
        "too slow to check the cache time"
    );
    assert_eq!(
        subject(&cached),
        "K2LocalAdmin",
        "the rotated value was used before the cache time"
    );
    assert_eq!((reads(&api), moto.get_secret_value_calls().await), (1, 1));

    tokio::time::sleep(Duration::from_millis(1100).saturating_sub(read_at.elapsed())).await;
    for _ in 0..3 {
        let rotated = exchange_as_iam_caller(&api, json!({})).await;
        assert_eq!(rotated.status, 200, "{}", rotated.body);
        assert_eq!(subject(&rotated), "K2LocalReader");
    }
    assert_eq!((reads(&api), moto.get_secret_value_calls().await), (2, 2));
}

#[tokio::test]
async fn the_secret_serves_trusted_callers_only_and_the_callers_own_key_wins() {
    let (issuer, moto) = tokio::join!(start_issuer(), Moto::start());
    moto.create(SECRET_ID, ADMIN_SECRET).await;
    let env_key = [("DESCOPE_ACCESS_KEY", "dev-reader-key")];

    // A body with its own projectId and accessKey never touches Secrets Manager.
    let api = secret_api(&issuer, &moto.url(), SECRET_ID, &env_key);
    let own = exchange(
        &api,
        json!({"projectId": PROJECT, "accessKey": "dev-tenant-key"}),
    )
    .await;
    assert_eq!(subject(&own), "K2LocalTenant", "{}", own.body);
    // Nor does an accessKey alone (it pairs with DESCOPE_PROJECT_ID).
    let key_only = exchange(&api, json!({"accessKey": "dev-tenant-key"})).await;
    assert_eq!(subject(&key_only), "K2LocalTenant", "{}", key_only.body);
    // A public caller without a key gets no token, and the secret is not even read for it.
    let anonymous = exchange(&api, json!({"tenant": "T2Acme"})).await;
    assert_eq!(
        (anonymous.status, anonymous.error()),
        (401, "An access key is required")
    );
    assert!(anonymous.body.get("jwt").is_none());
    assert_eq!((reads(&api), moto.get_secret_value_calls().await), (0, 0));

    // An IAM-authenticated caller gets the secret's key, which beats DESCOPE_ACCESS_KEY.
    let secret = exchange_as_iam_caller(&api, json!({})).await;
    assert_eq!(subject(&secret), "K2LocalAdmin", "{}", secret.body);
    // The body still beats a cached secret, for an IAM caller too.
    let body = exchange_as_iam_caller(&api, json!({"accessKey": "dev-tenant-key"})).await;
    assert_eq!(subject(&body), "K2LocalTenant", "{}", body.body);
    assert_eq!((reads(&api), moto.get_secret_value_calls().await), (1, 1));

    // With no configured project, the secret's projectId serves the stack's key.
    let api = secret_api(
        &issuer,
        &moto.url(),
        SECRET_ID,
        &[("DESCOPE_PROJECT_ID", "")],
    );
    let stack = exchange_as_iam_caller(&api, json!({})).await;
    assert_eq!(subject(&stack), "K2LocalAdmin", "{}", stack.body);
    // ... but a caller's own key is not paired with the stack's project: it must name its project.
    let key_only = exchange(&api, json!({"accessKey": "dev-reader-key"})).await;
    assert_eq!(key_only.status, 400, "{}", key_only.body);
    assert!(
        key_only.error().contains("No project id"),
        "{}",
        key_only.error()
    );
    assert_eq!((reads(&api), moto.get_secret_value_calls().await), (1, 2));

    // With overrides disabled the caller's own key is still accepted with the configured project (what the
    // deployed page sends); another project is refused, and nothing is read for it.
    let locked = secret_api(
        &issuer,
        &moto.url(),
        SECRET_ID,
        &[("ALLOW_CREDENTIAL_OVERRIDE", "false")],
    );
    let page = exchange(
        &locked,
        json!({"projectId": PROJECT, "accessKey": "dev-reader-key"}),
    )
    .await;
    assert_eq!(subject(&page), "K2LocalReader", "{}", page.body);
    let refused = exchange(
        &locked,
        json!({"projectId": "P2SomeoneElse", "accessKey": "dev-reader-key"}),
    )
    .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.error().contains("overrides are disabled"),
        "{}",
        refused.error()
    );
    assert_eq!(reads(&locked), 0);
    assert_eq!(
        subject(&exchange_as_iam_caller(&locked, json!({})).await),
        "K2LocalAdmin"
    );

    // Neither a secret nor DESCOPE_ACCESS_KEY, for a trusted caller: 400.
    let bare = token_api(&issuer, &[]);
    let reply = exchange_as_iam_caller(&bare, json!({})).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply
            .error()
            .contains("No access key given and none configured"),
        "{}",
        reply.error()
    );
    assert_eq!(moto.get_secret_value_calls().await, 3);
}

#[tokio::test]
async fn unusable_secrets_are_a_generic_500_logged_once_and_retried() {
    let (issuer, moto) = tokio::join!(start_issuer(), Moto::start());
    let logs = capture_logs();
    // (secret id, how to create it, cause in the log, text that must never appear)
    let not_json = "hunter2-is-not-json";
    let no_key = r#"{"projectId":"P2LocalDevProject","key":"dev-admin-key"}"#;
    let empty_key = r#"{"projectId":"P2LocalDevProject","accessKey":"  "}"#;
    let bad_key = r#"{"projectId":"P2LocalDevProject","accessKey":"dev admin key"}"#;
    let cases: [(&str, Option<&str>, &str, &[&str]); 7] = [
        ("m2m/missing", None, "ResourceNotFoundException", &[]),
        (
            "m2m/not-json",
            Some(not_json),
            "not a JSON object",
            &[not_json],
        ),
        (
            "m2m/no-key",
            Some(no_key),
            "no non-empty string member 'accessKey'",
            &["dev-admin-key"],
        ),
        (
            "m2m/empty-key",
            Some(empty_key),
            "no non-empty string member 'accessKey'",
            &[empty_key],
        ),
        (
            "m2m/bad-key",
            Some(bad_key),
            "'accessKey' is not valid",
            &["dev admin key"],
        ),
        ("m2m/blank", Some("   "), "not a JSON object", &[]),
        ("m2m/no-value", Some(""), "ResourceNotFoundException", &[]),
    ];
    for (id, value, cause, hidden) in cases {
        match value {
            None => {}
            // A secret created without any value.
            Some("") => {
                moto.admin()
                    .await
                    .create_secret()
                    .name(id)
                    .send()
                    .await
                    .expect("create_secret");
            }
            Some(value) => moto.create(id, value).await,
        }
        let api = secret_api(&issuer, &moto.url(), id, &[]);
        logs.clear();
        let reply = exchange_as_iam_caller(&api, json!({})).await;
        assert_generic_500(&reply, hidden);
        logs.assert_logged_once(id, cause, hidden);
        assert_eq!(reads(&api), 1);

        // A failed read is not cached: once the secret is fixed, the next request reads it again.
        match value {
            None => moto.create(id, ADMIN_SECRET).await,
            Some(_) => moto.put(id, ADMIN_SECRET).await,
        }
        let fixed = exchange_as_iam_caller(&api, json!({})).await;
        assert_eq!(fixed.status, 200, "{id}: {}", fixed.body);
        assert_eq!(subject(&fixed), "K2LocalAdmin");
        assert_eq!(reads(&api), 2, "{id}");
    }
    // A binary secret has no string value.
    moto.admin()
        .await
        .create_secret()
        .name("m2m/binary")
        .secret_binary(sm::primitives::Blob::new(ADMIN_SECRET.as_bytes()))
        .send()
        .await
        .expect("create_secret");
    let api = secret_api(&issuer, &moto.url(), "m2m/binary", &[]);
    logs.clear();
    assert_generic_500(
        &exchange_as_iam_caller(&api, json!({})).await,
        &["dev-admin-key"],
    );
    logs.assert_logged_once("m2m/binary", "no string value", &["dev-admin-key"]);
    assert_eq!(moto.get_secret_value_calls().await, 2 * cases.len() + 1);
}

#[tokio::test]
async fn access_denied_is_a_generic_500() {
    // Moto checks IAM after the first four actions: the secret and a user allowed only DescribeSecret.
    let (issuer, moto) = tokio::join!(
        start_issuer(),
        Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "4")])
    );
    moto.create(SECRET_ID, ADMIN_SECRET).await;
    let iam = |params: &[(&str, &str)]| {
        let mut form = vec![("Version", "2010-05-08")];
        form.extend_from_slice(params);
        let request = reqwest::Client::new()
            .post(moto.url())
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
            )
            .form(&form);
        async move {
            let response = request.send().await.expect("iam call");
            assert!(
                response.status().is_success(),
                "iam call: {}",
                response.status()
            );
            response.text().await.unwrap()
        }
    };
    iam(&[("Action", "CreateUser"), ("UserName", "token-fn")]).await;
    let keys = iam(&[("Action", "CreateAccessKey"), ("UserName", "token-fn")]).await;
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:DescribeSecret", "Resource": "*"}]})
    .to_string();
    iam(&[
        ("Action", "PutUserPolicy"),
        ("UserName", "token-fn"),
        ("PolicyName", "p"),
        ("PolicyDocument", &policy),
    ])
    .await;
    let key_id = xml_element(&keys, "AccessKeyId");
    let secret_key = xml_element(&keys, "SecretAccessKey");

    let logs = capture_logs();
    let api = secret_api(
        &issuer,
        &moto.url(),
        SECRET_ID,
        &[
            ("AWS_ACCESS_KEY_ID", &key_id),
            ("AWS_SECRET_ACCESS_KEY", &secret_key),
        ],
    );
    let reply = exchange_as_iam_caller(&api, json!({})).await;
    assert_generic_500(&reply, &["dev-admin-key", &secret_key]);
    logs.assert_logged_once(SECRET_ID, "HTTP 403", &["dev-admin-key", &secret_key]);
    // Still denied on the next request, which reads again.
    assert_generic_500(&exchange_as_iam_caller(&api, json!({})).await, &[]);
    assert_eq!(reads(&api), 2);
}

fn xml_element(xml: &str, name: &str) -> String {
    let start = xml
        .find(&format!("<{name}>"))
        .unwrap_or_else(|| panic!("no {name} in {xml}"))
        + name.len()
        + 2;
    let end = start + xml[start..].find('<').unwrap();
    xml[start..end].to_owned()
}

#[tokio::test]
async fn an_unreachable_or_silent_service_is_a_500_within_the_timeout() {
    let issuer = start_issuer().await;
    let logs = capture_logs();
    // A closed port: connections are refused.
    let closed = format!("http://127.0.0.1:{}", free_port());
    // A listener that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = format!("http://{}", listener.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let refused = secret_api(&issuer, &closed, "m2m/unreachable", &[]);
    let slow = secret_api(&issuer, &silent, "m2m/silent", &[]);

    // Each request's time, counted from `started` (not from its own first poll, which the first request's
    // client set-up may delay).
    let timed = |api: &'static str, started: Instant| {
        let api = if api == "refused" { &refused } else { &slow };
        async move {
            let reply = exchange_as_iam_caller(api, json!({})).await;
            (reply, started.elapsed())
        }
    };
    let started = Instant::now();
    // Five concurrent first requests to the silent service share one read and its failure.
    let (unreachable, a, b, c, d, e) = tokio::join!(
        timed("refused", started),
        timed("slow", started),
        timed("slow", started),
        timed("slow", started),
        timed("slow", started),
        timed("slow", started)
    );
    assert_generic_500(&unreachable.0, &[]);
    assert!(
        unreachable.1 < Duration::from_secs(4),
        "unreachable took {:?}",
        unreachable.1
    );
    for (reply, elapsed) in [a, b, c, d, e] {
        assert_generic_500(&reply, &[]);
        assert!(
            elapsed < Duration::from_secs(4),
            "silent service took {elapsed:?}"
        );
        assert!(
            elapsed >= Duration::from_millis(2900),
            "silent service answered after {elapsed:?}"
        );
    }
    assert_eq!((reads(&refused), reads(&slow)), (1, 1));
    let info = logs.info.take();
    let about = |id: &str| {
        info.lines()
            .filter(|line| line.contains(id))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let (unreachable_lines, silent_lines) = (about("m2m/unreachable"), about("m2m/silent"));
    assert_eq!(unreachable_lines.len(), 1, "{info}");
    assert!(
        unreachable_lines[0].contains("GetSecretValue failed: dispatch failure"),
        "{}",
        unreachable_lines[0]
    );
    // One line per failed request; all name the timeout.
    assert_eq!(silent_lines.len(), 5, "{info}");
    assert!(
        silent_lines
            .iter()
            .all(|line| line.contains("GetSecretValue timed out")),
        "{info}"
    );

    // The failure is not cached: the next request tries again.
    let (again, elapsed) = timed("slow", Instant::now()).await;
    assert_generic_500(&again, &[]);
    assert!(
        elapsed >= Duration::from_millis(2900) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
    assert_eq!(reads(&slow), 2);
    held.abort();
}
