//! AUTH_PROVIDER=oidc against a certified OpenID Provider nobody on the team wrote: panva's `oidc-provider`
//! (npm, pinned in tests/package.json), run by `tests/interop/oidc-provider.mjs`. The token function performs
//! the RFC 6749 section 4.4 client-credentials grant (client_secret_basic) at the discovered token endpoint;
//! the protected functions verify the RFC 9068 JWT access tokens by discovery and trust their `scope` claim.
//!
//! Needs `node` (20 or later) and the npm packages (`npm ci --prefix tests`); without them every test here
//! fails with a message saying so. Nothing is skipped.

use m2m_api::{ADMIN, AuthConfig, Cors, PROTECTED, ProtectedApi, Protection, USER};
use m2m_tests::*;
use m2m_token::{TokenApi, TokenSettings};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The resource (audience) the provider issues tokens for by default.
const API: &str = "https://api.m2m.local/";
/// Another resource server of the same provider.
const OTHER_API: &str = "https://other.m2m.local/";
/// May ask for `read:data admin`. The secret has characters that client_secret_basic must form-encode.
const FULL_CLIENT: (&str, &str) = ("m2m-full", "full-secret:with/special+chars%");
/// May ask for `read:data` only.
const READER_CLIENT: (&str, &str) = ("m2m-reader", "reader-secret");

/// How long the provider may take to start (a loaded two-core machine, node's module loading).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// `node tests/interop/oidc-provider.mjs`, killed when dropped.
struct OidcProvider {
    child: Child,
    /// Held open: the script is started with `--exit-with-stdin`, so if this test process dies without
    /// running `Drop`, the closed pipe still ends the provider.
    _stdin: Option<ChildStdin>,
    issuer: String,
}

