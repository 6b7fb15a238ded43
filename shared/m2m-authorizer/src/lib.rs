//! The API Gateway Lambda authorizer (docs/contract.md section 6): one [`Authorizer`] answers every
//! authorizer event kind with the verification (section 3) and grants (section 4) of the protected functions.
//!
//! A crate of its own rather than a module of `m2m-api`: the authorizer links `lambda_runtime` and the
//! verifier only, none of the HTTP functions' stack (lambda_http, the AWS SDK), so its binary stays small
//! and its cold start short.

mod policy;
mod routes;

pub use policy::api_policy;
pub use routes::{MethodArn, RouteGrants, RoutePattern, route_key_target};

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayV2CustomAuthorizerV2Request,
};
use m2m_auth::{
    AuthConfig, ConfigError, VerifiedToken, Verifier, VerifyError, bearer_credentials, bearer_token,
};
use serde_json::Value;
use std::sync::Arc;

/// How HTTP API payload 2.0 events are answered (`AUTHORIZER_RESPONSE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseMode {
    /// `{"isAuthorized": bool, "context": {...}}`.
    #[default]
    Simple,
    /// An IAM policy, as for payload 1.0.
    Iam,
}

/// The authorizer's own configuration (the verifier's is [`AuthConfig`]).
#[derive(Debug, Clone, Default)]
pub struct AuthorizerSettings {
    pub routes: RouteGrants,
    pub response: ResponseMode,
}

/// Why the authorizer cannot start; each message names the variable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("AUTHORIZER_GRANTS {0}")]
    Grants(String),
    #[error("AUTHORIZER_RESPONSE must be 'simple' or 'iam'")]
    Response,
    #[error(transparent)]
    Auth(#[from] ConfigError),
}

impl AuthorizerSettings {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = m2m_auth::trimmed(&lookup);
        let routes = RouteGrants::parse(&get("AUTHORIZER_GRANTS").unwrap_or_default())
            .map_err(SettingsError::Grants)?;
        let response = match get("AUTHORIZER_RESPONSE").as_deref() {
            None | Some("simple") => ResponseMode::Simple,
            Some("iam") => ResponseMode::Iam,
            Some(_) => return Err(SettingsError::Response),
        };
        Ok(AuthorizerSettings { routes, response })
    }
}

/// Why an event gets no answer but an invocation error.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizerError {
    /// API Gateway's convention: a REST `TOKEN` authorizer failing with exactly this message is a 401.
    #[error("Unauthorized")]
    Unauthorized,
    /// The signing keys cannot be fetched: no decision (API Gateway answers 500 and caches nothing).
    #[error("Signing keys unavailable")]
    KeysUnavailable,
    #[error("not an API Gateway authorizer event: {0}")]
    NotAnAuthorizerEvent(&'static str),
}

impl From<AuthorizerError> for lambda_runtime::Diagnostic {
    fn from(error: AuthorizerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: match error {
                AuthorizerError::Unauthorized => "Unauthorized",
                AuthorizerError::KeysUnavailable => "KeysUnavailable",
                AuthorizerError::NotAnAuthorizerEvent(_) => "InvalidEvent",
            }
            .into(),
            error_message: error.to_string(),
        }
    }
}

/// The authorizer: built once per container, it answers every event.
pub struct Authorizer {
    verifier: Verifier,
    settings: AuthorizerSettings,
}

/// How one event was decided for its own request, and why a token was refused when it was: the log line's
/// `decision` and the metrics' outcome of the function that runs the authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// A valid token without a grant the route requires.
    NotGranted,
    /// No token in the event.
    NoToken,
    /// A token that failed verification, and why.
    Refused(VerifyError),
    KeysUnavailable,
    NotAnAuthorizerEvent,
}

impl Decision {
    pub fn name(&self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::NotGranted => "not_granted",
            Decision::NoToken | Decision::Refused(_) => "invalid_token",
            Decision::KeysUnavailable => "keys_unavailable",
            Decision::NotAnAuthorizerEvent => "not_an_authorizer_event",
        }
    }
}

