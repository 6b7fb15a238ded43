//! Properties of the verifier (proptest) over our own keys held in memory: verification never panics, and no
//! mutation of a valid token is accepted unless it decodes to the very same header, claims and signature.
//! Then the fuzzers' key fixture and seed corpus, written from the same keys and tokens by hand.

use super::kit::{EC_KID, OwnKeys, RSA_KID, kid_for};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use m2m_api::AuthConfig;
use m2m_auth::{KeySource, Verifier, parse_algorithm};
use m2m_tests::*;
use proptest::prelude::*;
use serde_json::{Value, json};

const FIXED_BASE_URL: &str = "http://127.0.0.1:0";

/// A verifier over [`OwnKeys`] held in memory (no network), RS256, ES256 and EdDSA accepted.
fn in_memory_verifier(keys: &OwnKeys) -> Verifier {
    let mut config = AuthConfig::descope(FIXED_BASE_URL, PROJECT);
    config.algorithms = ["RS256", "ES256", "EdDSA"]
        .into_iter()
        .map(|n| parse_algorithm(n).unwrap())
        .collect();
    let verifier = Verifier::new(
        &config,
        KeySource::Preloaded {
            jwks: keys.jwks(),
            base_url: FIXED_BASE_URL.to_owned(),
            project_id: PROJECT.to_owned(),
        },
    );
    assert_eq!(verifier.keys().len(), 3);
    verifier
}

fn fixed_claims(t0: i64, changes: Value) -> Value {
    let mut claims = json!({
        "iss": format!("{FIXED_BASE_URL}/v1/apps/{PROJECT}"), "sub": "K2Fuzz", "iat": t0, "exp": t0 + 600,
        "drn": "DS", "roles": ["user"], "permissions": ["read:data"], "tenants": {},
    });
    merge(&mut claims, changes);
    claims
}

fn fixed_token(keys: &OwnKeys, alg: &str, t0: i64, claim_changes: Value) -> String {
    let header = json!({"alg": alg, "kid": kid_for(alg), "typ": "JWT"}).to_string();
    keys.token_bytes(
        alg,
        header.as_bytes(),
        fixed_claims(t0, claim_changes).to_string().as_bytes(),
    )
}

struct Fixture {
    verifier: Verifier,
    tokens: Vec<String>,
    t0: i64,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        let keys = OwnKeys::generate();
        let t0 = now();
        let tokens = ["RS256", "ES256", "EdDSA"]
            .iter()
            .map(|alg| fixed_token(&keys, alg, t0, json!({})))
            .collect();
        Fixture {
            verifier: in_memory_verifier(&keys),
            tokens,
            t0,
        }
    })
}

fn decoded(token: &str) -> Option<(Value, Value, Vec<u8>)> {
    let parts: Vec<&str> = token.split('.').collect();
    let [h, p, s] = parts[..] else { return None };
    let json =
        |part: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(part).ok()?).ok();
    Some((json(h)?, json(p)?, URL_SAFE_NO_PAD.decode(s).ok()?))
}

