//! The functions' log lines: what is logged, in which format, at which level (docs/contract.md section 2).

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing_subscriber::filter::{LevelFilter, Targets};

/// Targets whose verbose lines can carry what must never be logged, and the most verbose level each may
/// log at whatever the configuration asks for. `lambda_runtime` logs every raw event at TRACE (bodies with
/// access keys, `authorization` headers; the prefix also covers `lambda_runtime_api_client`); the AWS SDK
/// logs whole signed requests and responses (the secret's value) at TRACE and error values holding raw
/// responses at DEBUG (`aws_` covers every SDK crate: a target matches a directive by prefix); the HTTP
/// stack can log headers and connection bytes at TRACE.
pub const LEVEL_CAPS: [(&str, LevelFilter); 7] = [
    ("lambda_runtime", LevelFilter::DEBUG),
    ("lambda_http", LevelFilter::DEBUG),
    ("aws_", LevelFilter::INFO),
    ("hyper", LevelFilter::DEBUG),
    ("reqwest", LevelFilter::DEBUG),
    ("h2", LevelFilter::DEBUG),
    ("rustls", LevelFilter::DEBUG),
];

/// The target of `lambda_runtime`'s per-invocation span (it holds no event of its own).
const RUNTIME_INVOKE_SPAN: &str = "lambda_runtime::layers::trace";

/// The two formats: JSON lines (what CloudWatch parses, and what Lambda's JSON log format expects) or
/// compact text for a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

/// How the functions log, read from the environment.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: Targets,
}

impl LogSettings {
    /// Lambda's logging controls (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`, set from the function's
    /// `LoggingConfig`) win over `RUST_LOG`, which keeps working where they are not set; without either the
    /// level is INFO, and the format JSON on Lambda, text elsewhere. [`LEVEL_CAPS`] apply in every case.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = m2m_auth::trimmed(&lookup);
        let format = match get("AWS_LAMBDA_LOG_FORMAT").as_deref() {
            Some(value) if value.eq_ignore_ascii_case("json") => LogFormat::Json,
            Some(value) if value.eq_ignore_ascii_case("text") => LogFormat::Text,
            _ if get("AWS_LAMBDA_FUNCTION_NAME").is_some() => LogFormat::Json,
            _ => LogFormat::Text,
        };
        let requested = get("AWS_LAMBDA_LOG_LEVEL")
            .and_then(|level| lambda_level(&level))
            .map(|level| Targets::new().with_default(level))
            .or_else(|| get("RUST_LOG").and_then(|directives| directives.parse::<Targets>().ok()))
            .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
        let mut filter = capped(&requested);
        if format == LogFormat::Json {
            // The runtime's span around each invocation ("Lambda runtime invoke", with the request id) is
            // never written in the JSON lines ([`lambda_json_layer`] leaves spans out; the request line names
            // its request id itself), yet recording it formatted its fields for every invocation.
            filter = filter.with_target(RUNTIME_INVOKE_SPAN, LevelFilter::OFF);
        }
        LogSettings { format, filter }
    }
}

/// Lambda's application log levels; FATAL (which `tracing` lacks) is ERROR.
fn lambda_level(level: &str) -> Option<LevelFilter> {
    if level.eq_ignore_ascii_case("fatal") {
        return Some(LevelFilter::ERROR);
    }
    level.parse().ok()
}

/// `requested` with [`LEVEL_CAPS`] applied: a directive naming a capped target (or one inside it) is
/// lowered to the cap, and each capped target gets a directive of its own no more verbose than what
/// `requested` gave it, so neither a default of TRACE nor `lambda_runtime=trace` gets past a cap.
pub fn capped(requested: &Targets) -> Targets {
    let cap_of = |target: &str| {
        LEVEL_CAPS
            .iter()
            .filter(|(prefix, _)| target.starts_with(prefix))
            .map(|(_, cap)| *cap)
            .min()
    };
    let mut filter =
        Targets::new().with_default(requested.default_level().unwrap_or(LevelFilter::OFF));
    for (target, level) in requested.iter() {
        let level = cap_of(target).map_or(level, |cap| level.min(cap));
        filter = filter.with_target(target, level);
    }
    for (prefix, cap) in LEVEL_CAPS {
        filter = filter.with_target(prefix, enabled_level(requested, prefix).min(cap));
    }
    filter
}

