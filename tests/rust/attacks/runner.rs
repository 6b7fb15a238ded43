//! Running the table: every case through the protected functions of its configuration (or the verifier at a
//! fixed clock, or the token function), twice over the same inputs, cold then warm.

use super::kit::{Ctx, OwnKeys};
use super::{AUDIENCE, Case, ENVS, EXTRA_ISSUER, Env, Expect, IAM_PRINCIPALS, Input, Via, table};
use lambda_http::{Body, Request};
use m2m_api::{ADMIN, ApiError, PROTECTED, ProtectedApi, Protection, USER};
use m2m_tests::*;
use m2m_token::TokenApi;
use std::collections::{BTreeMap, HashMap};

struct Apis {
    protected: HashMap<(Env, &'static str), ProtectedApi>,
    token: TokenApi,
    /// The token function whose `STACK_KEY_PRINCIPALS` is [`IAM_PRINCIPALS`], with the admin key as the
    /// stack's key.
    iam_token: TokenApi,
}

fn env_vars(env: Env) -> Vec<(&'static str, &'static str)> {
    match env {
        Env::Default | Env::Own => vec![],
        Env::Audience => vec![("JWT_AUDIENCE", AUDIENCE)],
        Env::EmptyAudience => vec![("JWT_AUDIENCE", "")],
        Env::ExtraIssuer => vec![("JWT_ISSUERS", EXTRA_ISSUER)],
        Env::AllAlgs => vec![("JWT_ALGORITHMS", "RS256,PS256,ES256,EdDSA")],
        Env::OwnAll => vec![("JWT_ALGORITHMS", "RS256,ES256,EdDSA")],
        Env::OwnEs => vec![("JWT_ALGORITHMS", "ES256")],
    }
}

impl Apis {
    fn new(ctx: &Ctx) -> Apis {
        let mut protected = HashMap::new();
        for env in ENVS {
            let issuer = match env {
                Env::Own | Env::OwnAll | Env::OwnEs => &ctx.own_issuer,
                _ => &ctx.issuer,
            };
            for protection in [PROTECTED, USER, ADMIN] {
                protected.insert(
                    (env, protection.route),
                    protected_api(issuer, protection, &env_vars(env)),
                );
            }
        }
        Apis {
            protected,
            token: token_api(&ctx.issuer, &[]),
            iam_token: token_api(
                &ctx.issuer,
                &[
                    ("STACK_KEY_PRINCIPALS", IAM_PRINCIPALS),
                    ("DESCOPE_ACCESS_KEY", "dev-admin-key"),
                ],
            ),
        }
    }

    fn protected(&self, env: Env, protection: Protection) -> &ProtectedApi {
        &self.protected[&(env, protection.route)]
    }
}

fn token_request(path: &str, body: Vec<u8>) -> Request {
    let body = match String::from_utf8(body) {
        Ok(text) => Body::Text(text),
        Err(error) => Body::Binary(error.into_bytes()),
    };
    lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("https://api.example{path}"))
        .header("content-type", "application/json")
        .body(body)
        .unwrap()
}

/// Status, error text and `WWW-Authenticate` of one case, for its `input` (built once by the table runner,
/// so that a second pass presents the very same bytes).
async fn outcome(
    ctx: &Ctx,
    apis: &Apis,
    case: &Case,
    input: Input,
) -> (u16, String, Option<String>) {
    let protection = match case.via {
        Via::User => USER,
        Via::Admin => ADMIN,
        _ => PROTECTED,
    };
    match (case.via, input) {
        (Via::At, Input::Bearer(token)) => {
            match apis
                .protected(case.env, PROTECTED)
                .verifier()
                .verify_at(&token, ctx.t0 as f64)
                .await
            {
                Ok(_) => (200, String::new(), None),
                Err(error) => {
                    let refusal = ApiError::from(error).refusal();
                    (refusal.status, refusal.message, None)
                }
            }
        }
        (Via::Token, Input::Body(bytes)) => {
            let reply = call(&apis.token, token_request("/m2m/token", bytes)).await;
            (reply.status, reply.error().to_owned(), None)
        }
        (Via::Iam(principal), Input::Body(bytes)) => {
            let request = from_iam_principal(token_request(m2m_token::IAM_ROUTE, bytes), principal);
            let reply = call(&apis.iam_token, request).await;
            (reply.status, reply.error().to_owned(), None)
        }
        (_, input) => {
            let headers: Vec<String> = match input {
                Input::Bearer(token) => vec![format!("Bearer {token}")],
                Input::Authorization(values) => values,
                Input::Body(_) => panic!("{}: a body goes to the token function", case.id),
            };
            let pairs: Vec<(&str, &str)> = headers
                .iter()
                .map(|v| ("authorization", v.as_str()))
                .collect();
            let reply = call(
                apis.protected(case.env, protection),
                request("POST", protection.route, &pairs, None),
            )
            .await;
            let www = reply
                .headers
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap_or_default().to_owned());
            (reply.status, reply.error().to_owned(), www)
        }
    }
}

