//! The differential test: `jsonwebtoken` is the independent reference the verifier is checked against
//! (tests/jwt-reference). Tokens across the space (every supported algorithm and key, the time claims
//! around their boundaries with each leeway, issuer and audience variants, header variants, duplicate
//! members, tampered signatures) are given to both at the same second. Whatever the verifier accepts,
//! `jsonwebtoken::decode` with the equivalent `Validation` must accept with the same claims, and every other
//! difference must be one of the documented cases (docs/contract.md section 3, "Where this verifier is
//! stricter than jsonwebtoken"); the run must also reach each of those cases, so that none is listed
//! without being exercised.

use jwt_reference::{
    AUDIENCE, BASE_URL, Lenient, Outcome, PROJECT, Pair, Signer, SigningKeys, Stricter, b64,
};
use m2m_auth::{AuthConfig, SUPPORTED_ALGORITHMS, parse_algorithm};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

const EXTRA_ISSUER: &str = "https://issuer.example";

/// One configuration, as the verifier and as the reference.
struct Setup {
    pair: Pair,
    leeway: f64,
    audience: Option<&'static str>,
}

struct World {
    keys: SigningKeys,
    signers: Vec<Signer>,
    kids: Vec<&'static str>,
    setups: Vec<Setup>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let keys = SigningKeys::generate();
        let jwks = keys.jwks();
        let setup = |algorithms: &[&str], leeway: u64, audience: Option<&'static str>| {
            let mut config = AuthConfig::descope(BASE_URL, PROJECT);
            config.algorithms = algorithms
                .iter()
                .map(|name| parse_algorithm(name).expect("a supported algorithm"))
                .collect();
            config.leeway = Duration::from_secs(leeway);
            config.audience = audience.map(str::to_owned);
            config.extra_issuers = vec![EXTRA_ISSUER.to_owned()];
            Setup {
                pair: Pair::preloaded(&config, &jwks, BASE_URL, PROJECT),
                leeway: leeway as f64,
                audience,
            }
        };
        let all: Vec<&str> = SUPPORTED_ALGORITHMS.iter().map(|alg| alg.name()).collect();
        let signers = keys.signers();
        let mut kids: Vec<_> = signers.iter().map(|signer| signer.kid).collect();
        kids.dedup();
        World {
            setups: vec![
                setup(&all, 5, None),
                setup(&["RS256", "PS256", "ES256", "EdDSA"], 0, Some(AUDIENCE)),
                setup(&all, 60, None),
            ],
            keys,
            signers,
            kids,
        }
    })
}

