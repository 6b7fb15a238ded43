//! The API Gateway Lambda authorizer: answers every authorizer event kind (docs/contract.md section 6).

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

// One invocation at a time per container: a single-threaded runtime starts faster and uses less memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    m2m_api::init_tracing();
    let authorizer: &'static _ = Box::leak(Box::new(m2m_authorizer::Authorizer::from_env()?));
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        authorizer.answer(event.payload)
    }))
    .await
}
