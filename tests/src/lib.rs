//! Helpers shared by the in-process tests: a local issuer on a free loopback port, the functions' APIs
//! configured against it, and requests built the way API Gateway hands them to a function.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use descope_local::{IssuerConfig, LocalIssuer, RunningIssuer};
use lambda_http::http::HeaderMap;
use lambda_http::{Body, Request, Response};
use m2m_api::{ApiLayer, AuthConfig, ProtectedApi, Protection};
use m2m_token::{TokenApi, TokenSettings};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

pub use descope_local::{Endpoint as IssuerEndpoint, Fault};

pub mod http_stack;

/// The project of the shipped dev key file.
pub const PROJECT: &str = "P2LocalDevProject";

/// Starts a local issuer with the dev keys on 127.0.0.1 (stopped when dropped).
pub async fn start_issuer() -> RunningIssuer {
    start_issuer_with(IssuerConfig::dev()).await
}

pub async fn start_issuer_with(config: IssuerConfig) -> RunningIssuer {
    LocalIssuer::new(config)
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("bind 127.0.0.1")
}

/// Configuration lookup over the given variables (and nothing from the real environment).
pub fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

/// The development configuration against `issuer`, plus `vars` (which win).
pub fn with_issuer(issuer: &RunningIssuer, vars: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = vec![
        ("DESCOPE_BASE_URL".to_owned(), issuer.base_url()),
        ("DESCOPE_PROJECT_ID".to_owned(), PROJECT.to_owned()),
    ];
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    all
}

pub fn auth_config(issuer: &RunningIssuer, vars: &[(&str, &str)]) -> AuthConfig {
    let all = with_issuer(issuer, vars);
    let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    AuthConfig::from_lookup(lookup(&refs)).expect("valid test configuration")
}

/// The IAM principal [`from_iam_caller`] signs as: a session of the role [`IAM_ROLE`].
pub const IAM_CALLER: &str = "arn:aws:sts::123456789012:assumed-role/reporting-job/i-0abc";
/// The role the token functions of these tests list in `STACK_KEY_PRINCIPALS`, with all of the key's grants.
pub const IAM_ROLE: &str = "arn:aws:iam::123456789012:role/reporting-job";

/// The token function configured against `issuer` (its `STACK_KEY_PRINCIPALS` lets [`IAM_ROLE`] have every
/// grant of the stack's key), plus `vars` (which win).
pub fn token_api(issuer: &RunningIssuer, vars: &[(&str, &str)]) -> TokenApi {
    let principals = format!(r#"{{"{IAM_ROLE}": ["*"]}}"#);
    let mut vars = vars.to_vec();
    vars.insert(0, ("STACK_KEY_PRINCIPALS", &principals));
    let all = with_issuer(issuer, &vars);
    let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    TokenApi::new(TokenSettings::from_lookup(lookup(&refs)).expect("valid configuration"))
        .expect("token api")
}

/// A protected function configured against `issuer`.
pub fn protected_api(
    issuer: &RunningIssuer,
    protection: Protection,
    vars: &[(&str, &str)],
) -> ProtectedApi {
    ProtectedApi::new(
        protection,
        &auth_config(issuer, vars),
        m2m_api::Cors::default(),
    )
    .expect("protected api")
}

/// A request as API Gateway hands it to a function.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(format!("https://api.example{path}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let body = body
        .map(|b| Body::Text(b.to_owned()))
        .unwrap_or(Body::Empty);
    builder.body(body).expect("valid request")
}

pub fn post_json(path: &str, body: &str) -> Request {
    request(
        "POST",
        path,
        &[("content-type", "application/json")],
        Some(body),
    )
}

