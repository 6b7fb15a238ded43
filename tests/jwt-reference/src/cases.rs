//! The documented differences between the verifier and `jsonwebtoken` (docs/contract.md section 3, "Where
//! this verifier is stricter than jsonwebtoken"). Each case is recognised from the token itself (and, for
//! [`Lenient`], from `jsonwebtoken`'s own reason), never from what generated it, so the fuzz target holds
//! arbitrary input to the same list as the property test.

use crate::Reference;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::{Error as ReferenceError, ErrorKind};
use m2m_auth::{MAX_TOKEN_BYTES, StrictJsonError, VerifyError, parse_strict_object};
use serde_json::Value;

/// The verifier refuses, `jsonwebtoken` (with the equivalent `Validation`) accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stricter {
    TooLarge,
    DuplicateMember,
    KidRequired,
    UnsupportedHeader,
    TypeNotJwt,
    KeyLeftOut,
    KeyDeclaresOtherAlgorithm,
    NullClaim,
    IssuedAtChecked,
    IssuerArray,
    ExpiryBoundary,
    NotBeforeRounding,
    NotASessionToken,
}

/// The verifier accepts, `jsonwebtoken` refuses: rules of `jsonwebtoken`'s that the contract does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lenient {
    ExpiryBeyondU64,
    NegativeNotBefore,
    HeaderMemberType,
    SubjectObjectOrArray,
}

impl Stricter {
    pub const ALL: [Stricter; 13] = [
        Stricter::TooLarge,
        Stricter::DuplicateMember,
        Stricter::KidRequired,
        Stricter::UnsupportedHeader,
        Stricter::TypeNotJwt,
        Stricter::KeyLeftOut,
        Stricter::KeyDeclaresOtherAlgorithm,
        Stricter::NullClaim,
        Stricter::IssuedAtChecked,
        Stricter::IssuerArray,
        Stricter::ExpiryBoundary,
        Stricter::NotBeforeRounding,
        Stricter::NotASessionToken,
    ];

    /// The line docs/contract.md gives the case.
    pub fn description(self) -> &'static str {
        match self {
            Stricter::TooLarge => "a token longer than 8 KiB is refused before decoding",
            Stricter::DuplicateMember => {
                "duplicate member names in the header or claims are refused (jsonwebtoken keeps the last)"
            }
            Stricter::KidRequired => {
                "`kid` is required (jsonwebtoken verifies with whichever key it is handed)"
            }
            Stricter::UnsupportedHeader => {
                "`crit`, `b64`, `cty` and `zip` are refused (jsonwebtoken accepts `cty`, `zip` and `crit: [\"b64\"]` with `b64: true`)"
            }
            Stricter::TypeNotJwt => "`typ`, when present, must be `JWT` or `at+jwt`",
            Stricter::KeyLeftOut => {
                "keys the Keys rule leaves out (e.g. `use` other than `sig`) verify nothing, though published"
            }
            Stricter::KeyDeclaresOtherAlgorithm => {
                "a key whose JWK declares an `alg` verifies only that algorithm"
            }
            Stricter::NullClaim => {
                "`nbf`, `iat` or `aud` present as `null` is refused (jsonwebtoken reads null as absent)"
            }
            Stricter::IssuedAtChecked => {
                "`iat` must be a number no later than now + L (jsonwebtoken does not read `iat`)"
            }
            Stricter::IssuerArray => {
                "`iss` must be a string (jsonwebtoken also accepts an array holding an accepted issuer)"
            }
            Stricter::ExpiryBoundary => {
                "`exp` from now − L − 0.5 s to now − L is expired (jsonwebtoken accepts `exp` = now − L and rounds fractions)"
            }
            Stricter::NotBeforeRounding => {
                "a fractional `nbf` less than 0.5 s after now + L is not yet valid (jsonwebtoken rounds it down)"
            }
            Stricter::NotASessionToken => {
                "`drn` other than `DS` (a refresh token) is refused; jsonwebtoken does not read it"
            }
        }
    }

    /// The documented case that explains why the verifier refused `token` with `error` at `now` though
    /// `reference` accepted it; `None` when none does.
    pub fn explain(
        error: &VerifyError,
        token: &str,
        now: u64,
        reference: &Reference,
    ) -> Option<Stricter> {
        let (header, claims) = decoded(token);
        let header_has = |name: &str| header.get(name).is_some();
        let claim = |name: &str| claims.get(name);
        let bound = |offset: f64| now as f64 + offset;
        let leeway = reference.leeway() as f64;
        let declared = |member: &str| {
            let entry = reference.entry(header.get("kid")?.as_str()?)?;
            Some(entry.get(member).cloned().unwrap_or(Value::Null))
        };
        let (case, holds) = match error {
            VerifyError::TooLarge => (Stricter::TooLarge, token.len() > MAX_TOKEN_BYTES),
            VerifyError::Malformed(reason) if reason.starts_with("duplicate member") => {
                let mut parts = token.split('.').map(|part| {
                    let bytes = URL_SAFE_NO_PAD.decode(part).unwrap_or_default();
                    matches!(
                        parse_strict_object(&bytes),
                        Err(StrictJsonError::DuplicateMember)
                    )
                });
                let holds = parts.next() == Some(true) || parts.next() == Some(true);
                (Stricter::DuplicateMember, holds)
            }
            VerifyError::MissingKid => (Stricter::KidRequired, !header_has("kid")),
            VerifyError::UnsupportedHeader(name) => (Stricter::UnsupportedHeader, header_has(name)),
            VerifyError::UnexpectedType => {
                let typ = header.get("typ").and_then(Value::as_str);
                let expected = typ.is_some_and(|typ| {
                    typ.eq_ignore_ascii_case("JWT") || typ.eq_ignore_ascii_case("at+jwt")
                });
                (Stricter::TypeNotJwt, header_has("typ") && !expected)
            }
            VerifyError::UnknownKey => (
                Stricter::KeyLeftOut,
                declared("use").is_some_and(|usage| usage != Value::Null && usage != "sig"),
            ),
            VerifyError::KeyAlgorithmMismatch => (
                Stricter::KeyDeclaresOtherAlgorithm,
                declared("alg")
                    .is_some_and(|alg| alg.is_string() && Some(&alg) != header.get("alg")),
            ),
            VerifyError::InvalidClaimType(name) if claim(name).is_some_and(Value::is_null) => {
                (Stricter::NullClaim, true)
            }
            VerifyError::InvalidClaimType("iat") => (
                Stricter::IssuedAtChecked,
                claim("iat").is_some_and(|iat| !iat.is_number()),
            ),
            VerifyError::IssuedInFuture => (
                Stricter::IssuedAtChecked,
                number(claim("iat")).is_some_and(|iat| iat > bound(leeway)),
            ),
            VerifyError::InvalidClaimType("iss") => (
                Stricter::IssuerArray,
                claim("iss").is_some_and(Value::is_array),
            ),
            VerifyError::Expired => (
                Stricter::ExpiryBoundary,
                number(claim("exp"))
                    .is_some_and(|exp| exp <= bound(-leeway) && exp >= bound(-leeway - 0.5)),
            ),
            VerifyError::NotYetValid => (
                Stricter::NotBeforeRounding,
                number(claim("nbf"))
                    .is_some_and(|nbf| nbf > bound(leeway) && nbf < bound(leeway + 0.5)),
            ),
            VerifyError::NotASessionToken => (
                Stricter::NotASessionToken,
                claim("drn").is_some_and(|drn| drn != "DS"),
            ),
            _ => return None,
        };
        holds.then_some(case)
    }
}

