use std::time::Instant;

/// Installs the log subscriber: JSON lines on Lambda (CloudWatch parses them), compact text elsewhere.
/// `RUST_LOG` filters (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let on_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    // A second initialisation (tests) is harmless: the first subscriber stays.
    let _ = if on_lambda {
        builder
            .json()
            .flatten_event(true)
            .without_time()
            .with_current_span(false)
            .try_init()
    } else {
        builder.compact().with_writer(std::io::stderr).try_init()
    };
}

/// The one line logged per request. It names the error kind, never a token, key or secret.
pub(crate) fn log_request(
    method: &str,
    route: &str,
    status: u16,
    started: Instant,
    error: Option<&crate::ApiError>,
) {
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let error = error.map(crate::ApiError::kind);
    if status >= 500 {
        tracing::warn!(method, route, status, latency_ms, error, "request");
    } else {
        tracing::info!(method, route, status, latency_ms, error, "request");
    }
}
