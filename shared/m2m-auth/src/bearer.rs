//! The bearer token of a request (RFC 6750 section 2.1), read the same way by the protected functions, the
//! tower layer and the authorizer.

use http::{HeaderMap, header};

/// The token of the one `Authorization` header of `headers`. Several Authorization headers are refused as
/// ambiguous; so is a value that is not visible ASCII.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    bearer_credentials(value.to_str().ok()?)
}

/// The token of one `Authorization` value `Bearer <token>`: the scheme is case-insensitive, the token is a
/// b64token (`1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`).
pub fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim_start_matches(' ');
    let (body, padding) = token.split_at(token.trim_end_matches('=').len());
    let b64token = !body.is_empty()
        && all_b64token_chars(body.as_bytes())
        && padding.bytes().all(|b| b == b'=');
    b64token.then_some(token)
}

/// Whether every byte is a b64token character other than `=`. Every request checks every byte of its token
/// (about a kilobyte), so the test is branch-free arithmetic on 32-byte chunks, which the compiler turns into
/// vector comparisons: a byte-by-byte table walk that stops at the first bad byte cost five instructions a
/// byte, more than finding a repeated token in the verified-token cache.
fn all_b64token_chars(bytes: &[u8]) -> bool {
    let chunks = bytes.chunks_exact(32);
    let rest = chunks.remainder();
    chunks
        .into_iter()
        .all(|chunk| chunk.iter().fold(true, |ok, &b| ok & is_b64token_char(b)))
        && rest.iter().all(|&b| is_b64token_char(b))
}

/// `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`: `-./0-9` are the contiguous 0x2D..=0x39, and
/// `b | 0x20` folds `A-Z` onto `a-z` (and nothing else onto them).
#[inline(always)]
fn is_b64token_char(b: u8) -> bool {
    (b.wrapping_sub(b'-') < 13)
        | ((b | 0x20).wrapping_sub(b'a') < 26)
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn bearer_follows_rfc_6750() {
        assert_eq!(
            bearer_token(&headers(&["Bearer abc.def.ghi"])),
            Some("abc.def.ghi")
        );
        assert_eq!(bearer_token(&headers(&["bEaReR   abc"])), Some("abc"));
        assert_eq!(bearer_token(&headers(&["Bearer a=="])), Some("a=="));
        for bad in [
            "Basic abc",
            "Bearer",
            "Bearer ",
            "Bearerabc",
            "Bearer a b",
            "Bearer =a",
            "Bearer a=b",
            "Bearer <x>",
            "Bearer a,Bearer b",
        ] {
            assert_eq!(bearer_token(&headers(&[bad])), None, "{bad}");
        }
        assert_eq!(bearer_token(&headers(&["Bearer a", "Bearer b"])), None);
        for b in 0..=255u8 {
            let allowed = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(is_b64token_char(b), allowed, "byte {b}");
            // In every position of a chunk and of the remainder.
            for at in [0, 17, 31, 32, 40, 63, 64, 70] {
                let mut token = vec![b'a'; 71];
                token[at] = b;
                assert_eq!(all_b64token_chars(&token), allowed, "byte {b} at {at}");
            }
        }
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