/// The most verbose level `filter` enables for events of `target`.
fn enabled_level(filter: &Targets, target: &str) -> LevelFilter {
    use tracing::Level;
    [
        Level::TRACE,
        Level::DEBUG,
        Level::INFO,
        Level::WARN,
        Level::ERROR,
    ]
    .into_iter()
    .find(|level| filter.would_enable(target, level))
    .map_or(LevelFilter::OFF, LevelFilter::from_level)
}

/// Installs the function's telemetry from the environment: the log subscriber ([`LogSettings::from_lookup`]),
/// JSON lines on stdout or compact text on stderr; the metrics ([`crate::MetricsSettings::from_lookup`]), EMF
/// lines on stdout; and, with JSON logs, a panic hook that logs panics as JSON lines. A second initialisation
/// (tests) is harmless: the first subscriber stays.
///
/// The filter is `tracing_subscriber`'s `Targets` rather than `EnvFilter`: the same directives minus span and
/// field filters, without the regular-expression engine `EnvFilter` links (about a quarter of a megabyte of
/// every function's binary).
pub fn init_telemetry() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let env = |name: &str| std::env::var(name).ok();
    crate::install_metrics(&crate::MetricsSettings::from_lookup(env), std::io::stdout);
    let settings = LogSettings::from_lookup(env);
    if settings.format == LogFormat::Json {
        crate::install_json_request_lines(&settings, std::io::stdout);
    }
    let registry = tracing_subscriber::registry().with(settings.filter);
    let installed = match settings.format {
        LogFormat::Json => registry.with(lambda_json_layer(std::io::stdout)).try_init(),
        LogFormat::Text => registry.with(text_layer(std::io::stderr)).try_init(),
    };
    if installed.is_ok() && settings.format == LogFormat::Json {
        std::panic::set_hook(Box::new(log_panic));
    }
}

/// A panic as a JSON line at ERROR. The default hook's plain-text lines would be taken for INFO by Lambda's
/// log filter (and dropped at WARN) and break the one-JSON-object-per-line format.
fn log_panic(info: &std::panic::PanicHookInfo<'_>) {
    let location = info
        .location()
        .map(|location| format!("{}:{}", location.file(), location.line()));
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    tracing::error!(panic = message, location, "panicked");
}

/// The JSON log lines of the functions, written to `writer`: one flat object per event with `timestamp`
/// (RFC 3339, UTC, milliseconds — what Lambda's JSON log format expects) and `level`, without the span stack.
pub fn lambda_json_layer<S, W>(writer: W) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    W: for<'writer> tracing_subscriber::fmt::MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .with_target(false)
        .json()
        .flatten_event(true)
        .with_timer(Rfc3339Millis)
        // The span stack (on Lambda the runtime's invoke span) would be re-read for every line; the request
        // line names its request id and trace id itself.
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(writer)
}

/// The text log lines for a terminal (local runs), written to `writer`.
pub fn text_layer<S, W>(writer: W) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    W: for<'writer> tracing_subscriber::fmt::MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(false)
        .compact()
        .with_timer(Rfc3339Millis)
        .with_writer(writer)
}

/// `2026-12-01T09:19:41.123Z`, as the per-request lines write it.
struct Rfc3339Millis;

impl tracing_subscriber::fmt::time::FormatTime for Rfc3339Millis {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        let text = rfc3339_millis(SystemTime::now());
        w.write_str(std::str::from_utf8(&text).map_err(|_| std::fmt::Error)?)
    }
}

