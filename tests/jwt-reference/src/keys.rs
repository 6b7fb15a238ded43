//! Keys that sign with every algorithm the verifier supports, and the JWKS that publishes them.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaEncoding};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use m2m_auth::Algorithm;
use serde_json::{Value, json};

enum PrivateKey {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// One entry of the set: its private half, and the JWK that publishes its public half.
struct KeyEntry {
    kid: &'static str,
    private: PrivateKey,
    jwk: Value,
}

/// A key of the set and an algorithm it signs with (the pair a token's header names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signer {
    pub kid: &'static str,
    pub alg: Algorithm,
}

/// Six keys, freshly generated: an RSA key published without `alg` (so usable with all six RSA algorithms),
/// one that declares `RS256`, one published for encryption (`use: enc`, which the verifier leaves out),
/// P-256, P-384 and Ed25519.
pub struct SigningKeys {
    entries: Vec<KeyEntry>,
}

/// The RSA algorithms, each with the encoding aws-lc-rs signs it with.
static RSA_SIGNING: [(Algorithm, &dyn RsaEncoding); 6] = [
    (Algorithm::RS256, &signature::RSA_PKCS1_SHA256),
    (Algorithm::RS384, &signature::RSA_PKCS1_SHA384),
    (Algorithm::RS512, &signature::RSA_PKCS1_SHA512),
    (Algorithm::PS256, &signature::RSA_PSS_SHA256),
    (Algorithm::PS384, &signature::RSA_PSS_SHA384),
    (Algorithm::PS512, &signature::RSA_PSS_SHA512),
];

impl SigningKeys {
    pub fn generate() -> Self {
        let rsa = |kid, members: Value| {
            let key = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key");
            let public = key.public_key();
            let mut jwk = json!({"kty": "RSA", "kid": kid,
                "n": b64(public.modulus().big_endian_without_leading_zero()),
                "e": b64(public.exponent().big_endian_without_leading_zero())});
            merge(&mut jwk, members);
            KeyEntry {
                kid,
                private: PrivateKey::Rsa(key),
                jwk,
            }
        };
        let ec = |kid, crv, alg, signing, size: usize| {
            let key = EcdsaKeyPair::generate(signing).expect("EC key");
            let point = key.public_key().as_ref();
            let jwk = json!({"kty": "EC", "crv": crv, "alg": alg, "use": "sig", "kid": kid,
                "x": b64(&point[1..=size]), "y": b64(&point[size + 1..])});
            KeyEntry {
                kid,
                private: PrivateKey::Ecdsa(key),
                jwk,
            }
        };
        let ed = Ed25519KeyPair::generate().expect("Ed25519 key");
        let ed_jwk = json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": "ref-ed",
            "x": b64(ed.public_key().as_ref())});
        SigningKeys {
            entries: vec![
                rsa("ref-rsa", json!({"use": "sig"})),
                rsa("ref-rsa-rs256", json!({"alg": "RS256"})),
                rsa("ref-rsa-enc", json!({"use": "enc"})),
                ec(
                    "ref-p256",
                    "P-256",
                    "ES256",
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    32,
                ),
                ec(
                    "ref-p384",
                    "P-384",
                    "ES384",
                    &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                    48,
                ),
                KeyEntry {
                    kid: "ref-ed",
                    private: PrivateKey::Ed25519(ed),
                    jwk: ed_jwk,
                },
            ],
        }
    }

    /// The JWK Set document publishing every key.
    pub fn jwks(&self) -> Value {
        json!({"keys": self.entries.iter().map(|entry| entry.jwk.clone()).collect::<Vec<_>>()})
    }

    /// The (key, algorithm) pairs tokens are signed with, each signature correct: the RSA key without `alg`
    /// with each RSA algorithm, the one declaring `RS256` with it and with `PS256` (which its JWK rules
    /// out), the encryption key with `RS256`, the others with their own.
    pub fn signers(&self) -> Vec<Signer> {
        let mut signers = Vec::new();
        for entry in &self.entries {
            let algorithms: &[Algorithm] = match &entry.private {
                PrivateKey::Rsa(_) if entry.jwk["alg"] == "RS256" => {
                    &[Algorithm::RS256, Algorithm::PS256]
                }
                PrivateKey::Rsa(_) if entry.jwk["use"] == "enc" => &[Algorithm::RS256],
                PrivateKey::Rsa(_) => &RSA_SIGNING.map(|(alg, _)| alg),
                PrivateKey::Ecdsa(_) if entry.jwk["crv"] == "P-384" => &[Algorithm::ES384],
                PrivateKey::Ecdsa(_) => &[Algorithm::ES256],
                PrivateKey::Ed25519(_) => &[Algorithm::EdDSA],
            };
            signers.extend(algorithms.iter().map(|&alg| Signer {
                kid: entry.kid,
                alg,
            }));
        }
        signers
    }

    /// The signature of `input` by `signer`'s key with its algorithm.
    ///
    /// # Panics
    /// When `signer` is not one of [`SigningKeys::signers`].
    pub fn sign(&self, signer: Signer, input: &[u8]) -> Vec<u8> {
        let entry = self
            .entries
            .iter()
            .find(|entry| entry.kid == signer.kid)
            .expect("a kid of this set");
        let rng = SystemRandom::new();
        match &entry.private {
            PrivateKey::Rsa(key) => {
                let mut out = vec![0; key.public_modulus_len()];
                let (_, encoding) = RSA_SIGNING
                    .iter()
                    .find(|(alg, _)| *alg == signer.alg)
                    .expect("an RSA algorithm for an RSA key");
                key.sign(*encoding, &rng, input, &mut out)
                    .expect("RSA signature");
                out
            }
            PrivateKey::Ecdsa(key) => key.sign(&rng, input).expect("ECDSA").as_ref().to_vec(),
            PrivateKey::Ed25519(key) => key.sign(input).as_ref().to_vec(),
        }
    }

    /// A compact JWS of exactly these header and payload bytes, signed by `signer`.
    pub fn token(&self, signer: Signer, header: &[u8], payload: &[u8]) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let signature = self.sign(signer, input.as_bytes());
        format!("{input}.{}", b64(signature))
    }
}

/// base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn merge(target: &mut Value, members: Value) {
    if let (Some(target), Value::Object(members)) = (target.as_object_mut(), members) {
        target.extend(members);
    }
}
