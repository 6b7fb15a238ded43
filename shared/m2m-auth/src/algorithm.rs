//! The signature algorithms a configuration may accept (`JWT_ALGORITHMS`, docs/contract.md section 2).
//!
//! Owned here rather than borrowed from `jsonwebtoken`: its `Algorithm` is `#[non_exhaustive]` and holds the
//! HMAC family, so every match over it needed a catch-all arm, and a variant added to it later would have
//! been verified as whatever that arm chose. Every match over this enum is exhaustive, so a new algorithm
//! does not compile until each place that must know about it does.

use aws_lc_rs::signature::{self, VerificationAlgorithm};
use jsonwebtoken::jwk::KeyAlgorithm;

/// How aws-lc-rs takes a key: RSA as its components (`n`, `e`), the others as their bytes.
pub(crate) enum Verification {
    Rsa(&'static signature::RsaParameters),
    Bytes(&'static dyn VerificationAlgorithm),
}

/// A JWS `alg` this crate can verify. `none` and the HMAC family are not among them: a verifier holding
/// only public keys must never treat one of them as a shared secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

/// Every [`Algorithm`], in the order the configuration's error message lists them.
pub const SUPPORTED_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The kind of public key an algorithm verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

/// Parses a JWS `alg` name (exact, case-sensitive) into one of [`SUPPORTED_ALGORITHMS`].
pub fn parse_algorithm(name: &str) -> Option<Algorithm> {
    SUPPORTED_ALGORITHMS
        .into_iter()
        .find(|alg| alg.name() == name)
}

impl Algorithm {
    /// The name a JWS header and `JWT_ALGORITHMS` give it (RFC 7518 section 3.1, RFC 8037 section 3.1).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    pub(crate) fn key_kind(self) -> KeyKind {
        match self {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => KeyKind::Rsa,
            Algorithm::ES256 => KeyKind::P256,
            Algorithm::ES384 => KeyKind::P384,
            Algorithm::EdDSA => KeyKind::Ed25519,
        }
    }

    /// The aws-lc-rs verification a key is parsed for. Its RSA parameters refuse keys outside 2048–8192 bits
    /// when verifying; keys.rs refuses them before, when the key set is read.
    pub(crate) fn verification(self) -> Verification {
        use Verification::{Bytes, Rsa};
        match self {
            Algorithm::RS256 => Rsa(&signature::RSA_PKCS1_2048_8192_SHA256),
            Algorithm::RS384 => Rsa(&signature::RSA_PKCS1_2048_8192_SHA384),
            Algorithm::RS512 => Rsa(&signature::RSA_PKCS1_2048_8192_SHA512),
            Algorithm::PS256 => Rsa(&signature::RSA_PSS_2048_8192_SHA256),
            Algorithm::PS384 => Rsa(&signature::RSA_PSS_2048_8192_SHA384),
            Algorithm::PS512 => Rsa(&signature::RSA_PSS_2048_8192_SHA512),
            Algorithm::ES256 => Bytes(&signature::ECDSA_P256_SHA256_FIXED),
            Algorithm::ES384 => Bytes(&signature::ECDSA_P384_SHA384_FIXED),
            Algorithm::EdDSA => Bytes(&signature::ED25519),
        }
    }

    /// The algorithm a JWK's `alg` names, when it is one of ours. `KeyAlgorithm` is `#[non_exhaustive]`, so
    /// its other values (HMAC, the encryption algorithms, the ones it could not name, later additions) can
    /// only be listed as "not ours": such a key is left out, never used with a guessed algorithm.
    pub(crate) fn from_key_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
        match alg {
            KeyAlgorithm::RS256 => Some(Algorithm::RS256),
            KeyAlgorithm::RS384 => Some(Algorithm::RS384),
            KeyAlgorithm::RS512 => Some(Algorithm::RS512),
            KeyAlgorithm::PS256 => Some(Algorithm::PS256),
            KeyAlgorithm::PS384 => Some(Algorithm::PS384),
            KeyAlgorithm::PS512 => Some(Algorithm::PS512),
            KeyAlgorithm::ES256 => Some(Algorithm::ES256),
            KeyAlgorithm::ES384 => Some(Algorithm::ES384),
            KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_is_parsed_from_its_own_name_only() {
        for alg in SUPPORTED_ALGORITHMS {
            assert_eq!(parse_algorithm(alg.name()), Some(alg));
            assert_eq!(parse_algorithm(&alg.name().to_lowercase()), None);
            let declared: KeyAlgorithm = alg.name().parse().expect("jsonwebtoken names it");
            assert_eq!(Algorithm::from_key_algorithm(declared), Some(alg));
        }
        for name in ["none", "HS256", "HS512", "ES512", "RSA-OAEP", "", "RS256 "] {
            assert_eq!(parse_algorithm(name), None, "{name}");
        }
        for other in [
            KeyAlgorithm::HS256,
            KeyAlgorithm::RSA_OAEP,
            KeyAlgorithm::UNKNOWN_ALGORITHM,
        ] {
            assert_eq!(Algorithm::from_key_algorithm(other), None);
        }
    }
}