/// What is wrong with an outcome, if anything.
fn mismatch(case: &Case, (status, error, www): &(u16, String, Option<String>)) -> Option<String> {
    let at = matches!(case.via, Via::At | Via::Token | Via::Iam(_));
    let ok = match case.expect {
        Expect::Pass => *status == 200,
        Expect::Invalid(reason) => {
            *status == 401
                && *error == format!("JWT verification failed: {reason}")
                && (at || www.as_deref() == Some(r#"Bearer error="invalid_token""#))
        }
        Expect::NoAuth => *status == 401 && error == "Missing or invalid Authorization header",
        Expect::Forbidden(scope) => {
            *status == 403
                && *error == format!("Missing required scope: '{scope}'")
                && www.as_deref()
                    == Some(
                        format!(r#"Bearer error="insufficient_scope", scope="{scope}""#).as_str(),
                    )
        }
        Expect::BadRequest(text) => *status == 400 && error.contains(text),
        Expect::NotGranted(scope) => {
            *status == 403 && *error == format!("Scope not granted to this access key: '{scope}'")
        }
        Expect::AuthFailed => *status == 401 && error.starts_with("Authentication failed: "),
        Expect::KeyRequired => *status == 401 && error == "An access key is required",
        Expect::PrincipalRefused => {
            *status == 403 && error == "This IAM principal may not use the stack's key"
        }
        Expect::PrincipalNotGranted(scope) => {
            *status == 403
                && *error == format!("Scope not granted to this IAM principal: '{scope}'")
        }
    };
    (!ok).then(|| {
        format!(
            "{} [{}]: expected {:?}, got {status} {error:?} (www-authenticate {www:?})",
            case.id, case.anchor, case.expect
        )
    })
}

async fn context() -> Ctx {
    let issuer = start_issuer().await;
    let attacker = start_issuer().await;
    let own_issuer = start_issuer().await;
    let own = OwnKeys::generate();
    own_issuer.issuer().set_fault(
        IssuerEndpoint::Keys,
        Some(Fault::Body {
            status: 200,
            content_type: "application/json".into(),
            body: own.jwks().to_string().into_bytes(),
        }),
    );
    Ctx {
        issuer,
        attacker,
        own_issuer,
        own,
        t0: now(),
    }
}

/// What the verified-token caches of all the protected functions hold and have answered.
fn cache_totals(apis: &Apis) -> (u64, usize) {
    apis.protected
        .values()
        .fold((0, 0), |(hits, entries), api| {
            let stats = api.verifier().cache_stats();
            (hits + stats.hits, entries + stats.entries)
        })
}

#[tokio::test]
async fn the_attack_table() {
    let ctx = context().await;
    let apis = Apis::new(&ctx);
    let cases = table();
    let mut ids = std::collections::HashSet::new();
    for case in &cases {
        assert!(ids.insert(case.id), "duplicate case id {}", case.id);
        assert!(!case.anchor.is_empty(), "{} has no anchor", case.id);
    }
    let inputs: Vec<Input> = cases.iter().map(|case| (case.input)(&ctx)).collect();
    let mut failures = Vec::new();
    let mut by_class: BTreeMap<&str, usize> = BTreeMap::new();
    let mut cold = Vec::new();
    // The table twice over the same inputs: cold (every token checked in full), then warm (every token that
    // passed before is now in a verified-token cache). Both passes must give the very same answers.
    for warm in [false, true] {
        for (index, (case, input)) in cases.iter().zip(&inputs).enumerate() {
            if !warm {
                *by_class.entry(case.class).or_default() += 1;
            }
            let (hits_before, entries_before) = cache_totals(&apis);
            let result = outcome(&ctx, &apis, case, input.clone()).await;
            let (hits, entries) = cache_totals(&apis);
            if let Some(problem) = mismatch(case, &result) {
                failures.push(format!(
                    "{} pass: {problem}",
                    if warm { "warm" } else { "cold" }
                ));
            }
            let verified = result.0 == 200 || result.0 == 403;
            if !verified && (hits != hits_before || entries != entries_before) {
                failures.push(format!(
                    "{}: refused, yet answered from or added to a cache",
                    case.id
                ));
            }
            let verifies =
                !matches!(case.via, Via::Token | Via::Iam(_)) && matches!(input, Input::Bearer(_));
            if warm && verified && verifies && (hits == hits_before || entries != entries_before) {
                failures.push(format!(
                    "{}: passed before, yet not answered from the cache",
                    case.id
                ));
            }
            if warm && result != cold[index] {
                failures.push(format!(
                    "{}: cold {:?}, warm {result:?}",
                    case.id, cold[index]
                ));
            } else if !warm {
                cold.push(result);
            }
        }
    }
    println!("attack table: {} cases", cases.len());
    for (class, count) in &by_class {
        println!("  {class:<22} {count}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(cases.len() >= 80, "the table holds {} cases", cases.len());

    // Header-borne key locations were never fetched, and nothing an attacker sent became a key.
    assert_eq!(
        ctx.attacker.issuer().request_count(IssuerEndpoint::Keys),
        0,
        "jku/x5u were followed"
    );
    assert_eq!(
        apis.protected(Env::Default, PROTECTED)
            .verifier()
            .keys()
            .len(),
        1
    );
    assert_eq!(
        apis.protected(Env::OwnAll, PROTECTED)
            .verifier()
            .keys()
            .len(),
        3
    );
    assert_eq!(
        apis.protected(Env::Own, PROTECTED).verifier().keys().len(),
        1,
        "only the RSA key fits RS256"
    );
    assert_eq!(
        apis.protected(Env::OwnEs, PROTECTED)
            .verifier()
            .keys()
            .len(),
        1,
        "only the EC key fits ES256"
    );
}
