//! The API Gateway Lambda authorizer: answers every authorizer event kind (docs/contract.md section 6).

use lambda_runtime::{LambdaEvent, service_fn};
use m2m_api::Outcome;
use m2m_authorizer::Verdict;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    m2m_api::init_telemetry();
    let authorizer: &'static _ = Box::leak(Box::new(m2m_authorizer::Authorizer::from_env()?));
    // The signing keys fetched during init (never fatal).
    authorizer.verifier().hydrate().await;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let started = std::time::Instant::now();
        let (answer, verdict) = authorizer.decide(event.payload).await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        m2m_api::metrics::record_request(outcome(&verdict), latency_ms);
        answer
    }))
    .await
}

/// The metrics outcome of a decision: the same classes the protected functions count.
fn outcome(verdict: &Verdict) -> Outcome {
    match verdict {
        Verdict::Allowed => Outcome::Granted,
        Verdict::NotGranted => Outcome::InsufficientGrant,
        Verdict::NoToken => Outcome::MissingAuthorization,
        Verdict::Refused(error) => Outcome::of_refused_token(error),
        Verdict::KeysUnavailable => Outcome::KeysUnavailable,
        Verdict::NotAnAuthorizerEvent => Outcome::BadRequest,
    }
}