impl OidcProvider {
    fn start() -> OidcProvider {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/oidc-provider.mjs");
        let mut child = Command::new("node")
            .arg(script)
            .arg("--exit-with-stdin")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot run `node` ({error}): these tests need Node.js 20+ on PATH and `npm ci --prefix tests`")
            });
        let stdin = child.stdin.take();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let collected = stderr.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                let mut text = collected.lock().unwrap();
                if text.len() < 64 * 1024 {
                    text.push_str(&String::from_utf8_lossy(&buffer[..n]));
                }
            }
        });
        let (ready_tx, ready_rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(issuer) = line.strip_prefix("READY ") {
                    let _ = ready_tx.send(issuer.trim().to_owned());
                }
            }
        });
        let mut provider = OidcProvider {
            child,
            _stdin: stdin,
            issuer: String::new(),
        };
        match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(issuer) => provider.issuer = issuer,
            Err(error) => {
                let what = match error {
                    mpsc::RecvTimeoutError::Timeout => {
                        format!("did not print READY within {START_TIMEOUT:?}")
                    }
                    mpsc::RecvTimeoutError::Disconnected => {
                        // Its stdout closed: it is exiting. Give it (and the stderr reader) a moment.
                        let mut status = None;
                        for _ in 0..50 {
                            status = provider.child.try_wait().ok().flatten();
                            if status.is_some() {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        std::thread::sleep(Duration::from_millis(100));
                        format!("exited before printing READY ({status:?})")
                    }
                };
                panic!(
                    "node tests/interop/oidc-provider.mjs {what}; are the npm packages installed \
                     (`npm ci --prefix tests`)? Its stderr:\n{}",
                    stderr.lock().unwrap()
                );
            }
        }
        provider
    }

    fn lookup(&self, extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let mut vars: Vec<(String, String)> = vec![
            ("AUTH_PROVIDER".into(), "oidc".into()),
            ("OIDC_ISSUER".into(), self.issuer.clone()),
            ("JWT_AUDIENCE".into(), API.into()),
            (
                "STACK_KEY_PRINCIPALS".into(),
                format!(r#"{{"{IAM_ROLE}": ["*"]}}"#),
            ),
        ];
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        move |name| {
            vars.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    /// The token function with AUTH_PROVIDER=oidc, plus `extra` variables (which win).
    fn token_api(&self, extra: &[(&str, &str)]) -> TokenApi {
        TokenApi::new(
            TokenSettings::from_lookup(self.lookup(extra)).expect("valid oidc configuration"),
        )
        .expect("token api")
    }

    fn protected_api(&self, protection: Protection, extra: &[(&str, &str)]) -> ProtectedApi {
        let auth = AuthConfig::from_lookup(self.lookup(extra)).expect("valid oidc configuration");
        ProtectedApi::new(protection, &auth, Cors::default()).expect("protected api")
    }

    /// A token straight from the provider's token endpoint (found by discovery), with these form fields.
    async fn token_from_provider(
        &self,
        (id, secret): (&str, &str),
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        let client = reqwest::Client::new();
        let discovery: Value = client
            .get(format!("{}/.well-known/openid-configuration", self.issuer))
            .send()
            .await
            .expect("discovery")
            .json()
            .await
            .expect("discovery JSON");
        let endpoint = discovery["token_endpoint"]
            .as_str()
            .expect("token_endpoint");
        let mut fields = vec![("grant_type", "client_credentials")];
        fields.extend_from_slice(form);
        let response = client
            .post(endpoint)
            // RFC 6749 section 2.3.1: both parts form-encoded first (oidc-provider insists).
            .basic_auth(form_encode(id), Some(form_encode(secret)))
            .form(&fields)
            .send()
            .await
            .expect("token request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn form_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The three protected endpoints of one configuration.
struct Endpoints {
    protected: ProtectedApi,
    user: ProtectedApi,
    admin: ProtectedApi,
}

impl Endpoints {
    fn new(provider: &OidcProvider, extra: &[(&str, &str)]) -> Endpoints {
        Endpoints {
            protected: provider.protected_api(PROTECTED, extra),
            user: provider.protected_api(USER, extra),
            admin: provider.protected_api(ADMIN, extra),
        }
    }

    /// The statuses of /api/protected, /api/user and /api/admin for `token`.
    async fn statuses(&self, token: &str) -> [u16; 3] {
        [
            call(&self.protected, bearer("/api/protected", token))
                .await
                .status,
            call(&self.user, bearer("/api/user", token)).await.status,
            call(&self.admin, bearer("/api/admin", token)).await.status,
        ]
    }
}

fn credentials((id, secret): (&str, &str), scopes: &[&str]) -> Value {
    json!({"projectId": id, "accessKey": secret, "scopes": scopes})
}

#[tokio::test]
async fn client_credentials_flow_through_all_endpoints() {
    let provider = OidcProvider::start();
    let api = provider.token_api(&[]);
    let endpoints = Endpoints::new(&provider, &[]);

    // read:data + admin: every endpoint answers.
    let reply = exchange(&api, credentials(FULL_CLIENT, &["read:data", "admin"])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), "no-store");
    assert_eq!(reply.body["success"], true);
    assert_eq!(reply.body["scopes"], json!(["admin", "read:data"]));
    let header = &reply.body["decodedHeader"];
    assert_eq!(header["alg"], "RS256");
    assert!(
        header["typ"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case("at+jwt"),
        "{header}"
    );
    let payload = &reply.body["decodedPayload"];
    assert_eq!(payload["iss"], provider.issuer.as_str());
    assert_eq!(payload["aud"], API);
    assert_eq!(payload["client_id"], FULL_CLIENT.0);
    assert_eq!(payload["scope"], "read:data admin");
    assert_eq!(reply.body["expiresAt"], payload["exp"]);
    let jwt = reply.body["jwt"].as_str().unwrap();
    assert_eq!(endpoints.statuses(jwt).await, [200, 200, 200]);
    let admin = call(&endpoints.admin, bearer("/api/admin", jwt)).await;
    assert_eq!(admin.body["message"], "Admin API call succeeded!");
    assert_eq!(admin.body["claims"]["scope"], "read:data admin");

    // read:data only: the provider decides, and this token has no admin.
    let reply = exchange(&api, credentials(FULL_CLIENT, &["read:data"])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["scopes"], json!(["read:data"]));
    let jwt = reply.body["jwt"].as_str().unwrap();
    assert_eq!(endpoints.statuses(jwt).await, [200, 200, 403]);
    let refused = call(&endpoints.admin, bearer("/api/admin", jwt)).await;
    assert_eq!(refused.error(), "Missing required scope: 'admin'");
    assert_eq!(
        refused.header("www-authenticate"),
        r#"Bearer error="insufficient_scope", scope="admin""#
    );
    let user = call(&endpoints.user, bearer("/api/user", jwt)).await;
    assert_eq!(user.body["message"], "User API call succeeded!");

    // No scopes asked for: oidc-provider grants none, so only /api/protected answers.
    let reply = exchange(
        &api,
        json!({"projectId": FULL_CLIENT.0, "accessKey": FULL_CLIENT.1}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["scopes"], json!([]));
    let jwt = reply.body["jwt"].as_str().unwrap();
    assert_eq!(endpoints.statuses(jwt).await, [200, 403, 403]);
    let refused = call(&endpoints.user, bearer("/api/user", jwt)).await;
    assert_eq!(refused.error(), "Missing required scope: 'read:data'");

    // The second client, allowed read:data.
    let reply = exchange(&api, credentials(READER_CLIENT, &["read:data"])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["decodedPayload"]["sub"], READER_CLIENT.0);
    assert_eq!(
        endpoints
            .statuses(reply.body["jwt"].as_str().unwrap())
            .await,
        [200, 200, 403]
    );
}

#[tokio::test]
async fn default_client_credentials_come_from_the_environment() {
    let provider = OidcProvider::start();
    let api = provider.token_api(&[
        ("OIDC_CLIENT_ID", FULL_CLIENT.0),
        ("OIDC_CLIENT_SECRET", FULL_CLIENT.1),
    ]);
    let reply = exchange_as_iam_caller(&api, json!({"scopes": ["admin"]})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["decodedPayload"]["client_id"], FULL_CLIENT.0);
    assert_eq!(reply.body["scopes"], json!(["admin"]));
    let empty = call(
        &api,
        from_iam_caller(request("POST", "/m2m/token", &[], None)),
    )
    .await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    // The stack's client is for trusted callers only.
    let public = call(&api, request("POST", "/m2m/token", &[], None)).await;
    assert_eq!(public.status, 401, "{}", public.body);

    // Overrides disabled (the templates' default): a caller's own client at the configured provider is still
    // exchanged, as the page sends it (a client id is no other issuer); ALLOWED_PROJECT_IDS limits the clients.
    let locked = provider.token_api(&[
        ("OIDC_CLIENT_ID", READER_CLIENT.0),
        ("OIDC_CLIENT_SECRET", READER_CLIENT.1),
        ("ALLOW_CREDENTIAL_OVERRIDE", "false"),
    ]);
    let reply = exchange_as_iam_caller(&locked, json!({"scopes": ["read:data"]})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = exchange(&locked, credentials(FULL_CLIENT, &["admin"])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["decodedPayload"]["client_id"], FULL_CLIENT.0);
    let listed = provider.token_api(&[
        ("ALLOW_CREDENTIAL_OVERRIDE", "false"),
        ("ALLOWED_PROJECT_IDS", READER_CLIENT.0),
    ]);
    let reply = exchange(&listed, credentials(READER_CLIENT, &["read:data"])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = exchange(&listed, credentials(FULL_CLIENT, &["admin"])).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.error(),
        "'projectId' is not a project this deployment accepts"
    );
}

#[tokio::test]
async fn provider_refusals_follow_the_contract() {
    let provider = OidcProvider::start();
    let api = provider.token_api(&[]);

    // A wrong secret or an unknown client: oidc-provider's 401 invalid_client.
    for body in [
        credentials((FULL_CLIENT.0, "wrong-secret"), &["read:data"]),
        credentials(("no-such-client", "whatever"), &[]),
    ] {
        let reply = exchange(&api, body.clone()).await;
        assert_eq!(reply.status, 401, "{body}: {}", reply.body);
        assert_eq!(
            reply.error(),
            "Authentication failed: client authentication failed"
        );
        assert!(reply.body.get("jwt").is_none());
    }
    let reply = exchange(&api, credentials((FULL_CLIENT.0, "wrong-secret"), &[])).await;
    assert!(
        !reply.body.to_string().contains("wrong-secret"),
        "the secret is echoed: {}",
        reply.body
    );

    // A scope the client may not have: the provider answers 400 invalid_scope naming it ({"scope": "admin"});
    // the token function reports it as the contract's 403, as it does for Descope keys.
    let (status, body) = provider
        .token_from_provider(READER_CLIENT, &[("scope", "read:data admin")])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "{body}"
    );
    let reply = exchange(&api, credentials(READER_CLIENT, &["read:data", "admin"])).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(
        reply.error(),
        "Scope not granted to this access key: 'admin'"
    );
    assert!(reply.body.get("jwt").is_none());

    // A scope the resource server does not define: oidc-provider drops it silently and issues the token;
    // the token function then finds it missing from the token's grants: the same 403.
    let reply = exchange(&api, credentials(FULL_CLIENT, &["read:data", "write:data"])).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(
        reply.error(),
        "Scope not granted to this access key: 'write:data'"
    );

    // Descope's tenants have no OAuth 2.0 counterpart.
    let reply = exchange(
        &api,
        json!({"projectId": FULL_CLIENT.0, "accessKey": FULL_CLIENT.1, "tenant": "T2Acme"}),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.error(),
        "'tenant' is not supported with AUTH_PROVIDER=oidc"
    );
}

#[tokio::test]
async fn tokens_for_another_audience_or_issuer_are_refused() {
    let provider = OidcProvider::start();
    let endpoints = Endpoints::new(&provider, &[]);

    // The same provider, the same keys, another resource server: refused by audience.
    let (status, body) = provider
        .token_from_provider(
            FULL_CLIENT,
            &[("resource", OTHER_API), ("scope", "read:data admin")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let other = body["access_token"].as_str().unwrap();
    for (api, path) in [
        (&endpoints.protected, "/api/protected"),
        (&endpoints.user, "/api/user"),
        (&endpoints.admin, "/api/admin"),
    ] {
        let reply = call(api, bearer(path, other)).await;
        assert_eq!(reply.status, 401, "{path}: {}", reply.body);
        assert_eq!(
            reply.error(),
            "JWT verification failed: audience not accepted"
        );
        assert_eq!(
            reply.header("www-authenticate"),
            r#"Bearer error="invalid_token""#
        );
    }
    // ... and accepted where that audience is the configured one.
    let others = Endpoints::new(&provider, &[("JWT_AUDIENCE", OTHER_API)]);
    assert_eq!(others.statuses(other).await, [200, 200, 200]);

    // The token function verifies what it hands out: configured for another audience, the provider's token
    // for its default resource is an error of the provider's, not a success.
    let misconfigured = provider.token_api(&[("JWT_AUDIENCE", OTHER_API)]);
    let reply = exchange(&misconfigured, credentials(FULL_CLIENT, &["read:data"])).await;
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(
        reply.error().starts_with("Identity provider error: "),
        "{}",
        reply.error()
    );
    assert!(reply.body.get("jwt").is_none());

    // A token of another issuer (the local Descope issuer) is refused.
    let descope = start_issuer().await;
    let foreign = token_for(&token_api(&descope, &[]), "dev-admin-key", &[]).await;
    assert_eq!(endpoints.statuses(&foreign).await, [401, 401, 401]);

    // A forged scope claim breaks the signature.
    let reply = exchange(
        &provider.token_api(&[]),
        credentials(READER_CLIENT, &["read:data"]),
    )
    .await;
    let jwt = reply.body["jwt"].as_str().unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    let mut claims = reply.body["decodedPayload"].clone();
    claims["scope"] = json!("read:data admin");
    let forged = format!("{}.{}.{}", parts[0], b64(claims.to_string()), parts[2]);
    let reply = call(&endpoints.admin, bearer("/api/admin", &forged)).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.error(), "JWT verification failed: invalid signature");
}