impl Lenient {
    pub const ALL: [Lenient; 4] = [
        Lenient::ExpiryBeyondU64,
        Lenient::NegativeNotBefore,
        Lenient::HeaderMemberType,
        Lenient::SubjectObjectOrArray,
    ];

    pub fn description(self) -> &'static str {
        match self {
            Lenient::ExpiryBeyondU64 => {
                "`exp` of 2^64 or more is accepted (jsonwebtoken reads NumericDates as u64 and refuses it)"
            }
            Lenient::NegativeNotBefore => {
                "a negative `nbf` (before 1970) is accepted (jsonwebtoken refuses it as malformed)"
            }
            Lenient::HeaderMemberType => {
                "header members this verifier never reads (`jku`, `jwk`, `x5u`, `x5c`, `x5t`, `x5t#S256`, `enc`, `url`, `nonce`) are not type-checked"
            }
            Lenient::SubjectObjectOrArray => {
                "a `sub` that is an object or an array is accepted (jsonwebtoken's claim reader loses its place in the payload and refuses it)"
            }
        }
    }

    /// The documented case that explains why `jsonwebtoken` refused `token` (accepted by the verifier)
    /// with `refusal`; `None` when none does.
    pub fn explain(token: &str, refusal: &ReferenceError) -> Option<Lenient> {
        let (header, claims) = decoded(token);
        let claim = |name: &str| claims.get(name);
        let (case, holds) = match refusal.kind() {
            ErrorKind::MissingRequiredClaim(name) if name == "exp" => (
                Lenient::ExpiryBeyondU64,
                claim("exp").is_some_and(|exp| {
                    exp.as_u64().is_none() && exp.as_f64().is_some_and(|exp| exp >= u64::MAX as f64)
                }),
            ),
            ErrorKind::InvalidClaimFormat(name) if name == "nbf" => (
                Lenient::NegativeNotBefore,
                number(claim("nbf")).is_some_and(|nbf| nbf < 0.0),
            ),
            ErrorKind::Json(_) => {
                let reads = |header: &serde_json::Map<String, Value>| {
                    serde_json::from_value::<jsonwebtoken::Header>(Value::Object(header.clone()))
                        .is_ok()
                };
                let mut unread = header.clone();
                for name in UNREAD_HEADER_MEMBERS {
                    unread.remove(name);
                }
                if !reads(&header) && reads(&unread) {
                    (Lenient::HeaderMemberType, true)
                } else {
                    let sub = claim("sub");
                    let holds = sub.is_some_and(|sub| sub.is_object() || sub.is_array());
                    (Lenient::SubjectObjectOrArray, holds)
                }
            }
            _ => return None,
        };
        holds.then_some(case)
    }
}

/// The header members `jsonwebtoken::Header` gives a type and the verifier never reads (docs/contract.md
/// section 3: never followed).
const UNREAD_HEADER_MEMBERS: [&str; 9] = [
    "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "enc", "url", "nonce",
];

fn number(value: Option<&Value>) -> Option<f64> {
    value.and_then(Value::as_f64)
}

/// The header and claims as plain JSON (the last of duplicate members wins); empty when a part is not an
/// object.
fn decoded(
    token: &str,
) -> (
    serde_json::Map<String, Value>,
    serde_json::Map<String, Value>,
) {
    let mut parts = token.split('.').map(|part| {
        URL_SAFE_NO_PAD
            .decode(part)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    });
    let header = parts.next().unwrap_or_default();
    let claims = parts.next().unwrap_or_default();
    (header, claims)
}
