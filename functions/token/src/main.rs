//! `POST /m2m/token`: exchanges an access key for a verified JWT.

use m2m_api::ApiLayer;
use tower::ServiceBuilder;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    m2m_api::init_telemetry();
    let api: &'static _ = Box::leak(Box::new(m2m_api::TokenApi::from_env()?));
    // The configured project's keys and the stack's secret read during init (never fatal).
    api.warm_up().await;
    let service = ServiceBuilder::new()
        .layer(ApiLayer::new(api.cors().clone())) // CORS, POST only, one log line per request
        .service_fn(|request| async {
            Ok::<_, std::convert::Infallible>(api.handle(request).await)
        });
    m2m_api::run(service).await
}
