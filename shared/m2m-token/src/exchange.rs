//! Exchanging credentials for a token at the identity provider.

use crate::provider::ExchangeFacts;
use crate::token::ProjectVerifiers;
use crate::{ProviderError, TokenError};
use m2m_auth::fetch::{Discovery, FetchError, read_capped};
use m2m_auth::{AuthConfig, KeySource, Provider, Verifier};
use serde_json::{Value, json};
use std::sync::Arc;

/// Largest provider answer read (a session token response is about 2 KiB).
const MAX_PROVIDER_RESPONSE: usize = 64 * 1024;
/// Longest provider message passed on to the caller.
const MAX_PROVIDER_MESSAGE: usize = 300;

/// Who mints the tokens and whose keys verify them: the configured provider, and what was built from it.
pub(crate) struct Issuer {
    pub(crate) auth: AuthConfig,
    client: reqwest::Client,
    /// A verifier (with its key cache) per key owner: each Descope project, or the OIDC issuer.
    pub(crate) verifiers: ProjectVerifiers<Verifier>,
    /// The issuer's discovery (OIDC), shared with its verifier: its `token_endpoint` mints the tokens.
    discovery: Option<Arc<Discovery>>,
}

pub(crate) struct ExchangeInput<'a> {
    /// Descope: the project id; an OAuth provider: the client id.
    pub client_id: &'a str,
    /// Descope: the access key; an OAuth provider: the client secret. Never logged, redacted from messages.
    pub client_secret: &'a str,
    pub scopes: &'a [String],
    pub tenant: Option<&'a str>,
}

impl Issuer {
    pub(crate) fn new(auth: AuthConfig, client: reqwest::Client) -> Self {
        let configured = auth.provider.configured_key_owner().map(|owner| {
            let keys = auth.provider.key_source(client.clone(), owner);
            (owner.to_owned(), keys)
        });
        // An OIDC provider's token endpoint is found by the discovery that finds its keys.
        let discovery = match &configured {
            Some((_, KeySource::Discovery { discovery, .. })) => Some(discovery.clone()),
            _ => None,
        };
        let verifiers = ProjectVerifiers::new(
            configured.map(|(owner, keys)| (owner, Verifier::new(&auth, keys))),
        );
        Issuer {
            auth,
            client,
            verifiers,
            discovery,
        }
    }

    /// The verifier for tokens exchanged for `project_id`, kept across requests with its key cache.
    pub(crate) fn verifier(&self, project_id: &str) -> Arc<Verifier> {
        let owner = self.auth.provider.key_owner(project_id);
        self.verifiers.get(owner, || {
            let keys = self.auth.provider.key_source(self.client.clone(), owner);
            Verifier::new(&self.auth, keys)
        })
    }

    /// Returns the token the provider issued (not yet verified).
    pub(crate) async fn exchange(&self, input: &ExchangeInput<'_>) -> Result<String, TokenError> {
        let client = &self.client;
        let request = match &self.auth.provider {
            Provider::Descope { base_url, .. } => {
                let mut login_options = serde_json::Map::new();
                if !input.scopes.is_empty() {
                    login_options.insert(
                        "customClaims".into(),
                        json!({"scope": input.scopes.join(" ")}),
                    );
                }
                if let Some(tenant) = input.tenant {
                    login_options.insert("selectedTenant".into(), json!(tenant));
                }
                let body = if login_options.is_empty() {
                    json!({})
                } else {
                    json!({"loginOptions": login_options})
                };
                client
                    .post(format!("{base_url}/v1/auth/accesskey/exchange"))
                    .bearer_auth(format!("{}:{}", input.client_id, input.client_secret))
                    .json(&body)
            }
            Provider::Oidc { .. } => {
                // Always there: an OIDC issuer is its own key owner, configured up front.
                let Some(discovery) = &self.discovery else {
                    return Err(TokenError::Provider(ProviderError::NoTokenEndpoint));
                };
                let metadata = discovery.metadata().await.map_err(|error| match error {
                    FetchError::Timeout => TokenError::ProviderTimeout,
                    other => TokenError::Provider(ProviderError::Discovery(other.to_string())),
                })?;
                let endpoint = metadata
                    .token_endpoint
                    .as_deref()
                    .ok_or(TokenError::Provider(ProviderError::NoTokenEndpoint))?;
                let mut form = vec![("grant_type", "client_credentials".to_owned())];
                if !input.scopes.is_empty() {
                    form.push(("scope", input.scopes.join(" ")));
                }
                // RFC 6749 section 2.3.1: client_secret_basic, each part form-urlencoded first.
                let encode = |text: &str| {
                    form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
                };
                client
                    .post(endpoint)
                    .basic_auth(encode(input.client_id), Some(encode(input.client_secret)))
                    .header("accept", "application/json")
                    .form(&form)
            }
        };
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let body =
            read_capped(response, MAX_PROVIDER_RESPONSE)
                .await
                .map_err(|error| match error {
                    FetchError::Timeout => TokenError::ProviderTimeout,
                    FetchError::TooLarge(_) => TokenError::Provider(ProviderError::TooLarge),
                    other => TokenError::Provider(ProviderError::Unreadable(other.to_string())),
                })?;
        let document = serde_json::from_slice::<Value>(&body).ok();
        let token_field = self.auth.provider.token_field();
        // RFC 6749 section 5.2 `invalid_scope`: the client may not have a scope it asked for. That is the
        // contract's 403, as when a provider leaves the scope out of the token instead, whenever the answer
        // lets the scope be named; otherwise the provider's message is passed on (400).
        if status == 400
            && let Some(scope) = refused_scope(document.as_ref(), input.scopes)
        {
            return Err(TokenError::ScopeNotGranted(scope));
        }
        match status {
            200 => document
                .as_ref()
                .and_then(|d| d.get(token_field))
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .ok_or(TokenError::Provider(ProviderError::NoToken(token_field))),
            400 if is_invalid_client(document.as_ref()) => Err(TokenError::AuthenticationFailed(
                provider_message(document.as_ref(), status, input.client_secret),
            )),
            400 | 422 => Err(TokenError::ProviderRejected(provider_message(
                document.as_ref(),
                status,
                input.client_secret,
            ))),
            401 | 403 => Err(TokenError::AuthenticationFailed(provider_message(
                document.as_ref(),
                status,
                input.client_secret,
            ))),
            429 => Err(TokenError::Provider(ProviderError::RateLimited)),
            _ => Err(TokenError::Provider(ProviderError::Status(status))),
        }
    }
}

