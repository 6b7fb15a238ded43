//! The compact JWS serialization (RFC 7515 section 7.1), parsed strictly.

use crate::{JsonObject, VerifyError, strict_json::parse_strict_object};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Longest token accepted; longer input is refused before any decoding (a Descope session token is
/// well under 2 KiB).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// A token split into its parts, with the header decoded. The payload stays encoded until the signature
/// has been checked, so unauthenticated claims are never parsed.
pub(crate) struct CompactJws<'a> {
    pub header: JsonObject,
    pub signing_input: &'a [u8],
    pub payload: &'a str,
    pub signature: Vec<u8>,
}

pub(crate) fn split(token: &str) -> Result<CompactJws<'_>, VerifyError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(VerifyError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed("expected three dot-separated parts"));
    };
    if header.is_empty() || payload.is_empty() {
        return Err(VerifyError::Malformed("empty header or payload"));
    }
    if signature.is_empty() {
        return Err(VerifyError::Malformed("empty signature"));
    }
    let header = decode_object(header, "header")?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| VerifyError::Malformed("signature is not unpadded base64url"))?;
    let signing_input = &token.as_bytes()[..token.len() - signature_len(token)];
    Ok(CompactJws {
        header,
        signing_input,
        payload,
        signature,
    })
}

/// Length of the signature part plus its leading dot.
fn signature_len(token: &str) -> usize {
    token.len() - token.rfind('.').unwrap_or(0)
}

pub(crate) fn decode_object(part: &str, what: &'static str) -> Result<JsonObject, VerifyError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| {
        VerifyError::Malformed(if what == "header" {
            "header is not unpadded base64url"
        } else {
            "payload is not unpadded base64url"
        })
    })?;
    parse_strict_object(&bytes).map_err(|error| {
        VerifyError::Malformed(match (what, error) {
            ("header", crate::StrictJsonError::DuplicateMember) => "duplicate member in header",
            ("header", _) => "header is not a JSON object",
            (_, crate::StrictJsonError::DuplicateMember) => "duplicate member in payload",
            _ => "payload is not a JSON object",
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn splits_a_well_formed_token() {
        let token = format!("{}.{}.{}", b64(r#"{"alg":"RS256"}"#), b64("{}"), b64("sig"));
        let jws = split(&token).unwrap();
        assert_eq!(jws.header["alg"], "RS256");
        assert_eq!(jws.signature, b"sig");
        assert_eq!(
            jws.signing_input,
            token.rsplit_once('.').unwrap().0.as_bytes()
        );
    }

    #[test]
    fn refuses_ambiguous_encodings() {
        let header = b64(r#"{"alg":"RS256"}"#);
        for token in [
            format!("{header}.{}.", b64("{}")),
            format!("{header}.{}.{}=", b64("{}"), b64("sig")),
            format!("{header}.{}.c2l+", b64("{}")),
            format!("{header}.{}.{}.x", b64("{}"), b64("sig")),
            format!("{header}=.{}.{}", b64("{}"), b64("sig")),
            format!(
                "{}.{}.{}",
                b64(r#"{"alg":"RS256","alg":"none"}"#),
                b64("{}"),
                b64("s")
            ),
            "....".to_owned(),
            "a".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            assert!(split(&token).is_err(), "{token}");
        }
    }
}