pub fn bearer(path: &str, token: &str) -> Request {
    request(
        "POST",
        path,
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
}

/// A response, decoded.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Reply {
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// A function called in-process as its main.rs composes it.
pub trait Function {
    fn respond(&self, request: Request) -> impl Future<Output = Response<Body>>;
}

impl Function for ProtectedApi {
    async fn respond(&self, request: Request) -> Response<Body> {
        self.handle(request).await
    }
}

impl Function for TokenApi {
    /// Behind the same [`ApiLayer`] as in functions/token/src/main.rs.
    async fn respond(&self, request: Request) -> Response<Body> {
        use tower::{ServiceBuilder, ServiceExt};
        let service = ServiceBuilder::new()
            .layer(ApiLayer::new(self.cors().clone()))
            .service_fn(|request| async {
                Ok::<_, std::convert::Infallible>(self.handle(request).await)
            });
        match service.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

impl<F: Function> Function for &F {
    async fn respond(&self, request: Request) -> Response<Body> {
        (**self).respond(request).await
    }
}

pub async fn call<F: Function>(function: &F, request: Request) -> Reply {
    reply(function.respond(request).await)
}

/// A response, decoded.
pub fn reply(response: Response<Body>) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        Body::Binary(bytes) => serde_json::from_slice(bytes).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    Reply {
        status,
        body,
        headers,
    }
}

/// `POST /m2m/token` with this body.
pub async fn exchange(api: &TokenApi, body: Value) -> Reply {
    call(api, post_json("/m2m/token", &body.to_string())).await
}

/// `request` as API Gateway hands it over from a route with IAM authorization: the SigV4 signer's identity
/// in `requestContext.authorizer.iam` (which no header can forge).
pub fn from_iam_caller(request: Request) -> Request {
    from_iam_principal(request, IAM_CALLER)
}

/// [`from_iam_caller`] signed as `principal`, on the IAM route (the context's `routeKey`).
pub fn from_iam_principal(request: Request, principal: &str) -> Request {
    use lambda_http::RequestExt;
    use lambda_http::aws_lambda_events::apigw::{
        ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerIamDescription,
        ApiGatewayV2httpRequestContext,
    };
    let mut iam = ApiGatewayRequestAuthorizerIamDescription::default();
    iam.user_arn = Some(principal.into());
    iam.account_id = Some("123456789012".into());
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    authorizer.iam = Some(iam);
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.authorizer = Some(authorizer);
    context.route_key = Some(format!("POST {}", m2m_token::IAM_ROUTE));
    request.with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(context))
}

/// `POST /m2m/token/iam` with this body, from a caller API Gateway authenticated with IAM.
pub async fn exchange_as_iam_caller(api: &TokenApi, body: Value) -> Reply {
    call(
        api,
        from_iam_caller(post_json("/m2m/token/iam", &body.to_string())),
    )
    .await
}

/// One exchange of the reader key through a token function whose issuer answers with `fault`, and how
/// long the function took to answer.
pub async fn exchange_with_fault(fault: descope_local::Fault) -> (Reply, std::time::Duration) {
    let issuer = start_issuer().await;
    issuer
        .issuer()
        .set_fault(descope_local::Endpoint::Exchange, Some(fault));
    let api = token_api(&issuer, &[]);
    let started = std::time::Instant::now();
    let reply = exchange(&api, json!({"accessKey": "dev-reader-key"})).await;
    (reply, started.elapsed())
}

/// Exchanges `access_key` (with `scopes`) and returns the JWT, failing the test on any error.
pub async fn token_for(api: &TokenApi, access_key: &str, scopes: &[&str]) -> String {
    let reply = exchange(api, json!({"accessKey": access_key, "scopes": scopes})).await;
    assert_eq!(reply.status, 200, "exchange failed: {}", reply.body);
    reply.body["jwt"].as_str().unwrap().to_owned()
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Valid session-token claims of the dev project, with `changes` applied (a `null` removes a claim).
pub fn claims(issuer: &RunningIssuer, changes: Value) -> Value {
    let now = now();
    let mut claims = json!({
        "iss": format!("{}/v1/apps/{PROJECT}", issuer.base_url()),
        "sub": "K2Handmade",
        "iat": now,
        "exp": now + 600,
        "drn": "DS",
        "roles": [],
        "permissions": [],
        "tenants": {},
    });
    merge(&mut claims, changes);
    claims
}

/// The header the issuer signs with, with `changes` applied.
pub fn header(issuer: &RunningIssuer, changes: Value) -> Value {
    let mut header = json!({"alg": "RS256", "kid": issuer.issuer().current_kid(), "typ": "JWT"});
    merge(&mut header, changes);
    header
}

/// Applies `changes` to the object `target`: each member set, or removed when its value is null.
pub fn merge(target: &mut Value, changes: Value) {
    if let (Some(target), Value::Object(changes)) = (target.as_object_mut(), changes) {
        for (name, value) in changes {
            if value.is_null() {
                target.remove(&name);
            } else {
                target.insert(name, value);
            }
        }
    }
}

/// A token signed by the issuer's current key with the given header and claims changes.
pub fn signed(issuer: &RunningIssuer, header_changes: Value, claim_changes: Value) -> String {
    issuer.issuer().sign_raw(
        &header(issuer, header_changes),
        &claims(issuer, claim_changes),
    )
}

/// base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The bytes of base64url text without padding (what the tests made themselves).
pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

/// Fails unless this test has a process of its own, as cargo-nextest gives every test
/// (`NEXTEST_EXECUTION_MODE=process-per-test`). For the few tests that own process-wide state (a global log
/// subscriber, the metrics sink and its totals, the process's memory figures), which other tests of the same
/// process would share: under plain `cargo test` they stop here with this message, not with a wrong figure.
pub fn in_a_process_of_its_own() {
    assert_eq!(
        std::env::var("NEXTEST_EXECUTION_MODE").as_deref(),
        Ok("process-per-test"),
        "this test owns process-wide state: run it with `cargo nextest run` (a process per test)"
    );
}

/// Log output kept in memory: a `tracing_subscriber` writer whose text the tests search.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

impl LogBuffer {
    /// Takes what was written so far (log lines are UTF-8: anything else fails the test).
    pub fn take(&self) -> String {
        String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
    }

    /// A copy of everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
