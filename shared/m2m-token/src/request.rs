//! The body of `POST /m2m/token`, validated field by field so that every error names the field and none
//! echoes a value (a misplaced access key must not come back in an error).

use crate::TokenError;
use m2m_auth::{StrictJsonError, is_identifier, is_scope_token, parse_strict_object};
use serde_json::Value;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
const MAX_SCOPES: usize = 32;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRequest {
    pub project_id: Option<String>,
    pub access_key: Option<String>,
    pub scopes: Vec<String>,
    pub tenant: Option<String>,
}

impl TokenRequest {
    /// Parses and validates a request body. An empty body is an empty request. JSON `null` counts as absent.
    pub fn parse(body: &[u8]) -> Result<TokenRequest, TokenError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(bad(format!("Request body exceeds {MAX_BODY_BYTES} bytes")));
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(TokenRequest::default());
        }
        let object = parse_strict_object(body).map_err(|error| match error {
            StrictJsonError::DuplicateMember => bad("Request body has a duplicate member".into()),
            _ => bad("Request body must be a JSON object".into()),
        })?;
        let mut request = TokenRequest::default();
        for (name, value) in &object {
            // An unknown member is refused whatever its value (even `null`): a misspelt `accesskey` must
            // not pass silently. Its name is not repeated: it is caller input.
            let known = matches!(
                name.as_str(),
                "projectId" | "accessKey" | "scopes" | "tenant"
            );
            if !known {
                return Err(bad(
                    "Request body has an unknown field (expected projectId, accessKey, scopes, tenant)"
                        .into(),
                ));
            }
            if value.is_null() {
                continue;
            }
            match name.as_str() {
                "projectId" => request.project_id = Some(identifier("projectId", value)?),
                "tenant" => request.tenant = Some(identifier("tenant", value)?),
                "accessKey" => request.access_key = Some(access_key(value)?),
                _ => request.scopes = scopes(value)?,
            }
        }
        // A project named without a key would pair the caller's choice of project with the stack's own key.
        if request.project_id.is_some() && request.access_key.is_none() {
            return Err(bad("'projectId' can only be sent with 'accessKey'".into()));
        }
        Ok(request)
    }
}

fn bad(message: String) -> TokenError {
    TokenError::BadRequest(message)
}

fn identifier(field: &str, value: &Value) -> Result<String, TokenError> {
    match value.as_str() {
        Some(text) if is_identifier(text) => Ok(text.to_owned()),
        _ => Err(bad(format!(
            "'{field}' must be a string of 1-128 characters of A-Z, a-z, 0-9, '_' or '-'"
        ))),
    }
}

/// An access key (or OAuth client secret, or client id): 1-1024 printable ASCII characters without spaces,
/// wherever it comes from (a request body, the secret, the environment).
pub(crate) fn is_access_key(text: &str) -> bool {
    (1..=1024).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic())
}

fn access_key(value: &Value) -> Result<String, TokenError> {
    match value.as_str() {
        Some(text) if is_access_key(text) => Ok(text.to_owned()),
        _ => Err(bad(
            "'accessKey' must be a string of 1-1024 printable ASCII characters without spaces"
                .into(),
        )),
    }
}

fn scopes(value: &Value) -> Result<Vec<String>, TokenError> {
    let Some(items) = value.as_array().filter(|items| items.len() <= MAX_SCOPES) else {
        return Err(bad(format!(
            "'scopes' must be an array of at most {MAX_SCOPES} strings"
        )));
    };
    let mut scopes: Vec<String> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match item.as_str() {
            Some(scope) if is_scope_token(scope) => {
                if !scopes.iter().any(|s| s == scope) {
                    scopes.push(scope.to_owned());
                }
            }
            _ => {
                return Err(bad(format!(
                    "'scopes[{index}]' must be 1-128 characters of the OAuth 2.0 scope character set (no spaces, quotes or backslashes)"
                )));
            }
        }
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(body: &str) -> String {
        TokenRequest::parse(body.as_bytes())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn empty_bodies_are_empty_requests() {
        assert_eq!(TokenRequest::parse(b"").unwrap(), TokenRequest::default());
        assert_eq!(
            TokenRequest::parse(b" \n").unwrap(),
            TokenRequest::default()
        );
        assert_eq!(TokenRequest::parse(b"{}").unwrap(), TokenRequest::default());
        assert_eq!(
            TokenRequest::parse(br#"{"tenant":null}"#).unwrap(),
            TokenRequest::default()
        );
    }

    #[test]
    fn reads_every_field() {
        let request =
            TokenRequest::parse(br#"{"projectId":"P2x","accessKey":"k:1","scopes":["read:data","admin","admin"],"tenant":"T_1"}"#)
                .unwrap();
        assert_eq!(request.project_id.as_deref(), Some("P2x"));
        assert_eq!(request.access_key.as_deref(), Some("k:1"));
        assert_eq!(request.scopes, ["read:data", "admin"]);
        assert_eq!(request.tenant.as_deref(), Some("T_1"));
    }

    #[test]
    fn errors_name_the_field_and_never_echo_values() {
        assert!(error(r#"{"accessKey":"has space"}"#).contains("'accessKey'"));
        assert!(!error(r#"{"accessKey":"has space"}"#).contains("has space"));
        assert!(error(r#"{"projectId":5}"#).contains("'projectId'"));
        assert!(error(r#"{"tenant":"a/b"}"#).contains("'tenant'"));
        assert!(error(r#"{"scopes":"admin"}"#).contains("'scopes'"));
        assert!(error(r#"{"scopes":["ok","a b"]}"#).contains("'scopes[1]'"));
        assert!(error(r#"{"scopes":["\""]}"#).contains("'scopes[0]'"));
        let many = format!(r#"{{"scopes":[{}]}}"#, vec!["\"s\""; 33].join(","));
        assert!(error(&many).contains("at most 32"));
        assert!(error(r#"{"accesskey":"x"}"#).contains("unknown field"));
        assert!(!error(r#"{"accesskey":"x"}"#).contains("accesskey"));
        assert!(error(r#"{"bogus":null}"#).contains("unknown field"));
        assert!(
            error(r#"{"projectId":"P2x"}"#)
                .contains("'projectId' can only be sent with 'accessKey'")
        );
        assert!(error(r#"[]"#).contains("JSON object"));
        assert!(error(r#"{"tenant":"a","tenant":"b"}"#).contains("duplicate"));
        assert!(error(&"x".repeat(MAX_BODY_BYTES + 1)).contains("16384"));
        assert!(
            error(&format!(r#"{{"accessKey":"{}"}}"#, "k".repeat(1025))).contains("'accessKey'")
        );
    }
}
