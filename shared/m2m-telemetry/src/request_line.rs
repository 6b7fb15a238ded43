//! The one log line and metrics record of each request (docs/contract.md, "Logs and metrics").
//!
//! On Lambda (JSON log format) both are written by hand into one buffer and handed to stdout in one write:
//! going through `tracing`'s JSON formatter cost more per request than verifying a repeated token, and two
//! writes are two system calls. Elsewhere (the terminal's text format, or before [`install_json_request_lines`])
//! the line is a `tracing` event like every other, and the metrics line is written on its own. The test
//! `hand_written_line_equals_the_json_layers` holds the two paths to the same JSON.

use crate::Outcome;
use crate::logging::{LogSettings, Timestamp};

use std::sync::OnceLock;
use std::time::Instant;
use tracing::Level;

/// What the one log line and metrics record of a request need of it, taken when the request arrives
/// (public for the benchmark of their cost). It names the outcome and error kind, never a token, key or
/// secret; `requestId` and `xrayTraceId` tie it to Lambda's own lines and to the request's trace.
pub struct RequestLine {
    started: Instant,
    method: http::Method,
    route: String,
    request_id: Option<String>,
    trace_id: Option<String>,
}

/// Where the hand-written JSON request lines go, and which of their two levels the filter lets through.
struct JsonRequestLines {
    info: bool,
    warn: bool,
    write: crate::metrics::Sink,
}

static JSON_REQUEST_LINES: OnceLock<JsonRequestLines> = OnceLock::new();

/// The target of the request line's `tracing` event, which the log filter's directives name.
const TARGET: &str = module_path!();

/// Writes the request lines as JSON to `writer` from now on, each followed by the request's metrics line
/// when metrics are installed, both in one write; the first call wins (it returns false afterwards).
/// [`crate::init_telemetry`] calls it with stdout when the log format is JSON.
pub fn install_json_request_lines<W>(settings: &LogSettings, writer: W) -> bool
where
    W: for<'writer> tracing_subscriber::fmt::MakeWriter<'writer> + Send + Sync + 'static,
{
    let mut installed = false;
    JSON_REQUEST_LINES.get_or_init(|| {
        installed = true;
        JsonRequestLines::new(settings, writer)
    });
    installed
}

impl JsonRequestLines {
    fn new<W>(settings: &LogSettings, writer: W) -> Self
    where
        W: for<'writer> tracing_subscriber::fmt::MakeWriter<'writer> + Send + Sync + 'static,
    {
        JsonRequestLines {
            info: settings.filter.would_enable(TARGET, &Level::INFO),
            warn: settings.filter.would_enable(TARGET, &Level::WARN),
            write: crate::metrics::sink(writer),
        }
    }

    fn enabled(&self, level: Level) -> bool {
        if level == Level::WARN {
            self.warn
        } else {
            self.info
        }
    }

    /// The request's line (if its level is enabled) and its metrics line (if metrics are installed), in
    /// one write, with one reading of the clock for both.
    fn write(
        &self,
        line: &RequestLine,
        status: u16,
        latency_ms: f64,
        outcome: Outcome,
        error: Option<&'static str>,
    ) {
        thread_local! {
            // One buffer per thread, reused: no allocation per request.
            static LINES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let at = Timestamp::now();
        LINES.with_borrow_mut(|lines| {
            lines.clear();
            if self.enabled(level_of(status)) {
                line.write_json(lines, &at, status, latency_ms, outcome, error);
            }
            crate::metrics::append_request(lines, &at, outcome, latency_ms);
            if !lines.is_empty() {
                (self.write)(lines);
            }
        });
    }
}

impl RequestLine {
    pub fn of<B>(request: &http::Request<B>) -> Self {
        let context = request.extensions().get::<lambda_runtime::Context>();
        Self::new(request.method().clone(), request.uri().path(), context)
    }