/// A change to the header or the claims: a member set to a value, or removed.
#[derive(Debug, Clone)]
enum Member {
    Set(&'static str, Value),
    Remove(&'static str),
    /// A time claim at now + `sign` × leeway + `delta` seconds.
    Time(&'static str, f64, f64),
}

#[derive(Debug, Clone)]
enum Encoding {
    AsIs,
    Pretty,
    DuplicateHeaderMember,
    DuplicateClaim,
    FlipSignatureByte(prop::sample::Index),
    TruncateSignature,
    EmptySignature,
    PaddedSignature,
    SignedByOther(prop::sample::Index),
}

#[derive(Debug, Clone)]
struct Case {
    setup: usize,
    signer: prop::sample::Index,
    header: Vec<Member>,
    claims: Vec<Member>,
    encoding: Encoding,
}

fn set(name: &'static str, values: Vec<Value>) -> impl Strategy<Value = Member> {
    prop::sample::select(values).prop_map(move |value| Member::Set(name, value))
}

fn time(name: &'static str, sign: f64, deltas: &[f64]) -> impl Strategy<Value = Member> {
    prop::sample::select(deltas.to_vec()).prop_map(move |delta| Member::Time(name, sign, delta))
}

fn header_member() -> impl Strategy<Value = Member> {
    let algs = [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "none",
        "HS256", "ES512",
    ];
    let mut kids: Vec<Value> = world().kids.iter().map(|kid| json!(kid)).collect();
    kids.extend([json!("unknown"), json!(""), json!(5)]);
    prop_oneof![
        set("alg", algs.iter().map(|alg| json!(alg)).collect()),
        set("kid", kids),
        Just(Member::Remove("kid")),
        set(
            "typ",
            vec![
                json!("at+jwt"),
                json!("jwt"),
                json!("AT+JWT"),
                json!("JOSE"),
                json!(5),
                Value::Null
            ],
        ),
        Just(Member::Remove("typ")),
        set("crit", vec![json!(["b64"]), json!([])]),
        set("b64", vec![json!(true), json!(false)]),
        set("cty", vec![json!("JWT")]),
        set("zip", vec![json!("DEF")]),
        set("jku", vec![json!("https://keys.example"), json!(5)]),
        set("x5c", vec![json!(["MII="]), json!("not-an-array")]),
        set("jwk", vec![json!(5)]),
        set("nonce", vec![json!(1), Value::Null]),
        set("custom", vec![json!({"a": [1, 2]})]),
    ]
}

/// Offsets (seconds) from a time claim's bound (now − leeway for `exp`, now + leeway for `nbf`): the
/// bound itself, half a second either side (where `jsonwebtoken` rounds), and a second either side.
const BOUNDARY: [f64; 9] = [-1.0, -0.6, -0.5, -0.4, 0.0, 0.4, 0.5, 0.6, 1.0];

fn claim_member() -> impl Strategy<Value = Member> {
    prop_oneof![
        4 => time("exp", -1.0, &BOUNDARY),
        1 => time("exp", 0.0, &[1.0, 600.0, 0.5]),
        3 => set(
            "exp",
            vec![
                Value::Null,
                json!("soon"),
                json!(1e20),
                json!(18_446_744_073_709_551_615u64),
                json!(-1),
            ],
        ),
        1 => Just(Member::Remove("exp")),
        6 => time("nbf", 1.0, &BOUNDARY),
        1 => time("nbf", 0.0, &[-600.0]),
        3 => set(
            "nbf",
            vec![Value::Null, json!("x"), json!(-1), json!(-0.5), json!(0), json!(1e20)],
        ),
        1 => time("iat", 1.0, &[-1.0, 0.0, 0.4, 1.0]),
        1 => set("iat", vec![Value::Null, json!("x"), json!(-5)]),
        1 => Just(Member::Remove("iat")),
        3 => set(
            "iss",
            vec![
                json!(PROJECT),
                json!(format!("{BASE_URL}/{PROJECT}")),
                json!(EXTRA_ISSUER),
                json!("https://evil.example"),
                json!([format!("{BASE_URL}/v1/apps/{PROJECT}")]),
                json!([PROJECT, "https://evil.example"]),
                json!(["https://evil.example"]),
                json!(5),
                Value::Null,
            ],
        ),
        1 => Just(Member::Remove("iss")),
        3 => set(
            "aud",
            vec![
                json!(AUDIENCE),
                json!(PROJECT),
                json!("other"),
                json!([AUDIENCE]),
                json!([PROJECT, "other"]),
                json!([]),
                json!([1, PROJECT]),
                json!([PROJECT, {}]),
                json!([AUDIENCE, null]),
                json!(5),
                Value::Null,
            ],
        ),
        1 => Just(Member::Remove("aud")),
        1 => set("drn", vec![json!("DSR"), json!(5), Value::Null]),
        1 => Just(Member::Remove("drn")),
        3 => set("sub", vec![json!(5), json!({"a": 1}), json!("K2\u{e9}\"quoted\"")]),
        1 => set("pad", vec![json!("x".repeat(9000))]),
    ]
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![
        16 => Just(Encoding::AsIs),
        1 => Just(Encoding::Pretty),
        1 => Just(Encoding::DuplicateHeaderMember),
        1 => Just(Encoding::DuplicateClaim),
        1 => any::<prop::sample::Index>().prop_map(Encoding::FlipSignatureByte),
        1 => Just(Encoding::TruncateSignature),
        1 => Just(Encoding::EmptySignature),
        1 => Just(Encoding::PaddedSignature),
        1 => any::<prop::sample::Index>().prop_map(Encoding::SignedByOther),
    ]
}

fn cases() -> impl Strategy<Value = Case> {
    (
        0..world().setups.len(),
        any::<prop::sample::Index>(),
        prop::collection::vec(header_member(), 0..=1),
        prop::collection::vec(claim_member(), 0..=2),
        encoding(),
    )
        .prop_map(|(setup, signer, header, claims, encoding)| Case {
            setup,
            signer,
            header,
            claims,
            encoding,
        })
}

fn apply(object: &mut Map<String, Value>, changes: &[Member], now: u64, leeway: f64) {
    for change in changes {
        match change {
            Member::Set(name, value) => {
                object.insert((*name).to_owned(), value.clone());
            }
            Member::Remove(name) => {
                object.remove(*name);
            }
            Member::Time(name, sign, delta) => {
                let at = now as f64 + sign * leeway + delta;
                let value = if at.fract() == 0.0 {
                    json!(at as i64)
                } else {
                    json!(at)
                };
                object.insert((*name).to_owned(), value);
            }
        }
    }
}

/// The object's JSON with its first member written twice.
fn with_duplicate(object: &Map<String, Value>) -> String {
    let text = Value::Object(object.clone()).to_string();
    match object.iter().next() {
        Some((name, value)) => format!("{{{}:{value},{}", json!(name), &text[1..]),
        None => text,
    }
}

/// The token `case` describes, its time claims relative to `now`.
fn build(case: &Case, now: u64) -> String {
    let world = world();
    let setup = &world.setups[case.setup];
    let signer = *case.signer.get(&world.signers);
    let mut header = json!({"alg": signer.alg.name(), "kid": signer.kid, "typ": "JWT"})
        .as_object()
        .cloned()
        .unwrap_or_default();
    apply(&mut header, &case.header, now, setup.leeway);
    let mut claims = json!({
        "iss": format!("{BASE_URL}/v1/apps/{PROJECT}"), "sub": "K2Reference", "iat": now, "exp": now + 600,
        "drn": "DS", "roles": ["user"], "permissions": ["read:data"], "tenants": {},
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    if let Some(audience) = setup.audience {
        claims.insert("aud".to_owned(), json!([audience]));
    }
    apply(&mut claims, &case.claims, now, setup.leeway);
    let compact = |object: &Map<String, Value>| Value::Object(object.clone()).to_string();
    let (header_text, claims_text) = match &case.encoding {
        Encoding::Pretty => (
            serde_json::to_string_pretty(&header).unwrap_or_default(),
            serde_json::to_string_pretty(&claims).unwrap_or_default(),
        ),
        Encoding::DuplicateHeaderMember => (with_duplicate(&header), compact(&claims)),
        Encoding::DuplicateClaim => (compact(&header), with_duplicate(&claims)),
        _ => (compact(&header), compact(&claims)),
    };
    let signed_by = match &case.encoding {
        Encoding::SignedByOther(other) => *other.get(&world.signers),
        _ => signer,
    };
    let token = world
        .keys
        .token(signed_by, header_text.as_bytes(), claims_text.as_bytes());
    let (input, signature) = token.rsplit_once('.').unwrap_or_default();
    match &case.encoding {
        Encoding::FlipSignatureByte(at) => {
            let mut bytes = decode_signature(signature);
            let i = at.index(bytes.len());
            bytes[i] ^= 0x01;
            format!("{input}.{}", b64(bytes))
        }
        Encoding::TruncateSignature => {
            let bytes = decode_signature(signature);
            format!("{input}.{}", b64(&bytes[..bytes.len() - 1]))
        }
        Encoding::EmptySignature => format!("{input}."),
        Encoding::PaddedSignature => format!("{token}="),
        _ => token,
    }
}

fn decode_signature(part: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("our own signature part")
}

#[derive(Debug, Default)]
struct Tally {
    both_accepted: usize,
    both_refused: usize,
    stricter: HashMap<Stricter, usize>,
    lenient: HashMap<Lenient, usize>,
}

#[test]
fn every_token_the_verifier_accepts_jsonwebtoken_accepts_with_the_same_claims() {
    let world = world();
    let tally = RefCell::new(Tally::default());
    let mut runner = TestRunner::new(Config {
        cases: 8000,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&cases(), |case| {
        let setup = &world.setups[case.setup];
        let outcome = loop {
            let token = build(&case, unix_now());
            match setup.pair.compare(&token) {
                Ok(Outcome::ClockMoved) => continue,
                other => break other,
            }
        };
        let mut tally = tally.borrow_mut();
        match outcome.map_err(|mismatch| TestCaseError::fail(mismatch.to_string()))? {
            Outcome::BothAccepted => tally.both_accepted += 1,
            Outcome::BothRefused => tally.both_refused += 1,
            Outcome::OursStricter(case) => *tally.stricter.entry(case).or_default() += 1,
            Outcome::OursLenient(case) => *tally.lenient.entry(case).or_default() += 1,
            Outcome::ClockMoved => unreachable!("asked again above"),
        }
        Ok(())
    });
    let tally = tally.into_inner();
    println!("{tally:#?}");
    if let Err(failure) = result {
        panic!("{failure}");
    }
    assert!(
        tally.both_accepted >= 100,
        "too few accepted tokens: {tally:?}"
    );
    assert!(
        tally.both_refused >= 100,
        "too few refused tokens: {tally:?}"
    );
    for case in Stricter::ALL {
        assert!(tally.stricter.contains_key(&case), "never reached {case:?}");
    }
    for case in Lenient::ALL {
        assert!(tally.lenient.contains_key(&case), "never reached {case:?}");
    }
}

/// The current second, which the time claims are built around (`compare` reads it again, as `jsonwebtoken`
/// does, and asks again when it moved).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[test]
fn the_contract_lists_every_documented_difference() {
    let contract = include_str!("../../docs/contract.md");
    let lines = Stricter::ALL
        .iter()
        .map(|case| case.description())
        .chain(Lenient::ALL.iter().map(|case| case.description()));
    for line in lines {
        assert!(
            contract.contains(&format!("- {line}\n")),
            "docs/contract.md lacks: {line}"
        );
    }
}
