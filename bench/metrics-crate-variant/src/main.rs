//! The `user` function with its metrics written by the `metrics_cloudwatch_embedded` crate instead of
//! m2m-telemetry's EMF writer, for the bench's kept/removed row of that writer (BENCHMARKS.md, never
//! deployed). Outside the workspace on purpose: the crate turns on lambda_http's default features, which
//! would otherwise reach every function and test of a workspace build. `USER_VARIANT` picks the variant, in
//! this one binary so that both share the same features:
//!
//! - `deployed` (or unset): as functions/user/src/main.rs (the control);
//! - `metrics_cloudwatch_embedded`: m2m-telemetry's writer installed switched off; the requests, their
//!   latency and the counters through the `metrics` facade into the crate's recorder, flushed after each
//!   invocation by its `MetricsLayer`.

use futures_util::future::BoxFuture;
use lambda_http::{Body, Request, Response};
use m2m_api::{Answered, ApiLayer, Require, RequireGrant};
use m2m_telemetry::{COUNTERS, Outcome};
use metrics_cloudwatch_embedded::Collector;
use std::task::{Context, Poll};
use std::time::Instant;
use tower::{Service, ServiceBuilder};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let by_the_crate =
        std::env::var("USER_VARIANT").as_deref() == Ok("metrics_cloudwatch_embedded");
    let collector = if by_the_crate {
        Some(init_with_the_crates_metrics())
    } else {
        m2m_telemetry::init_telemetry();
        None
    };
    let verifier = std::sync::Arc::new(m2m_api::verifier_from_env()?);
    let service = ServiceBuilder::new()
        .layer(ApiLayer::from_env()?)
        .layer(RequireGrant::new(
            verifier.clone(),
            Require::Grant("read:data"),
        ))
        .service_fn(|request| m2m_api::succeeded(request, "User API call succeeded!"));
    verifier.hydrate().await;
    match collector {
        // `m2m_api::run` (lambda_runtime::run: the runtime and its TracingLayer) with the crate's layer
        // outermost, as its own `service::run` stacks them.
        Some(collector) => {
            use lambda_http::lambda_runtime::{Runtime, layers::TracingLayer};
            let service = CountedByTheCrate {
                inner: service,
                collector,
            };
            Runtime::new(m2m_api::guard(service))
                .layer(TracingLayer::new())
                .layer(metrics_cloudwatch_embedded::lambda::MetricsLayer::new(
                    collector,
                ))
                .run()
                .await
        }
        None => m2m_api::run(service).await,
    }
}

/// `m2m_telemetry::init_telemetry` with m2m-telemetry's EMF writer switched off (installed first, disabled:
/// the install inside `init_telemetry` is then a no-op, its recorder never set), and the crate's collector
/// as the `metrics` recorder, configured as near docs/contract.md as it goes: the namespace, a `Function`
/// dimension on every metric, the units, every counter on every line (`emit_zeros`, the counters registered
/// up front), and the contract's `level` as a property of every line.
fn init_with_the_crates_metrics() -> &'static Collector {
    use metrics::Unit;
    let settings = m2m_telemetry::MetricsSettings::from_lookup(|name| std::env::var(name).ok());
    let off = m2m_telemetry::MetricsSettings {
        enabled: false,
        ..settings.clone()
    };
    assert!(
        m2m_telemetry::install_metrics(&off, std::io::stdout),
        "m2m-telemetry's EMF writer was installed before"
    );
    m2m_telemetry::init_telemetry();
    let collector = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(settings.namespace)
        .with_dimension("Function", settings.function)
        .emit_zeros(true)
        .init()
        .expect("the crate's collector is the only metrics recorder");
    collector.set_property("level", settings.level);
    metrics::describe_counter!("Requests", Unit::Count, "answered requests");
    metrics::describe_histogram!("Latency", Unit::Milliseconds, "arrival to answer");
    let _ = metrics::counter!("Requests");
    for name in COUNTERS {
        metrics::describe_counter!(name, Unit::Count, "");
        let _ = metrics::counter!(name);
    }
    collector
}

/// Counts each answered request into the crate's recorder, as `m2m_api::RequestLog` reports it to
/// m2m-telemetry: `Requests` with an `Outcome` label (the crate gives that label set a line of its own,
/// dimensions `[Function, Outcome]`) and without one (`[Function]`), `Latency` as a histogram (the crate's
/// only kind of sample), and the contract's `timestamp` as a property (the crate writes none).
#[derive(Clone)]
struct CountedByTheCrate<S> {
    inner: S,
    collector: &'static Collector,
}

impl<S> Service<Request> for CountedByTheCrate<S>
where
    S: Service<Request, Response = Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let preflight = request.method() == lambda_http::http::Method::OPTIONS;
        let answer = self.inner.call(request);
        let collector = self.collector;
        Box::pin(async move {
            let result = answer.await;
            if let Ok(response) = &result {
                let outcome = match response.extensions().get::<Answered>() {
                    Some(answered) => answered.outcome,
                    None if preflight => Outcome::Preflight,
                    None => Outcome::Granted,
                };
                let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
                metrics::counter!("Requests", "Outcome" => outcome.name()).increment(1);
                metrics::counter!("Requests").increment(1);
                metrics::histogram!("Latency").record(latency_ms);
                collector.set_property("timestamp", rfc3339_millis_now());
            }
            result
        })
    }
}

/// `2026-12-01T09:19:41.123Z`, as m2m-telemetry writes the lines' `timestamp` (digit by digit).
fn rfc3339_millis_now() -> String {
    fn digits(out: &mut [u8], mut value: u32) {
        for slot in out.iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    let at = time::OffsetDateTime::from(std::time::SystemTime::now());
    let mut text = *b"0000-00-00T00:00:00.000Z";
    digits(&mut text[0..4], at.year().rem_euclid(10_000) as u32);
    digits(&mut text[5..7], u8::from(at.month()).into());
    digits(&mut text[8..10], at.day().into());
    digits(&mut text[11..13], at.hour().into());
    digits(&mut text[14..16], at.minute().into());
    digits(&mut text[17..19], at.second().into());
    digits(&mut text[20..23], at.millisecond().into());
    String::from_utf8_lossy(&text).into_owned()
}
