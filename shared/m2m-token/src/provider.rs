//! What the token exchange needs to know of each provider: `m2m_auth::Provider` says whose keys verify its
//! tokens, this what its credentials and answers are called. Each fact is one match.

use crate::request::is_access_key;
use m2m_auth::{Provider, is_identifier};

pub trait ExchangeFacts {
    /// The variables of the stack's own credentials for local runs: (project or client id, key or secret).
    fn credential_variables(&self) -> (&'static str, &'static str);
    /// The members of the Secrets Manager secret: (project or client id, key or secret).
    fn secret_members(&self) -> (&'static str, &'static str);
    /// Whether `id` can name a project (the identifier rule) or a client (any printable id).
    fn is_credential_id(&self, id: &str) -> bool;
    /// The member of the exchange's answer that holds the token.
    fn token_field(&self) -> &'static str;
    /// Whether a token can be asked for one tenant (Descope's `selectedTenant`).
    fn has_tenants(&self) -> bool;
}

impl ExchangeFacts for Provider {
    fn credential_variables(&self) -> (&'static str, &'static str) {
        match self {
            Provider::Descope { .. } => ("DESCOPE_PROJECT_ID", "DESCOPE_ACCESS_KEY"),
            Provider::Oidc { .. } => ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"),
        }
    }

    fn secret_members(&self) -> (&'static str, &'static str) {
        match self {
            Provider::Descope { .. } => ("projectId", "accessKey"),
            Provider::Oidc { .. } => ("clientId", "clientSecret"),
        }
    }

    fn is_credential_id(&self, id: &str) -> bool {
        match self {
            Provider::Descope { .. } => is_identifier(id),
            Provider::Oidc { .. } => is_access_key(id),
        }
    }

    fn token_field(&self) -> &'static str {
        match self {
            Provider::Descope { .. } => "sessionJwt",
            Provider::Oidc { .. } => "access_token",
        }
    }

    fn has_tenants(&self) -> bool {
        matches!(self, Provider::Descope { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_provider_names_its_own_variables_members_and_token() {
        let oidc = Provider::Oidc {
            issuer: "https://id.example".into(),
        };
        assert_eq!(
            oidc.credential_variables(),
            ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET")
        );
        assert_eq!(oidc.secret_members(), ("clientId", "clientSecret"));
        assert_eq!(oidc.token_field(), "access_token");
        assert!(oidc.is_credential_id("client.with:odd~chars") && !oidc.has_tenants());
        let descope = Provider::Descope {
            base_url: "https://api.descope.com".into(),
            project_id: None,
        };
        assert_eq!(
            descope.credential_variables(),
            ("DESCOPE_PROJECT_ID", "DESCOPE_ACCESS_KEY")
        );
        assert_eq!(descope.secret_members(), ("projectId", "accessKey"));
        assert_eq!(descope.token_field(), "sessionJwt");
        assert!(!descope.is_credential_id("client.with:odd~chars") && descope.has_tenants());
    }
}
