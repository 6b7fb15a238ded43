//! The `user` function with one hand-written platform piece swapped for the crate's own, for
//! `bench/invocation_cpu.py` only (never deployed): the kept/removed decisions of BENCHMARKS.md are measured
//! with and without each piece, in the same run. `USER_VARIANT` picks the variant:
//!
//! - `deployed` (or unset): as functions/user/src/main.rs;
//! - `lambda_http_adapter`: `lambda_http::run`, so lambda_http's `Adapter` reads the event (the REST shape
//!   first, then the HTTP API shape) and converts the answer;
//! - `lambda_http_answer`: the event read once (`m2m_api::ApiGatewayEvent`), the answer converted by
//!   lambda_http's `Adapter`;
//! - `tracing_request_line`: the request line written by `tracing`'s JSON layer, and the EMF line on its own.

use lambda_http::{Adapter, LambdaEvent, Service};
use m2m_api::{ApiGatewayEvent, ApiLayer, Require, RequireGrant};
use std::task::{Context, Poll};
use tower::ServiceBuilder;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let variant = std::env::var("USER_VARIANT").unwrap_or_default();
    if variant == "tracing_request_line" {
        init_without_the_hand_written_line();
    } else {
        m2m_telemetry::init_telemetry();
    }
    let verifier = std::sync::Arc::new(m2m_api::verifier_from_env()?);
    let service = ServiceBuilder::new()
        .layer(ApiLayer::from_env()?)
        .layer(RequireGrant::new(
            verifier.clone(),
            Require::Grant("read:data"),
        ))
        .service_fn(|request| m2m_api::succeeded(request, "User API call succeeded!"));
    verifier.hydrate().await;
    match variant.as_str() {
        "lambda_http_adapter" => lambda_http::run(service).await,
        "lambda_http_answer" => {
            lambda_http::lambda_runtime::run(ReadOnce(Adapter::from(service))).await
        }
        _ => m2m_api::run(service).await,
    }
}

/// The event read as `m2m_api::run` reads it, handed to lambda_http's `Adapter` for the rest.
struct ReadOnce<A>(A);

impl<A> Service<LambdaEvent<ApiGatewayEvent>> for ReadOnce<A>
where
    A: Service<LambdaEvent<lambda_http::request::LambdaRequest>>,
{
    type Response = A::Response;
    type Error = A::Error;
    type Future = A::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<ApiGatewayEvent>) -> Self::Future {
        self.0
            .call(LambdaEvent::new(event.payload.0, event.context))
    }
}

/// `m2m_telemetry::init_telemetry` for the JSON format, without `install_json_request_lines`.
fn init_without_the_hand_written_line() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let env = |name: &str| std::env::var(name).ok();
    m2m_telemetry::install_metrics(
        &m2m_telemetry::MetricsSettings::from_lookup(env),
        std::io::stdout,
    );
    let settings = m2m_telemetry::LogSettings::from_lookup(env);
    tracing_subscriber::registry()
        .with(settings.filter)
        .with(m2m_telemetry::lambda_json_layer(std::io::stdout))
        .init();
}
