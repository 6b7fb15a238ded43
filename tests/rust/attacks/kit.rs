//! The attack table's kit: key material of our own (RSA, EC P-256, Ed25519, with their JWKS), and the
//! builders the cases make their tokens with: signed by the trusted key, by ours or by the attacker's, with
//! any header, claims or raw bytes; HMAC forgeries keyed with the public key in its DER, PEM and JWK forms;
//! non-canonical base64url; tokens of an exact length.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use descope_local::RunningIssuer;
use m2m_tests::*;
use serde_json::{Value, json};

pub(super) const RSA_KID: &str = "own-rsa";
pub(super) const EC_KID: &str = "own-ec";
pub(super) const ED_KID: &str = "own-ed";

/// An RSA-2048, an EC P-256 and an Ed25519 key. A local issuer serves their JWKS (through `Fault::Body`), so
/// tests can sign any bytes at all (duplicate members, invalid UTF-8, padded base64) and use ES256 and EdDSA.
pub(super) struct OwnKeys {
    rsa: RsaKeyPair,
    ec: EcdsaKeyPair,
    ed: Ed25519KeyPair,
}

impl OwnKeys {
    pub(super) fn generate() -> Self {
        OwnKeys {
            rsa: RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key"),
            ec: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key"),
            ed: Ed25519KeyPair::generate().expect("Ed25519 key"),
        }
    }

    pub(super) fn jwks(&self) -> Value {
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

    pub(super) fn sign(&self, alg: &str, input: &[u8]) -> Vec<u8> {
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
    pub(super) fn token_from_parts(
        &self,
        alg: &str,
        header_part: &str,
        payload_part: &str,
    ) -> String {
        let input = format!("{header_part}.{payload_part}");
        format!("{input}.{}", b64(self.sign(alg, input.as_bytes())))
    }

    /// Signs raw header and payload bytes.
    pub(super) fn token_bytes(&self, alg: &str, header: &[u8], payload: &[u8]) -> String {
        self.token_from_parts(alg, &b64(header), &b64(payload))
    }
}

pub(super) fn kid_for(alg: &str) -> &'static str {
    match alg {
        "ES256" => EC_KID,
        "EdDSA" => ED_KID,
        _ => RSA_KID,
    }
}

pub(super) struct Ctx {
    /// The issuer whose keys the functions trust.
    pub(super) issuer: RunningIssuer,
    /// Another issuer, with its own key: the attacker's. Its JWKS URL is what `jku`/`x5u` point at.
    pub(super) attacker: RunningIssuer,
    /// An issuer that serves [`OwnKeys`]' JWKS instead of its own.
    pub(super) own_issuer: RunningIssuer,
    pub(super) own: OwnKeys,
    /// The fixed clock of `Via::At` cases (unix seconds).
    pub(super) t0: i64,
}

impl Ctx {
    pub(super) fn kid(&self) -> String {
        self.issuer.issuer().current_kid()
    }

    /// Signed by the trusted key, header and claims changed (`null` removes a member).
    pub(super) fn signed(&self, header_changes: Value, claim_changes: Value) -> String {
        signed(&self.issuer, header_changes, claim_changes)
    }

    /// Signed by the trusted key, with exactly these claims (a `null` stays a JSON `null`).
    pub(super) fn signed_exact(&self, header_changes: Value, claims: Value) -> String {
        self.issuer
            .issuer()
            .sign_raw(&header(&self.issuer, header_changes), &claims)
    }

    pub(super) fn claims(&self, changes: Value) -> Value {
        claims(&self.issuer, changes)
    }

    /// A token for `Via::At`: issued at t0, expiring at t0 + 600, then `changes`.
    pub(super) fn at(&self, changes: Value) -> String {
        let mut claims = self.claims(json!({"iat": self.t0, "exp": self.t0 + 600}));
        merge(&mut claims, changes);
        self.issuer
            .issuer()
            .sign_raw(&header(&self.issuer, json!({})), &claims)
    }

    /// Claims for a token of our own keys (its `iss` names the issuer that serves them).
    pub(super) fn own_claims(&self, changes: Value) -> Value {
        claims(&self.own_issuer, changes)
    }

