//! The caller's `customClaims` (exchange body `loginOptions.customClaims`): Descope's limits on them.

use serde_json::{Map, Value};

use crate::config::IssuerError;

/// Descope's limits on `loginOptions.customClaims`.
pub const MAX_CUSTOM_CLAIMS: usize = 100;
pub const MAX_CUSTOM_CLAIM_KEY_CHARS: usize = 60;
pub const MAX_CUSTOM_CLAIM_VALUE_CHARS: usize = 500;

/// Descope's limits: at most 100 claims, names ≤ 60 characters, string values ≤ 500 characters (strings nested
/// in arrays or objects included).
pub(crate) fn validate_custom_claims(claims: &Map<String, Value>) -> Result<(), IssuerError> {
    if claims.len() > MAX_CUSTOM_CLAIMS {
        return Err(IssuerError::InvalidCustomClaims(format!(
            "at most {MAX_CUSTOM_CLAIMS} custom claims are allowed, got {}",
            claims.len()
        )));
    }
    for (name, value) in claims {
        if name.is_empty() || name.chars().count() > MAX_CUSTOM_CLAIM_KEY_CHARS {
            return Err(IssuerError::InvalidCustomClaims(format!(
                "a custom claim name must be 1-{MAX_CUSTOM_CLAIM_KEY_CHARS} characters"
            )));
        }
        if longest_string(value) > MAX_CUSTOM_CLAIM_VALUE_CHARS {
            return Err(IssuerError::InvalidCustomClaims(format!(
                "the value of custom claim '{name}' is longer than {MAX_CUSTOM_CLAIM_VALUE_CHARS} characters"
            )));
        }
    }
    Ok(())
}

fn longest_string(value: &Value) -> usize {
    match value {
        Value::String(s) => s.chars().count(),
        Value::Array(items) => items.iter().map(longest_string).max().unwrap_or(0),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| k.chars().count().max(longest_string(v)))
            .max()
            .unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn custom_claim_limits() {
        let mut ok = Map::new();
        ok.insert("k".repeat(60), json!("v".repeat(500)));
        validate_custom_claims(&ok).unwrap();
        let mut long_key = Map::new();
        long_key.insert("k".repeat(61), json!(1));
        assert!(validate_custom_claims(&long_key).is_err());
        let mut long_value = Map::new();
        long_value.insert("k".into(), json!("v".repeat(501)));
        assert!(validate_custom_claims(&long_value).is_err());
        let mut nested = Map::new();
        nested.insert("k".into(), json!({"a": ["v".repeat(501)]}));
        assert!(validate_custom_claims(&nested).is_err());
        let many: Map<String, Value> = (0..101).map(|i| (format!("c{i}"), json!(i))).collect();
        assert!(validate_custom_claims(&many).is_err());
        let hundred: Map<String, Value> = (0..100).map(|i| (format!("c{i}"), json!(i))).collect();
        validate_custom_claims(&hundred).unwrap();
    }
}
