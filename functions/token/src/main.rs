//! `POST /m2m/token`: exchanges an access key for a verified JWT.

use m2m_api::ApiLayer;
use m2m_token::TokenApi;
use tower::ServiceBuilder;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    m2m_telemetry::init_telemetry();
    let api = TokenApi::from_env()?;
    // The configured project's keys and the stack's secret read during init (never fatal).
    api.warm_up().await;
    let api = &api;
    let service = ServiceBuilder::new()
        .layer(ApiLayer::new(api.cors().clone())) // CORS, POST only, one log line per request
        .service_fn(move |request| async move {
            Ok::<_, std::convert::Infallible>(api.handle(request).await)
        });
    m2m_api::run(service).await
}
