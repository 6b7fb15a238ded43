//! The attack table's rows on the token's encoding: ambiguous base64url and JSON, size and dots, `kid`
//! injection.

use super::kit::*;
use super::{Case, Env, Expect, Via, case, tok};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use m2m_tests::*;
use serde_json::json;

/// The rows of this family.
#[rustfmt::skip] // one case a row or two, so that the table reads down its ids, expectations and anchors
pub(super) fn cases() -> Vec<Case> {
    use Expect::*;
    vec![
        // ---- ambiguous encodings -------------------------------------------------------------------------
        case("header-padded", "ambiguous-encoding", "RFC 7515 §2 (base64url without padding)",
            |c| { let t = c.signed(json!({"pad": "x"}), json!({})); let (h, rest) = t.split_once('.').unwrap();
                  tok(format!("{h}=.{rest}")) }, Invalid("malformed token: header is not unpadded base64url")).via(Via::At),
        case("payload-padded-and-signed", "ambiguous-encoding", "RFC 7515 §2 / aws-jwt-verify (strict base64url)",
            |c| { let h = b64(serde_json::to_vec(&c.own_header("RS256", json!({}))).unwrap());
                  let p = b64(with_unused_bits(&c.own_claims(json!({}))));
                  tok(c.own.token_from_parts("RS256", &h, &format!("{p}="))) }, Invalid("malformed token: payload is not unpadded base64url")).env(Env::Own).via(Via::At),
        case("padding-mid-token-in-header", "ambiguous-encoding", "RFC 6750 §2.1 (b64token: '=' only at the end)",
            |c| { let t = c.signed(json!({"pad": "x"}), json!({})); let (h, rest) = t.split_once('.').unwrap();
                  tok(format!("{h}=.{rest}")) }, NoAuth),
        case("signature-padded", "ambiguous-encoding", "RFC 7515 §2",
            |c| tok(format!("{}=", c.signed(json!({}), json!({})))), Invalid("malformed token: signature is not unpadded base64url")),
        case("signature-standard-alphabet", "ambiguous-encoding", "RFC 4648 §5 (URL alphabet only)",
            |c| { let t = c.signed(json!({}), json!({})); let (i, s) = t.rsplit_once('.').unwrap();
                  let std = STANDARD_NO_PAD.encode(URL_SAFE_NO_PAD.decode(s).unwrap());
                  assert!(std.contains(['+', '/'])); tok(format!("{i}.{std}")) },
            Invalid("malformed token: signature is not unpadded base64url")),
        case("payload-standard-alphabet-signed", "ambiguous-encoding", "RFC 4648 §5",
            |c| { let h = b64(serde_json::to_vec(&c.own_header("RS256", json!({}))).unwrap());
                  let p = (0..3).map(|n| STANDARD_NO_PAD.encode(c.own_claims(json!({"x": format!("{}???", "?".repeat(n))})).to_string()))
                      .find(|p| p.contains(['+', '/'])).unwrap();
                  tok(c.own.token_from_parts("RS256", &h, &p)) }, Invalid("malformed token: payload is not unpadded base64url")).env(Env::Own),
        case("signature-noncanonical-trailing-bits", "ambiguous-encoding", "RFC 4648 §3.5 (canonical encoding; signature malleability)",
            |c| { let t = c.signed(json!({}), json!({})); let (i, s) = t.rsplit_once('.').unwrap(); tok(format!("{i}.{}", noncanonical(s))) },
            Invalid("malformed token: signature is not unpadded base64url")),
        case("header-noncanonical-trailing-bits", "ambiguous-encoding", "RFC 4648 §3.5",
            |c| { let h = noncanonical(&b64(with_unused_bits(&header(&c.issuer, json!({})))));
                  tok(format!("{h}.{}.{}", b64(c.valid_claims_text()), c.real_signature())) },
            Invalid("malformed token: header is not unpadded base64url")),
        case("payload-noncanonical-trailing-bits-signed", "ambiguous-encoding", "RFC 4648 §3.5",
            |c| { let h = b64(serde_json::to_vec(&c.own_header("RS256", json!({}))).unwrap());
                  let p = noncanonical(&b64(with_unused_bits(&c.own_claims(json!({})))));
                  tok(c.own.token_from_parts("RS256", &h, &p)) }, Invalid("malformed token: payload is not unpadded base64url")).env(Env::Own),
        case("space-inside-token", "ambiguous-encoding", "RFC 6750 §2.1 (b64token)",
            |c| { let t = c.signed(json!({}), json!({})); tok(format!("{} {}", &t[..20], &t[20..])) }, NoAuth),
        case("tab-inside-token", "ambiguous-encoding", "RFC 6750 §2.1",
            |c| { let t = c.signed(json!({}), json!({})); tok(format!("{}\t{}", &t[..20], &t[20..])) }, NoAuth),
        case("json-whitespace-is-fine", "ambiguous-encoding", "RFC 8259 §2 (insignificant whitespace; control)",
            |c| { let header = format!("{{ \"alg\" : \"RS256\" ,\n \"kid\" : \"{RSA_KID}\" }}");
                  let payload = serde_json::to_string_pretty(&c.own_claims(json!({}))).unwrap();
                  tok(c.own.token_bytes("RS256", header.as_bytes(), payload.as_bytes())) }, Pass).env(Env::Own),
        case("duplicate-alg-in-header", "ambiguous-encoding", "RFC 7515 §5.2 / RFC 8725 §2.6",
            |c| tok(c.raw(format!(r#"{{"alg":"RS256","kid":"{}","alg":"none"}}"#, c.kid()).as_bytes(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("malformed token: duplicate member in header")),
        case("duplicate-kid-in-header", "ambiguous-encoding", "RFC 7515 §5.2",
            |c| tok(c.raw(format!(r#"{{"alg":"RS256","kid":"other","kid":"{}"}}"#, c.kid()).as_bytes(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("malformed token: duplicate member in header")),
        case("duplicate-roles-in-payload", "ambiguous-encoding", "RFC 7519 §4 (claim names unique) / RFC 8725 §2.6",
            |c| tok(c.own_payload_text(c.own_claims_text_with(r#""roles":["admin"]"#).as_bytes())),
            Invalid("malformed token: duplicate member in payload")).env(Env::Own),
        case("duplicate-exp-escaped-name", "ambiguous-encoding", "RFC 8259 §7 (\\u0065xp is exp)",
            |c| tok(c.own_payload_text(c.own_claims_text_with(r#""\u0065xp":99999999999"#).as_bytes())),
            Invalid("malformed token: duplicate member in payload")).env(Env::Own),
        case("duplicate-nested-in-tenants", "ambiguous-encoding", "RFC 7519 §4",
            |c| tok(c.own_payload_text(c.own_claims_text_with(r#""x":{"T":{"roles":[],"roles":["admin"]}}"#).as_bytes())),
            Invalid("malformed token: duplicate member in payload")).env(Env::Own),
        case("payload-invalid-utf8", "ambiguous-encoding", "RFC 8259 §8.1 (UTF-8) / RFC 8725 §3.7",
            |c| { let mut p = c.own_claims_text_with(r#""x":"@""#).into_bytes();
                  let i = p.iter().position(|&b| b == b'@').unwrap(); p[i] = 0xFF; tok(c.own_payload_text(&p)) },
            Invalid("malformed token: payload is not a JSON object")).env(Env::Own),
        case("header-invalid-utf8", "ambiguous-encoding", "RFC 8725 §3.7",
            |c| tok(c.raw(&[br#"{"alg":"RS256","kid":""#.as_slice(), &[0xC0, 0xAF], b"\"}"].concat(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("malformed token: header is not a JSON object")),
        case("payload-lone-surrogate", "ambiguous-encoding", "RFC 8259 §8.2 (unpaired surrogate)",
            |c| tok(c.own_payload_text(c.own_claims_text_with(r#""sub2":"\ud800""#).as_bytes())),
            Invalid("malformed token: payload is not a JSON object")).env(Env::Own),
        case("header-bom", "ambiguous-encoding", "RFC 8259 §8.1 (no byte order mark)",
            |c| tok(c.raw(format!("\u{FEFF}{}", header(&c.issuer, json!({}))).as_bytes(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("malformed token: header is not a JSON object")),
        case("payload-bom-signed", "ambiguous-encoding", "RFC 8259 §8.1",
            |c| tok(c.own_payload_text(format!("\u{FEFF}{}", c.own_claims(json!({}))).as_bytes())),
            Invalid("malformed token: payload is not a JSON object")).env(Env::Own),
        case("payload-trailing-data-signed", "ambiguous-encoding", "RFC 8259 §2 (one value) / CVE-2022-39227 (polyglot tokens)",
            |c| tok(c.own_payload_text(format!("{} {{\"roles\":[\"admin\"]}}", c.own_claims(json!({}))).as_bytes())),
            Invalid("malformed token: payload is not a JSON object")).env(Env::Own),
        case("header-trailing-data", "ambiguous-encoding", "RFC 8259 §2",
            |c| tok(c.raw(format!("{}x", header(&c.issuer, json!({}))).as_bytes(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("malformed token: header is not a JSON object")),
        case("header-is-array", "ambiguous-encoding", "aws-jwt-verify test: JWT with header that is not an object",
            |c| tok(c.raw(format!(r#"[{{"alg":"RS256","kid":"{}"}}]"#, c.kid()).as_bytes(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("malformed token: header is not a JSON object")),
        case("payload-is-number-signed", "ambiguous-encoding", "aws-jwt-verify test: JWT with payload that is not an object",
            |c| tok(c.own_payload_text(b"123")), Invalid("malformed token: payload is not a JSON object")).env(Env::Own),
        case("payload-depth-bomb-signed", "ambiguous-encoding", "RFC 8259 §9 (nesting limits)",
            |c| tok(c.own_payload_text(c.own_claims_text_with(&format!("\"deep\":{}{}", "[".repeat(2000), "]".repeat(2000))).as_bytes())),
            Invalid("malformed token: payload is not a JSON object")).env(Env::Own),
        case("header-depth-bomb", "ambiguous-encoding", "RFC 8259 §9",
            |c| tok(c.raw(format!(r#"{{"alg":"RS256","kid":"{}","x":{}{}}}"#, c.kid(), "[".repeat(1000), "]".repeat(1000)).as_bytes(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("malformed token: header is not a JSON object")),
        case("payload-non-ascii-part", "ambiguous-encoding", "panva/jose test: Compact JWS payload checks ('é')",
            |c| { let h = b64(serde_json::to_vec(&c.own_header("RS256", json!({}))).unwrap()); tok(c.own.token_from_parts("RS256", &h, "é")) },
            Invalid("malformed token: payload is not unpadded base64url")).env(Env::Own).via(Via::At),
        case("empty-header-and-payload", "ambiguous-encoding", "RFC 7515 §7.1",
            |c| tok(format!("..{}", c.real_signature())), Invalid("malformed token: empty header or payload")),
        case("five-dots", "ambiguous-encoding", "panva/jose test: JWS format validation ('.....')",
            |_| tok(".....".into()), Invalid("malformed token: expected three dot-separated parts")),
        case("no-dots", "ambiguous-encoding", "RFC 7515 §7.1 (three dot-separated parts)",
            |_| tok("garbage".into()), Invalid("malformed token: expected three dot-separated parts")),
        case("four-parts", "ambiguous-encoding", "aws-jwt-verify test: JWT with more than 3 parts",
            |c| tok(format!("{}.{}", c.signed(json!({}), json!({})), c.real_signature())), Invalid("malformed token: expected three dot-separated parts")),
        case("json-serialization", "ambiguous-encoding", "CVE-2022-39227 (JSON and compact forms mixed)",
            |c| { let t = c.signed(json!({}), json!({})); let p: Vec<&str> = t.split('.').collect();
                  tok(json!({"protected": p[0], "payload": p[1], "signature": p[2]}).to_string()) },
            Invalid("malformed token: expected three dot-separated parts")).via(Via::At),

        // ---- size and dots -----------------------------------------------------------------------------
        case("exactly-8192-bytes", "size", "docs/contract.md section 3 (8 KiB limit, inclusive)",
            |c| tok(c.token_of_length(8192)), Pass),
        case("exactly-8193-bytes", "size", "docs/contract.md section 3 (8 KiB limit)",
            |c| tok(c.token_of_length(8193)), Invalid("token exceeds 8192 bytes")),
        case("garbage-8193-bytes", "size", "docs/contract.md section 3 (refused before decoding)",
            |_| tok("A".repeat(8193)), Invalid("token exceeds 8192 bytes")),
        case("8000-dots", "size", "RFC 7515 §7.1 (DoS by separators)",
            |_| tok(".".repeat(8000)), Invalid("malformed token: expected three dot-separated parts")),
        case("100k-dots", "size", "docs/contract.md section 3",
            |_| tok(".".repeat(100_000)), Invalid("token exceeds 8192 bytes")),
        case("header-7kb-unsigned", "size", "RFC 8725 §3.4 (validate inputs; header parsed before the signature)",
            |c| tok(c.raw(json!({"alg": "RS256", "kid": c.kid(), "x": "y".repeat(5000)}).to_string().as_bytes(), &c.valid_claims_text(), &c.real_signature())),
            Invalid("invalid signature")),
        case("header-1mb", "size", "docs/contract.md section 3",
            |c| tok(c.raw(json!({"alg": "RS256", "kid": c.kid(), "x": "y".repeat(1 << 20)}).to_string().as_bytes(), b"{}", "AA")),
            Invalid("token exceeds 8192 bytes")),

        // ---- kid injection ---------------------------------------------------------------------------------
        case("kid-path-traversal", "kid-injection", "RFC 8725 §3.10 (kid path traversal)",
            |c| tok(c.signed(json!({"kid": "../../../../../../dev/null"}), json!({}))), Invalid("no signing key matches the token's 'kid'")),
        case("kid-sql-injection", "kid-injection", "RFC 8725 §3.10 (kid SQL injection)",
            |c| tok(c.signed(json!({"kid": "x' UNION SELECT 'secret' --"}), json!({}))), Invalid("no signing key matches the token's 'kid'")),
        case("kid-very-long", "kid-injection", "RFC 8725 §3.10",
            |c| tok(c.signed(json!({"kid": "k".repeat(5000)}), json!({}))), Invalid("no signing key matches the token's 'kid'")),
        case("kid-nul-suffix", "kid-injection", "RFC 8725 §3.10",
            |c| tok(c.signed(json!({"kid": format!("{}\u{0}", c.kid())}), json!({}))), Invalid("no signing key matches the token's 'kid'")),
        case("kid-case-changed", "kid-injection", "RFC 7515 §4.1.4 (case-sensitive)",
            |c| tok(c.signed(json!({"kid": c.kid().to_lowercase()}), json!({}))), Invalid("no signing key matches the token's 'kid'")),
        case("kid-unknown", "kid-injection", "RFC 7515 §4.1.4 (a kid the key set does not hold)",
            |c| tok(c.signed(json!({"kid": "no-such-kid"}), json!({}))), Invalid("no signing key matches the token's 'kid'")),
        case("kid-number", "kid-injection", "RFC 7515 §4.1.4 (kid is a string)",
            |c| tok(c.signed(json!({"kid": 1}), json!({}))), Invalid("header is missing 'kid'")),
        case("kid-array", "kid-injection", "RFC 7515 §4.1.4",
            |c| tok(c.signed(json!({"kid": [c.kid()]}), json!({}))), Invalid("header is missing 'kid'")),
        case("kid-json-null", "kid-injection", "RFC 7515 §4.1.4",
            |c| tok(c.raw(br#"{"alg":"RS256","kid":null}"#, &c.valid_claims_text(), &c.real_signature())), Invalid("header is missing 'kid'")),
        case("kid-empty", "kid-injection", "docs/contract.md section 3 (kid required)",
            |c| tok(c.signed(json!({"kid": ""}), json!({}))), Invalid("header is missing 'kid'")),
        case("kid-missing", "kid-injection", "docs/contract.md section 3 (kid required)",
            |c| tok(c.signed(json!({"kid": null}), json!({}))), Invalid("header is missing 'kid'")),
        case("kid-nosql-object", "kid-injection", "RFC 8725 §3.10 (NoSQL operator injection)",
            |c| tok(c.signed(json!({"kid": {"$ne": null}}), json!({}))), Invalid("header is missing 'kid'")),
    ]
}
