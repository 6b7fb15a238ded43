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
        && body.bytes().all(|b| B64TOKEN_CHAR[usize::from(b)])
        && padding.bytes().all(|b| b == b'=');
    b64token.then_some(token)
}

/// The characters of a b64token other than its `=` padding, as a table: every request checks every byte of
/// its token (about a kilobyte), and one load per byte measured a third of the chain of comparisons.
const B64TOKEN_CHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] =
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    table
};

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
            assert_eq!(B64TOKEN_CHAR[usize::from(b)], allowed, "byte {b}");
        }
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
