//! What an exchange request carries: the `Authorization` header and the `loginOptions` body.

use axum::http::{HeaderMap, header};
use serde::Deserialize;
use serde_json::{Map, Value};

/// `Bearer <projectId>:<accessKey>[:<managementKey>]` → (projectId, accessKey).
pub(super) fn parse_authorization(headers: &HeaderMap) -> Option<(&str, &str)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, credentials) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut parts = credentials.trim_start().splitn(3, ':');
    let project = parts.next()?;
    let key = parts.next()?;
    if project.is_empty() || key.is_empty() {
        return None;
    }
    Some((project, key))
}

/// The exchange body: `{"loginOptions": {"customClaims": {...}, "selectedTenant": "..."}}`. Unknown members
/// are ignored and `null` counts as absent, as in Descope's Go backend; a wrong type is an error.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExchangeBody {
    #[serde(default)]
    login_options: Option<LoginOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LoginOptions {
    #[serde(default)]
    pub custom_claims: Option<Map<String, Value>>,
    #[serde(default)]
    pub selected_tenant: Option<String>,
}

/// Empty, `null`, `{}` or an [`ExchangeBody`]; an empty `selectedTenant` counts as absent.
pub(super) fn parse_login_options(body: &[u8]) -> Result<LoginOptions, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(LoginOptions::default());
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|_| "request body is not valid JSON".to_owned())?;
    // Objects are checked first: serde would also read a struct from an array (its fields in order).
    let body = match value {
        Value::Null => ExchangeBody::default(),
        Value::Object(ref root)
            if !matches!(root.get("loginOptions"), None | Some(Value::Null | Value::Object(_))) =>
        {
            return Err("loginOptions must be an object".to_owned());
        }
        Value::Object(_) => serde_json::from_value(value).map_err(|_| {
            // serde's own text quotes the offending value; say what is wrong without repeating it.
            "loginOptions must be an object, with an object customClaims and a string selectedTenant"
                .to_owned()
        })?,
        _ => return Err("request body must be a JSON object".to_owned()),
    };
    let mut options = body.login_options.unwrap_or_default();
    options.selected_tenant = options.selected_tenant.filter(|t| !t.is_empty());
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn authorization_parsing() {
        assert_eq!(
            parse_authorization(&auth("Bearer P1:key")),
            Some(("P1", "key"))
        );
        assert_eq!(
            parse_authorization(&auth("bearer P1:key:mgmt")),
            Some(("P1", "key"))
        );
        assert_eq!(
            parse_authorization(&auth("Bearer P1:key:mgmt:more")),
            Some(("P1", "key"))
        );
        for bad in [
            "Bearer",
            "Bearer ",
            "Bearer P1",
            "Bearer P1:",
            "Bearer :key",
            "Basic P1:key",
            "P1:key",
        ] {
            assert_eq!(parse_authorization(&auth(bad)), None, "{bad}");
        }
        assert_eq!(parse_authorization(&HeaderMap::new()), None);
    }

    #[test]
    fn login_options_parsing() {
        for ok in [
            "",
            "  ",
            "{}",
            "null",
            r#"{"loginOptions": null}"#,
            r#"{"loginOptions": {}}"#,
            r#"{"other": 1}"#,
        ] {
            let options = parse_login_options(ok.as_bytes()).unwrap();
            assert!(options.custom_claims.is_none() && options.selected_tenant.is_none());
        }
        let options = parse_login_options(
            br#"{"loginOptions": {"customClaims": {"scope": "a b"}, "selectedTenant": "T1", "x": 1}}"#,
        )
        .unwrap();
        assert_eq!(options.custom_claims.unwrap()["scope"], "a b");
        assert_eq!(options.selected_tenant.as_deref(), Some("T1"));
        for bad in [
            "{",
            "[]",
            "\"x\"",
            r#"{"loginOptions": []}"#,
            r#"{"loginOptions": {"customClaims": "x"}}"#,
            r#"{"loginOptions": {"customClaims": ["x"]}}"#,
            r#"{"loginOptions": {"selectedTenant": 5}}"#,
        ] {
            assert!(parse_login_options(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