    /// The line of a request that has `method` and `path` and arrived with the invocation `context`.
    pub fn new(
        method: http::Method,
        path: &str,
        context: Option<&lambda_runtime::Context>,
    ) -> Self {
        let trace_id = context
            .and_then(|context| context.xray_trace_id.clone())
            // Set by the runtime for each invocation when the event's headers carry no trace id.
            .or_else(|| std::env::var("_X_AMZN_TRACE_ID").ok());
        let route = match path.char_indices().nth(128) {
            Some((end, _)) => &path[..end],
            None => path,
        };
        RequestLine {
            started: Instant::now(),
            method,
            route: route.to_owned(),
            request_id: context.map(|context| context.request_id.clone()),
            trace_id,
        }
    }

    /// Writes the request's line and records its metrics.
    pub fn finish(&self, status: u16, outcome: Outcome, error: Option<&'static str>) {
        let latency_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        match JSON_REQUEST_LINES.get() {
            Some(sink) => sink.write(self, status, latency_ms, outcome, error),
            None => {
                crate::metrics::record_request(outcome, latency_ms);
                self.event(status, latency_ms, outcome, error);
            }
        }
    }

    /// The line as the `tracing` event every other log line is.
    fn event(&self, status: u16, latency_ms: f64, outcome: Outcome, error: Option<&'static str>) {
        let method = self.method.as_str();
        let route = self.route.as_str();
        let outcome = outcome.name();
        let request_id = self.request_id.as_deref();
        let trace_id = self.trace_id.as_deref();
        // A level must be a constant at each call site: one macro, two sites.
        macro_rules! request_line {
            ($level:expr) => {
                tracing::event!(
                    target: TARGET,
                    $level,
                    method,
                    route,
                    status,
                    latency_ms,
                    outcome,
                    error,
                    requestId = request_id,
                    xrayTraceId = trace_id,
                    "request"
                )
            };
        }
        if level_of(status) == Level::WARN {
            request_line!(Level::WARN);
        } else {
            request_line!(Level::INFO);
        }
    }