/// One event answered: the answer (or the invocation error API Gateway expects), how it was decided, and
/// how long deciding took.
#[derive(Debug)]
pub struct Decided {
    pub answer: Result<Value, AuthorizerError>,
    pub decision: Decision,
    pub latency_ms: f64,
}

/// The kind of authorizer event, read from the event itself.
enum Event {
    Token(ApiGatewayCustomAuthorizerRequest),
    /// REST `REQUEST` and HTTP API payload 1.0: the same fields.
    Request(Box<ApiGatewayCustomAuthorizerRequestTypeRequest>),
    V2(Box<ApiGatewayV2CustomAuthorizerV2Request>),
}

impl Authorizer {
    pub fn new(verifier: Verifier, settings: AuthorizerSettings) -> Self {
        Authorizer { verifier, settings }
    }

    /// Reads the verifier's and the authorizer's configuration (docs/contract.md section 2).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let settings = AuthorizerSettings::from_lookup(&lookup)?;
        let config = AuthConfig::from_lookup(&lookup)?;
        let verifier = Verifier::from_config(
            &config,
            m2m_auth::fetch::build_client(m2m_auth::budget::KEY_FETCH),
        )?;
        Ok(Authorizer::new(verifier, settings))
    }

    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The answer to one event: a simple response or an IAM policy, or the invocation error API Gateway
    /// expects (`Unauthorized` for a REST `TOKEN` event without a valid token).
    pub async fn answer(&self, event: Value) -> Result<Value, AuthorizerError> {
        self.decide(event).await.answer
    }

    /// [`Authorizer::answer`], how it was decided and how long that took (for metrics); one log line.
    pub async fn decide(&self, event: Value) -> Decided {
        let started = std::time::Instant::now();
        let mut refusal = None;
        let (kind, outcome) = match classify(event) {
            Ok(Event::Token(event)) => ("token", self.token(event, &mut refusal).await),
            Ok(Event::Request(event)) => ("request", self.request(*event, &mut refusal).await),
            Ok(Event::V2(event)) => ("v2", self.v2(*event, &mut refusal).await),
            Err(error) => ("unknown", Err(error)),
        };
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (answer, decision) = match outcome {
            Ok((answer, decision)) => (Ok(answer), decision),
            Err(error) => {
                let decision = match &error {
                    AuthorizerError::Unauthorized => Decision::NoToken,
                    AuthorizerError::KeysUnavailable => Decision::KeysUnavailable,
                    AuthorizerError::NotAnAuthorizerEvent(_) => Decision::NotAnAuthorizerEvent,
                };
                (Err(error), decision)
            }
        };
        let decision = match (decision, refusal) {
            (Decision::NoToken, Some(error)) => Decision::Refused(error),
            (decision, _) => decision,
        };
        match &answer {
            Ok(_) => tracing::info!(kind, decision = decision.name(), latency_ms, "authorizer"),
            Err(error) => tracing::info!(kind, error = %error, latency_ms, "authorizer"),
        }
        Decided {
            answer,
            decision,
            latency_ms,
        }
    }

    /// The token's verification; `None` when it is missing or invalid (then `refusal` says why).
    async fn verify(
        &self,
        token: Option<&str>,
        refusal: &mut Option<VerifyError>,
    ) -> Result<Option<Arc<VerifiedToken>>, AuthorizerError> {
        let Some(token) = token else {
            return Ok(None);
        };
        match self.verifier.verify(token).await {
            Ok(verified) => Ok(Some(verified)),
            Err(error) if error.is_unavailable() => Err(AuthorizerError::KeysUnavailable),
            Err(error) => {
                *refusal = Some(error);
                Ok(None)
            }
        }
    }

    async fn token(
        &self,
        event: ApiGatewayCustomAuthorizerRequest,
        refusal: &mut Option<VerifyError>,
    ) -> Result<(Value, Decision), AuthorizerError> {
        let arn = execute_api_arn(event.method_arn.as_deref())?;
        let token = event
            .authorization_token
            .as_deref()
            .and_then(bearer_credentials);
        let verified = self
            .verify(token, refusal)
            .await?
            .ok_or(AuthorizerError::Unauthorized)?;
        Ok(policy::policy_answer(
            &self.settings.routes,
            &arn,
            Some(&verified),
        ))
    }

    async fn request(
        &self,
        event: ApiGatewayCustomAuthorizerRequestTypeRequest,
        refusal: &mut Option<VerifyError>,
    ) -> Result<(Value, Decision), AuthorizerError> {
        let arn = execute_api_arn(event.method_arn.as_deref())?;
        // REST sends repeated headers in `multiValueHeaders` (and only the last in `headers`).
        let headers = if event.multi_value_headers.is_empty() {
            &event.headers
        } else {
            &event.multi_value_headers
        };
        let verified = self.verify(bearer_token(headers), refusal).await?;
        Ok(policy::policy_answer(
            &self.settings.routes,
            &arn,
            verified.as_deref(),
        ))
    }

    async fn v2(
        &self,
        event: ApiGatewayV2CustomAuthorizerV2Request,
        refusal: &mut Option<VerifyError>,
    ) -> Result<(Value, Decision), AuthorizerError> {
        let verified = self.verify(bearer_token(&event.headers), refusal).await?;
        match self.settings.response {
            ResponseMode::Simple => {
                // The request's own method and path, as `routeArn` names them: the resource an IAM answer
                // is evaluated against, so that both answers decide alike (a grant on `GET /reports/secret`
                // binds that path whichever route serves it: `GET /reports/{id}`, `ANY /reports/secret`).
                let target = match event.route_arn.as_deref() {
                    Some(arn) => execute_api_arn(Some(arn))?.target.to_owned(),
                    None => event
                        .route_key
                        .as_deref()
                        .and_then(route_key_target)
                        .unwrap_or_default(),
                };
                Ok(policy::simple_answer(
                    &self.settings.routes,
                    &target,
                    verified.as_deref(),
                ))
            }
            ResponseMode::Iam => {
                let arn = execute_api_arn(event.route_arn.as_deref())?;
                Ok(policy::policy_answer(
                    &self.settings.routes,
                    &arn,
                    verified.as_deref(),
                ))
            }
        }
    }
}

