//! Signing keys from a JWKS, parsed once when the set is fetched so that verifying costs only the
//! signature check itself.

use crate::algorithm::{Algorithm, KeyKind, Verification};
use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use serde::Deserialize;
use serde_json::Value;

/// One usable key: a parsed public key for each accepted algorithm it may be used with (the key set maps
/// the `kid` to it).
pub(crate) struct VerifyingKey {
    verifiers: Vec<(Algorithm, ParsedPublicKey)>,
}

impl VerifyingKey {
    pub(crate) fn verifier(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        self.verifiers
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, key)| key)
    }
}

/// Why a JWK was left out of the key set (logged, never returned to callers).
pub(crate) type Ignored = &'static str;

/// Parses one entry of a key set, keeping only what docs/contract.md section 3 allows. Returns the key's
/// `kid` and the key.
///
/// The entry's shape is read by `jsonwebtoken`'s [`Jwk`] (RFC 7517 members, each of its JSON type; `kty`,
/// `crv` and `alg` it does not know become its catch-all variants instead of errors). The key material is
/// ours: `jsonwebtoken` would build its key again on every verification, and applies none of the strength
/// rules below, so `n`/`e`, `x`/`y` and `x` are checked here and parsed once into aws-lc-rs keys.
pub(crate) fn parse_jwk(
    entry: &Value,
    accepted: &[Algorithm],
) -> Result<(String, VerifyingKey), Ignored> {
    // `Jwk` reads a null `use` or `alg` as absent, which would widen the key to every use or algorithm; a key
    // that states either must state it as a string.
    for (name, reason) in [("use", "use is not sig"), ("alg", "alg is not a string")] {
        if entry.get(name).is_some_and(Value::is_null) {
            return Err(reason);
        }
    }
    let jwk = Jwk::deserialize(entry).map_err(|_| "not a well-formed JWK")?;
    let kid = jwk
        .common
        .key_id
        .filter(|kid| !kid.is_empty())
        .ok_or("no kid")?;
    match jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_)) => return Err("use is not sig"),
    }
    let declared_alg = match jwk.common.key_algorithm {
        None => None,
        Some(alg) => Some(Algorithm::from_key_algorithm(alg).ok_or("unsupported alg")?),
    };
    let (material, kind) = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => (rsa_components(&rsa.n, &rsa.e)?, KeyKind::Rsa),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => (Material::Bytes(ec_point(&ec.x, &ec.y, 32)?), KeyKind::P256),
            EllipticCurve::P384 => (Material::Bytes(ec_point(&ec.x, &ec.y, 48)?), KeyKind::P384),
            _ => return Err("unsupported curve"),
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            let x = decode(&okp.x)?;
            if x.len() != 32 {
                return Err("bad Ed25519 key");
            }
            (Material::Bytes(x), KeyKind::Ed25519)
        }
        AlgorithmParameters::OctetKey(_) => return Err("symmetric key"),
        // A `kty` it knows lands here too when a member it needs is missing or not a string.
        AlgorithmParameters::Other(other) => {
            return Err(match other.fields.get("kty").and_then(Value::as_str) {
                Some("oct") => "symmetric key",
                Some("RSA" | "EC") => "missing key member",
                _ => "unsupported key type",
            });
        }
        _ => return Err("unsupported key type"),
    };
    let mut verifiers = Vec::new();
    for &alg in accepted {
        if alg.key_kind() != kind || declared_alg.is_some_and(|declared| declared != alg) {
            continue;
        }
        let key = match (alg.verification(), &material) {
            (Verification::Rsa(params), Material::Rsa(rsa)) => rsa.to_parsed_public_key(params),
            (Verification::Bytes(verification), Material::Bytes(bytes)) => {
                ParsedPublicKey::new(verification, bytes)
            }
            _ => continue, // not reached: the key kinds matched
        };
        verifiers.push((alg, key.map_err(|_| "key rejected")?));
    }
    if verifiers.is_empty() {
        return Err("fits no accepted algorithm");
    }
    Ok((kid, VerifyingKey { verifiers }))
}

fn decode(value: &str) -> Result<Vec<u8>, Ignored> {
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| "key member is not base64url")
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// A key as aws-lc-rs parses it.
enum Material {
    Rsa(RsaPublicKeyComponents<Vec<u8>>),
    Bytes(Vec<u8>),
}

