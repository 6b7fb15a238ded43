//! `POST /api/admin`: answers requests whose token grants `admin`.

use m2m_api::{ApiLayer, Require, RequireGrant};
use tower::ServiceBuilder;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    m2m_telemetry::init_telemetry();
    let verifier = std::sync::Arc::new(m2m_api::verifier_from_env()?);
    let service = ServiceBuilder::new()
        .layer(ApiLayer::from_env()?) // CORS, POST only, one log line per request
        .layer(RequireGrant::new(verifier.clone(), Require::Grant("admin")))
        .service_fn(|request| m2m_api::succeeded(request, "Admin API call succeeded!"));
    // The signing keys fetched during init, once every setting is read (never fatal): a container started
    // ahead of traffic answers its first request without a fetch.
    verifier.hydrate().await;
    m2m_api::run(service).await
}
