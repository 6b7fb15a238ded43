use std::time::Instant;

/// Installs the log subscriber: JSON lines on Lambda (CloudWatch parses them), compact text elsewhere.
/// `RUST_LOG` filters (default `info`): a level, or `target=level` pairs separated by commas.
///
/// The filter is `tracing_subscriber`'s `Targets` rather than `EnvFilter`: the same directives minus span and
/// field filters, without the regular-expression engine `EnvFilter` links (about a quarter of a megabyte of
/// every function's binary).
pub fn init_tracing() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|directives| !directives.trim().is_empty())
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let registry = tracing_subscriber::registry().with(filter);
    let on_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    // A second initialisation (tests) is harmless: the first subscriber stays.
    let _ = if on_lambda {
        registry.with(lambda_json_layer(std::io::stdout)).try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .compact()
                    .with_writer(std::io::stderr),
            )
            .try_init()
    };
}

/// The log lines of the functions on Lambda, written to `writer`: one flat JSON object per event, without
/// a timestamp (CloudWatch adds its own) or the span stack.
pub fn lambda_json_layer<S, W>(writer: W) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    W: for<'writer> tracing_subscriber::fmt::MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .with_target(false)
        .json()
        .flatten_event(true)
        .without_time()
        .with_current_span(false)
        .with_writer(writer)
}

/// The one line logged per request. It names the error kind, never a token, key or secret.
pub(crate) fn log_request(
    method: &str,
    route: &str,
    status: u16,
    started: Instant,
    error: Option<&'static str>,
) {
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(method, route, status, latency_ms, error, "request");
    } else {
        tracing::info!(method, route, status, latency_ms, error, "request");
    }
}