/// The JWK's `n` and `e`, after the strength checks.
fn rsa_components(n: &str, e: &str) -> Result<Material, Ignored> {
    let n = decode(n)?;
    let e = decode(e)?;
    if strip_leading_zeros(&e) != [0x01, 0x00, 0x01] {
        return Err("RSA exponent is not 65537");
    }
    // An empty (or all-zero) modulus is no key; checked before the bit count, which assumes a first byte.
    let modulus = strip_leading_zeros(&n);
    let Some(&first) = modulus.first() else {
        return Err("RSA modulus is empty");
    };
    let bits = modulus.len() * 8 - first.leading_zeros() as usize;
    if bits < 2048 {
        return Err("RSA key shorter than 2048 bits");
    }
    if bits > 8192 {
        return Err("RSA key longer than 8192 bits");
    }
    // aws-lc-rs checks nothing more when it takes the components (its DER parser ran RSA_check_key).
    if modulus.last().is_some_and(|last| last & 1 == 0) {
        return Err("RSA modulus is even");
    }
    // aws-lc-rs takes the integers without leading zeros.
    Ok(Material::Rsa(RsaPublicKeyComponents {
        n: modulus.to_vec(),
        e: vec![0x01, 0x00, 0x01],
    }))
}

/// Uncompressed SEC1 point from the JWK's `x` and `y`; the curve check happens when it is parsed.
fn ec_point(x: &str, y: &str, size: usize) -> Result<Vec<u8>, Ignored> {
    let (x, y) = (decode(x)?, decode(y)?);
    if x.len() != size || y.len() != size {
        return Err("EC coordinates have the wrong length");
    }
    let mut point = vec![0x04];
    point.extend(x);
    point.extend(y);
    Ok(point)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
    use serde_json::json;

    fn ed25519_jwk(kid: &str) -> Value {
        let key = Ed25519KeyPair::generate().expect("Ed25519 key");
        json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": URL_SAFE_NO_PAD.encode(key.public_key())})
    }

    fn with(mut jwk: Value, name: &str, value: Value) -> Value {
        jwk[name] = value;
        jwk
    }

    #[test]
    fn a_key_the_jwk_types_cannot_read_is_left_out_alone() {
        let accepted = [Algorithm::EdDSA, Algorithm::RS256];
        let good = ed25519_jwk("good");
        assert!(parse_jwk(&good, &accepted).is_ok());
        for (entry, reason) in [
            (
                with(good.clone(), "key_ops", json!("verify")),
                "not a well-formed JWK",
            ),
            (
                with(good.clone(), "x5c", json!("not-an-array")),
                "not a well-formed JWK",
            ),
            (with(good.clone(), "kid", json!(5)), "not a well-formed JWK"),
            (with(good.clone(), "use", Value::Null), "use is not sig"),
            (with(good.clone(), "use", json!("enc")), "use is not sig"),
            (
                with(good.clone(), "alg", Value::Null),
                "alg is not a string",
            ),
            (with(good.clone(), "alg", json!("HS256")), "unsupported alg"),
            (with(good.clone(), "alg", json!("ES512")), "unsupported alg"),
            (
                with(good.clone(), "alg", json!("RS256")),
                "fits no accepted algorithm",
            ),
            (
                with(good.clone(), "crv", json!("X25519")),
                "unsupported key type",
            ),
            (with(good.clone(), "kid", json!("")), "no kid"),
            (
                json!({"kty": "oct", "kid": "k", "k": "c2VjcmV0"}),
                "symmetric key",
            ),
            (
                json!({"kty": "RSA", "kid": "k", "n": "AQAB"}),
                "missing key member",
            ),
            (
                json!({"kty": "EC", "crv": "P-521", "kid": "k", "x": "AA", "y": "AA"}),
                "unsupported curve",
            ),
            (json!("not an object"), "not a well-formed JWK"),
        ] {
            assert_eq!(parse_jwk(&entry, &accepted).err(), Some(reason), "{entry}");
        }
    }

    #[test]
    fn one_malformed_entry_leaves_the_rest_of_the_set_usable() {
        let jwks = json!({"keys": [with(ed25519_jwk("odd"), "key_ops", json!("verify")), ed25519_jwk("good")]});
        // Why the entries are parsed one by one: read as one `JwkSet`, the odd entry takes the good one with it.
        assert!(serde_json::from_value::<jsonwebtoken::jwk::JwkSet>(jwks.clone()).is_err());
        let cache = crate::JwksCache::preloaded(&jwks, vec![Algorithm::EdDSA]);
        assert_eq!(cache.len(), 1);
        assert!(cache.held_key("good").is_ok());
    }

    #[test]
    fn a_declared_alg_limits_the_key_to_it() {
        let jwk = with(ed25519_jwk("ed"), "alg", json!("EdDSA"));
        let (kid, key) = parse_jwk(&jwk, &[Algorithm::EdDSA]).expect("usable");
        assert_eq!(kid, "ed");
        assert!(key.verifier(Algorithm::EdDSA).is_some());
        assert!(key.verifier(Algorithm::RS256).is_none());
    }
}
