//! Distinct tokens for the "new token" cases, defined once for the benches of `m2m-auth` and `m2m-api`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use descope_local::LocalIssuer;
use serde_json::{Value, json};

/// Tokens presented in turn so that each is new to a full verified-token cache of the default size: a token
/// comes round again only after 16 × 1,024 others, by when the others have taken its doorkeeper slot (2 per
/// entry) about 8 times over, so it is let in on fewer than 1 in 2,000 of its returns: every use a miss and a
/// full check, the path of a token presented once. Minting them takes some seconds before timing starts.
pub const NEW_TOKENS: usize = 16 * m2m_auth::DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES;

/// `count` tokens with the claims and header of `token` (the issuer's own), each with a `jti` of its own.
pub fn distinct_tokens(issuer: &LocalIssuer, token: &str, count: usize) -> Vec<String> {
    let mut parts = token.split('.');
    let decode = |part: Option<&str>| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part.unwrap()).unwrap()).unwrap()
    };
    let header = decode(parts.next());
    let mut claims = decode(parts.next());
    (0..count)
        .map(|n| {
            claims["jti"] = json!(format!("bench-{n:06}"));
            issuer.sign_raw(&header, &claims)
        })
        .collect()
}
