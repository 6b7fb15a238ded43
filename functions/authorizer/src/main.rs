//! The API Gateway Lambda authorizer: answers every authorizer event kind (docs/contract.md section 6).

use lambda_runtime::{LambdaEvent, service_fn};
use m2m_authorizer::{Authorizer, Decision};
use m2m_telemetry::Outcome;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    m2m_telemetry::init_telemetry();
    let authorizer = Authorizer::from_env()?;
    // The signing keys fetched during init (never fatal).
    authorizer.verifier().hydrate().await;
    let authorizer = &authorizer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let decided = authorizer.decide(event.payload).await;
        m2m_telemetry::metrics::record_request(outcome(&decided.decision), decided.latency_ms);
        decided.answer
    }))
    .await
}

/// The metrics outcome of a decision: the same classes the protected functions count.
fn outcome(decision: &Decision) -> Outcome {
    match decision {
        Decision::Allowed => Outcome::Granted,
        Decision::NotGranted => Outcome::InsufficientGrant,
        Decision::NoToken => Outcome::MissingAuthorization,
        Decision::Refused(error) => Outcome::of_refused_token(error),
        Decision::KeysUnavailable => Outcome::KeysUnavailable,
        Decision::NotAnAuthorizerEvent => Outcome::BadRequest,
    }
}
