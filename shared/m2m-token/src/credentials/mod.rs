//! Whose credentials the token function exchanges (docs/contract.md sections 1 and 2).
//!
//! A public caller exchanges the access key it brings. The stack's own key (the Secrets Manager secret, or
//! `DESCOPE_ACCESS_KEY` for local runs) is exchanged only for a trusted caller: one API Gateway authenticated
//! with IAM (SigV4), or anyone when the development stack says so (`STACK_KEY_CALLERS=any`).

mod aws;
mod principals;
mod secret;

pub use aws::{AwsClientSettings, AwsKeys};
pub use principals::{Allowance, StackKeyPrincipals};
pub use secret::{SecretError, SecretFailure, SecretSource};

use crate::provider::ExchangeFacts;
use crate::{TokenError, TokenRequest};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use m2m_auth::{ConfigError, Provider};
use std::fmt;
use std::time::Duration;

/// Who may have the stack's own key exchanged for them (`STACK_KEY_CALLERS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackKeyCallers {
    /// Only callers API Gateway authenticated with IAM (the deployed default).
    Iam,
    /// Anyone who reaches the function: the local development stack, which has no IAM in front of it.
    Any,
}

/// Credential settings (docs/contract.md section 2), read once at start-up.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialSettings {
    /// The configured provider, which names the credentials' variables and secret members.
    pub provider: Provider,
    /// `DESCOPE_SECRET_ID`: the secret's name or ARN.
    pub secret_id: Option<String>,
    /// `SECRET_CACHE_SECONDS`.
    pub secret_ttl: Duration,
    /// `DESCOPE_PROJECT_ID` (or `OIDC_CLIENT_ID`): the configured project.
    pub project_id: Option<String>,
    /// `DESCOPE_ACCESS_KEY` (or `OIDC_CLIENT_SECRET`): the stack's own key for local runs.
    pub access_key: Option<String>,
    /// `ALLOW_CREDENTIAL_OVERRIDE`: a request body may name another project than the configured one.
    pub allow_override: bool,
    /// `ALLOWED_PROJECT_IDS`: when set, the only other projects a body may name.
    pub allowed_projects: Option<Vec<String>>,
    /// `STACK_KEY_CALLERS`.
    pub stack_key_callers: StackKeyCallers,
    /// `STACK_KEY_PRINCIPALS`: the IAM principals the stack's key serves, and what each may receive.
    pub stack_key_principals: StackKeyPrincipals,
    /// How the Secrets Manager client is built.
    pub aws: AwsClientSettings,
}

impl fmt::Debug for CredentialSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialSettings")
            .field("provider", &self.provider)
            .field("secret_id", &self.secret_id)
            .field("secret_ttl", &self.secret_ttl)
            .field("project_id", &self.project_id)
            .field(
                "access_key",
                &self.access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("allow_override", &self.allow_override)
            .field("allowed_projects", &self.allowed_projects)
            .field("stack_key_callers", &self.stack_key_callers)
            .field("stack_key_principals", &self.stack_key_principals)
            .field("aws", &self.aws)
            .finish()
    }
}

impl CredentialSettings {
    pub fn from_lookup(
        provider: Provider,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = m2m_auth::trimmed(&lookup);
        let (project_var, key_var) = provider.credential_variables();
        let allow_override = match get("ALLOW_CREDENTIAL_OVERRIDE")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(_) => {
                return Err(ConfigError::new(
                    "ALLOW_CREDENTIAL_OVERRIDE",
                    "must be true or false",
                ));
            }
        };
        let stack_key_callers = match get("STACK_KEY_CALLERS").as_deref() {
            None | Some("iam") => StackKeyCallers::Iam,
            Some("any") => StackKeyCallers::Any,
            Some(_) => {
                return Err(ConfigError::new(
                    "STACK_KEY_CALLERS",
                    "must be 'iam' (deployed) or 'any' (local development only)",
                ));
            }
        };
        let allowed_projects = match get("ALLOWED_PROJECT_IDS") {
            None => None,
            Some(list) => {
                let ids: Vec<String> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned)
                    .collect();
                if ids.is_empty() || !ids.iter().all(|id| provider.is_credential_id(id)) {
                    return Err(ConfigError::new(
                        "ALLOWED_PROJECT_IDS",
                        "must be a comma-separated list of project ids",
                    ));
                }
                Some(ids)
            }
        };
        let secret_ttl = m2m_auth::parse_seconds(
            get("SECRET_CACHE_SECONDS"),
            "SECRET_CACHE_SECONDS",
            300,
            0..=86_400,
        )?;
        let access_key = get(key_var);
        if access_key
            .as_deref()
            .is_some_and(|key| !crate::request::is_access_key(key))
        {
            return Err(ConfigError::new(
                key_var,
                "must be 1-1024 printable ASCII characters without spaces",
            ));
        }
        let stack_key_principals =
            StackKeyPrincipals::parse(&get("STACK_KEY_PRINCIPALS").unwrap_or_default())?;
        Ok(CredentialSettings {
            provider,
            secret_id: get("DESCOPE_SECRET_ID"),
            secret_ttl,
            project_id: get(project_var),
            access_key,
            allow_override,
            allowed_projects,
            stack_key_callers,
            stack_key_principals,
            aws: AwsClientSettings::from_lookup(&get),
        })
    }

    /// A Secrets Manager client built exactly as the token function builds its own (endpoint, region,
    /// credentials, timeouts, retries, HTTP stack), for tools and tests that manage the secret.
    pub async fn secrets_manager_client(&self) -> aws_sdk_secretsmanager::Client {
        aws::build_client(&self.aws).await
    }
}

