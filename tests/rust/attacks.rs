//! The attack table: every case is one hostile token or request, built against the local issuer's real keys
//! (or keys of our own that a local issuer serves), sent through the real handlers, with the status and the
//! error text the contract fixes, and the anchor it comes from (an RFC section, a CVE, or a test of another
//! verifier whose idea it borrows). Then properties (proptest): verification never panics, and no mutation
//! of a valid token is accepted unless it decodes to the very same header, claims and signature.
//!
//! `cargo test -p m2m-tests --test attacks -- --nocapture` prints the count of cases by class.
//! `cargo test -p m2m-tests --test attacks -- --ignored generate_fuzz_seeds` rewrites the fuzzers' key
//! fixture and seed corpus (fuzz/keys, fuzz/corpus).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use descope_local::RunningIssuer;
use lambda_http::{Body, Request};
use m2m_api::{ADMIN, ApiError, AuthConfig, PROTECTED, ProtectedApi, Protection, TokenApi, USER};
use m2m_auth::{KeySource, Verifier, parse_algorithm};
use m2m_tests::*;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

// ---------------------------------------------------------------------------------------------------------
// Key material of our own
// ---------------------------------------------------------------------------------------------------------

const RSA_KID: &str = "own-rsa";
const EC_KID: &str = "own-ec";
const ED_KID: &str = "own-ed";

/// An RSA-2048, an EC P-256 and an Ed25519 key. A local issuer serves their JWKS (through `Fault::Body`), so
/// tests can sign any bytes at all (duplicate members, invalid UTF-8, padded base64) and use ES256 and EdDSA.
struct OwnKeys {
    rsa: RsaKeyPair,
    ec: EcdsaKeyPair,
    ed: Ed25519KeyPair,
}

impl OwnKeys {
    fn generate() -> Self {
        OwnKeys {
            rsa: RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key"),
            ec: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key"),
            ed: Ed25519KeyPair::generate().expect("Ed25519 key"),
        }
    }

    fn jwks(&self) -> Value {
        let rsa = self.rsa.public_key();
        let point = self.ec.public_key().as_ref();
        json!({"keys": [
            {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": RSA_KID,
             "n": b64(rsa.modulus().big_endian_without_leading_zero()),
             "e": b64(rsa.exponent().big_endian_without_leading_zero())},
            {"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": EC_KID,
             "x": b64(&point[1..33]), "y": b64(&point[33..65])},
            {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": ED_KID,
             "x": b64(self.ed.public_key().as_ref())},
        ]})
    }

    fn sign(&self, alg: &str, input: &[u8]) -> Vec<u8> {
        match alg {
            "ES256" => self
                .ec
                .sign(&SystemRandom::new(), input)
                .expect("ES256")
                .as_ref()
                .to_vec(),
            "EdDSA" => self.ed.sign(input).as_ref().to_vec(),
            _ => {
                let mut signature = vec![0; self.rsa.public_modulus_len()];
                self.rsa
                    .sign(
                        &RSA_PKCS1_SHA256,
                        &SystemRandom::new(),
                        input,
                        &mut signature,
                    )
                    .expect("RS256");
                signature
            }
        }
    }

    /// Signs two already-encoded parts verbatim.
    fn token_from_parts(&self, alg: &str, header_part: &str, payload_part: &str) -> String {
        let input = format!("{header_part}.{payload_part}");
        format!("{input}.{}", b64(self.sign(alg, input.as_bytes())))
    }

    /// Signs raw header and payload bytes.
    fn token_bytes(&self, alg: &str, header: &[u8], payload: &[u8]) -> String {
        self.token_from_parts(alg, &b64(header), &b64(payload))
    }
}

fn kid_for(alg: &str) -> &'static str {
    match alg {
        "ES256" => EC_KID,
        "EdDSA" => ED_KID,
        _ => RSA_KID,
    }
}

// ---------------------------------------------------------------------------------------------------------
// The table's vocabulary
// ---------------------------------------------------------------------------------------------------------

/// Which configuration of the protected functions a case runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Env {
    /// The local issuer's own keys, default settings (RS256, leeway 5 s, no audience).
    Default,
    /// As Default, with `JWT_AUDIENCE=https://api.example/m2m`.
    Audience,
    /// As Default, with every asymmetric family accepted: `JWT_ALGORITHMS=RS256,PS256,ES256,EdDSA`.
    AllAlgs,
    /// Our own keys (a local issuer serves their JWKS), default settings (RS256).
    Own,
    /// Our own keys with `JWT_ALGORITHMS=RS256,ES256,EdDSA`.
    OwnAll,
    /// Our own keys with `JWT_ALGORITHMS=ES256` (only the EC key is usable).
    OwnEs,
}

const ENVS: [Env; 6] = [
    Env::Default,
    Env::Audience,
    Env::AllAlgs,
    Env::Own,
    Env::OwnAll,
    Env::OwnEs,
];
const AUDIENCE: &str = "https://api.example/m2m";

/// Where the input goes.
#[derive(Clone, Copy, Debug)]
enum Via {
    Protected,
    User,
    Admin,
    /// `Verifier::verify_at(token, t0)` of the env's protected function with a fixed clock, mapped to the
    /// status and message exactly as the handlers map it (`ApiError`): exact time boundaries.
    At,
    /// `POST /m2m/token` with the input as its body.
    Token,
}

