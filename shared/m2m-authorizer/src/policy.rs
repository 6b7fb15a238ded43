//! The answers: simple responses, and IAM policies that are right for every route of the API, so that a
//! decision cached for one route is never wrongly reused for another (docs/contract.md section 6).

use crate::Decision;
use crate::routes::{MethodArn, RouteGrants};
use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerResponse,
    ApiGatewayV2CustomAuthorizerSimpleResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use m2m_auth::{Grants, VerifiedToken};
use serde_json::{Map, Value, json};

/// The policy for a token with `grants` on the whole stage of `arn`: `Allow` on every route, and an
/// explicit `Deny` (which wins in IAM) on each route of `routes` whose grant is lacking. `None` (no valid
/// token) denies every route.
pub fn api_policy(
    grants: Option<&Grants>,
    routes: &RouteGrants,
    arn: &MethodArn<'_>,
) -> ApiGatewayCustomAuthorizerPolicy {
    let everything = format!("{}/*", arn.stage);
    let statements = match grants {
        None => vec![statement(IamPolicyEffect::Deny, vec![everything])],
        Some(grants) => {
            let denied: Vec<String> = routes
                .iter()
                .filter(|(_, require)| require.check(grants).is_err())
                .map(|(pattern, _)| format!("{}/{}", arn.stage, pattern.glob()))
                .collect();
            let mut statements = vec![statement(IamPolicyEffect::Allow, vec![everything])];
            if !denied.is_empty() {
                statements.push(statement(IamPolicyEffect::Deny, denied));
            }
            statements
        }
    };
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".to_owned());
    policy.statement = statements;
    policy
}

fn statement(effect: IamPolicyEffect, resource: Vec<String>) -> IamPolicyStatement {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_owned()];
    statement.effect = effect;
    statement.resource = resource;
    statement
}

/// What the backend receives (`requestContext.authorizer`): scalars only, nothing else of the token.
fn context(verified: &VerifiedToken) -> Map<String, Value> {
    let mut context = Map::new();
    if let Some(Value::String(sub)) = verified.claims.get("sub") {
        context.insert("sub".into(), sub.clone().into());
    }
    let grants: Vec<&str> = verified.grants.iter().collect();
    context.insert("grants".into(), grants.join(" ").into());
    if let Some(Value::String(tenant)) = verified.claims.get("dct") {
        context.insert("tenant".into(), tenant.clone().into());
    }
    context.insert("exp".into(), verified.expires_at.into());
    context
}

fn decision(routes: &RouteGrants, target: &str, verified: Option<&VerifiedToken>) -> Decision {
    match verified {
        // The caller tells a missing token from a refused one.
        None => Decision::NoToken,
        Some(token) if routes.missing(&token.grants, target).is_some() => Decision::NotGranted,
        Some(_) => Decision::Allowed,
    }
}

/// An IAM policy answer (REST `TOKEN` and `REQUEST`, HTTP API payload 1.0, payload 2.0 with
/// `AUTHORIZER_RESPONSE=iam`).
pub(crate) fn policy_answer(
    routes: &RouteGrants,
    arn: &MethodArn<'_>,
    verified: Option<&VerifiedToken>,
) -> (Value, Decision) {
    let mut answer: ApiGatewayCustomAuthorizerResponse<Map<String, Value>> = Default::default();
    answer.principal_id = Some(
        verified
            .and_then(|token| token.claims.get("sub"))
            .and_then(Value::as_str)
            .unwrap_or("anonymous")
            .to_owned(),
    );
    answer.policy_document = api_policy(verified.map(|token| &token.grants), routes, arn);
    answer.context = verified.map(context).unwrap_or_default();
    let mut value = serde_json::to_value(answer).unwrap_or_else(|_| json!({}));
    if let Some(object) = value.as_object_mut() {
        // Not a usage-plan API: the member is left out rather than sent as null.
        object.remove("usageIdentifierKey");
    }
    (value, decision(routes, arn.target, verified))
}

/// A payload 2.0 simple answer for the request `target` (`METHOD/path`, as its `routeArn` names it).
pub(crate) fn simple_answer(
    routes: &RouteGrants,
    target: &str,
    verified: Option<&VerifiedToken>,
) -> (Value, Decision) {
    let decision = decision(routes, target, verified);
    let mut answer: ApiGatewayV2CustomAuthorizerSimpleResponse<Map<String, Value>> =
        Default::default();
    answer.is_authorized = decision == Decision::Allowed;
    answer.context = verified.map(context).unwrap_or_default();
    let value = serde_json::to_value(answer).unwrap_or_else(|_| json!({}));
    (value, decision)
}