fn transport_error(error: reqwest::Error) -> TokenError {
    if error.is_timeout() {
        TokenError::ProviderTimeout
    } else if error.is_redirect() || error.status().is_some_and(|s| s.is_redirection()) {
        TokenError::Provider(ProviderError::Redirect)
    } else {
        TokenError::Provider(ProviderError::Unreachable)
    }
}

/// RFC 6749 section 5.2: `invalid_client` is an authentication failure even when sent with 400.
fn is_invalid_client(document: Option<&Value>) -> bool {
    document
        .and_then(|d| d.get("error"))
        .and_then(Value::as_str)
        == Some("invalid_client")
}

/// The requested scope an `invalid_scope` answer refuses: the one its `scope` member names (oidc-provider),
/// or the only one asked for. `None` when the answer is another error or does not say which.
fn refused_scope(document: Option<&Value>, requested: &[String]) -> Option<String> {
    let document = document?;
    if document.get("error").and_then(Value::as_str) != Some("invalid_scope") {
        return None;
    }
    let named = document
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default();
    named
        .split(' ')
        .find_map(|scope| requested.iter().find(|r| *r == scope))
        .or(match requested {
            [only] => Some(only),
            _ => None,
        })
        .cloned()
}

/// The provider's own explanation: Descope's `errorDescription`/`errorMessage`, OAuth's
/// `error_description`/`error`. Shortened, control characters dropped, the access key never repeated.
fn provider_message(document: Option<&Value>, status: u16, access_key: &str) -> String {
    let field = |name: &str| {
        document
            .and_then(|d| d.get(name))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let text = match (field("errorDescription"), field("errorMessage")) {
        // Descope: the code's generic description, then what happened this time.
        (Some(description), Some(message)) if description != message => {
            format!("{description}: {message}")
        }
        (Some(text), _) | (None, Some(text)) => text.to_owned(),
        (None, None) => ["error_description", "message", "error"]
            .into_iter()
            .find_map(field)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("status {status}")),
    };
    m2m_redact::shown(&text, access_key, MAX_PROVIDER_MESSAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_messages_are_bounded_and_redacted() {
        let doc = json!({"errorCode": "E1", "errorDescription": "bad key sekrit-key-1\n"});
        assert_eq!(
            provider_message(Some(&doc), 401, "sekrit-key-1"),
            "bad key [redacted]"
        );
        let doc = json!({"error_description": "bad key SEKRIT\u{200b}-KEY-1"});
        assert_eq!(
            provider_message(Some(&doc), 401, "sekrit-key-1"),
            "bad key [redacted]"
        );
        assert_eq!(provider_message(None, 401, "k"), "status 401");
        let long = json!({"error_description": "x".repeat(1000)});
        assert_eq!(
            provider_message(Some(&long), 400, "k").len(),
            MAX_PROVIDER_MESSAGE
        );
    }

    #[test]
    fn invalid_scope_names_the_refused_scope_when_it_can() {
        let requested = ["read:data".to_owned(), "admin".to_owned()];
        let named = json!({"error": "invalid_scope", "scope": "admin"});
        assert_eq!(
            refused_scope(Some(&named), &requested).as_deref(),
            Some("admin")
        );
        let unnamed = json!({"error": "invalid_scope", "error_description": "Invalid scopes"});
        assert_eq!(refused_scope(Some(&unnamed), &requested), None);
        assert_eq!(
            refused_scope(Some(&unnamed), &requested[1..]).as_deref(),
            Some("admin")
        );
        let other = json!({"error": "invalid_request", "scope": "admin"});
        assert_eq!(refused_scope(Some(&other), &requested), None);
        assert_eq!(refused_scope(None, &requested), None);
    }
}