#[derive(Clone)]
enum Input {
    Bearer(String),
    /// Raw `Authorization` header values (each one a header).
    Authorization(Vec<String>),
    Body(Vec<u8>),
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// 200.
    Pass,
    /// 401, `JWT verification failed: <reason>`.
    Invalid(&'static str),
    /// 401, `Missing or invalid Authorization header`.
    NoAuth,
    /// 403, `Missing required scope: '<scope>'`.
    Forbidden(&'static str),
    /// 400, the error names this text (a field).
    BadRequest(&'static str),
    /// 403 from the token function, `Scope not granted to this access key: '<scope>'`.
    NotGranted(&'static str),
    /// 401 from the token function: the provider refused the key.
    AuthFailed,
    /// 401 from the token function: a public caller sent no key (`An access key is required`).
    KeyRequired,
}

struct Case {
    id: &'static str,
    class: &'static str,
    anchor: &'static str,
    env: Env,
    via: Via,
    input: fn(&Ctx) -> Input,
    expect: Expect,
}

fn case(
    id: &'static str,
    class: &'static str,
    anchor: &'static str,
    input: fn(&Ctx) -> Input,
    expect: Expect,
) -> Case {
    Case {
        id,
        class,
        anchor,
        env: Env::Default,
        via: Via::Protected,
        input,
        expect,
    }
}

impl Case {
    fn env(mut self, env: Env) -> Self {
        self.env = env;
        self
    }
    fn via(mut self, via: Via) -> Self {
        self.via = via;
        self
    }
}

fn tok(token: String) -> Input {
    Input::Bearer(token)
}

fn body(text: impl Into<Vec<u8>>) -> Input {
    Input::Body(text.into())
}

// ---------------------------------------------------------------------------------------------------------
// What the cases are built from
// ---------------------------------------------------------------------------------------------------------

struct Ctx {
    /// The issuer whose keys the functions trust.
    issuer: RunningIssuer,
    /// Another issuer, with its own key: the attacker's. Its JWKS URL is what `jku`/`x5u` point at.
    attacker: RunningIssuer,
    /// An issuer that serves [`OwnKeys`]' JWKS instead of its own.
    own_issuer: RunningIssuer,
    own: OwnKeys,
    /// The fixed clock of `Via::At` cases (unix seconds).
    t0: i64,
}

impl Ctx {
    fn kid(&self) -> String {
        self.issuer.issuer().current_kid()
    }

    /// Signed by the trusted key, header and claims changed (`null` removes a member).
    fn signed(&self, header_changes: Value, claim_changes: Value) -> String {
        signed(&self.issuer, header_changes, claim_changes)
    }

    /// Signed by the trusted key, with exactly these claims (a `null` stays a JSON `null`).
    fn signed_exact(&self, header_changes: Value, claims: Value) -> String {
        self.issuer
            .issuer()
            .sign_raw(&header(&self.issuer, header_changes), &claims)
    }

    fn claims(&self, changes: Value) -> Value {
        claims(&self.issuer, changes)
    }

    /// A token for `Via::At`: issued at t0, expiring at t0 + 600, then `changes`.
    fn at(&self, changes: Value) -> String {
        let mut claims = self.claims(json!({"iat": self.t0, "exp": self.t0 + 600}));
        merge(&mut claims, changes);
        self.issuer
            .issuer()
            .sign_raw(&header(&self.issuer, json!({})), &claims)
    }

    /// Claims for a token of our own keys (its `iss` names the issuer that serves them).
    fn own_claims(&self, changes: Value) -> Value {
        claims(&self.own_issuer, changes)
    }

    fn own_header(&self, alg: &str, changes: Value) -> Value {
        let mut header = json!({"alg": alg, "kid": kid_for(alg), "typ": "JWT"});
        merge(&mut header, changes);
        header
    }

    /// Signed with our own key for `alg`.
    fn own_signed(&self, alg: &str, header_changes: Value, claim_changes: Value) -> String {
        let header = serde_json::to_vec(&self.own_header(alg, header_changes)).unwrap();
        let claims = serde_json::to_vec(&self.own_claims(claim_changes)).unwrap();
        self.own.token_bytes(alg, &header, &claims)
    }

    /// RS256 with our own key over this payload text, byte for byte.
    fn own_payload_text(&self, payload: &[u8]) -> String {
        let header = serde_json::to_vec(&self.own_header("RS256", json!({}))).unwrap();
        self.own.token_bytes("RS256", &header, payload)
    }

    /// Our valid claims as JSON text with `extra` members placed first (duplicates on purpose).
    fn own_claims_text_with(&self, extra: &str) -> String {
        let text = self.own_claims(json!({})).to_string();
        format!("{{{extra},{}", &text[1..])
    }

    /// Three parts put together as given, nothing signed.
    fn raw(&self, header: &[u8], payload: &[u8], signature: &str) -> String {
        format!("{}.{}.{signature}", b64(header), b64(payload))
    }

    /// A genuine signature of the trusted key, for tokens whose header or shape is the attack.
    fn real_signature(&self) -> String {
        self.signed(json!({}), json!({}))
            .rsplit('.')
            .next()
            .unwrap()
            .to_owned()
    }

    fn valid_claims_text(&self) -> Vec<u8> {
        serde_json::to_vec(&self.claims(json!({}))).unwrap()
    }

    /// `alg` (HS*) keyed with `key`: the algorithm-confusion forgery.
    fn hmac_token(&self, alg: &str, key: &[u8]) -> String {
        let header = b64(json!({"alg": alg, "kid": self.kid(), "typ": "JWT"}).to_string());
        let payload = b64(self.claims(json!({"roles": ["admin"]})).to_string());
        let input = format!("{header}.{payload}");
        let algorithm = match alg {
            "HS384" => aws_lc_rs::hmac::HMAC_SHA384,
            "HS512" => aws_lc_rs::hmac::HMAC_SHA512,
            _ => aws_lc_rs::hmac::HMAC_SHA256,
        };
        let tag =
            aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(algorithm, key), input.as_bytes());
        format!("{input}.{}", b64(tag.as_ref()))
    }

    fn public_der(&self) -> Vec<u8> {
        self.issuer.issuer().current_public_key_der()
    }

    fn public_jwk(&self) -> Value {
        self.issuer.issuer().public_jwks()["keys"][0].clone()
    }

    /// Signed by the attacker's key (trusted claims otherwise), header changed.
    fn attacker_signed(&self, header_changes: Value) -> String {
        let header = header(&self.attacker, header_changes);
        self.attacker
            .issuer()
            .sign_raw(&header, &self.claims(json!({"roles": ["admin"]})))
    }

    fn attacker_jwk(&self) -> Value {
        self.attacker.issuer().public_jwks()["keys"][0].clone()
    }

    fn attacker_jwks_url(&self) -> String {
        format!("{}/v2/keys/{PROJECT}", self.attacker.base_url())
    }

    /// An ES256 token of our EC key whose signature is replaced by `signature`.
    fn es256_with_signature(&self, signature: &[u8]) -> String {
        let token = self.own_signed("ES256", json!({}), json!({}));
        let (input, _) = token.rsplit_once('.').unwrap();
        format!("{input}.{}", b64(signature))
    }

    /// A trusted token of exactly `length` bytes (a padding claim, and a padding header member when the
    /// base64url lengths need it).
    fn token_of_length(&self, length: usize) -> String {
        let encoded = |bytes: usize| (4 * bytes).div_ceil(3);
        let signature = encoded(256);
        for header_pad in 0..4 {
            let header = header(&self.issuer, json!({"pad": "h".repeat(header_pad)}));
            let header_len = encoded(serde_json::to_vec(&header).unwrap().len());
            for pad in 0..length {
                let claims = self.claims(json!({"pad": "x".repeat(pad)}));
                let total = header_len
                    + 1
                    + encoded(serde_json::to_vec(&claims).unwrap().len())
                    + 1
                    + signature;
                if total == length {
                    let token = self.issuer.issuer().sign_raw(&header, &claims);
                    assert_eq!(token.len(), length);
                    return token;
                }
                if total > length {
                    break;
                }
            }
        }
        panic!("no token of {length} bytes");
    }
}

/// The part with a non-zero unused low bit in its last character (RFC 4648 section 3.5: not canonical).
fn noncanonical(part: &str) -> String {
    assert!(
        part.len() % 4 >= 2,
        "a part of this length has no unused bits"
    );
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = part.as_bytes()[part.len() - 1];
    let value = ALPHABET.iter().position(|&c| c == last).unwrap();
    format!("{}{}", &part[..part.len() - 1], ALPHABET[value | 1] as char)
}

/// JSON text of `object` with spaces added before its closing brace until its base64url form has unused
/// bits (its length is not a multiple of 4).
fn with_unused_bits(object: &Value) -> String {
    let text = object.to_string();
    (0..3)
        .map(|n| format!("{}{}}}", &text[..text.len() - 1], " ".repeat(n)))
        .find(|t| b64(t).len() % 4 >= 2)
        .unwrap()
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    match n {
        0..0x80 => out.push(n as u8),
        0x80..0x100 => out.extend([0x81, n as u8]),
        _ => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// SubjectPublicKeyInfo DER (RFC 5280) around a PKCS#1 RSA public key.
fn spki(pkcs1: &[u8]) -> Vec<u8> {
    let algorithm = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = vec![0x00];
    bits.extend_from_slice(pkcs1);
    let mut body = algorithm.to_vec();
    body.extend(der(0x03, &bits));
    der(0x30, &body)
}

/// The P-256 group order n.
const P256_ORDER: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
];

// ---------------------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------------------

fn table() -> Vec<Case> {
    use Expect::*;
    vec![
        // ---- algorithm confusion ------------------------------------------------------------------------
        case("hs256-keyed-with-pkcs1-der", "alg-confusion", "CVE-2015-9235 (alg confusion, node-jsonwebtoken)",
            |c| tok(c.hmac_token("HS256", &c.public_der())), Invalid("algorithm not accepted")),
        case("hs256-keyed-with-pkcs1-pem", "alg-confusion", "CVE-2016-10555 (jwt-simple, PEM as HMAC secret)",
            |c| tok(c.hmac_token("HS256", pem("RSA PUBLIC KEY", &c.public_der()).as_bytes())), Invalid("algorithm not accepted")),
        case("hs256-keyed-with-spki-pem", "alg-confusion", "CVE-2017-11424 (PyJWT, SPKI PEM as HMAC secret)",
            |c| tok(c.hmac_token("HS256", pem("PUBLIC KEY", &spki(&c.public_der())).as_bytes())), Invalid("algorithm not accepted")),
        case("hs256-keyed-with-spki-der", "alg-confusion", "CVE-2015-9235",
            |c| tok(c.hmac_token("HS256", &spki(&c.public_der()))), Invalid("algorithm not accepted")),
        case("hs256-keyed-with-jwk-json", "alg-confusion", "CVE-2024-37568 (authlib, JWK as HMAC secret)",
            |c| tok(c.hmac_token("HS256", c.public_jwk().to_string().as_bytes())), Invalid("algorithm not accepted")),
        case("hs256-keyed-with-modulus", "alg-confusion", "RFC 8725 §3.1",
            |c| tok(c.hmac_token("HS256", &URL_SAFE_NO_PAD.decode(c.public_jwk()["n"].as_str().unwrap()).unwrap())), Invalid("algorithm not accepted")),
        case("hs384-keyed-with-pkcs1-der", "alg-confusion", "RFC 8725 §3.1",
            |c| tok(c.hmac_token("HS384", &c.public_der())), Invalid("algorithm not accepted")),
        case("hs512-keyed-with-pkcs1-der", "alg-confusion", "RFC 8725 §3.1",
            |c| tok(c.hmac_token("HS512", &c.public_der())), Invalid("algorithm not accepted")),
        case("hs256-with-every-asymmetric-alg-enabled", "alg-confusion", "RFC 8725 §3.2",
            |c| tok(c.hmac_token("HS256", &c.public_der())), Invalid("algorithm not accepted")).env(Env::AllAlgs),
        case("rs-key-used-as-ps256", "alg-confusion", "RFC 7518 §3.5 / RFC 8725 §3.1 (key bound to its alg)",
            |c| tok(c.signed(json!({"alg": "PS256"}), json!({}))), Invalid("signing key does not fit the token's algorithm")).env(Env::AllAlgs),
        case("rs-key-used-as-es256", "alg-confusion", "RFC 8725 §3.1 (key type must fit alg)",
            |c| tok(c.signed(json!({"alg": "ES256"}), json!({}))), Invalid("signing key does not fit the token's algorithm")).env(Env::AllAlgs),
        case("rs-key-used-as-eddsa", "alg-confusion", "RFC 8725 §3.1",
            |c| tok(c.signed(json!({"alg": "EdDSA"}), json!({}))), Invalid("signing key does not fit the token's algorithm")).env(Env::AllAlgs),
        case("ec-key-used-as-rs256", "alg-confusion", "RFC 8725 §3.1",
            |c| tok(c.own_signed("RS256", json!({"kid": EC_KID}), json!({}))), Invalid("signing key does not fit the token's algorithm")).env(Env::OwnAll),
        case("ed25519-key-used-as-es256", "alg-confusion", "RFC 8725 §3.1",
            |c| tok(c.own_signed("ES256", json!({"kid": ED_KID}), json!({}))), Invalid("signing key does not fit the token's algorithm")).env(Env::OwnAll),
        case("ps256-not-configured", "alg-confusion", "aws-jwt-verify test: error flow with wrong algorithm",
            |c| tok(c.signed(json!({"alg": "PS256"}), json!({}))), Invalid("algorithm not accepted")),
        case("rs512-not-configured", "alg-confusion", "aws-jwt-verify test: error flow with wrong algorithm",
            |c| tok(c.signed(json!({"alg": "RS512"}), json!({}))), Invalid("algorithm not accepted")),
        case("alg-lowercase", "alg-confusion", "RFC 7515 §4.1.1 (case-sensitive)",
            |c| tok(c.signed(json!({"alg": "rs256"}), json!({}))), Invalid("algorithm not accepted")),
        case("alg-trailing-space", "alg-confusion", "RFC 7515 §4.1.1",
            |c| tok(c.signed(json!({"alg": "RS256 "}), json!({}))), Invalid("algorithm not accepted")),
        case("alg-leading-space", "alg-confusion", "RFC 7515 §4.1.1",
            |c| tok(c.signed(json!({"alg": " RS256"}), json!({}))), Invalid("algorithm not accepted")),
        case("alg-mixed-case", "alg-confusion", "RFC 7515 §4.1.1",
            |c| tok(c.signed(json!({"alg": "Rs256"}), json!({}))), Invalid("algorithm not accepted")),
        case("alg-nul-suffix", "alg-confusion", "RFC 8725 §3.1",
            |c| tok(c.signed(json!({"alg": "RS256\u{0}"}), json!({}))), Invalid("algorithm not accepted")),
        case("alg-fullwidth", "alg-confusion", "RFC 8725 §3.1 (look-alike)",
            |c| tok(c.signed(json!({"alg": "ＲＳ256"}), json!({}))), Invalid("algorithm not accepted")),
        case("alg-number", "alg-confusion", "aws-jwt-verify test: JWT with alg that is not a string",
            |c| tok(c.signed(json!({"alg": 256}), json!({}))), Invalid("algorithm not accepted")),
        case("alg-array", "alg-confusion", "aws-jwt-verify test: JWT with alg that is not a string",
            |c| tok(c.signed(json!({"alg": ["RS256"]}), json!({}))), Invalid("algorithm not accepted")),
        case("alg-json-null", "alg-confusion", "RFC 7515 §4.1.1",
            |c| tok(c.raw(format!(r#"{{"alg":null,"kid":"{}"}}"#, c.kid()).as_bytes(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("algorithm not accepted")),
        case("alg-missing", "alg-confusion", "RFC 7515 §4.1.1 (alg is required)",
            |c| tok(c.signed(json!({"alg": null}), json!({}))), Invalid("algorithm not accepted")),

        // ---- alg none ----------------------------------------------------------------------------------
        case("none-empty-signature", "none", "RFC 7519 §6 / RFC 8725 §3.2",
            |c| tok(c.raw(json!({"alg": "none", "kid": c.kid()}).to_string().as_bytes(), &c.valid_claims_text(), "")),
            Invalid("malformed token: empty signature")),
        case("None-empty-signature", "none", "CVE-2015-2951 (alg 'None' case variants)",
            |c| tok(c.raw(json!({"alg": "None", "kid": c.kid()}).to_string().as_bytes(), &c.valid_claims_text(), "")),
            Invalid("malformed token: empty signature")),
        case("NONE-empty-signature", "none", "CVE-2015-2951",
            |c| tok(c.raw(json!({"alg": "NONE", "kid": c.kid()}).to_string().as_bytes(), &c.valid_claims_text(), "")),
            Invalid("malformed token: empty signature")),
        case("nOnE-empty-signature", "none", "CVE-2015-2951",
            |c| tok(c.raw(json!({"alg": "nOnE", "kid": c.kid()}).to_string().as_bytes(), &c.valid_claims_text(), "")),
            Invalid("malformed token: empty signature")),
        case("none-with-genuine-signature", "none", "panva/jose test: unsecured (alg none is never a signature)",
            |c| tok(c.raw(json!({"alg": "none", "kid": c.kid()}).to_string().as_bytes(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("algorithm not accepted")),
        case("none-with-junk-signature", "none", "RFC 8725 §3.2",
            |c| tok(c.raw(json!({"alg": "none", "kid": c.kid()}).to_string().as_bytes(), &c.valid_claims_text(), "AA")),
            Invalid("algorithm not accepted")),
        case("none-two-parts", "none", "aws-jwt-verify test: JWT with less than 3 parts",
            |c| tok(format!("{}.{}", b64(json!({"alg": "none"}).to_string()), b64(c.valid_claims_text()))),
            Invalid("malformed token: expected three dot-separated parts")),
        case("alg-empty-string-unsigned", "none", "RFC 8725 §3.2",
            |c| tok(c.raw(json!({"alg": "", "kid": c.kid()}).to_string().as_bytes(), &c.valid_claims_text(), "")),
            Invalid("malformed token: empty signature")),

        // ---- keys carried in the header ------------------------------------------------------------------
        case("jwk-header-attacker-key-and-kid", "header-keys", "CVE-2018-0114 (node-jose trusted an embedded jwk)",
            |c| tok(c.attacker_signed(json!({"jwk": c.attacker_jwk()}))), Invalid("no signing key matches the token's 'kid'")),
        case("jwk-header-attacker-key-victim-kid", "header-keys", "CVE-2018-0114",
            |c| tok(c.attacker_signed(json!({"jwk": c.attacker_jwk(), "kid": c.kid()}))), Invalid("invalid signature")),
        case("jwk-header-without-kid", "header-keys", "RFC 7515 §4.1.3 / docs/contract.md section 3 (kid required)",
            |c| tok(c.attacker_signed(json!({"jwk": c.attacker_jwk(), "kid": null}))), Invalid("header is missing 'kid'")),
        case("jku-to-attacker-jwks", "header-keys", "RFC 8725 §3.10 (jku SSRF / key injection)",
            |c| tok(c.attacker_signed(json!({"jku": c.attacker_jwks_url()}))), Invalid("no signing key matches the token's 'kid'")),
        case("x5u-to-attacker", "header-keys", "RFC 8725 §3.10 (x5u)",
            |c| tok(c.attacker_signed(json!({"x5u": c.attacker_jwks_url()}))), Invalid("no signing key matches the token's 'kid'")),
        case("x5c-attacker-chain", "header-keys", "RFC 7515 §4.1.6 (x5c never trusted)",
            |c| tok(c.attacker_signed(json!({"x5c": [STANDARD.encode(spki(&c.attacker.issuer().current_public_key_der()))]}))),
            Invalid("no signing key matches the token's 'kid'")),
        case("jku-on-genuine-token-is-ignored", "header-keys", "RFC 8725 §3.10 (ignored, not followed)",
            |c| tok(c.signed(json!({"jku": c.attacker_jwks_url(), "x5u": c.attacker_jwks_url()}), json!({})) ), Pass),

        // ---- crit, b64, cty, typ ---------------------------------------------------------------------------
        case("zip-deflate", "crit-b64-cty-typ", "RFC 7516 §4.1.3 (zip is JWE-only; a JWS carrying it is refused)",
            |c| tok(c.signed(json!({"zip": "DEF"}), json!({}))), Invalid("header parameter 'zip' is not supported")),
        case("crit-empty-array", "crit-b64-cty-typ", "RFC 7515 §4.1.11 (crit)",
            |c| tok(c.signed(json!({"crit": []}), json!({}))), Invalid("header parameter 'crit' is not supported")),
        case("crit-b64-false", "crit-b64-cty-typ", "RFC 7797 §6 / panva/jose test: unencoded",
            |c| tok(c.signed(json!({"crit": ["b64"], "b64": false}), json!({}))), Invalid("header parameter 'crit' is not supported")),
        case("b64-true", "crit-b64-cty-typ", "RFC 7797 §3",
            |c| tok(c.signed(json!({"b64": true}), json!({}))), Invalid("header parameter 'b64' is not supported")),
        case("cty-nested-jwt", "crit-b64-cty-typ", "RFC 7519 §5.2 (nested JWT)",
            |c| tok(c.signed(json!({"cty": "JWT"}), json!({}))), Invalid("header parameter 'cty' is not supported")),
        case("typ-lowercase-jwt", "crit-b64-cty-typ", "RFC 7519 §5.1 (typ compared case-insensitively)",
            |c| tok(c.signed(json!({"typ": "jwt"}), json!({}))), Pass),
        case("typ-at-jwt-uppercase", "crit-b64-cty-typ", "RFC 9068 §2.1",
            |c| tok(c.signed(json!({"typ": "AT+JWT"}), json!({}))), Pass),
        case("typ-dpop", "crit-b64-cty-typ", "RFC 8725 §3.11 (explicit typing, cross-JWT confusion)",
            |c| tok(c.signed(json!({"typ": "dpop+jwt"}), json!({}))), Invalid("header 'typ' must be JWT or at+jwt")),
        case("typ-logout-token", "crit-b64-cty-typ", "RFC 8725 §2.8 (cross-JWT confusion)",
            |c| tok(c.signed(json!({"typ": "logout+jwt"}), json!({}))), Invalid("header 'typ' must be JWT or at+jwt")),
        case("typ-number", "crit-b64-cty-typ", "RFC 7515 §4.1.9",
            |c| tok(c.signed(json!({"typ": 1}), json!({}))), Invalid("header 'typ' must be JWT or at+jwt")),

        // ---- psychic signatures -------------------------------------------------------------------------
        case("es256-genuine-control", "psychic-signature", "CVE-2022-21449 (control: ES256 verifies)",
            |c| tok(c.own_signed("ES256", json!({}), json!({}))), Pass).env(Env::OwnAll),
        case("es256-r-s-zero", "psychic-signature", "CVE-2022-21449 psychic signatures (r = s = 0)",
            |c| tok(c.es256_with_signature(&[0; 64])), Invalid("invalid signature")).env(Env::OwnAll),
        case("es256-r-s-order", "psychic-signature", "CVE-2022-21449 (r = s = n)",
            |c| tok(c.es256_with_signature(&[P256_ORDER, P256_ORDER].concat())), Invalid("invalid signature")).env(Env::OwnAll),
        case("es256-der-zero", "psychic-signature", "CVE-2022-21449 (DER-encoded r = s = 0)",
            |c| tok(c.es256_with_signature(&[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00])), Invalid("invalid signature")).env(Env::OwnAll),
        case("es256-r-s-one", "psychic-signature", "CVE-2022-21449",
            |c| tok(c.es256_with_signature(&[[0; 31].as_slice(), &[1], &[0; 31], &[1]].concat())), Invalid("invalid signature")).env(Env::OwnAll),
        case("es256-truncated", "psychic-signature", "RFC 7518 §3.4 (64-byte R||S)",
            |c| { let t = c.own_signed("ES256", json!({}), json!({})); let (i, s) = t.rsplit_once('.').unwrap();
                  tok(format!("{i}.{}", b64(&URL_SAFE_NO_PAD.decode(s).unwrap()[..63]))) }, Invalid("invalid signature")).env(Env::OwnAll),
        case("es256-zero-with-only-es256", "psychic-signature", "CVE-2022-21449 (JWT_ALGORITHMS=ES256)",
            |c| tok(c.es256_with_signature(&[0; 64])), Invalid("invalid signature")).env(Env::OwnEs),
        case("es256-genuine-with-only-es256", "psychic-signature", "CVE-2022-21449 (control, JWT_ALGORITHMS=ES256)",
            |c| tok(c.own_signed("ES256", json!({}), json!({}))), Pass).env(Env::OwnEs),
        case("eddsa-genuine-control", "psychic-signature", "RFC 8037 (control: EdDSA verifies)",
            |c| tok(c.own_signed("EdDSA", json!({}), json!({}))), Pass).env(Env::OwnAll),
        case("eddsa-zero-signature", "psychic-signature", "RFC 8032 §5.1.7 (all-zero signature)",
            |c| { let t = c.own_signed("EdDSA", json!({}), json!({})); let (i, _) = t.rsplit_once('.').unwrap();
                  tok(format!("{i}.{}", b64([0u8; 64]))) }, Invalid("invalid signature")).env(Env::OwnAll),

        // ---- ambiguous encodings -------------------------------------------------------------------------
        case("header-padded", "ambiguous-encoding", "RFC 7515 §2 (base64url without padding)",
            |c| { let t = c.signed(json!({"pad": "x"}), json!({})); let (h, rest) = t.split_once('.').unwrap();
                  tok(format!("{h}=.{rest}")) }, Invalid("malformed token: header is not unpadded base64url")).via(Via::At),
        case("payload-padded-and-signed", "ambiguous-encoding", "RFC 7515 §2 / aws-jwt-verify (strict base64url)",
            |c| { let h = b64(serde_json::to_vec(&c.own_header("RS256", json!({}))).unwrap());
                  let p = b64(with_unused_bits(&c.own_claims(json!({}))));
                  tok(c.own.token_from_parts("RS256", &h, &format!("{p}="))) }, Invalid("malformed token: payload is not unpadded base64url")).env(Env::Own).via(Via::At),
        case("padding-mid-token-in-header", "ambiguous-encoding", "RFC 6750 §2.1 (b64token: '=' only at the end)",
            |c| { let t = c.signed(json!({"pad": "x"}), json!({})); let (h, rest) = t.split_once('.').unwrap();
                  tok(format!("{h}=.{rest}")) }, NoAuth),
        case("signature-padded", "ambiguous-encoding", "RFC 7515 §2",
            |c| tok(format!("{}=", c.signed(json!({}), json!({})))), Invalid("malformed token: signature is not unpadded base64url")),
        case("signature-standard-alphabet", "ambiguous-encoding", "RFC 4648 §5 (URL alphabet only)",
            |c| { let t = c.signed(json!({}), json!({})); let (i, s) = t.rsplit_once('.').unwrap();
                  let std = STANDARD_NO_PAD.encode(URL_SAFE_NO_PAD.decode(s).unwrap());
                  assert!(std.contains(['+', '/'])); tok(format!("{i}.{std}")) },
            Invalid("malformed token: signature is not unpadded base64url")),
        case("payload-standard-alphabet-signed", "ambiguous-encoding", "RFC 4648 §5",
            |c| { let h = b64(serde_json::to_vec(&c.own_header("RS256", json!({}))).unwrap());
                  let p = (0..3).map(|n| STANDARD_NO_PAD.encode(c.own_claims(json!({"x": format!("{}???", "?".repeat(n))})).to_string()))
                      .find(|p| p.contains(['+', '/'])).unwrap();
                  tok(c.own.token_from_parts("RS256", &h, &p)) }, Invalid("malformed token: payload is not unpadded base64url")).env(Env::Own),
        case("signature-noncanonical-trailing-bits", "ambiguous-encoding", "RFC 4648 §3.5 (canonical encoding; signature malleability)",
            |c| { let t = c.signed(json!({}), json!({})); let (i, s) = t.rsplit_once('.').unwrap(); tok(format!("{i}.{}", noncanonical(s))) },
            Invalid("malformed token: signature is not unpadded base64url")),
        case("header-noncanonical-trailing-bits", "ambiguous-encoding", "RFC 4648 §3.5",
            |c| { let h = noncanonical(&b64(with_unused_bits(&header(&c.issuer, json!({})))));
                  tok(format!("{h}.{}.{}", b64(c.valid_claims_text()), c.real_signature())) },
            Invalid("malformed token: header is not unpadded base64url")),
        case("payload-noncanonical-trailing-bits-signed", "ambiguous-encoding", "RFC 4648 §3.5",
            |c| { let h = b64(serde_json::to_vec(&c.own_header("RS256", json!({}))).unwrap());
                  let p = noncanonical(&b64(with_unused_bits(&c.own_claims(json!({})))));
                  tok(c.own.token_from_parts("RS256", &h, &p)) }, Invalid("malformed token: payload is not unpadded base64url")).env(Env::Own),
        case("space-inside-token", "ambiguous-encoding", "RFC 6750 §2.1 (b64token)",
            |c| { let t = c.signed(json!({}), json!({})); tok(format!("{} {}", &t[..20], &t[20..])) }, NoAuth),
        case("tab-inside-token", "ambiguous-encoding", "RFC 6750 §2.1",
            |c| { let t = c.signed(json!({}), json!({})); tok(format!("{}\t{}", &t[..20], &t[20..])) }, NoAuth),
        case("json-whitespace-is-fine", "ambiguous-encoding", "RFC 8259 §2 (insignificant whitespace; control)",
            |c| { let header = format!("{{ \"alg\" : \"RS256\" ,\n \"kid\" : \"{RSA_KID}\" }}");
                  let payload = serde_json::to_string_pretty(&c.own_claims(json!({}))).unwrap();
                  tok(c.own.token_bytes("RS256", header.as_bytes(), payload.as_bytes())) }, Pass).env(Env::Own),
        case("duplicate-alg-in-header", "ambiguous-encoding", "RFC 7515 §5.2 / RFC 8725 §2.6",
            |c| tok(c.raw(format!(r#"{{"alg":"RS256","kid":"{}","alg":"none"}}"#, c.kid()).as_bytes(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("malformed token: duplicate member in header")),
        case("duplicate-kid-in-header", "ambiguous-encoding", "RFC 7515 §5.2",
            |c| tok(c.raw(format!(r#"{{"alg":"RS256","kid":"other","kid":"{}"}}"#, c.kid()).as_bytes(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("malformed token: duplicate member in header")),
        case("duplicate-roles-in-payload", "ambiguous-encoding", "RFC 7519 §4 (claim names unique) / RFC 8725 §2.6",
            |c| tok(c.own_payload_text(c.own_claims_text_with(r#""roles":["admin"]"#).as_bytes())),
            Invalid("malformed token: duplicate member in payload")).env(Env::Own),
        case("duplicate-exp-escaped-name", "ambiguous-encoding", "RFC 8259 §7 (\\u0065xp is exp)",
            |c| tok(c.own_payload_text(c.own_claims_text_with(r#""\u0065xp":99999999999"#).as_bytes())),
            Invalid("malformed token: duplicate member in payload")).env(Env::Own),
        case("duplicate-nested-in-tenants", "ambiguous-encoding", "RFC 7519 §4",
            |c| tok(c.own_payload_text(c.own_claims_text_with(r#""x":{"T":{"roles":[],"roles":["admin"]}}"#).as_bytes())),
            Invalid("malformed token: duplicate member in payload")).env(Env::Own),
        case("payload-invalid-utf8", "ambiguous-encoding", "RFC 8259 §8.1 (UTF-8) / RFC 8725 §3.7",
            |c| { let mut p = c.own_claims_text_with(r#""x":"@""#).into_bytes();
                  let i = p.iter().position(|&b| b == b'@').unwrap(); p[i] = 0xFF; tok(c.own_payload_text(&p)) },
            Invalid("malformed token: payload is not a JSON object")).env(Env::Own),
        case("header-invalid-utf8", "ambiguous-encoding", "RFC 8725 §3.7",
            |c| tok(c.raw(&[br#"{"alg":"RS256","kid":""#.as_slice(), &[0xC0, 0xAF], b"\"}"].concat(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("malformed token: header is not a JSON object")),
        case("payload-lone-surrogate", "ambiguous-encoding", "RFC 8259 §8.2 (unpaired surrogate)",
            |c| tok(c.own_payload_text(c.own_claims_text_with(r#""sub2":"\ud800""#).as_bytes())),
            Invalid("malformed token: payload is not a JSON object")).env(Env::Own),
        case("header-bom", "ambiguous-encoding", "RFC 8259 §8.1 (no byte order mark)",
            |c| tok(c.raw(format!("\u{FEFF}{}", header(&c.issuer, json!({}))).as_bytes(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("malformed token: header is not a JSON object")),
        case("payload-bom-signed", "ambiguous-encoding", "RFC 8259 §8.1",
            |c| tok(c.own_payload_text(format!("\u{FEFF}{}", c.own_claims(json!({}))).as_bytes())),
            Invalid("malformed token: payload is not a JSON object")).env(Env::Own),
        case("payload-trailing-data-signed", "ambiguous-encoding", "RFC 8259 §2 (one value) / CVE-2022-39227 (polyglot tokens)",
            |c| tok(c.own_payload_text(format!("{} {{\"roles\":[\"admin\"]}}", c.own_claims(json!({}))).as_bytes())),
            Invalid("malformed token: payload is not a JSON object")).env(Env::Own),
        case("header-trailing-data", "ambiguous-encoding", "RFC 8259 §2",
            |c| tok(c.raw(format!("{}x", header(&c.issuer, json!({}))).as_bytes(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("malformed token: header is not a JSON object")),
        case("header-is-array", "ambiguous-encoding", "aws-jwt-verify test: JWT with header that is not an object",
            |c| tok(c.raw(format!(r#"[{{"alg":"RS256","kid":"{}"}}]"#, c.kid()).as_bytes(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("malformed token: header is not a JSON object")),
        case("payload-is-number-signed", "ambiguous-encoding", "aws-jwt-verify test: JWT with payload that is not an object",
            |c| tok(c.own_payload_text(b"123")), Invalid("malformed token: payload is not a JSON object")).env(Env::Own),
        case("payload-depth-bomb-signed", "ambiguous-encoding", "RFC 8259 §9 (nesting limits)",
            |c| tok(c.own_payload_text(c.own_claims_text_with(&format!("\"deep\":{}{}", "[".repeat(2000), "]".repeat(2000))).as_bytes())),
            Invalid("malformed token: payload is not a JSON object")).env(Env::Own),
        case("header-depth-bomb", "ambiguous-encoding", "RFC 8259 §9",
            |c| tok(c.raw(format!(r#"{{"alg":"RS256","kid":"{}","x":{}{}}}"#, c.kid(), "[".repeat(1000), "]".repeat(1000)).as_bytes(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("malformed token: header is not a JSON object")),
        case("payload-non-ascii-part", "ambiguous-encoding", "panva/jose test: Compact JWS payload checks ('é')",
            |c| { let h = b64(serde_json::to_vec(&c.own_header("RS256", json!({}))).unwrap()); tok(c.own.token_from_parts("RS256", &h, "é")) },
            Invalid("malformed token: payload is not unpadded base64url")).env(Env::Own).via(Via::At),
        case("empty-header-and-payload", "ambiguous-encoding", "RFC 7515 §7.1",
            |c| tok(format!("..{}", c.real_signature())), Invalid("malformed token: empty header or payload")),
        case("five-dots", "ambiguous-encoding", "panva/jose test: JWS format validation ('.....')",
            |_| tok(".....".into()), Invalid("malformed token: expected three dot-separated parts")),
        case("four-parts", "ambiguous-encoding", "aws-jwt-verify test: JWT with more than 3 parts",
            |c| tok(format!("{}.{}", c.signed(json!({}), json!({})), c.real_signature())), Invalid("malformed token: expected three dot-separated parts")),
        case("json-serialization", "ambiguous-encoding", "CVE-2022-39227 (JSON and compact forms mixed)",
            |c| { let t = c.signed(json!({}), json!({})); let p: Vec<&str> = t.split('.').collect();
                  tok(json!({"protected": p[0], "payload": p[1], "signature": p[2]}).to_string()) },
            Invalid("malformed token: expected three dot-separated parts")).via(Via::At),

        // ---- size and dots -----------------------------------------------------------------------------
        case("exactly-8192-bytes", "size", "docs/contract.md section 3 (8 KiB limit, inclusive)",
            |c| tok(c.token_of_length(8192)), Pass),
        case("exactly-8193-bytes", "size", "docs/contract.md section 3 (8 KiB limit)",
            |c| tok(c.token_of_length(8193)), Invalid("token exceeds 8192 bytes")),
        case("garbage-8193-bytes", "size", "docs/contract.md section 3 (refused before decoding)",
            |_| tok("A".repeat(8193)), Invalid("token exceeds 8192 bytes")),
        case("8000-dots", "size", "RFC 7515 §7.1 (DoS by separators)",
            |_| tok(".".repeat(8000)), Invalid("malformed token: expected three dot-separated parts")),
        case("100k-dots", "size", "docs/contract.md section 3",
            |_| tok(".".repeat(100_000)), Invalid("token exceeds 8192 bytes")),
        case("header-7kb-unsigned", "size", "RFC 8725 §3.4 (validate inputs; header parsed before the signature)",
            |c| tok(c.raw(json!({"alg": "RS256", "kid": c.kid(), "x": "y".repeat(5000)}).to_string().as_bytes(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("invalid signature")),
        case("header-1mb", "size", "docs/contract.md section 3",
            |c| tok(c.raw(json!({"alg": "RS256", "kid": c.kid(), "x": "y".repeat(1 << 20)}).to_string().as_bytes(), b"{}", "AA")),
            Invalid("token exceeds 8192 bytes")),

        // ---- kid injection ---------------------------------------------------------------------------------
        case("kid-path-traversal", "kid-injection", "RFC 8725 §3.10 (kid path traversal)",
            |c| tok(c.signed(json!({"kid": "../../../../../../dev/null"}), json!({}))), Invalid("no signing key matches the token's 'kid'")),
        case("kid-sql-injection", "kid-injection", "RFC 8725 §3.10 (kid SQL injection)",
            |c| tok(c.signed(json!({"kid": "x' UNION SELECT 'secret' --"}), json!({}))), Invalid("no signing key matches the token's 'kid'")),
        case("kid-very-long", "kid-injection", "RFC 8725 §3.10",
            |c| tok(c.signed(json!({"kid": "k".repeat(5000)}), json!({}))), Invalid("no signing key matches the token's 'kid'")),
        case("kid-nul-suffix", "kid-injection", "RFC 8725 §3.10",
            |c| tok(c.signed(json!({"kid": format!("{}\u{0}", c.kid())}), json!({}))), Invalid("no signing key matches the token's 'kid'")),
        case("kid-case-changed", "kid-injection", "RFC 7515 §4.1.4 (case-sensitive)",
            |c| tok(c.signed(json!({"kid": c.kid().to_lowercase()}), json!({}))), Invalid("no signing key matches the token's 'kid'")),
        case("kid-number", "kid-injection", "RFC 7515 §4.1.4 (kid is a string)",
            |c| tok(c.signed(json!({"kid": 1}), json!({}))), Invalid("header is missing 'kid'")),
        case("kid-array", "kid-injection", "RFC 7515 §4.1.4",
            |c| tok(c.signed(json!({"kid": [c.kid()]}), json!({}))), Invalid("header is missing 'kid'")),
        case("kid-json-null", "kid-injection", "RFC 7515 §4.1.4",
            |c| tok(c.raw(br#"{"alg":"RS256","kid":null}"#, &c.valid_claims_text(), &c.real_signature())), Invalid("header is missing 'kid'")),
        case("kid-empty", "kid-injection", "docs/contract.md section 3 (kid required)",
            |c| tok(c.signed(json!({"kid": ""}), json!({}))), Invalid("header is missing 'kid'")),
        case("kid-nosql-object", "kid-injection", "RFC 8725 §3.10 (NoSQL operator injection)",
            |c| tok(c.signed(json!({"kid": {"$ne": null}}), json!({}))), Invalid("header is missing 'kid'")),

        // ---- time claims at the leeway boundary (L = 5, fixed clock t0) ---------------------------------
        case("exp-now-minus-5", "time", "RFC 7519 §4.1.4 (now >= exp + L refused)",
            |c| tok(c.at(json!({"exp": c.t0 - 5}))), Invalid("token expired")).via(Via::At),
        case("exp-now-minus-4", "time", "RFC 7519 §4.1.4 (within leeway)",
            |c| tok(c.at(json!({"exp": c.t0 - 4}))), Pass).via(Via::At),
        case("exp-now", "time", "RFC 7519 §4.1.4",
            |c| tok(c.at(json!({"exp": c.t0}))), Pass).via(Via::At),
        case("exp-fraction-inside", "time", "RFC 7519 §2 (NumericDate may be fractional)",
            |c| tok(c.at(json!({"exp": c.t0 as f64 - 4.999}))), Pass).via(Via::At),
        case("exp-fraction-outside", "time", "RFC 7519 §2",
            |c| tok(c.at(json!({"exp": c.t0 as f64 - 5.001}))), Invalid("token expired")).via(Via::At),
        case("nbf-now-plus-5", "time", "RFC 7519 §4.1.5 (within leeway)",
            |c| tok(c.at(json!({"nbf": c.t0 + 5}))), Pass).via(Via::At),
        case("nbf-now-plus-6", "time", "RFC 7519 §4.1.5",
            |c| tok(c.at(json!({"nbf": c.t0 + 6}))), Invalid("token not yet valid")).via(Via::At),
        case("iat-now-plus-5", "time", "RFC 7519 §4.1.6 (within leeway)",
            |c| tok(c.at(json!({"iat": c.t0 + 5}))), Pass).via(Via::At),
        case("iat-now-plus-6", "time", "RFC 7519 §4.1.6",
            |c| tok(c.at(json!({"iat": c.t0 + 6}))), Invalid("token issued in the future")).via(Via::At),
        case("exp-string", "time", "aws-jwt-verify test: jwt with nonsense exp",
            |c| tok(c.at(json!({"exp": (c.t0 + 600).to_string()}))), Invalid("claim 'exp' has the wrong type")).via(Via::At),
        case("exp-bool", "time", "RFC 7519 §2 (NumericDate is a number)",
            |c| tok(c.at(json!({"exp": true}))), Invalid("claim 'exp' has the wrong type")).via(Via::At),
        case("exp-json-null", "time", "RFC 7519 §4.1.4",
            |c| { let mut claims = c.claims(json!({"iat": c.t0})); claims["exp"] = Value::Null; tok(c.signed_exact(json!({}), claims)) },
            Invalid("claim 'exp' has the wrong type")).via(Via::At),
        case("exp-array", "time", "RFC 7519 §2",
            |c| tok(c.at(json!({"exp": [c.t0 + 600]}))), Invalid("claim 'exp' has the wrong type")).via(Via::At),
        case("exp-missing", "time", "docs/contract.md section 3 (exp required)",
            |c| tok(c.at(json!({"exp": null}))), Invalid("claim 'exp' is required")).via(Via::At),
        case("exp-negative", "time", "RFC 7519 §4.1.4",
            |c| tok(c.at(json!({"exp": -1}))), Invalid("token expired")).via(Via::At),
        case("exp-huge", "time", "RFC 7519 §2 (far future is still a number)",
            |c| tok(c.at(json!({"exp": 1e300}))), Pass).via(Via::At),
        case("exp-u64-max", "time", "RFC 7519 §2",
            |c| tok(c.at(json!({"exp": u64::MAX}))), Pass).via(Via::At),
        case("exp-beyond-f64", "time", "RFC 8259 §6 (numbers beyond double range)",
            |c| { let text = c.own_claims(json!({"exp": null})).to_string();
                  tok(c.own_payload_text(format!("{{\"exp\":1e400,{}", &text[1..]).as_bytes())) }, Invalid("malformed token: payload is not a JSON object")).env(Env::Own).via(Via::At),
        case("nbf-string", "time", "RFC 7519 §4.1.5",
            |c| tok(c.at(json!({"nbf": c.t0.to_string()}))), Invalid("claim 'nbf' has the wrong type")).via(Via::At),
        case("iat-string", "time", "aws-jwt-verify test: JWT with iat that is not a number",
            |c| tok(c.at(json!({"iat": "12345"}))), Invalid("claim 'iat' has the wrong type")).via(Via::At),
        case("nbf-huge", "time", "RFC 7519 §4.1.5",
            |c| tok(c.at(json!({"nbf": 1e300}))), Invalid("token not yet valid")).via(Via::At),

        // ---- issuer look-alikes ----------------------------------------------------------------------------
        case("iss-trailing-slash", "issuer", "RFC 8725 §3.8 (exact issuer)",
            |c| tok(c.signed(json!({}), json!({"iss": format!("{}/v1/apps/{PROJECT}/", c.issuer.base_url())}))), Invalid("issuer not accepted")),
        case("iss-project-uppercase", "issuer", "RFC 7519 §4.1.1 (StringOrURI compared exactly)",
            |c| tok(c.signed(json!({}), json!({"iss": PROJECT.to_uppercase()}))), Invalid("issuer not accepted")),
        case("iss-https-instead-of-http", "issuer", "RFC 8725 §3.8",
            |c| tok(c.signed(json!({}), json!({"iss": format!("{}/v1/apps/{PROJECT}", c.issuer.base_url().replacen("http:", "https:", 1))}))), Invalid("issuer not accepted")),
        case("iss-project-prefix", "issuer", "RFC 8725 §3.8",
            |c| tok(c.signed(json!({}), json!({"iss": &PROJECT[..PROJECT.len() - 3]}))), Invalid("issuer not accepted")),
        case("iss-project-suffix", "issuer", "RFC 8725 §3.8",
            |c| tok(c.signed(json!({}), json!({"iss": format!("{PROJECT}X")}))), Invalid("issuer not accepted")),
        case("iss-other-project", "issuer", "RFC 8725 §2.7 (substitution)",
            |c| tok(c.signed(json!({}), json!({"iss": "P2OtherProject"}))), Invalid("issuer not accepted")),
        case("iss-apps-other-project", "issuer", "RFC 8725 §2.7",
            |c| tok(c.signed(json!({}), json!({"iss": format!("{}/v1/apps/P2OtherProject", c.issuer.base_url())}))), Invalid("issuer not accepted")),
        case("iss-leading-space", "issuer", "RFC 7519 §4.1.1",
            |c| tok(c.signed(json!({}), json!({"iss": format!(" {PROJECT}")}))), Invalid("issuer not accepted")),
        case("iss-missing", "issuer", "RFC 8725 §3.8",
            |c| tok(c.signed(json!({}), json!({"iss": null}))), Invalid("claim 'iss' is required")),
        case("iss-array", "issuer", "aws-jwt-verify test: JWT with iss that is not a string",
            |c| tok(c.signed(json!({}), json!({"iss": [PROJECT]}))), Invalid("claim 'iss' has the wrong type")),
        case("iss-path-traversal", "issuer", "RFC 8725 §3.8",
            |c| tok(c.signed(json!({}), json!({"iss": format!("{}/v1/apps/../apps/{PROJECT}", c.issuer.base_url())}))), Invalid("issuer not accepted")),

        // ---- audience look-alikes ----------------------------------------------------------------------------
        case("aud-array-without-project", "audience", "RFC 7519 §4.1.3",
            |c| tok(c.signed(json!({}), json!({"aud": ["other", "P2OtherProject"]}))), Invalid("audience not accepted")),
        case("aud-empty-array", "audience", "RFC 7519 §4.1.3",
            |c| tok(c.signed(json!({}), json!({"aud": []}))), Invalid("audience not accepted")),
        case("aud-number", "audience", "aws-jwt-verify test: JWT with aud that is not a string",
            |c| tok(c.signed(json!({}), json!({"aud": 5}))), Invalid("claim 'aud' has the wrong type")),
        case("aud-object", "audience", "RFC 7519 §4.1.3",
            |c| tok(c.signed(json!({}), json!({"aud": {"aud": PROJECT}}))), Invalid("claim 'aud' has the wrong type")),
        case("aud-project-prefix", "audience", "RFC 8725 §3.9",
            |c| tok(c.signed(json!({}), json!({"aud": &PROJECT[..5]}))), Invalid("audience not accepted")),
        case("aud-configured-trailing-slash", "audience", "RFC 8725 §3.9 (exact audience)",
            |c| tok(c.signed(json!({}), json!({"aud": format!("{AUDIENCE}/")}))), Invalid("audience not accepted")).env(Env::Audience),
        case("aud-configured-uppercase", "audience", "RFC 8725 §3.9",
            |c| tok(c.signed(json!({}), json!({"aud": AUDIENCE.to_uppercase()}))), Invalid("audience not accepted")).env(Env::Audience),
        case("aud-configured-missing", "audience", "RFC 8725 §3.9 (required when configured)",
            |c| tok(c.signed(json!({}), json!({}))), Invalid("claim 'aud' is required")).env(Env::Audience),
        case("aud-project-when-audience-configured", "audience", "RFC 8725 §2.7 (substitution)",
            |c| tok(c.signed(json!({}), json!({"aud": [PROJECT]}))), Invalid("audience not accepted")).env(Env::Audience),
        case("aud-json-null-when-configured", "audience", "RFC 7519 §4.1.3",
            |c| { let mut claims = c.claims(json!({})); claims["aud"] = Value::Null; tok(c.signed_exact(json!({}), claims)) },
            Invalid("claim 'aud' has the wrong type")).env(Env::Audience),
        case("aud-configured-in-array-control", "audience", "RFC 7519 §4.1.3 (control)",
            |c| tok(c.signed(json!({}), json!({"aud": ["x", AUDIENCE]}))), Pass).env(Env::Audience),

        // ---- token kind ------------------------------------------------------------------------------------
        case("drn-refresh-token", "token-kind", "RFC 8725 §3.12 (Descope refresh token DSR)",
            |c| tok(c.signed(json!({}), json!({"drn": "DSR"}))), Invalid("not a session token")),
        case("drn-lowercase", "token-kind", "RFC 8725 §3.12",
            |c| tok(c.signed(json!({}), json!({"drn": "ds"}))), Invalid("not a session token")),
        case("drn-number", "token-kind", "RFC 8725 §3.12",
            |c| tok(c.signed(json!({}), json!({"drn": 1}))), Invalid("not a session token")),
        case("drn-empty", "token-kind", "RFC 8725 §3.12",
            |c| tok(c.signed(json!({}), json!({"drn": ""}))), Invalid("not a session token")),
        case("drn-array", "token-kind", "RFC 8725 §3.12",
            |c| tok(c.signed(json!({}), json!({"drn": ["DS"]}))), Invalid("not a session token")),
        case("drn-json-null", "token-kind", "RFC 8725 §3.12",
            |c| { let mut claims = c.claims(json!({})); claims["drn"] = Value::Null; tok(c.signed_exact(json!({}), claims)) },
            Invalid("not a session token")),

        // ---- grant look-alikes (admin and user endpoints) ---------------------------------------------------
        case("role-notadmin", "grants", "docs/contract.md section 4 (exact comparison)",
            |c| tok(c.signed(json!({}), json!({"roles": ["notadmin"]}))), Forbidden("admin")).via(Via::Admin),
        case("role-Admin", "grants", "docs/contract.md section 4",
            |c| tok(c.signed(json!({}), json!({"roles": ["Admin"]}))), Forbidden("admin")).via(Via::Admin),
        case("role-admin-trailing-space", "grants", "docs/contract.md section 4",
            |c| tok(c.signed(json!({}), json!({"roles": ["admin "]}))), Forbidden("admin")).via(Via::Admin),
        case("role-cyrillic-a", "grants", "UTS #39 (confusables: Cyrillic а)",
            |c| tok(c.signed(json!({}), json!({"roles": ["\u{0430}dmin"]}))), Forbidden("admin")).via(Via::Admin),
        case("role-zero-width-joiner", "grants", "UTS #39 (invisible characters)",
            |c| tok(c.signed(json!({}), json!({"roles": ["ad\u{200D}min"]}))), Forbidden("admin")).via(Via::Admin),
        case("role-fullwidth", "grants", "UTS #39",
            |c| tok(c.signed(json!({}), json!({"roles": ["ａｄｍｉｎ"]}))), Forbidden("admin")).via(Via::Admin),
        case("role-admin-prefix", "grants", "docs/contract.md section 4 (admin:read is not admin)",
            |c| tok(c.signed(json!({}), json!({"permissions": ["admin:read"]}))), Forbidden("admin")).via(Via::Admin),
        case("roles-as-string", "grants", "docs/contract.md section 4 (arrays of strings only)",
            |c| tok(c.signed(json!({}), json!({"roles": "admin"}))), Forbidden("admin")).via(Via::Admin),
        case("roles-as-object", "grants", "docs/contract.md section 4",
            |c| tok(c.signed(json!({}), json!({"roles": {"admin": true}}))), Forbidden("admin")).via(Via::Admin),
        case("roles-nested-array", "grants", "docs/contract.md section 4",
            |c| tok(c.signed(json!({}), json!({"roles": [["admin"]]}))), Forbidden("admin")).via(Via::Admin),
        case("permissions-mixed-types", "grants", "docs/contract.md section 4",
            |c| tok(c.signed(json!({}), json!({"permissions": ["admin", 1]}))), Forbidden("admin")).via(Via::Admin),
        case("other-tenants-admin", "grants", "docs/contract.md section 4 (another tenant never counts)",
            |c| tok(c.signed(json!({}), json!({"dct": "T1", "tenants": {"T1": {"roles": []}, "T2": {"roles": ["admin"]}}}))), Forbidden("admin")).via(Via::Admin),
        case("dct-not-in-tenants", "grants", "docs/contract.md section 4",
            |c| tok(c.signed(json!({}), json!({"dct": "T9", "tenants": {"T1": {"roles": ["admin"]}}}))), Forbidden("admin")).via(Via::Admin),
        case("dct-number", "grants", "docs/contract.md section 4",
            |c| tok(c.signed(json!({}), json!({"dct": 1, "tenants": {"1": {"roles": ["admin"]}}}))), Forbidden("admin")).via(Via::Admin),
        case("tenant-roles-as-string", "grants", "docs/contract.md section 4",
            |c| tok(c.signed(json!({}), json!({"dct": "T1", "tenants": {"T1": {"roles": "admin"}}}))), Forbidden("admin")).via(Via::Admin),
        case("nsec-roles", "grants", "docs/contract.md section 4 (nothing else under nsec is read)",
            |c| tok(c.signed(json!({}), json!({"nsec": {"roles": ["admin"], "permissions": ["admin"]}}))), Forbidden("admin")).via(Via::Admin),
        case("nsec-scope-adds-nothing", "grants", "docs/contract.md section 4 (requested scopes only narrow)",
            |c| tok(c.signed(json!({}), json!({"roles": ["user"], "nsec": {"scope": "admin"}}))), Forbidden("admin")).via(Via::Admin),
        case("nsec-scope-narrows-admin-away", "grants", "docs/contract.md section 4",
            |c| tok(c.signed(json!({}), json!({"roles": ["admin"], "nsec": {"scope": "read:data"}}))), Forbidden("admin")).via(Via::Admin),
        case("nsec-scope-empty-narrows-to-nothing", "grants", "docs/contract.md section 4",
            |c| tok(c.signed(json!({}), json!({"roles": ["admin"], "nsec": {"scope": ""}}))), Forbidden("admin")).via(Via::Admin),
        case("scopes-empty-array-narrows-to-nothing", "grants", "docs/contract.md section 4",
            |c| tok(c.signed(json!({}), json!({"roles": ["admin"], "scopes": []}))), Forbidden("admin")).via(Via::Admin),
        case("scope-claim-narrows", "grants", "docs/contract.md section 4 (top-level scope read the same way)",
            |c| tok(c.signed(json!({}), json!({"roles": ["admin"], "scope": "read:data"}))), Forbidden("admin")).via(Via::Admin),
        case("scope-object-narrows-to-nothing", "grants", "docs/contract.md section 4 (malformed narrowing narrows to nothing)",
            |c| tok(c.signed(json!({}), json!({"roles": ["admin"], "scope": {"admin": true}}))), Forbidden("admin")).via(Via::Admin),
        case("permission-read-data-space", "grants", "docs/contract.md section 4",
            |c| tok(c.signed(json!({}), json!({"permissions": ["read:data "]}))), Forbidden("read:data")).via(Via::User),
        case("permission-read-data-uppercase", "grants", "docs/contract.md section 4",
            |c| tok(c.signed(json!({}), json!({"permissions": ["READ:DATA"]}))), Forbidden("read:data")).via(Via::User),
        case("current-tenant-admin-control", "grants", "docs/contract.md section 4 (control)",
            |c| tok(c.signed(json!({}), json!({"dct": "T1", "tenants": {"T1": {"roles": ["admin"]}}}))), Pass).via(Via::Admin),

        // ---- the token request body ----------------------------------------------------------------------
        case("body-16385-bytes", "token-request", "docs/contract.md section 1 (body over 16 KiB)",
            |_| { let mut b = br#"{"accessKey":"dev-reader-key"}"#.to_vec(); b.resize(16_385, b' '); body(b) }, BadRequest("16384")).via(Via::Token),
        case("body-16384-bytes-control", "token-request", "docs/contract.md section 1 (16 KiB is accepted)",
            |_| { let mut b = br#"{"accessKey":"dev-reader-key"}"#.to_vec(); b.resize(16_384, b' '); body(b) }, Pass).via(Via::Token),
        case("accessKey-number", "token-request", "docs/contract.md section 1 (wrong types)",
            |_| body(r#"{"accessKey": 12345}"#), BadRequest("'accessKey'")).via(Via::Token),
        case("scopes-object", "token-request", "docs/contract.md section 1",
            |_| body(r#"{"accessKey":"dev-reader-key","scopes":{"0":"admin"}}"#), BadRequest("'scopes'")).via(Via::Token),
        case("tenant-array", "token-request", "docs/contract.md section 1",
            |_| body(r#"{"accessKey":"dev-reader-key","tenant":["T2Acme"]}"#), BadRequest("'tenant'")).via(Via::Token),
        case("projectId-bool", "token-request", "docs/contract.md section 1",
            |_| body(r#"{"accessKey":"dev-reader-key","projectId":true}"#), BadRequest("'projectId'")).via(Via::Token),
        case("unknown-field", "token-request", "docs/contract.md section 1 (unknown fields)",
            |_| body(r#"{"accessKey":"dev-reader-key","roles":["admin"]}"#), BadRequest("unknown field")).via(Via::Token),
        case("proto-pollution", "token-request", "aws-jwt-verify test: safeJsonParse prevents prototype pollution",
            |_| body(r#"{"accessKey":"dev-reader-key","__proto__":{"scopes":["admin"]}}"#), BadRequest("unknown field")).via(Via::Token),
        case("constructor-key", "token-request", "aws-jwt-verify test: safeJsonParse removes __proto__ and constructor",
            |_| body(r#"{"constructor":{"prototype":{"admin":true}}}"#), BadRequest("unknown field")).via(Via::Token),
        case("33-scopes", "token-request", "docs/contract.md section 1 (at most 32 scopes)",
            |_| body(json!({"accessKey": "dev-reader-key", "scopes": (0..33).map(|i| format!("s{i:02}")).collect::<Vec<_>>()}).to_string()),
            BadRequest("at most 32")).via(Via::Token),
        case("32-scopes-reach-the-grant-check", "token-request", "docs/contract.md section 1 (32 scopes accepted; none granted)",
            |_| body(json!({"accessKey": "dev-reader-key", "scopes": (0..32).map(|i| format!("s{i:02}")).collect::<Vec<_>>()}).to_string()),
            NotGranted("s00")).via(Via::Token),
        case("scope-with-space", "token-request", "RFC 6749 §3.3 (scope-token charset)",
            |_| body(r#"{"accessKey":"dev-reader-key","scopes":["read:data admin"]}"#), BadRequest("'scopes[0]'")).via(Via::Token),
        case("scope-with-quote", "token-request", "RFC 6749 §3.3",
            |_| body(r#"{"accessKey":"dev-reader-key","scopes":["read\"data"]}"#), BadRequest("'scopes[0]'")).via(Via::Token),
        case("scope-with-backslash", "token-request", "RFC 6749 §3.3",
            |_| body(r#"{"accessKey":"dev-reader-key","scopes":["ok","a\\b"]}"#), BadRequest("'scopes[1]'")).via(Via::Token),
        case("scope-empty", "token-request", "RFC 6749 §3.3",
            |_| body(r#"{"accessKey":"dev-reader-key","scopes":[""]}"#), BadRequest("'scopes[0]'")).via(Via::Token),
        case("scope-129-chars", "token-request", "docs/contract.md section 1 (1-128 chars)",
            |_| body(json!({"accessKey": "dev-reader-key", "scopes": ["s".repeat(129)]}).to_string()), BadRequest("'scopes[0]'")).via(Via::Token),
        case("scope-non-ascii", "token-request", "RFC 6749 §3.3",
            |_| body(r#"{"accessKey":"dev-reader-key","scopes":["\u0430dmin"]}"#), BadRequest("'scopes[0]'")).via(Via::Token),
        case("accessKey-non-ascii", "token-request", "docs/contract.md section 1 (printable ASCII)",
            |_| body(r#"{"accessKey":"dev-admin-k\u00e9y"}"#), BadRequest("'accessKey'")).via(Via::Token),
        case("accessKey-1025-chars", "token-request", "docs/contract.md section 1 (1-1024 chars)",
            |_| body(json!({"accessKey": "k".repeat(1025)}).to_string()), BadRequest("'accessKey'")).via(Via::Token),
        case("accessKey-1024-chars-reaches-provider", "token-request", "docs/contract.md section 1 (1024 accepted; provider refuses)",
            |_| body(json!({"accessKey": "k".repeat(1024)}).to_string()), AuthFailed).via(Via::Token),
        case("accessKey-with-space", "token-request", "docs/contract.md section 1",
            |_| body(r#"{"accessKey":"dev admin"}"#), BadRequest("'accessKey'")).via(Via::Token),
        case("accessKey-control-char", "token-request", "docs/contract.md section 1",
            |_| body(r#"{"accessKey":"dev-admin-key\u0007"}"#), BadRequest("'accessKey'")).via(Via::Token),
        case("projectId-path", "token-request", "docs/contract.md section 1 (A-Za-z0-9_-)",
            |_| body(r#"{"accessKey":"dev-reader-key","projectId":"../v1/mgmt"}"#), BadRequest("'projectId'")).via(Via::Token),
        case("projectId-129-chars", "token-request", "docs/contract.md section 1",
            |_| body(json!({"accessKey": "dev-reader-key", "projectId": "P".repeat(129)}).to_string()), BadRequest("'projectId'")).via(Via::Token),
        case("projectId-128-chars-reaches-provider", "token-request", "docs/contract.md section 1 (128 accepted; provider refuses)",
            |_| body(json!({"accessKey": "dev-reader-key", "projectId": "P".repeat(128)}).to_string()), AuthFailed).via(Via::Token),
        case("tenant-traversal", "token-request", "docs/contract.md section 1",
            |_| body(r#"{"accessKey":"dev-tenant-key","tenant":"T2Acme/../T2Other"}"#), BadRequest("'tenant'")).via(Via::Token),
        case("duplicate-accessKey", "token-request", "RFC 8259 §4 / RFC 8725 §2.6",
            |_| body(r#"{"accessKey":"dev-reader-key","accessKey":"dev-admin-key"}"#), BadRequest("duplicate")).via(Via::Token),
        case("body-json-null", "token-request", "docs/contract.md section 1 (a JSON object)",
            |_| body("null"), BadRequest("JSON object")).via(Via::Token),
        case("body-json-string", "token-request", "docs/contract.md section 1",
            |_| body(r#""dev-admin-key""#), BadRequest("JSON object")).via(Via::Token),
        case("body-invalid-utf8", "token-request", "RFC 8259 §8.1",
            |_| body(b"{\"accessKey\":\"dev-\xff-key\"}".to_vec()), BadRequest("JSON object")).via(Via::Token),
        case("body-bom", "token-request", "RFC 8259 §8.1",
            |_| body("\u{FEFF}{\"accessKey\":\"dev-reader-key\"}"), BadRequest("JSON object")).via(Via::Token),
        case("body-depth-bomb", "token-request", "RFC 8259 §9",
            |_| body(format!(r#"{{"scopes":{}{}}}"#, "[".repeat(5_000), "]".repeat(5_000))), BadRequest("JSON object")).via(Via::Token),
        case("body-trailing-object", "token-request", "RFC 8259 §2",
            |_| body(r#"{"accessKey":"dev-reader-key"} {"scopes":["admin"]}"#), BadRequest("JSON object")).via(Via::Token),
        case("body-nan", "token-request", "RFC 8259 §6 (no NaN)",
            |_| body(r#"{"accessKey":"dev-reader-key","scopes":NaN}"#), BadRequest("JSON object")).via(Via::Token),
        case("scope-self-grant", "token-request", "docs/contract.md section 1 / §4 (the sample's self-grant)",
            |_| body(r#"{"accessKey":"dev-nogrants-key","scopes":["admin"]}"#), NotGranted("admin")).via(Via::Token),
        case("unknown-field-null", "token-request", "docs/contract.md section 1 (unknown fields, whatever their value)",
            |_| body(r#"{"accessKey":"dev-reader-key","bogus":null}"#), BadRequest("unknown field")).via(Via::Token),
        case("unknown-field-name-not-echoed", "token-request", "docs/contract.md section 1 (no error echoes input)",
            |_| body(r#"{"accessKey":"dev-reader-key","<img src=x onerror=alert(1)>":1}"#), BadRequest("unknown field")).via(Via::Token),
        case("projectId-without-accessKey", "token-request", "docs/contract.md section 1 (the stack's key never pairs with a caller's project)",
            |_| body(r#"{"projectId":"P2LocalDevProject"}"#), BadRequest("'projectId' can only be sent with 'accessKey'")).via(Via::Token),
        case("no-key-public-caller", "token-request", "docs/contract.md section 1 (the stack's key is for trusted callers only)",
            |_| body("{}"), KeyRequired).via(Via::Token),
        case("no-key-empty-body", "token-request", "docs/contract.md section 1",
            |_| body(""), KeyRequired).via(Via::Token),
        case("no-key-chosen-tenant", "token-request", "docs/contract.md section 1 (a tenant of the stack's key)",
            |_| body(r#"{"tenant":"T2Acme","scopes":["admin"]}"#), KeyRequired).via(Via::Token),
        case("no-key-null-key", "token-request", "docs/contract.md section 1 (null counts as absent)",
            |_| body(r#"{"accessKey":null}"#), KeyRequired).via(Via::Token),

        // ---- the Authorization header -----------------------------------------------------------------------
        case("two-authorization-headers", "authorization-header", "RFC 7230 §3.2.2 (ambiguous repeated header)",
            |c| Input::Authorization(vec![format!("Bearer {}", c.signed(json!({}), json!({}))), "Bearer x.y.z".into()]), NoAuth),
        case("scheme-token", "authorization-header", "RFC 6750 §2.1",
            |c| Input::Authorization(vec![format!("Token {}", c.signed(json!({}), json!({})))]), NoAuth),
        case("scheme-tab-separator", "authorization-header", "RFC 6750 §2.1 (1*SP)",
            |c| Input::Authorization(vec![format!("Bearer\t{}", c.signed(json!({}), json!({})))]), NoAuth),
        case("two-tokens-comma", "authorization-header", "RFC 6750 §2.1 (b64token)",
            |c| Input::Authorization(vec![format!("Bearer {0},{0}", c.signed(json!({}), json!({})))]), NoAuth),
        case("trailing-space", "authorization-header", "RFC 6750 §2.1",
            |c| Input::Authorization(vec![format!("Bearer {} ", c.signed(json!({}), json!({})))]), NoAuth),
        case("several-spaces-control", "authorization-header", "RFC 6750 §2.1 (1*SP; control)",
            |c| Input::Authorization(vec![format!("Bearer   {}", c.signed(json!({}), json!({})))]), Pass),
        case("basic-with-token", "authorization-header", "RFC 7617",
            |c| Input::Authorization(vec![format!("Basic {}", STANDARD.encode(c.signed(json!({}), json!({}))))]), NoAuth),
    ]
}

// ---------------------------------------------------------------------------------------------------------
// Running the table
// ---------------------------------------------------------------------------------------------------------

struct Apis {
    protected: HashMap<(Env, &'static str), ProtectedApi>,
    token: TokenApi,
}

fn env_vars(env: Env) -> Vec<(&'static str, &'static str)> {
    match env {
        Env::Default | Env::Own => vec![],
        Env::Audience => vec![("JWT_AUDIENCE", AUDIENCE)],
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
        }
    }

    fn protected(&self, env: Env, protection: Protection) -> &ProtectedApi {
        &self.protected[&(env, protection.route)]
    }
}

fn token_request(body: Vec<u8>) -> Request {
    let body = match String::from_utf8(body) {
        Ok(text) => Body::Text(text),
        Err(error) => Body::Binary(error.into_bytes()),
    };
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("https://api.example/m2m/token")
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
                    let error = ApiError::from(error);
                    (error.status(), error.public_message(), None)
                }
            }
        }
        (Via::Token, Input::Body(bytes)) => {
            let reply = call(&apis.token, token_request(bytes)).await;
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
    let at = matches!(case.via, Via::At | Via::Token);
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
            let verifies = !matches!(case.via, Via::Token) && matches!(input, Input::Bearer(_));
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

// ---------------------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------------------

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