    pub(super) fn own_header(&self, alg: &str, changes: Value) -> Value {
        let mut header = json!({"alg": alg, "kid": kid_for(alg), "typ": "JWT"});
        merge(&mut header, changes);
        header
    }

    /// Signed with our own key for `alg`.
    pub(super) fn own_signed(
        &self,
        alg: &str,
        header_changes: Value,
        claim_changes: Value,
    ) -> String {
        let header = serde_json::to_vec(&self.own_header(alg, header_changes)).unwrap();
        let claims = serde_json::to_vec(&self.own_claims(claim_changes)).unwrap();
        self.own.token_bytes(alg, &header, &claims)
    }

    /// RS256 with our own key over this payload text, byte for byte.
    pub(super) fn own_payload_text(&self, payload: &[u8]) -> String {
        let header = serde_json::to_vec(&self.own_header("RS256", json!({}))).unwrap();
        self.own.token_bytes("RS256", &header, payload)
    }

    /// Our valid claims as JSON text with `extra` members placed first (duplicates on purpose).
    pub(super) fn own_claims_text_with(&self, extra: &str) -> String {
        let text = self.own_claims(json!({})).to_string();
        format!("{{{extra},{}", &text[1..])
    }

    /// Three parts put together as given, nothing signed.
    pub(super) fn raw(&self, header: &[u8], payload: &[u8], signature: &str) -> String {
        format!("{}.{}.{signature}", b64(header), b64(payload))
    }

    /// A genuine signature of the trusted key, for tokens whose header or shape is the attack.
    pub(super) fn real_signature(&self) -> String {
        self.signed(json!({}), json!({}))
            .rsplit('.')
            .next()
            .unwrap()
            .to_owned()
    }

    pub(super) fn valid_claims_text(&self) -> Vec<u8> {
        serde_json::to_vec(&self.claims(json!({}))).unwrap()
    }

    /// `alg` (HS*) keyed with `key`: the algorithm-confusion forgery.
    pub(super) fn hmac_token(&self, alg: &str, key: &[u8]) -> String {
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

    pub(super) fn public_der(&self) -> Vec<u8> {
        self.issuer.issuer().current_public_key_der()
    }

    pub(super) fn public_jwk(&self) -> Value {
        self.issuer.issuer().public_jwks()["keys"][0].clone()
    }

    /// Signed by the attacker's key (trusted claims otherwise), header changed.
    pub(super) fn attacker_signed(&self, header_changes: Value) -> String {
        let header = header(&self.attacker, header_changes);
        self.attacker
            .issuer()
            .sign_raw(&header, &self.claims(json!({"roles": ["admin"]})))
    }

    pub(super) fn attacker_jwk(&self) -> Value {
        self.attacker.issuer().public_jwks()["keys"][0].clone()
    }

    pub(super) fn attacker_jwks_url(&self) -> String {
        format!("{}/v2/keys/{PROJECT}", self.attacker.base_url())
    }

    /// An ES256 token of our EC key whose signature is replaced by `signature`.
    pub(super) fn es256_with_signature(&self, signature: &[u8]) -> String {
        let token = self.own_signed("ES256", json!({}), json!({}));
        let (input, _) = token.rsplit_once('.').unwrap();
        format!("{input}.{}", b64(signature))
    }

    /// A trusted token of exactly `length` bytes (a padding claim, and a padding header member when the
    /// base64url lengths need it).
    pub(super) fn token_of_length(&self, length: usize) -> String {
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
pub(super) fn noncanonical(part: &str) -> String {
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
pub(super) fn with_unused_bits(object: &Value) -> String {
    let text = object.to_string();
    (0..3)
        .map(|n| format!("{}{}}}", &text[..text.len() - 1], " ".repeat(n)))
        .find(|t| b64(t).len() % 4 >= 2)
        .unwrap()
}

pub(super) fn pem(label: &str, der: &[u8]) -> String {
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
pub(super) fn spki(pkcs1: &[u8]) -> Vec<u8> {
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
pub(super) const P256_ORDER: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
];