/// The event's `methodArn` (or `routeArn`), which names the API and stage the policy covers.
fn execute_api_arn(arn: Option<&str>) -> Result<MethodArn<'_>, AuthorizerError> {
    arn.and_then(MethodArn::parse)
        .ok_or(AuthorizerError::NotAnAuthorizerEvent(
            "no execute-api methodArn (or routeArn)",
        ))
}

/// Which authorizer event this is: `type` `TOKEN`, or `REQUEST` with `version` `2.0` (HTTP API payload 2.0)
/// or without (REST, HTTP API payload 1.0).
fn classify(mut event: Value) -> Result<Event, AuthorizerError> {
    // A member sent as null (`"headers": null` when a request has none) is read as absent.
    if let Some(members) = event.as_object_mut() {
        members.retain(|_, value| !value.is_null());
    }
    let kind = event.get("type").and_then(Value::as_str);
    let version = event.get("version").and_then(Value::as_str);
    let malformed = |_| AuthorizerError::NotAnAuthorizerEvent("its fields have the wrong types");
    match (kind, version) {
        (Some("TOKEN"), _) => serde_json::from_value(event)
            .map(Event::Token)
            .map_err(malformed),
        (Some("REQUEST"), Some("2.0")) => serde_json::from_value(event)
            .map(|e| Event::V2(Box::new(e)))
            .map_err(malformed),
        (Some("REQUEST"), _) => serde_json::from_value(event)
            .map(|e| Event::Request(Box::new(e)))
            .map_err(malformed),
        _ => Err(AuthorizerError::NotAnAuthorizerEvent(
            "expected \"type\": \"TOKEN\" or \"REQUEST\"",
        )),
    }
}