    /// The line as [`crate::lambda_json_layer`] writes the event, by hand: the same members in the same
    /// order, strings escaped by serde_json, and absent ids left out. Pieces are appended, not `write!`n:
    /// the formatting machinery cost more than the line's bytes.
    fn write_json(
        &self,
        out: &mut Vec<u8>,
        at: &Timestamp,
        status: u16,
        latency_ms: f64,
        outcome: Outcome,
        error: Option<&'static str>,
    ) {
        out.extend_from_slice(br#"{"timestamp":""#);
        out.extend_from_slice(&at.rfc3339);
        out.extend_from_slice(br#"","level":""#);
        out.extend_from_slice(level_of(status).as_str().as_bytes());
        out.extend_from_slice(br#"","message":"request","method":"#);
        json_string(out, self.method.as_str());
        out.extend_from_slice(br#","route":"#);
        json_string(out, &self.route);
        out.extend_from_slice(br#","status":"#);
        out.extend_from_slice(itoa::Buffer::new().format(status).as_bytes());
        out.extend_from_slice(br#","latency_ms":"#);
        let _ = serde_json::to_writer(&mut *out, &latency_ms);
        out.extend_from_slice(br#","outcome":""#);
        out.extend_from_slice(outcome.name().as_bytes());
        out.push(b'"');
        for (name, value) in [
            (&br#","error":"#[..], error),
            (br#","requestId":"#, self.request_id.as_deref()),
            (br#","xrayTraceId":"#, self.trace_id.as_deref()),
        ] {
            if let Some(value) = value {
                out.extend_from_slice(name);
                json_string(out, value);
            }
        }
        out.extend_from_slice(b"}\n");
    }
}

/// A server error's line is a warning (Lambda's log level WARN keeps it); every other line is information.
fn level_of(status: u16) -> Level {
    if status >= 500 {
        Level::WARN
    } else {
        Level::INFO
    }
}

fn json_string(out: &mut Vec<u8>, text: &str) {
    let _ = serde_json::to_writer(&mut *out, text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::lambda_json_layer;
    use crate::logging::tests::Buffer;
    use serde_json::Value;

    fn request(path: &str, trace_id: Option<&str>) -> lambda_http::Request {
        let mut context = lambda_http::Context::default();
        context.request_id = "8f5ae9c4-request".to_owned();
        context.xray_trace_id = trace_id.map(str::to_owned);
        let mut request = lambda_http::Request::default();
        *request.uri_mut() = path.parse().unwrap();
        *request.method_mut() = lambda_http::http::Method::POST;
        lambda_http::RequestExt::with_lambda_context(request, context)
    }

    /// The event through the shipped JSON layer, as every line but the request line is written.
    fn through_the_layer(line: &RequestLine, status: u16, error: Option<&'static str>) -> String {
        use tracing_subscriber::layer::SubscriberExt;
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber =
            tracing_subscriber::registry().with(lambda_json_layer(move || writer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            line.event(status, 12.345678, Outcome::InsufficientGrant, error)
        });
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    fn by_hand(line: &RequestLine, status: u16, error: Option<&'static str>) -> String {
        let mut out = Vec::new();
        line.write_json(
            &mut out,
            &Timestamp::now(),
            status,
            12.345678,
            Outcome::InsufficientGrant,
            error,
        );
        String::from_utf8(out).unwrap()
    }

    /// The line with its timestamp blanked (the two lines are written a moment apart): the same bytes then
    /// mean the same members, in the same order, formatted alike.
    fn untimed(text: &str) -> String {
        assert!(
            text.ends_with('\n') && text.matches('\n').count() == 1,
            "{text:?}"
        );
        let parsed: Value = serde_json::from_str(text).expect(text);
        let timestamp = parsed["timestamp"].as_str().expect("a timestamp");
        assert_eq!(timestamp.len(), 24, "{timestamp}");
        text.replacen(timestamp, "", 1)
    }

    #[test]
    fn hand_written_line_equals_the_json_layers() {
        // A path holds no quote or control character (the URI parser refuses them); an event's ids may.
        let hostile = "Root=1\"},\"level\":\"ERROR\u{7}\\\u{2028}é";
        for (path, trace_id, status, error) in [
            (
                "/api/user",
                Some("Root=1-67891233-abcdef012345678912345678"),
                200,
                None,
            ),
            ("/api/admin", None, 403, Some("insufficient_grant")),
            (
                "/api/user%22%7D,x~!$&'()*+;=:@",
                Some(hostile),
                503,
                Some("keys_unavailable"),
            ),
        ] {
            let line = RequestLine::of(&request(path, trace_id));
            let layer = through_the_layer(&line, status, error);
            let hand = by_hand(&line, status, error);
            assert_eq!(untimed(&hand), untimed(&layer));
            let text: Value = serde_json::from_str(&hand).unwrap();
            assert_eq!(text["route"], path, "the route is escaped, not cut short");
        }
    }

    #[test]
    fn hand_written_lines_follow_the_log_level() {
        let settings = |level: &str| {
            LogSettings::from_lookup(|name| {
                (name == "AWS_LAMBDA_LOG_LEVEL").then(|| level.to_owned())
            })
        };
        let line = RequestLine::of(&request("/api/user", None));
        for (level, written) in [
            ("INFO", [true, true]),
            ("WARN", [false, true]),
            ("ERROR", [false, false]),
        ] {
            let buffer = Buffer::default();
            let writer = buffer.clone();
            let sink = JsonRequestLines::new(&settings(level), move || writer.clone());
            sink.write(&line, 200, 1.0, Outcome::Granted, None);
            sink.write(&line, 503, 1.0, Outcome::KeysUnavailable, None);
            let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
            // Only the request lines: the metrics lines (when another test installed metrics) have their own
            // level, which Lambda's filter must let through.
            let levels: Vec<String> = text
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .filter(|line| line["message"] == "request")
                .map(|line| line["level"].as_str().unwrap().to_owned())
                .collect();
            let expected: Vec<&str> = ["INFO", "WARN"]
                .into_iter()
                .zip(written)
                .filter_map(|(name, on)| on.then_some(name))
                .collect();
            assert_eq!(levels, expected, "AWS_LAMBDA_LOG_LEVEL={level}");
        }
    }
}