/// One reading of the clock as the per-request lines write it: RFC 3339 text for their `timestamp`, Unix
/// milliseconds for the EMF line's `_aws.Timestamp`.
pub(crate) struct Timestamp {
    pub(crate) unix_ms: u128,
    pub(crate) rfc3339: [u8; 24],
}

impl Timestamp {
    pub(crate) fn now() -> Self {
        let now = SystemTime::now();
        Timestamp {
            unix_ms: now
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_millis()),
            rfc3339: rfc3339_millis(now),
        }
    }
}

/// `at` (UTC) as `2026-12-01T09:19:41.123Z`, by humantime. It writes the years 1970 to 9999 only (it panics
/// before, fails after), so a clock outside them, which no host this runs on has, is written as the nearer end.
pub(crate) fn rfc3339_millis(at: SystemTime) -> [u8; 24] {
    let last = UNIX_EPOCH + Duration::from_millis(253_402_300_799_999);
    let mut text = *b"0000-00-00T00:00:00.000Z";
    let formatted = humantime::format_rfc3339_millis(at.clamp(UNIX_EPOCH, last));
    // 24 bytes exactly for every instant in that range: the write cannot fall short.
    let _ = std::io::Write::write_fmt(&mut &mut text[..], format_args!("{formatted}"));
    text
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{Outcome, RequestLine};
    use std::sync::{Arc, Mutex};

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        let at = |nanos: i128| {
            let since = Duration::new(
                (nanos.abs() / 1_000_000_000) as u64,
                (nanos.abs() % 1_000_000_000) as u32,
            );
            let instant = if nanos < 0 {
                UNIX_EPOCH - since
            } else {
                UNIX_EPOCH + since
            };
            String::from_utf8(rfc3339_millis(instant).to_vec()).unwrap()
        };
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(1_796_137_613_987_654_321), "2026-12-01T15:06:53.987Z");
        assert_eq!(at(951_825_599_999_999_999), "2000-02-29T11:59:59.999Z");
        assert_eq!(at(253_402_300_799_000_000_000), "9999-12-31T23:59:59.000Z");
        // A clock outside humantime's years gives the nearer end, not a panic or a short line.
        assert_eq!(at(-1_000_000_000), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(253_402_300_800_000_000_000), "9999-12-31T23:59:59.999Z");
        // Against time's calendar, over a spread of instants.
        for step in 0..2_000i128 {
            let nanos = step * 3_155_695_200_000_000 + step * 7_777_777;
            let t = time::OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap();
            let expected = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            );
            assert_eq!(at(nanos), expected);
        }
    }

    /// What a writer was given, shared with the test that reads it (the request line's tests use it too).
    #[derive(Clone, Default)]
    pub(crate) struct Buffer(pub(crate) Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn settings(vars: &[(&str, &str)]) -> LogSettings {
        LogSettings::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
    }

    fn most_verbose(settings: &LogSettings, target: &str) -> LevelFilter {
        enabled_level(&settings.filter, target)
    }

    #[test]
    fn lambda_log_level_wins_over_rust_log_which_works_alone() {
        let lambda = settings(&[("AWS_LAMBDA_LOG_LEVEL", "WARN"), ("RUST_LOG", "debug")]);
        assert_eq!(most_verbose(&lambda, "m2m_api"), LevelFilter::WARN);
        let local = settings(&[("RUST_LOG", "warn,m2m_auth=debug")]);
        assert_eq!(most_verbose(&local, "m2m_api"), LevelFilter::WARN);
        assert_eq!(most_verbose(&local, "m2m_auth::jwks"), LevelFilter::DEBUG);
        assert_eq!(most_verbose(&settings(&[]), "m2m_api"), LevelFilter::INFO);
        // FATAL is Lambda's; an unknown level falls back to RUST_LOG.
        let fatal = settings(&[("AWS_LAMBDA_LOG_LEVEL", "fatal")]);
        assert_eq!(most_verbose(&fatal, "m2m_api"), LevelFilter::ERROR);
        let unknown = settings(&[("AWS_LAMBDA_LOG_LEVEL", "loud"), ("RUST_LOG", "debug")]);
        assert_eq!(most_verbose(&unknown, "m2m_api"), LevelFilter::DEBUG);
    }

    #[test]
    fn lambda_log_format_wins_and_text_stays_for_local_runs() {
        let on_lambda = ("AWS_LAMBDA_FUNCTION_NAME", "token");
        assert_eq!(settings(&[on_lambda]).format, LogFormat::Json);
        assert_eq!(settings(&[]).format, LogFormat::Text);
        let text = settings(&[on_lambda, ("AWS_LAMBDA_LOG_FORMAT", "Text")]);
        assert_eq!(text.format, LogFormat::Text);
        let json = settings(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
        assert_eq!(json.format, LogFormat::Json);
    }

    #[test]
    fn the_runtimes_invoke_span_is_recorded_only_where_lines_show_spans() {
        use lambda_http::lambda_runtime::{Context, Error, LambdaInvocation, layers::TracingLayer};
        use tower::{Layer, Service};
        use tracing_subscriber::layer::SubscriberExt;
        let on_lambda = [("AWS_LAMBDA_FUNCTION_NAME", "user")];
        for (vars, recorded) in [(&on_lambda[..], false), (&[][..], true)] {
            let settings = settings(vars);
            let subscriber = tracing_subscriber::registry().with(settings.filter.clone());
            let in_span = Arc::new(Mutex::new(None));
            let seen = in_span.clone();
            // The runtime's own layer, as lambda_runtime::run wraps every invocation in it.
            let mut service =
                TracingLayer::new().layer(tower::service_fn(move |_: LambdaInvocation| {
                    *seen.lock().unwrap() = Some(!tracing::Span::current().is_disabled());
                    std::future::ready(Ok::<(), Error>(()))
                }));
            let invocation = LambdaInvocation {
                parts: lambda_http::http::Response::new(()).into_parts().0,
                body: bytes::Bytes::new(),
                context: Context::default(),
            };
            tracing::subscriber::with_default(subscriber, || drop(service.call(invocation)));
            assert_eq!(*in_span.lock().unwrap(), Some(recorded), "{vars:?}");
            // Its events are still let through.
            assert!(
                settings
                    .filter
                    .would_enable("lambda_runtime::runtime", &tracing::Level::ERROR)
            );
        }
    }

    #[test]
    fn runtime_sdk_and_http_targets_never_log_below_their_cap() {
        let most = [
            settings(&[("AWS_LAMBDA_LOG_LEVEL", "TRACE")]),
            settings(&[("RUST_LOG", "trace")]),
            settings(&[(
                "RUST_LOG",
                "debug,lambda=trace,lambda_runtime::layers=trace,aws_smithy_runtime=trace,aws_sigv4=trace,hyper_util=trace",
            )]),
        ];
        for settings in &most {
            for (target, cap) in [
                ("lambda_runtime::layers::api_response", LevelFilter::DEBUG),
                ("lambda_runtime", LevelFilter::DEBUG),
                ("lambda_runtime_api_client::body", LevelFilter::DEBUG),
                ("lambda_http::request", LevelFilter::DEBUG),
                (
                    "aws_smithy_runtime::client::orchestrator",
                    LevelFilter::INFO,
                ),
                ("aws_sigv4::http_request::sign", LevelFilter::INFO),
                ("aws_config::imds", LevelFilter::INFO),
                ("hyper_util::client::legacy", LevelFilter::DEBUG),
                ("reqwest::connect::verbose", LevelFilter::DEBUG),
            ] {
                assert_eq!(most_verbose(settings, target), cap, "{target}");
            }
        }
        // Our own lines (which never hold a secret) keep the level asked for.
        assert_eq!(most_verbose(&most[0], "m2m_api"), LevelFilter::TRACE);
        // A cap never raises a target above the level asked for.
        let quiet = settings(&[("AWS_LAMBDA_LOG_LEVEL", "WARN")]);
        assert_eq!(most_verbose(&quiet, "lambda_runtime"), LevelFilter::WARN);
        let off = settings(&[("RUST_LOG", "off")]);
        assert_eq!(most_verbose(&off, "aws_config"), LevelFilter::OFF);
    }

    /// The lines a `RequestLine` writes through the shipped JSON layer under `settings`' filter.
    fn request_lines(settings: &LogSettings, statuses: &[u16]) -> Vec<serde_json::Value> {
        use tracing_subscriber::layer::SubscriberExt;
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry()
            .with(settings.filter.clone())
            .with(lambda_json_layer(move || writer.clone()));
        let mut context = lambda_http::Context::default();
        context.request_id = "8f5ae9c4-request".to_owned();
        context.xray_trace_id = Some("Root=1-67891233-abcdef012345678912345678".to_owned());
        let request =
            lambda_http::RequestExt::with_lambda_context(lambda_http::Request::default(), context);
        crate::install_metrics(
            &crate::MetricsSettings::from_lookup(|_| None),
            std::io::sink,
        );
        tracing::subscriber::with_default(subscriber, || {
            for status in statuses {
                RequestLine::of(&request).finish(*status, Outcome::Granted, None);
            }
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).expect(line))
            .collect()
    }

    /// `2026-12-01T09:19:41.123Z`, today.
    fn assert_rfc3339_millis(timestamp: &str) {
        let bytes = timestamp.as_bytes();
        assert_eq!(bytes.len(), 24, "{timestamp}");
        for (at, byte) in bytes.iter().enumerate() {
            match at {
                4 | 7 => assert_eq!(*byte, b'-', "{timestamp}"),
                10 => assert_eq!(*byte, b'T', "{timestamp}"),
                13 | 16 => assert_eq!(*byte, b':', "{timestamp}"),
                19 => assert_eq!(*byte, b'.', "{timestamp}"),
                23 => assert_eq!(*byte, b'Z', "{timestamp}"),
                _ => assert!(byte.is_ascii_digit(), "{timestamp}"),
            }
        }
        let today = time::OffsetDateTime::now_utc().date();
        let date = format!(
            "{:04}-{:02}-{:02}",
            today.year(),
            u8::from(today.month()),
            today.day()
        );
        assert_eq!(&timestamp[..10], date);
    }

    #[test]
    fn json_request_line_has_timestamp_level_request_and_trace_ids() {
        let lines = request_lines(&settings(&[("AWS_LAMBDA_LOG_LEVEL", "INFO")]), &[200, 503]);
        assert_eq!(lines.len(), 2, "{lines:?}");
        for (line, level) in lines.iter().zip(["INFO", "WARN"]) {
            assert_rfc3339_millis(line["timestamp"].as_str().expect("a timestamp"));
            assert_eq!(line["level"], level);
            assert_eq!(line["message"], "request");
            assert_eq!(line["outcome"], "granted");
            assert_eq!(line["requestId"], "8f5ae9c4-request");
            assert_eq!(
                line["xrayTraceId"],
                "Root=1-67891233-abcdef012345678912345678"
            );
        }
    }

    #[test]
    fn warn_level_hides_the_info_request_lines() {
        let lines = request_lines(
            &settings(&[("AWS_LAMBDA_LOG_LEVEL", "WARN")]),
            &[200, 401, 503],
        );
        let levels: Vec<_> = lines.iter().map(|line| line["level"].clone()).collect();
        assert_eq!(levels, ["WARN"]);
        assert_eq!(lines[0]["status"], 503);
    }

    #[test]
    fn timestamps_have_milliseconds() {
        use tracing_subscriber::fmt::time::FormatTime;
        let mut text = String::new();
        Rfc3339Millis
            .format_time(&mut tracing_subscriber::fmt::format::Writer::new(&mut text))
            .unwrap();
        assert_rfc3339_millis(&text);
    }
}
