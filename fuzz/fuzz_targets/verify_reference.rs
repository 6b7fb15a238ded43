//! The differential target: arbitrary input shaped into a signed token, given to the verifier and to
//! `jsonwebtoken` (tests/jwt-reference) at the same second. Whatever the verifier accepts, `jsonwebtoken`
//! must accept with the same claims, and every other difference must be a documented case (docs/contract.md
//! section 3, "Where this verifier is stricter than jsonwebtoken").
//!
//! Input: byte 0 picks the signing key and algorithm, byte 1 the configuration (bit 0: `JWT_AUDIENCE` set and
//! leeway 0; otherwise leeway 5 and no audience) and whether a signature byte is flipped (bit 1); the rest is
//! the header's JSON text, a newline, and the claims' JSON text. In both texts `@` followed by a number
//! (`@600`, `@-5.5`) becomes the current time plus that many seconds, so the time claims can sit on their
//! boundaries whenever the target runs. The text is signed as it is: invalid JSON, duplicate members and
//! odd encodings all reach the verifier. Seeds in `corpus/verify_reference` are readable examples.
#![no_main]

use jwt_reference::{AUDIENCE, BASE_URL, Outcome, PROJECT, Pair, Signer, SigningKeys};
use libfuzzer_sys::fuzz_target;
use m2m_auth::{AuthConfig, SUPPORTED_ALGORITHMS};
use serde_json::Value;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

struct Fixture {
    keys: SigningKeys,
    signers: Vec<Signer>,
    /// Leeway 5 s and no audience; leeway 0 and `JWT_AUDIENCE` required.
    pairs: [Pair; 2],
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let keys = SigningKeys::generate();
        let jwks: Value = keys.jwks();
        let pair = |leeway: u64, audience: Option<&str>| {
            let mut config = AuthConfig::descope(BASE_URL, PROJECT);
            config.algorithms = SUPPORTED_ALGORITHMS.to_vec();
            config.leeway = Duration::from_secs(leeway);
            config.audience = audience.map(str::to_owned);
            Pair::preloaded(&config, &jwks, BASE_URL, PROJECT)
        };
        Fixture {
            signers: keys.signers(),
            pairs: [pair(5, None), pair(0, Some(AUDIENCE))],
            keys,
        }
    })
}

/// `text` with every `@<number>` replaced by `now` plus that number.
fn with_times(text: &[u8], now: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        if byte != b'@' {
            out.push(byte);
            continue;
        }
        let end = rest
            .iter()
            .enumerate()
            .position(|(i, &b)| !(b.is_ascii_digit() || b == b'.' || (i == 0 && b == b'-')))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(end);
        rest = tail;
        match std::str::from_utf8(number)
            .ok()
            .and_then(|n| n.parse::<f64>().ok())
        {
            Some(offset) if offset.abs() < 1e12 => {
                let at = now as f64 + offset;
                let written = if at.fract() == 0.0 {
                    format!("{}", at as i64)
                } else {
                    format!("{at}")
                };
                out.extend_from_slice(written.as_bytes());
            }
            _ => {
                out.push(b'@');
                out.extend_from_slice(number);
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [pick, flags, text @ ..] = data else {
        return;
    };
    let fixture = fixture();
    let signer = fixture.signers[usize::from(*pick) % fixture.signers.len()];
    let pair = &fixture.pairs[usize::from(flags & 1)];
    let split = text.iter().position(|&b| b == b'\n').unwrap_or(text.len());
    let (header, claims) = text.split_at(split);
    let claims = claims.get(1..).unwrap_or_default();
    loop {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let mut token =
            fixture
                .keys
                .token(signer, &with_times(header, now), &with_times(claims, now));
        if flags & 2 != 0 {
            // Another first character of the signature: the signature no longer verifies.
            let (input, signature) = token.rsplit_once('.').unwrap_or_default();
            let mut bytes = signature.as_bytes().to_vec();
            if let Some(first) = bytes.first_mut() {
                *first = if *first == b'A' { b'B' } else { b'A' };
            }
            token = format!("{input}.{}", String::from_utf8_lossy(&bytes));
        }
        match pair.compare(&token) {
            Ok(Outcome::ClockMoved) => continue,
            Ok(_) => break,
            Err(mismatch) => panic!("{mismatch}"),
        }
    }
});