#[test]
fn the_fixture_tokens_verify() {
    let fixture = fixture();
    for token in &fixture.tokens {
        fixture
            .verifier
            .verify_held_at(token, fixture.t0 as f64)
            .unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn verification_never_panics_on_arbitrary_strings(token in any::<String>()) {
        let fixture = fixture();
        let _ = fixture.verifier.verify_held_at(&token, fixture.t0 as f64);
    }

    #[test]
    fn verification_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..9000)) {
        let fixture = fixture();
        let _ = fixture.verifier.verify_held_at(&String::from_utf8_lossy(&bytes), fixture.t0 as f64);
    }

    #[test]
    fn verification_never_panics_on_token_shaped_input(
        header in r#"\{"alg":"(RS256|ES256|EdDSA|none|HS256)","kid":"(own-rsa|own-ec|own-ed|x)"[ -~]{0,40}\}"#,
        payload in prop::collection::vec(any::<u8>(), 0..300),
        signature in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let fixture = fixture();
        let token = format!("{}.{}.{}", b64(&header), b64(&payload), b64(&signature));
        prop_assert!(fixture.verifier.verify_held_at(&token, fixture.t0 as f64).is_err());
    }

    /// Flip, insert or delete a byte in one part (or anywhere): a mutated token that still verifies must
    /// decode to the original's header, claims and signature bytes.
    #[test]
    fn no_mutation_is_accepted_unless_it_decodes_the_same(
        which in 0usize..3,
        part in 0usize..4,
        position in any::<prop::sample::Index>(),
        operation in 0u8..3,
        byte in any::<u8>(),
    ) {
        let fixture = fixture();
        let original = &fixture.tokens[which];
        let mut parts: Vec<Vec<u8>> = original.split('.').map(|p| p.as_bytes().to_vec()).collect();
        let mut whole = original.as_bytes().to_vec();
        let target = if part == 3 { &mut whole } else { &mut parts[part] };
        match operation {
            0 if !target.is_empty() => { let i = position.index(target.len()); target[i] ^= byte | 1; }
            1 => { let i = position.index(target.len() + 1); target.insert(i, byte); }
            _ if !target.is_empty() => { let i = position.index(target.len()); target.remove(i); }
            _ => {}
        }
        let mutated = if part == 3 { whole } else { parts.join(&b'.') };
        let mutated = String::from_utf8_lossy(&mutated).into_owned();
        if mutated == *original {
            return Ok(());
        }
        if fixture.verifier.verify_held_at(&mutated, fixture.t0 as f64).is_ok() {
            prop_assert_eq!(decoded(&mutated), decoded(original), "accepted a mutation: {}", mutated);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Seeds for the fuzzers (run by hand; see SECURITY.md)
// ---------------------------------------------------------------------------------------------------------

#[test]
#[ignore = "rewrites fuzz/keys and fuzz/corpus; run by hand"]
fn generate_fuzz_seeds() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let keys = OwnKeys::generate();
    let t0 = now();
    let fixture = json!({"baseUrl": FIXED_BASE_URL, "projectId": PROJECT, "now": t0 + 1, "jwks": keys.jwks()});
    std::fs::create_dir_all(fuzz.join("keys")).unwrap();
    std::fs::write(
        fuzz.join("keys/fixture.json"),
        serde_json::to_string_pretty(&fixture).unwrap() + "\n",
    )
    .unwrap();

    let mut seeds = vec![
        fixed_token(&keys, "RS256", t0, json!({})),
        fixed_token(&keys, "ES256", t0, json!({})),
        fixed_token(&keys, "EdDSA", t0, json!({})),
        fixed_token(
            &keys,
            "RS256",
            t0,
            json!({"aud": [PROJECT], "nbf": t0, "nsec": {"scope": "read:data"}}),
        ),
        fixed_token(
            &keys,
            "RS256",
            t0,
            json!({"dct": "T1", "tenants": {"T1": {"roles": ["admin"]}}, "scope": "admin"}),
        ),
        fixed_token(&keys, "RS256", t0, json!({"drn": "DSR"})),
        fixed_token(&keys, "ES256", t0, json!({"exp": t0 - 10})),
    ];
    let header = |h: Value| b64(h.to_string());
    let payload = b64(fixed_claims(t0, json!({})).to_string());
    seeds.push(format!(
        "{}.{payload}.",
        header(json!({"alg": "none", "kid": RSA_KID}))
    ));
    seeds.push(format!(
        "{}.{payload}.{}",
        header(json!({"alg": "HS256", "kid": RSA_KID})),
        b64([7u8; 32])
    ));
    seeds.push(format!(
        "{}.{payload}.{}",
        b64(format!(
            r#"{{"alg":"RS256","kid":"{RSA_KID}","alg":"none"}}"#
        )),
        b64([1u8; 256])
    ));
    seeds.push(format!(
        "{}.{payload}.{}",
        header(json!({"alg": "ES256", "kid": EC_KID, "crit": ["exp"]})),
        b64([0u8; 64])
    ));
    seeds.push(format!(
        "{}.{payload}.{}",
        header(json!({"alg": "ES256", "kid": EC_KID, "jwk": keys.jwks()["keys"][1]})),
        b64([0u8; 64])
    ));
    let corpus = fuzz.join("corpus/verify_token");
    std::fs::create_dir_all(&corpus).unwrap();
    for (i, seed) in seeds.iter().enumerate() {
        std::fs::write(corpus.join(format!("seed-{i:02}")), seed).unwrap();
    }

    let requests = [
        "",
        "{}",
        r#"{"projectId":"P2LocalDevProject","accessKey":"dev-reader-key","scopes":["read:data","admin"],"tenant":"T2Acme"}"#,
        r#"{"accessKey":null,"scopes":[]}"#,
        r#"{"scopes":["a","a"],"tenant":"T_1-x"}"#,
        r#"{"__proto__":{"admin":true}}"#,
        r#"{"accessKey":"k","accessKey":"k"}"#,
    ];
    let corpus = fuzz.join("corpus/token_request");
    std::fs::create_dir_all(&corpus).unwrap();
    for (i, seed) in requests.iter().enumerate() {
        std::fs::write(corpus.join(format!("seed-{i:02}")), seed).unwrap();
    }
}
