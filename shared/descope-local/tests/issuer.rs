//! End-to-end tests of the local issuer over real HTTP on 127.0.0.1 free ports.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use descope_local::{Endpoint, Fault, IssuerConfig, IssuerError, LocalIssuer, RunningIssuer};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderMap, LOCATION};
use serde_json::{Value, json};

const PROJECT: &str = "P2LocalDevProject";
const SECRETS: &[&str] = &[
    "dev-admin-key",
    "dev-reader-key",
    "dev-nogrants-key",
    "dev-expired-key",
    "dev-disabled-key",
    "dev-tenant-key",
    "dev-hostile-key",
];
/// Statuses the official SDKs retry; an ordinary failure must never use them.
const RETRIED_STATUSES: &[u16] = &[503, 520, 521, 522, 524, 530];

async fn start() -> RunningIssuer {
    start_with(IssuerConfig::dev()).await
}

async fn start_with(config: IssuerConfig) -> RunningIssuer {
    LocalIssuer::new(config)
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("bind a free port")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    fn content_type(&self) -> &str {
        self.headers
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.unwrap(),
    }
}

async fn exchange_raw(run: &RunningIssuer, auth: Option<&str>, body: Option<&str>) -> Answer {
    let mut request = client().post(format!("{}/v1/auth/accesskey/exchange", run.base_url()));
    if let Some(auth) = auth {
        request = request.header(AUTHORIZATION, auth);
    }
    if let Some(body) = body {
        request = request
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_owned());
    }
    answer(request.send().await.unwrap()).await
}

async fn exchange(run: &RunningIssuer, secret: &str, body: Option<&str>) -> Answer {
    exchange_raw(run, Some(&format!("Bearer {PROJECT}:{secret}")), body).await
}

