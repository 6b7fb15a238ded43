//! What a verified token may do (docs/contract.md section 4).

use crate::JsonObject;
use serde_json::Value;
use std::collections::BTreeSet;

/// How a token's claims become grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantModel {
    /// Descope: `roles`/`permissions` (project-wide and of the current tenant) are trusted; scopes the
    /// caller asked for (`nsec.scope`, `scope`, `scopes`) can only narrow them.
    Descope,
    /// Standard OAuth 2.0: the authorization server chose the `scope` (or `scp`) claim, so it is trusted
    /// as well.
    Oidc,
}

/// The effective grants of a verified token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grants {
    effective: BTreeSet<String>,
}

impl Grants {
    pub fn from_claims(claims: &JsonObject, model: GrantModel) -> Grants {
        let mut trusted = BTreeSet::new();
        trusted.extend(string_array(claims.get("roles")));
        trusted.extend(string_array(claims.get("permissions")));
        if let (Some(Value::String(tenant)), Some(Value::Object(tenants))) =
            (claims.get("dct"), claims.get("tenants"))
            && let Some(Value::Object(current)) = tenants.get(tenant)
        {
            trusted.extend(string_array(current.get("roles")));
            trusted.extend(string_array(current.get("permissions")));
        }
        let nested_scope = match claims.get("nsec") {
            Some(Value::Object(nsec)) => nsec.get("scope"),
            _ => None,
        };
        let mut effective = trusted;
        match model {
            GrantModel::Descope => {
                for requested in [nested_scope, claims.get("scope"), claims.get("scopes")]
                    .into_iter()
                    .flatten()
                {
                    let requested = scope_set(requested);
                    effective.retain(|grant| requested.contains(grant));
                }
            }
            GrantModel::Oidc => {
                // `scope` (RFC 9068: Auth0, Cognito, Keycloak, oidc-provider) or `scp` (Okta: an array;
                // Microsoft Entra: a space-separated string); either shape is read for both names.
                effective.extend(scope_set_opt(claims.get("scope")));
                effective.extend(scope_set_opt(claims.get("scp")));
            }
        }
        Grants { effective }
    }

    /// Exact, byte-for-byte membership.
    pub fn contains(&self, grant: &str) -> bool {
        self.effective.contains(grant)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.effective.iter().map(String::as_str)
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.effective.iter().cloned().collect()
    }
}

/// The strings of a JSON array of strings; any other shape (or an array holding anything else) grants nothing.
fn string_array(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// A scope claim: a space-separated string (RFC 6749 / RFC 9068) or an array of strings. Anything else
/// is an empty set, so a malformed narrowing claim narrows to nothing rather than being ignored.
fn scope_set(value: &Value) -> BTreeSet<String> {
    match value {
        Value::String(text) => text
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Value::Array(_) => string_array(Some(value)).into_iter().collect(),
        _ => BTreeSet::new(),
    }
}

fn scope_set_opt(value: Option<&Value>) -> BTreeSet<String> {
    value.map(scope_set).unwrap_or_default()
}

/// A grant or a requested scope: an RFC 6749 section 3.3 scope-token (`%x21 / %x23-5B / %x5D-7E`), 1-128 long.
pub fn is_scope_token(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// What an endpoint requires of a valid token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Require {
    /// Any token that verifies.
    AnyValidToken,
    /// This grant among the token's effective grants.
    Grant(&'static str),
}

impl Require {
    /// `Err` names the missing grant.
    pub fn check(self, grants: &Grants) -> Result<(), &'static str> {
        match self {
            Require::AnyValidToken => Ok(()),
            Require::Grant(scope) if grants.contains(scope) => Ok(()),
            Require::Grant(scope) => Err(scope),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn grants(claims: Value, model: GrantModel) -> Vec<String> {
        Grants::from_claims(claims.as_object().unwrap(), model).to_vec()
    }

    #[test]
    fn roles_and_permissions_are_trusted() {
        let claims = json!({"roles": ["admin"], "permissions": ["read:data"]});
        assert_eq!(grants(claims, GrantModel::Descope), ["admin", "read:data"]);
    }

    #[test]
    fn only_the_current_tenant_counts() {
        let claims = json!({
            "roles": ["user"],
            "dct": "t1",
            "tenants": {"t1": {"roles": ["admin"]}, "t2": {"permissions": ["read:data"]}}
        });
        assert_eq!(
            grants(claims.clone(), GrantModel::Descope),
            ["admin", "user"]
        );
        let mut no_current = claims;
        no_current.as_object_mut().unwrap().remove("dct");
        assert_eq!(grants(no_current, GrantModel::Descope), ["user"]);
    }

    #[test]
    fn requested_scopes_only_narrow() {
        let claims = json!({"roles": ["user"], "permissions": ["read:data"], "nsec": {"scope": "read:data admin"}});
        assert_eq!(grants(claims, GrantModel::Descope), ["read:data"]);
        let claims = json!({"roles": ["admin"], "scope": "admin", "scopes": ["read:data"]});
        assert!(grants(claims, GrantModel::Descope).is_empty());
        let claims = json!({"roles": ["admin"], "nsec": {"scope": 7}});
        assert!(grants(claims, GrantModel::Descope).is_empty());
    }

    #[test]
    fn look_alikes_and_wrong_shapes_grant_nothing() {
        let claims =
            json!({"roles": "admin", "permissions": ["notadmin", "Admin", "admin:read", "аdmin"]});
        let g = Grants::from_claims(claims.as_object().unwrap(), GrantModel::Descope);
        assert!(!g.contains("admin"));
        let claims = json!({"roles": ["admin", 1]});
        assert!(grants(claims, GrantModel::Descope).is_empty());
        let claims = json!({"nsec": {"roles": ["admin"]}, "tenants": {"t": {"roles": ["admin"]}}});
        assert!(grants(claims, GrantModel::Descope).is_empty());
    }

    #[test]
    fn oidc_trusts_the_scope_claim() {
        let claims = json!({"scope": "read:data admin", "roles": ["user"]});
        assert_eq!(
            grants(claims.clone(), GrantModel::Oidc),
            ["admin", "read:data", "user"]
        );
        assert_eq!(grants(claims, GrantModel::Descope), Vec::<String>::new());
    }

    #[test]
    fn oidc_reads_scp_as_an_array_or_a_string() {
        let okta = json!({"scp": ["read:data", "admin"]});
        assert_eq!(grants(okta, GrantModel::Oidc), ["admin", "read:data"]);
        let entra = json!({"scp": "read:data", "roles": ["admin"]});
        assert_eq!(grants(entra, GrantModel::Oidc), ["admin", "read:data"]);
        let malformed = json!({"scp": ["admin", 1], "scope": 7});
        assert!(grants(malformed, GrantModel::Oidc).is_empty());
        // With Descope, `scp` is not a claim of its own: it neither grants nor narrows.
        let descope = json!({"roles": ["admin"], "scp": ["read:data"]});
        assert_eq!(grants(descope, GrantModel::Descope), ["admin"]);
    }

    #[test]
    fn require_names_the_missing_grant() {
        let g = Grants::from_claims(
            json!({"permissions": ["read:data"]}).as_object().unwrap(),
            GrantModel::Descope,
        );
        assert_eq!(Require::Grant("read:data").check(&g), Ok(()));
        assert_eq!(Require::Grant("admin").check(&g), Err("admin"));
        assert_eq!(Require::AnyValidToken.check(&Grants::default()), Ok(()));
    }
}
