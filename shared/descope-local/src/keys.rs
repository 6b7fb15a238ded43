//! RSA signing keys: generation, RS256 signing and their public JWK.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// One RSA-2048 signing key with its key id.
pub(crate) struct SigningKey {
    pub(crate) kid: String,
    pair: KeyPair,
}

impl SigningKey {
    pub(crate) fn generate() -> SigningKey {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA-2048 key generation");
        SigningKey {
            kid: random_kid(),
            pair,
        }
    }

    /// PKCS#1 `RSAPublicKey` DER.
    pub(crate) fn public_key_der(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    /// The public JWK: `kty`, `alg`, `use`, `kid`, `n`, `e` (base64url, no padding, no leading zero byte).
    pub(crate) fn jwk(&self) -> Value {
        let public = self.pair.public_key();
        json!({
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
        })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .expect("RS256 signing");
        signature
    }

    /// A compact JWS of `header` and `claims` exactly as given.
    pub(crate) fn sign_compact(&self, header: &Value, claims: &Value) -> String {
        let header = b64(&serde_json::to_vec(header).expect("serialize header"));
        let claims = b64(&serde_json::to_vec(claims).expect("serialize claims"));
        let signing_input = format!("{header}.{claims}");
        let signature = b64(&self.sign(signing_input.as_bytes()));
        format!("{signing_input}.{signature}")
    }
}

/// 16 random bytes, base64url: `SK` + 22 characters.
fn random_kid() -> String {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("system random generator");
    format!("SK{}", b64(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};

    #[test]
    fn jwk_matches_the_key_and_verifies_signatures() {
        let key = SigningKey::generate();
        let jwk = key.jwk();
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(jwk["kid"], key.kid.as_str());
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        assert_eq!(n.len(), 256, "2048-bit modulus without a leading zero byte");
        assert_ne!(n[0], 0);
        let e = URL_SAFE_NO_PAD.decode("AQAB").unwrap();
        let signature = key.sign(b"hello");
        RsaPublicKeyComponents { n: &n, e: &e }
            .verify(&RSA_PKCS1_2048_8192_SHA256, b"hello", &signature)
            .unwrap();
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &RSA_PKCS1_2048_8192_SHA256,
            key.public_key_der(),
        )
        .verify(b"hello", &signature)
        .unwrap();
    }

    #[test]
    fn kids_are_unique() {
        let a = SigningKey::generate();
        let b = SigningKey::generate();
        assert_ne!(a.kid, b.kid);
        assert!(a.kid.starts_with("SK") && a.kid.len() == 24);
    }
}