async fn get(run: &RunningIssuer, path: &str) -> Answer {
    answer(
        client()
            .get(format!("{}{path}", run.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn part(jwt: &str, index: usize) -> Value {
    let segment = jwt.split('.').nth(index).expect("JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("base64url")).expect("JSON")
}

fn header(jwt: &str) -> Value {
    part(jwt, 0)
}

fn claims(jwt: &str) -> Value {
    part(jwt, 1)
}

/// Verifies the RS256 signature of `jwt` with the key of its `kid` in `jwks`.
fn verify_with(jwks: &Value, jwt: &str) -> Result<(), String> {
    let kid = header(jwt)["kid"].as_str().ok_or("no kid")?.to_owned();
    let jwk = jwks["keys"]
        .as_array()
        .ok_or("no keys")?
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .ok_or_else(|| format!("kid {kid} not published"))?;
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
    let (signing_input, signature) = jwt.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    RsaPublicKeyComponents { n: &n, e: &e }
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            signing_input.as_bytes(),
            &signature,
        )
        .map_err(|_| "bad signature".to_owned())
}

async fn published(run: &RunningIssuer) -> Value {
    get(run, &format!("/v2/keys/{PROJECT}")).await.json()
}

async fn verify(run: &RunningIssuer, jwt: &str) -> Result<(), String> {
    verify_with(&published(run).await, jwt)
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// A Descope-style error: the status, JSON, non-empty errorCode, the other fields, no secret echoed.
fn assert_error(answer: &Answer, status: u16) -> Value {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.text);
    assert!(!RETRIED_STATUSES.contains(&status));
    assert!(
        answer.content_type().starts_with("application/json"),
        "{:?}",
        answer.headers
    );
    let body = answer.json();
    let code = body["errorCode"].as_str().expect("errorCode");
    assert!(
        code.starts_with('E') && code.len() == 7,
        "errorCode {code:?}"
    );
    for field in ["errorDescription", "errorMessage", "message"] {
        assert!(
            !body[field].as_str().expect(field).is_empty(),
            "{field}: {body}"
        );
    }
    for secret in SECRETS {
        assert!(
            !answer.text.contains(secret),
            "echoes {secret}: {}",
            answer.text
        );
    }
    body
}

#[tokio::test]
async fn exchange_issues_a_descope_session_token() {
    let run = start().await;
    let answer = exchange(&run, "dev-admin-key", Some("{}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(answer.content_type().starts_with("application/json"));
    assert_eq!(answer.headers[CACHE_CONTROL], "no-store");
    let body = answer.json();
    assert_eq!(body["keyId"], "K2LocalAdmin");
    assert_eq!(body["projectId"], PROJECT);
    let jwt = body["sessionJwt"].as_str().unwrap();
    assert!(!answer.text.contains("dev-admin-key"));

    assert_eq!(
        header(jwt),
        json!({"alg": "RS256", "kid": run.issuer().current_kid(), "typ": "JWT"})
    );
    let c = claims(jwt);
    assert_eq!(c["iss"], format!("{}/v1/apps/{PROJECT}", run.base_url()));
    assert!(run.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(c["sub"], "K2LocalAdmin");
    assert_eq!(c["drn"], "DS");
    assert_eq!(c["roles"], json!(["admin"]));
    assert_eq!(c["permissions"], json!(["read:data", "write:data"]));
    assert_eq!(c["tenants"], json!({}));
    let iat = c["iat"].as_i64().unwrap();
    let exp = c["exp"].as_i64().unwrap();
    assert_eq!(exp - iat, 600);
    assert_eq!(body["expiration"].as_i64().unwrap(), exp);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((iat - now).abs() <= 5);
    for absent in ["dct", "nsec", "aud", "nbf", "scope"] {
        assert!(c.get(absent).is_none(), "{absent} present: {c}");
    }
    verify(&run, jwt).await.unwrap();
}

#[tokio::test]
async fn a_standard_jwt_library_accepts_the_token() {
    let run = start().await;
    let jwt = exchange(&run, "dev-reader-key", None).await.json()["sessionJwt"]
        .as_str()
        .unwrap()
        .to_owned();
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(published(&run).await).expect("a JWKS jsonwebtoken parses");
    let kid = jsonwebtoken::decode_header(&jwt).unwrap().kid.unwrap();
    let jwk = jwks.find(&kid).expect("kid published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[format!("{}/v1/apps/{PROJECT}", run.base_url())]);
    let data = jsonwebtoken::decode::<Value>(&jwt, &key, &validation).unwrap();
    assert_eq!(data.claims["sub"], "K2LocalReader");
    assert_eq!(data.claims["roles"], json!(["user"]));
    assert_eq!(data.claims["permissions"], json!(["read:data"]));
}

#[tokio::test]
async fn accepted_request_bodies_and_authorization_forms() {
    let run = start().await;
    for body in [
        None,
        Some(""),
        Some("{}"),
        Some(r#"{"loginOptions": null}"#),
        Some(r#"{"loginOptions": {}, "unknown": [1, 2]}"#),
        Some(r#"{"loginOptions": {"customClaims": null, "selectedTenant": null, "mfa": true}}"#),
    ] {
        let answer = exchange(&run, "dev-nogrants-key", body).await;
        assert_eq!(answer.status, StatusCode::OK, "{body:?}: {}", answer.text);
        let c = claims(answer.json()["sessionJwt"].as_str().unwrap());
        assert_eq!(c["sub"], "K2LocalNoGrants");
        assert_eq!(c["roles"], json!([]));
        assert_eq!(c["permissions"], json!([]));
        assert_eq!(c["tenants"], json!({}));
    }
    // A third `:<managementKey>` part is accepted and ignored; the scheme is case-insensitive.
    for auth in [
        format!("Bearer {PROJECT}:dev-reader-key:some-management-key"),
        format!("bearer {PROJECT}:dev-reader-key"),
    ] {
        let answer = exchange_raw(&run, Some(&auth), None).await;
        assert_eq!(answer.status, StatusCode::OK, "{auth}: {}", answer.text);
        assert_eq!(answer.json()["keyId"], "K2LocalReader");
    }
}

#[tokio::test]
async fn tenants_and_selected_tenant() {
    let run = start().await;
    let tenants = json!({
        "T2Acme": {"roles": ["admin"], "permissions": ["read:data"]},
        "T2Other": {"roles": [], "permissions": ["write:data"]},
    });

    let plain = exchange(&run, "dev-tenant-key", None).await;
    assert_eq!(plain.status, StatusCode::OK);
    let c = claims(plain.json()["sessionJwt"].as_str().unwrap());
    assert_eq!(c["tenants"], tenants);
    assert_eq!(c["roles"], json!([]));
    assert_eq!(c["permissions"], json!([]));
    assert!(c.get("dct").is_none());

    let selected = exchange(
        &run,
        "dev-tenant-key",
        Some(r#"{"loginOptions": {"selectedTenant": "T2Acme"}}"#),
    )
    .await;
    assert_eq!(selected.status, StatusCode::OK, "{}", selected.text);
    let jwt = selected.json()["sessionJwt"].as_str().unwrap().to_owned();
    let c = claims(&jwt);
    assert_eq!(c["dct"], "T2Acme");
    assert_eq!(c["tenants"], tenants);
    verify(&run, &jwt).await.unwrap();

    let empty = exchange(
        &run,
        "dev-tenant-key",
        Some(r#"{"loginOptions": {"selectedTenant": ""}}"#),
    )
    .await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(
        claims(empty.json()["sessionJwt"].as_str().unwrap())
            .get("dct")
            .is_none()
    );

    for (secret, tenant) in [
        ("dev-tenant-key", "T2Nope"),
        ("dev-tenant-key", "t2acme"),
        ("dev-admin-key", "T2Acme"),
    ] {
        let body = json!({"loginOptions": {"selectedTenant": tenant}}).to_string();
        let answer = exchange(&run, secret, Some(&body)).await;
        let error = assert_error(&answer, 400);
        assert!(
            error["errorMessage"].as_str().unwrap().contains("tenant"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn custom_claims_are_nested_under_nsec_never_top_level() {
    let run = start().await;
    let custom = json!({
        "scope": "admin read:data",
        "roles": ["admin"],
        "permissions": ["write:data"],
        "iss": "https://evil.example",
        "sub": "someone-else",
        "drn": "DSR",
        "exp": 9_999_999_999i64,
        "tenants": {"T2Acme": {"roles": ["admin"]}},
        "dct": "T2Acme",
        "aud": "anything",
        "nested": {"a": [1, "two"]},
    });
    let body = json!({"loginOptions": {"customClaims": custom}}).to_string();
    let answer = exchange(&run, "dev-reader-key", Some(&body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let jwt = answer.json()["sessionJwt"].as_str().unwrap().to_owned();
    let c = claims(&jwt);
    assert_eq!(c["nsec"], custom);
    assert_eq!(c["roles"], json!(["user"]));
    assert_eq!(c["permissions"], json!(["read:data"]));
    assert_eq!(c["sub"], "K2LocalReader");
    assert_eq!(c["drn"], "DS");
    assert_eq!(c["iss"], format!("{}/v1/apps/{PROJECT}", run.base_url()));
    assert_eq!(c["tenants"], json!({}));
    assert!(c["exp"].as_i64().unwrap() < 9_999_999_999);
    for absent in ["scope", "dct", "aud", "nested"] {
        assert!(c.get(absent).is_none(), "{absent} at top level: {c}");
    }
    verify(&run, &jwt).await.unwrap();

    // An empty customClaims object adds no nsec.
    let answer = exchange(
        &run,
        "dev-reader-key",
        Some(r#"{"loginOptions": {"customClaims": {}}}"#),
    )
    .await;
    assert!(
        claims(answer.json()["sessionJwt"].as_str().unwrap())
            .get("nsec")
            .is_none()
    );
}

#[tokio::test]
async fn admin_configured_claims_are_top_level_and_never_override_reserved_ones() {
    let mut config = IssuerConfig::dev();
    let reader = config
        .access_keys
        .iter_mut()
        .find(|k| k.id == "K2LocalReader")
        .unwrap();
    reader.claims.insert("department".into(), json!("billing"));
    reader.claims.insert("roles".into(), json!(["admin"]));
    reader.claims.insert("aud".into(), json!("someone"));
    let run = start_with(config).await;
    let answer = exchange(
        &run,
        "dev-reader-key",
        Some(r#"{"loginOptions": {"customClaims": {"department": "caller"}}}"#),
    )
    .await;
    let c = claims(answer.json()["sessionJwt"].as_str().unwrap());
    assert_eq!(c["department"], "billing");
    assert_eq!(c["nsec"]["department"], "caller");
    assert_eq!(c["roles"], json!(["user"]));
    assert!(c.get("aud").is_none());
}

#[tokio::test]
async fn custom_claim_limits_are_enforced() {
    let run = start().await;
    let ok = json!({"loginOptions": {"customClaims": {"k".repeat(60): "v".repeat(500)}}});
    let answer = exchange(&run, "dev-reader-key", Some(&ok.to_string())).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);

    let too_many: serde_json::Map<String, Value> =
        (0..101).map(|i| (format!("c{i}"), json!(i))).collect();
    for claims in [
        json!({"k".repeat(61): 1}),
        json!({"k": "v".repeat(501)}),
        Value::Object(too_many),
    ] {
        let body = json!({"loginOptions": {"customClaims": claims}}).to_string();
        let answer = exchange(&run, "dev-reader-key", Some(&body)).await;
        assert_error(&answer, 400);
    }
}

#[tokio::test]
async fn every_error_path_answers_a_descope_error() {
    let run = start().await;
    let cases: Vec<(Option<String>, Option<&str>, u16, &str)> = vec![
        (None, None, 401, "authorization"),
        (Some("Basic abc".into()), None, 401, "authorization"),
        (
            Some(format!("Bearer {PROJECT}")),
            None,
            401,
            "authorization",
        ),
        (
            Some(format!("Bearer {PROJECT}:")),
            None,
            401,
            "authorization",
        ),
        (Some(":dev-admin-key".into()), None, 401, "authorization"),
        (
            Some("Bearer P2SomeOtherProject:dev-admin-key".into()),
            None,
            401,
            "project",
        ),
        (
            Some(format!("Bearer {PROJECT}:dev-admin-key-wrong")),
            None,
            401,
            "invalid",
        ),
        (
            Some(format!("Bearer {PROJECT}:dev-disabled-key")),
            None,
            401,
            "disabled",
        ),
        (
            Some(format!("Bearer {PROJECT}:dev-expired-key")),
            None,
            401,
            "expired",
        ),
        (
            Some(format!("Bearer {PROJECT}:dev-admin-key")),
            Some("{not json"),
            400,
            "JSON",
        ),
        (
            Some(format!("Bearer {PROJECT}:dev-admin-key")),
            Some("[]"),
            400,
            "object",
        ),
        (
            Some(format!("Bearer {PROJECT}:dev-admin-key")),
            Some(r#"{"loginOptions": "x"}"#),
            400,
            "loginOptions",
        ),
        (
            Some(format!("Bearer {PROJECT}:dev-admin-key")),
            Some(r#"{"loginOptions": {"customClaims": [1]}}"#),
            400,
            "customClaims",
        ),
        (
            Some(format!("Bearer {PROJECT}:dev-admin-key")),
            Some(r#"{"loginOptions": {"selectedTenant": 7}}"#),
            400,
            "selectedTenant",
        ),
    ];
    for (auth, body, status, needle) in cases {
        let answer = exchange_raw(&run, auth.as_deref(), body).await;
        let error = assert_error(&answer, status);
        let message = error["errorMessage"].as_str().unwrap();
        assert!(
            message.to_lowercase().contains(&needle.to_lowercase()),
            "{auth:?} {body:?}: {message}"
        );
    }

    // Body over 64 KiB.
    let huge = json!({"loginOptions": {"customClaims": {"x": "y".repeat(70 * 1024)}}}).to_string();
    let answer = exchange(&run, "dev-admin-key", Some(&huge)).await;
    assert_error(&answer, 413);
}

#[tokio::test]
async fn rotation_publishes_old_and_new_and_signs_with_new() {
    let run = start().await;
    let issuer = run.issuer().clone();
    let first_kid = issuer.current_kid();
    let old_jwt = exchange(&run, "dev-admin-key", None).await.json()["sessionJwt"]
        .as_str()
        .unwrap()
        .to_owned();

    let second_kid = issuer.rotate_signing_key();
    assert_ne!(first_kid, second_kid);
    assert_eq!(issuer.current_kid(), second_kid);
    let jwks = published(&run).await;
    assert_eq!(kids(&jwks), vec![second_kid.clone(), first_kid.clone()]);
    let new_jwt = exchange(&run, "dev-admin-key", None).await.json()["sessionJwt"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(header(&new_jwt)["kid"], second_kid.as_str());
    verify_with(&jwks, &new_jwt).unwrap();
    verify_with(&jwks, &old_jwt).unwrap();

    // The HTTP route rotates too, and at most three keys stay published.
    let third = answer(
        client()
            .post(format!("{}/local/rotate-keys", run.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(third.status, StatusCode::OK);
    let third_kid = third.json()["kid"].as_str().unwrap().to_owned();
    assert_eq!(issuer.current_kid(), third_kid);
    let fourth_kid = issuer.rotate_signing_key();
    let jwks = published(&run).await;
    assert_eq!(kids(&jwks), vec![fourth_kid, third_kid, second_kid]);
    assert!(verify_with(&jwks, &old_jwt).is_err(), "first key retired");
}

#[tokio::test]
async fn both_jwks_routes_publish_valid_rsa_keys() {
    let run = start().await;
    run.issuer().rotate_signing_key();
    let v2 = get(&run, &format!("/v2/keys/{PROJECT}")).await;
    let well_known = get(&run, &format!("/{PROJECT}/.well-known/jwks.json")).await;
    for answer in [&v2, &well_known] {
        assert_eq!(answer.status, StatusCode::OK);
        assert!(answer.content_type().starts_with("application/json"));
    }
    assert_eq!(v2.json(), well_known.json());
    assert_eq!(v2.json(), run.issuer().public_jwks());
    let jwks = v2.json();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for key in keys {
        let object = key.as_object().unwrap();
        let mut fields: Vec<&str> = object.keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["alg", "e", "kid", "kty", "n", "use"]);
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["e"], "AQAB");
        let n = key["n"].as_str().unwrap();
        assert!(!n.contains('=') && !n.contains('+') && !n.contains('/'));
        let n = URL_SAFE_NO_PAD.decode(n).unwrap();
        assert_eq!(n.len(), 256);
        assert_ne!(n[0], 0, "no leading zero byte");
    }

    for path in [
        "/v2/keys/P2Unknown".to_owned(),
        "/P2Unknown/.well-known/jwks.json".to_owned(),
    ] {
        assert_error(&get(&run, &path).await, 400);
    }
}

#[tokio::test]
async fn openid_configuration_and_license() {
    let run = start().await;
    let base = run.base_url();
    for path in [
        format!("/{PROJECT}/.well-known/openid-configuration"),
        format!("/v1/apps/{PROJECT}/.well-known/openid-configuration"),
    ] {
        let answer = get(&run, &path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert!(answer.content_type().starts_with("application/json"));
        let doc = answer.json();
        assert_eq!(doc["issuer"], format!("{base}/v1/apps/{PROJECT}"));
        assert_eq!(
            doc["jwks_uri"],
            format!("{base}/{PROJECT}/.well-known/jwks.json")
        );
        assert!(doc["token_endpoint"].as_str().unwrap().starts_with(&base));
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            json!(["RS256"])
        );
        // The advertised JWKS answers.
        let jwks = client()
            .get(doc["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(jwks.status(), StatusCode::OK);
    }
    assert_error(
        &get(&run, "/P2Unknown/.well-known/openid-configuration").await,
        400,
    );

    let license = get(&run, "/v1/mgmt/license").await;
    assert_eq!(license.status, StatusCode::OK);
    assert!(license.content_type().starts_with("application/json"));
    assert_eq!(license.json(), json!({"rateLimitTier": "free"}));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let run = start().await;
    assert_error(&get(&run, "/nope").await, 404);
    assert_error(&get(&run, "/v1/auth/accesskey/exchange/extra").await, 404);
    let wrong_method = answer(
        client()
            .get(format!("{}/v1/auth/accesskey/exchange", run.base_url()))
            .header(AUTHORIZATION, format!("Bearer {PROJECT}:dev-admin-key"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&wrong_method, 405);
    let wrong_method = answer(
        client()
            .delete(format!("{}/v2/keys/{PROJECT}", run.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&wrong_method, 405);
}

#[tokio::test]
async fn faults_on_the_exchange() {
    let run = start().await;
    let issuer = run.issuer().clone();
    assert_eq!(issuer.request_count(Endpoint::Exchange), 0);

    issuer.set_fault(Endpoint::Exchange, Some(Fault::Status(500)));
    let answer = exchange(&run, "dev-admin-key", None).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!answer.json()["errorCode"].as_str().unwrap().is_empty());

    issuer.set_fault(Endpoint::Exchange, Some(Fault::Status(503)));
    let answer = exchange(&run, "dev-admin-key", None).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!answer.json()["errorCode"].as_str().unwrap().is_empty());

    issuer.set_fault(Endpoint::Exchange, Some(Fault::Status(429)));
    let answer = exchange(&run, "dev-admin-key", None).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(answer.headers.contains_key("retry-after"));

    issuer.set_fault(Endpoint::Exchange, Some(Fault::Garbage));
    let answer = exchange(&run, "dev-admin-key", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.content_type().starts_with("application/json"));
    assert!(serde_json::from_str::<Value>(&answer.text).is_err());

    issuer.set_fault(Endpoint::Exchange, Some(Fault::Html));
    let answer = exchange(&run, "dev-admin-key", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.content_type().starts_with("text/html"));
    assert!(answer.text.contains("<html>"));

    issuer.set_fault(
        Endpoint::Exchange,
        Some(Fault::Redirect("https://evil.example/steal".into())),
    );
    let answer = exchange(&run, "dev-admin-key", None).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert_eq!(answer.headers[LOCATION], "https://evil.example/steal");

    issuer.set_fault(
        Endpoint::Exchange,
        Some(Fault::Body {
            status: 200,
            content_type: "application/json".into(),
            body: br#"{"sessionJwt": 42}"#.to_vec(),
        }),
    );
    let answer = exchange(&run, "dev-admin-key", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.text, r#"{"sessionJwt": 42}"#);

    issuer.set_fault(Endpoint::Exchange, Some(Fault::ForeignSignature));
    let answer = exchange(&run, "dev-admin-key", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    let jwt = answer.json()["sessionJwt"].as_str().unwrap().to_owned();
    assert_eq!(header(&jwt)["kid"], issuer.current_kid().as_str());
    assert_eq!(claims(&jwt)["sub"], "K2LocalAdmin");
    assert_eq!(
        verify(&run, &jwt).await.unwrap_err(),
        "bad signature",
        "signed by an unpublished key"
    );

    issuer.set_fault(
        Endpoint::Exchange,
        Some(Fault::Delay(Duration::from_millis(300))),
    );
    let started = std::time::Instant::now();
    let answer = exchange(&run, "dev-admin-key", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));

    issuer.set_fault(Endpoint::Exchange, Some(Fault::Hang));
    let started = std::time::Instant::now();
    let error = client()
        .post(format!("{}/v1/auth/accesskey/exchange", run.base_url()))
        .header(AUTHORIZATION, format!("Bearer {PROJECT}:dev-admin-key"))
        .timeout(Duration::from_millis(500))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert!(started.elapsed() >= Duration::from_millis(500));

    issuer.set_fault(Endpoint::Exchange, None);
    let answer = exchange(&run, "dev-admin-key", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    verify(&run, answer.json()["sessionJwt"].as_str().unwrap())
        .await
        .unwrap();

    assert_eq!(issuer.request_count(Endpoint::Exchange), 11);
    // Only the verify() calls hit the keys endpoint.
    assert_eq!(issuer.request_count(Endpoint::Keys), 2);
}

#[tokio::test]
async fn faults_on_the_keys_endpoint_and_request_counts() {
    let run = start().await;
    let issuer = run.issuer().clone();
    let v2 = format!("/v2/keys/{PROJECT}");
    let well_known = format!("/{PROJECT}/.well-known/jwks.json");

    let duplicate_kids =
        json!({"keys": [issuer.public_jwks()["keys"][0], issuer.public_jwks()["keys"][0]]});
    issuer.set_fault(
        Endpoint::Keys,
        Some(Fault::Body {
            status: 200,
            content_type: "application/json".into(),
            body: duplicate_kids.to_string().into_bytes(),
        }),
    );
    for path in [&v2, &well_known] {
        let answer = get(&run, path).await;
        assert_eq!(answer.json(), duplicate_kids);
    }

    let big = vec![b' '; 10 * 1024 * 1024];
    issuer.set_fault(
        Endpoint::Keys,
        Some(Fault::Body {
            status: 200,
            content_type: "application/json".into(),
            body: big,
        }),
    );
    assert_eq!(get(&run, &v2).await.text.len(), 10 * 1024 * 1024);

    issuer.set_fault(Endpoint::Keys, Some(Fault::Status(500)));
    let answer = get(&run, &well_known).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!answer.json()["errorCode"].as_str().unwrap().is_empty());

    issuer.set_fault(Endpoint::Keys, Some(Fault::Garbage));
    let answer = get(&run, &v2).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&answer.text).is_err());

    issuer.set_fault(
        Endpoint::Keys,
        Some(Fault::Redirect(format!("{}{v2}", run.base_url()))),
    );
    let answer = get(&run, &v2).await;
    assert_eq!(answer.status, StatusCode::FOUND);

    issuer.set_fault(Endpoint::Keys, Some(Fault::Hang));
    let error = client()
        .get(format!("{}{v2}", run.base_url()))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout());

    // ForeignSignature does not affect the keys endpoint.
    issuer.set_fault(Endpoint::Keys, Some(Fault::ForeignSignature));
    assert_eq!(get(&run, &v2).await.json(), issuer.public_jwks());

    issuer.set_fault(Endpoint::Keys, None);
    assert_eq!(get(&run, &well_known).await.json(), issuer.public_jwks());

    // Faults on one endpoint leave the other alone.
    assert_eq!(issuer.request_count(Endpoint::Keys), 9);
    assert_eq!(issuer.request_count(Endpoint::Exchange), 0);
    get(
        &run,
        &format!("/{PROJECT}/.well-known/openid-configuration"),
    )
    .await;
    get(&run, "/v2/keys/P2Unknown").await;
    assert_eq!(
        issuer.request_count(Endpoint::Keys),
        10,
        "openid-configuration is not counted"
    );
}

#[tokio::test]
async fn mint_and_sign_raw_match_the_served_keys() {
    let run = start().await;
    let issuer = run.issuer().clone();
    assert_eq!(issuer.project_id(), PROJECT);

    let minted = issuer
        .mint(
            "K2LocalTenant",
            Some(json!({"scope": "read:data"}).as_object().unwrap().clone()),
            Some("T2Other"),
        )
        .unwrap();
    let exchanged = exchange(
        &run,
        "dev-tenant-key",
        Some(r#"{"loginOptions": {"customClaims": {"scope": "read:data"}, "selectedTenant": "T2Other"}}"#),
    )
    .await
    .json()["sessionJwt"]
        .as_str()
        .unwrap()
        .to_owned();
    let strip = |mut c: Value| {
        let object = c.as_object_mut().unwrap();
        object.remove("iat");
        object.remove("exp");
        c
    };
    assert_eq!(strip(claims(&minted)), strip(claims(&exchanged)));
    assert_eq!(header(&minted), header(&exchanged));
    verify(&run, &minted).await.unwrap();

    assert!(matches!(
        issuer.mint("K2Unknown", None, None),
        Err(IssuerError::UnknownAccessKey(_))
    ));
    assert!(matches!(
        issuer.mint("K2LocalTenant", None, Some("T2Nope")),
        Err(IssuerError::TenantNotAssociated(_))
    ));

    // sign_raw signs header and claims verbatim with the current key.
    let hostile_header = json!({"alg": "HS256", "kid": "nope", "crit": ["exp"], "typ": "JWT"});
    let hostile_claims = json!({"sub": "x", "exp": "soon", "roles": "admin"});
    let raw = issuer.sign_raw(&hostile_header, &hostile_claims);
    assert_eq!(header(&raw), hostile_header);
    assert_eq!(claims(&raw), hostile_claims);
    let (input, signature) = raw.rsplit_once('.').unwrap();
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &RSA_PKCS1_2048_8192_SHA256,
        issuer.current_public_key_der(),
    )
    .verify(
        input.as_bytes(),
        &URL_SAFE_NO_PAD.decode(signature).unwrap(),
    )
    .expect("signed with the current key");

    // The DER key and the published JWK are the same key.
    let jwks = published(&run).await;
    let good = issuer.sign_raw(
        &json!({"alg": "RS256", "kid": issuer.current_kid()}),
        &json!({"sub": "y"}),
    );
    verify_with(&jwks, &good).unwrap();
}

#[tokio::test]
async fn dropping_the_running_issuer_stops_the_server() {
    let run = start().await;
    let addr = run.addr();
    assert_eq!(run.base_url(), format!("http://{addr}"));
    assert_eq!(published(&run).await["keys"].as_array().unwrap().len(), 1);
    // A hanging request must not keep the server alive.
    run.issuer()
        .set_fault(Endpoint::Exchange, Some(Fault::Hang));
    let base = run.base_url();
    let hanging = tokio::spawn(async move {
        client()
            .post(format!("{base}/v1/auth/accesskey/exchange"))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(run);
    let _ = tokio::time::timeout(Duration::from_secs(5), hanging)
        .await
        .expect("the hanging request ends when the server stops");
    let mut refused = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "still accepting connections");
}

#[tokio::test]
async fn graceful_shutdown_returns() {
    let run = start().await;
    let addr = run.addr();
    published(&run).await;
    tokio::time::timeout(Duration::from_secs(6), run.shutdown())
        .await
        .expect("shutdown finishes");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn key_file_validation_errors() {
    let cases = [
        (r#"{"projectId": "bad project"}"#, "projectId"),
        (
            r#"{"projectId": "P", "accessKeys": [{"id": "K", "secret": "a"}, {"id": "K", "secret": "b"}]}"#,
            "duplicate access key id",
        ),
        (
            r#"{"projectId": "P", "accessKeys": [{"id": "K1", "secret": "a"}, {"id": "K2", "secret": "a"}]}"#,
            "duplicate secret",
        ),
        (
            r#"{"projectId": "P", "accessKeys": [{"id": "K", "secret": ""}]}"#,
            "secret is empty",
        ),
        (
            r#"{"projectId": "P", "accessKeys": [{"id": "K", "secret": "a:b"}]}"#,
            "':'",
        ),
        (
            r#"{"projectId": "P", "accessKeys": [{"id": "K", "secret": "a b"}]}"#,
            "spaces",
        ),
    ];
    for (text, needle) in cases {
        let error = IssuerConfig::from_json(text).unwrap_err();
        assert!(
            matches!(error, IssuerError::Invalid(_)),
            "{text}: {error:?}"
        );
        assert!(error.to_string().contains(needle), "{text}: {error}");
    }
    let error =
        IssuerConfig::from_json(r#"{"projectId": "P", "accessKeys": [{"id": "K"}]}"#).unwrap_err();
    assert!(matches!(error, IssuerError::Parse(_)), "{error:?}");
    assert!(error.to_string().contains("secret"), "{error}");

    let path = std::env::temp_dir().join(format!("descope-local-test-{}.json", std::process::id()));
    std::fs::write(
        &path,
        r#"{"projectId": "P2File", "sessionTtlSeconds": 60, "accessKeys": [{"id": "K2F", "secret": "file-secret", "roles": ["r"]}]}"#,
    )
    .unwrap();
    let config = IssuerConfig::from_file(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(config.project_id, "P2File");
    assert_eq!(config.session_ttl, Duration::from_secs(60));
    let run = start_with(config).await;
    let answer = exchange_raw(&run, Some("Bearer P2File:file-secret"), None).await;
    assert_eq!(answer.status, StatusCode::OK);
    let c = claims(answer.json()["sessionJwt"].as_str().unwrap());
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 60);
    assert_eq!(c["iss"], format!("{}/v1/apps/P2File", run.base_url()));
    assert!(get(&run, "/v2/keys/P2File").await.status.is_success());
}

/// Kills the child on drop, so a failing assertion does not leak the process.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_binary(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_descope-local"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn descope-local");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    (Child(child), line)
}

#[tokio::test]
async fn binary_starts_on_a_free_port_and_serves() {
    let (mut child, line) = spawn_binary(&["--port", "0"]);
    let line = line.trim_end_matches('\n');
    let rest = line
        .strip_prefix("descope-local listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
    let (port, project) = rest.split_once(' ').unwrap();
    let port: u16 = port.parse().unwrap();
    assert_ne!(port, 0);
    assert_eq!(project, format!("project={PROJECT}"));
    let base = format!("http://127.0.0.1:{port}");

    let keys = client()
        .get(format!("{base}/v2/keys/{PROJECT}"))
        .send()
        .await
        .unwrap();
    assert_eq!(keys.status(), StatusCode::OK);
    let jwks: Value = keys.json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);

    let exchanged: Value = client()
        .post(format!("{base}/v1/auth/accesskey/exchange"))
        .header(AUTHORIZATION, format!("Bearer {PROJECT}:dev-admin-key"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwt = exchanged["sessionJwt"].as_str().unwrap().to_owned();
    assert_eq!(claims(&jwt)["iss"], format!("{base}/v1/apps/{PROJECT}"));
    verify_with(&jwks, &jwt).unwrap();
    let denied = client()
        .post(format!("{base}/v1/auth/accesskey/exchange"))
        .header(AUTHORIZATION, format!("Bearer {PROJECT}:dev-disabled-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);

    // SIGTERM: a clean exit; the logs name requests but never a secret or a token.
    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.0.wait().unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    let mut stderr = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("/v1/auth/accesskey/exchange"), "{stderr}");
    assert!(stderr.contains("401"), "{stderr}");
    for secret in SECRETS {
        assert!(!stderr.contains(secret), "logs {secret}: {stderr}");
    }
    assert!(
        !stderr.contains(jwt.split('.').nth(2).unwrap()),
        "logs the JWT"
    );
    assert!(!stderr.contains(&jwt[..40]), "logs the JWT");
}

#[tokio::test]
async fn binary_overrides_and_bad_arguments() {
    let (_child, line) = spawn_binary(&["--port=0", "--project-id", "P2Override", "--ttl", "30"]);
    assert!(line.ends_with(" project=P2Override\n"), "{line:?}");
    let base = line
        .trim_end()
        .strip_prefix("descope-local listening on ")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    let exchanged: Value = client()
        .post(format!("{base}/v1/auth/accesskey/exchange"))
        .header(AUTHORIZATION, "Bearer P2Override:dev-reader-key")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let c = claims(exchanged["sessionJwt"].as_str().unwrap());
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 30);
    assert_eq!(c["iss"], format!("{base}/v1/apps/P2Override"));

    for args in [
        &["--keys", "/nonexistent/keys.json", "--port", "0"][..],
        &["--bogus"],
        &["--port", "nope"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_descope-local"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
}