/// Who is asking, as far as the stack's own key is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Nobody vouched for the caller: it may exchange only the key it brings.
    Public,
    /// API Gateway authenticated the caller with IAM (SigV4); the ARN of its principal.
    Iam { principal: String },
}

/// The route API Gateway authenticates with IAM: an IAM identity counts on it alone.
pub const IAM_ROUTE: &str = "/m2m/token/iam";

impl Caller {
    /// Read from the request context API Gateway wrote: headers cannot forge it. An HTTP API route with
    /// IAM authorization fills `requestContext.authorizer.iam`; a REST API one `requestContext.identity`.
    /// The identity counts only on the IAM route itself (the context's `routeKey`, or the REST resource):
    /// an IAM context that arrives with any other route makes a public caller.
    pub fn of(request: &Request) -> Caller {
        let principal = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context))
                if context
                    .route_key
                    .as_deref()
                    .and_then(|key| key.strip_prefix("POST "))
                    == Some(IAM_ROUTE) =>
            {
                context
                    .authorizer
                    .as_ref()
                    .and_then(|authorizer| authorizer.iam.as_ref())
                    .and_then(|iam| iam.user_arn.clone())
            }
            Some(RequestContext::ApiGatewayV1(context))
                if context.resource_path.as_deref() == Some(IAM_ROUTE)
                    && context.http_method == lambda_http::http::Method::POST =>
            {
                context.identity.user_arn.clone()
            }
            _ => None,
        };
        match principal {
            Some(arn) if !arn.is_empty() => Caller::Iam { principal: arn },
            _ => Caller::Public,
        }
    }
}

/// Where the exchanged key came from (for logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CredentialSource {
    /// The caller's own key, from the request body.
    Request,
    /// The stack's key, from the Secrets Manager secret.
    Secret,
    /// The stack's key, from the environment (local runs).
    Environment,
}

impl CredentialSource {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CredentialSource::Request => "request",
            CredentialSource::Secret => "secret",
            CredentialSource::Environment => "environment",
        }
    }
}

/// The credentials one exchange uses, and the scopes it asks for.
pub(crate) struct ResolvedCredentials {
    pub project_id: String,
    pub access_key: String,
    pub source: CredentialSource,
    /// The scopes sent to the provider: the caller's, or an IAM principal's allowance when it asked none.
    pub scopes: Vec<String>,
    /// The scopes are an allowance, not a request: the token holds those of them the key holds, and one the
    /// key lacks is no refusal.
    pub narrowed: bool,
}

/// The token function's credential rules, with the secret read on first need.
pub struct Credentials {
    settings: CredentialSettings,
    secret: Option<SecretSource>,
}

impl Credentials {
    pub fn new(settings: CredentialSettings) -> Self {
        let secret = settings
            .secret_id
            .clone()
            .map(|id| SecretSource::new(id, &settings));
        Credentials { settings, secret }
    }

    pub fn secret(&self) -> Option<&SecretSource> {
        self.secret.as_ref()
    }

    /// docs/contract.md section 1: the caller's own key when it brings one; otherwise the stack's key, for
    /// a trusted caller only.
    pub(crate) async fn resolve(
        &self,
        request: &TokenRequest,
        caller: &Caller,
    ) -> Result<ResolvedCredentials, TokenError> {
        if let Some(key) = &request.access_key {
            let project_id = match &request.project_id {
                Some(named) => self.named_project(named)?,
                None => self.settings.project_id.clone().ok_or_else(|| {
                    TokenError::BadRequest(
                        "No project id given and none configured: send 'projectId'".into(),
                    )
                })?,
            };
            return Ok(ResolvedCredentials {
                project_id,
                access_key: key.clone(),
                source: CredentialSource::Request,
                scopes: request.scopes.clone(),
                narrowed: false,
            });
        }
        let (scopes, narrowed) = match (self.settings.stack_key_callers, caller) {
            // The development stack: every caller, every grant.
            (StackKeyCallers::Any, _) => (request.scopes.clone(), false),
            (StackKeyCallers::Iam, Caller::Public) => return Err(TokenError::AccessKeyRequired),
            (StackKeyCallers::Iam, Caller::Iam { principal }) => {
                let Some(allowance) = self.settings.stack_key_principals.allowance(principal)
                else {
                    tracing::warn!(
                        principal = principal.as_str(),
                        "IAM principal not listed in STACK_KEY_PRINCIPALS"
                    );
                    return Err(TokenError::PrincipalNotAllowed);
                };
                narrow(allowance, &request.scopes)?
            }
        };
        if let Some(secret) = &self.secret {
            let value = secret.value().await.map_err(TokenError::Secret)?;
            let project_id = value
                .project_id
                .clone()
                .or_else(|| self.settings.project_id.clone())
                .ok_or_else(|| {
                    TokenError::BadRequest(
                        "No project id configured: set the secret's project or DESCOPE_PROJECT_ID"
                            .into(),
                    )
                })?;
            return Ok(ResolvedCredentials {
                project_id,
                access_key: value.access_key.clone(),
                source: CredentialSource::Secret,
                scopes,
                narrowed,
            });
        }
        match (&self.settings.access_key, &self.settings.project_id) {
            (Some(key), Some(project_id)) => Ok(ResolvedCredentials {
                project_id: project_id.clone(),
                access_key: key.clone(),
                source: CredentialSource::Environment,
                scopes,
                narrowed,
            }),
            _ => Err(TokenError::BadRequest(
                "No access key given and none configured: send 'accessKey' or configure DESCOPE_SECRET_ID".into(),
            )),
        }
    }

