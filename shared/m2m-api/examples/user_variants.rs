//! The `user` function with one hand-written platform piece swapped for the crate's own, for
//! `bench/invocation_cpu.py` only (never deployed): the kept/removed decisions of BENCHMARKS.md are measured
//! with and without each piece, in the same run. `USER_VARIANT` picks the variant:
//!
//! - `deployed` (or unset): as functions/user/src/main.rs;
//! - `lambda_http_adapter`: `lambda_http::run`, without the guard `m2m_api::run` puts around lambda_http's
//!   `Adapter` (what the guard costs);
//! - `tracing_request_line`: the request line written by `tracing`'s JSON layer, and the EMF line on its own.

use m2m_api::{ApiLayer, Require, RequireGrant};
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
        _ => m2m_api::run(service).await,
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
