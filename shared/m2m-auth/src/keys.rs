//! Signing keys from a JWKS, parsed once when the set is fetched so that verifying costs only the
//! signature check itself.

use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
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

/// Parses one JWK, keeping only what docs/contract.md section 3 allows. Returns the key's `kid` and the key.
pub(crate) fn parse_jwk(
    jwk: &Value,
    accepted: &[Algorithm],
) -> Result<(String, VerifyingKey), Ignored> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    let kid = field("kid").filter(|kid| !kid.is_empty()).ok_or("no kid")?;
    if jwk.get("use").is_some() && field("use") != Some("sig") {
        return Err("use is not sig");
    }
    let declared_alg = match jwk.get("alg") {
        None => None,
        Some(Value::String(name)) => Some(crate::parse_algorithm(name).ok_or("unsupported alg")?),
        Some(_) => return Err("alg is not a string"),
    };
    let (material, fits): (Vec<u8>, fn(Algorithm) -> bool) = match field("kty") {
        Some("RSA") => (rsa_public_key_der(field("n"), field("e"))?, is_rsa_alg),
        Some("EC") => match field("crv") {
            Some("P-256") => (ec_point(field("x"), field("y"), 32)?, |a| {
                a == Algorithm::ES256
            }),
            Some("P-384") => (ec_point(field("x"), field("y"), 48)?, |a| {
                a == Algorithm::ES384
            }),
            _ => return Err("unsupported curve"),
        },
        Some("OKP") if field("crv") == Some("Ed25519") => {
            let x = decode(field("x"))?;
            if x.len() != 32 {
                return Err("bad Ed25519 key");
            }
            (x, |a| a == Algorithm::EdDSA)
        }
        Some("oct") => return Err("symmetric key"),
        _ => return Err("unsupported key type"),
    };
    let mut verifiers = Vec::new();
    for &alg in accepted {
        if !fits(alg) || declared_alg.is_some_and(|declared| declared != alg) {
            continue;
        }
        let key = ParsedPublicKey::new(verification_algorithm(alg), &material)
            .map_err(|_| "key rejected")?;
        verifiers.push((alg, key));
    }
    if verifiers.is_empty() {
        return Err("fits no accepted algorithm");
    }
    Ok((kid.to_owned(), VerifyingKey { verifiers }))
}

fn is_rsa_alg(alg: Algorithm) -> bool {
    matches!(
        alg,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
    )
}

pub(crate) fn verification_algorithm(alg: Algorithm) -> &'static dyn VerificationAlgorithm {
    match alg {
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::EdDSA => &signature::ED25519,
        // Only SUPPORTED_ALGORITHMS reach here; RS256 is the remaining one.
        _ => &signature::RSA_PKCS1_2048_8192_SHA256,
    }
}

fn decode(value: Option<&str>) -> Result<Vec<u8>, Ignored> {
    URL_SAFE_NO_PAD
        .decode(value.ok_or("missing key member")?)
        .map_err(|_| "key member is not base64url")
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// DER `RSAPublicKey` (RFC 8017 appendix A.1.1) from the JWK's `n` and `e`, after the strength checks.
fn rsa_public_key_der(n: Option<&str>, e: Option<&str>) -> Result<Vec<u8>, Ignored> {
    let n = decode(n)?;
    let e = decode(e)?;
    let n = strip_leading_zeros(&n);
    if strip_leading_zeros(&e) != [0x01, 0x00, 0x01] {
        return Err("RSA exponent is not 65537");
    }
    // An empty (or all-zero) modulus is no key; checked before the bit count, which assumes a first byte.
    let Some(&first) = n.first() else {
        return Err("RSA modulus is empty");
    };
    let bits = n.len() * 8 - first.leading_zeros() as usize;
    if bits < 2048 {
        return Err("RSA key shorter than 2048 bits");
    }
    if bits > 8192 {
        return Err("RSA key longer than 8192 bits");
    }
    let mut body = der_integer(n);
    body.extend(der_integer(&[0x01, 0x00, 0x01]));
    let mut der = vec![0x30];
    der.extend(der_length(body.len()));
    der.extend(body);
    Ok(der)
}

fn der_integer(magnitude: &[u8]) -> Vec<u8> {
    let pad = magnitude.first().is_some_and(|b| b & 0x80 != 0);
    let mut out = vec![0x02];
    out.extend(der_length(magnitude.len() + usize::from(pad)));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(magnitude);
    out
}

fn der_length(len: usize) -> Vec<u8> {
    match len {
        0..=0x7f => vec![len as u8],
        0x80..=0xff => vec![0x81, len as u8],
        _ => vec![0x82, (len >> 8) as u8, len as u8],
    }
}

/// Uncompressed SEC1 point from the JWK's `x` and `y`; the curve check happens when it is parsed.
fn ec_point(x: Option<&str>, y: Option<&str>, size: usize) -> Result<Vec<u8>, Ignored> {
    let (x, y) = (decode(x)?, decode(y)?);
    if x.len() != size || y.len() != size {
        return Err("EC coordinates have the wrong length");
    }
    let mut point = vec![0x04];
    point.extend(x);
    point.extend(y);
    Ok(point)
}