    /// A project named in the body: the configured one always; another only when overrides are on and, with
    /// `ALLOWED_PROJECT_IDS`, it is listed. An OAuth client id is no override: the provider is `OIDC_ISSUER`
    /// whichever client asks, so a client id names the caller at the one trusted provider, as an access key
    /// of the configured project does with Descope (`ALLOWED_PROJECT_IDS` can still limit the clients).
    fn named_project(&self, named: &str) -> Result<String, TokenError> {
        if self.settings.project_id.as_deref() == Some(named) {
            return Ok(named.to_owned());
        }
        // Another project is another issuer (Descope); every client is the one configured issuer's (OIDC).
        let provider = &self.settings.provider;
        let names_another_issuer =
            Some(provider.key_owner(named)) != provider.configured_key_owner();
        if names_another_issuer && !self.settings.allow_override {
            return Err(TokenError::BadRequest(
                "'projectId' must be the configured project: credential overrides are disabled on this deployment".into(),
            ));
        }
        if let Some(allowed) = &self.settings.allowed_projects
            && !allowed.iter().any(|id| id == named)
        {
            return Err(TokenError::BadRequest(
                "'projectId' is not a project this deployment accepts".into(),
            ));
        }
        Ok(named.to_owned())
    }
}

/// An IAM principal's scopes: what it asked for, each of which it must be allowed; or, when it asked for
/// none, all it is allowed (then narrowed to what the key holds).
fn narrow(allowance: &Allowance, asked: &[String]) -> Result<(Vec<String>, bool), TokenError> {
    match allowance {
        Allowance::All => Ok((asked.to_vec(), false)),
        Allowance::Only(allowed) if asked.is_empty() => Ok((allowed.clone(), true)),
        Allowance::Only(allowed) => match asked.iter().find(|scope| !allowed.contains(scope)) {
            Some(scope) => Err(TokenError::ScopeNotAllowedForPrincipal(scope.clone())),
            None => Ok((asked.to_vec(), false)),
        },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn descope() -> Provider {
        m2m_auth::AuthConfig::from_lookup(|_| None)
            .unwrap()
            .provider
    }

    fn settings(vars: &'static [(&'static str, &'static str)]) -> CredentialSettings {
        CredentialSettings::from_lookup(descope(), move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap()
    }

    #[test]
    fn settings_never_print_the_access_key() {
        let settings = settings(&[("DESCOPE_ACCESS_KEY", "sekrit")]);
        assert!(!format!("{settings:?}").contains("sekrit"));
        assert!(settings.allow_override);
        assert_eq!(settings.stack_key_callers, StackKeyCallers::Iam);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (vars, variable) in [
            (
                &[("STACK_KEY_CALLERS", "everyone")][..],
                "STACK_KEY_CALLERS",
            ),
            (&[("ALLOWED_PROJECT_IDS", " , ")], "ALLOWED_PROJECT_IDS"),
            (
                &[("ALLOWED_PROJECT_IDS", "P2a,bad id")],
                "ALLOWED_PROJECT_IDS",
            ),
            (&[("SECRET_CACHE_SECONDS", "-1")], "SECRET_CACHE_SECONDS"),
            (&[("DESCOPE_ACCESS_KEY", "has space")], "DESCOPE_ACCESS_KEY"),
            (
                &[("ALLOW_CREDENTIAL_OVERRIDE", "maybe")],
                "ALLOW_CREDENTIAL_OVERRIDE",
            ),
        ] {
            let error = CredentialSettings::from_lookup(descope(), |name| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            })
            .unwrap_err();
            assert_eq!(error.variable, variable, "{vars:?}");
        }
        let listed = settings(&[("ALLOWED_PROJECT_IDS", "P2a, P2b")]);
        assert_eq!(
            listed.allowed_projects,
            Some(vec!["P2a".into(), "P2b".into()])
        );
    }
}
