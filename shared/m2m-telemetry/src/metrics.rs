//! CloudWatch metrics in Embedded Metric Format (EMF): one JSON line on stdout per request, which
//! CloudWatch Logs turns into metrics. No SDK call and no client: writing the line is the whole cost.
//!
//! Every line declares the same metrics (docs/contract.md section 2 names the settings):
//! `Requests` by `[Function, Outcome]` and by `[Function]`; `Latency`, `JwksFetches`, `JwksFetchFailures`,
//! `SecretReadFailures`, `VerifiedTokenCacheHits`/`Misses`/`Evictions` and `IssuedTokenCacheHits`/`Misses` by
//! `[Function]`. The counters are process-wide totals; each line carries what changed
//! since the previous line, so a fetch made during a request is counted on that request's line.
//! Dimension values are the function's name and an [`Outcome`], a fixed set: nothing from a request or token.

use crate::Outcome;
use crate::logging::Timestamp;
use metrics::{Key, KeyName, Metadata, SharedString, Unit};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError};

/// What the metrics are published as (`METRICS_ENABLED`, `METRICS_NAMESPACE`, `AWS_LAMBDA_FUNCTION_NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    pub enabled: bool,
    pub namespace: String,
    /// The `Function` dimension.
    pub function: String,
    /// The `level` of the metrics lines: the least severe one Lambda's application log level
    /// (`AWS_LAMBDA_LOG_LEVEL`) keeps. Lambda drops JSON lines below that level, and takes a line without a
    /// level (or without a valid `timestamp`) for INFO: raising the level must not silence the metrics.
    pub level: &'static str,
}

impl MetricsSettings {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = m2m_auth::trimmed(&lookup);
        let enabled =
            !get("METRICS_ENABLED").is_some_and(|value| value.eq_ignore_ascii_case("false"));
        let namespace = get("METRICS_NAMESPACE").unwrap_or_else(|| "M2MAuth".to_owned());
        // Locally (no function name) the binary's name stands in: `token`, `protected`, ...
        let function = get("AWS_LAMBDA_FUNCTION_NAME")
            .or_else(|| {
                let exe = std::env::current_exe().ok()?;
                Some(exe.file_stem()?.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let level = match get("AWS_LAMBDA_LOG_LEVEL").map(|level| level.to_ascii_uppercase()) {
            Some(level) if level == "WARN" => "WARN",
            Some(level) if level == "ERROR" => "ERROR",
            Some(level) if level == "FATAL" => "FATAL",
            _ => "INFO",
        };
        MetricsSettings {
            enabled,
            namespace,
            function,
            level,
        }
    }
}

/// The counters published, each as what it gained since the previous line (unit `Count`, dimension
/// `[Function]`). The crates that count name them through the `metrics` facade
/// (`metrics::counter!("JwksFetches").increment(1)`); [`install_metrics`] installs the recorder that keeps
/// their totals here. A new counter is one more name.
pub const COUNTERS: [&str; 8] = [
    "JwksFetches",
    "JwksFetchFailures",
    "SecretReadFailures",
    "VerifiedTokenCacheHits",
    "VerifiedTokenCacheMisses",
    "VerifiedTokenCacheEvictions",
    "IssuedTokenCacheHits",
    "IssuedTokenCacheMisses",
];

/// The process's totals of [`COUNTERS`], shared with the facade's counter handles.
static TOTALS: LazyLock<[Arc<AtomicU64>; COUNTERS.len()]> =
    LazyLock::new(|| std::array::from_fn(|_| Arc::new(AtomicU64::new(0))));

/// The `metrics` recorder of the functions: counters of the names in [`COUNTERS`] count; any other metric
/// (a dependency's) is dropped, so nothing unplanned reaches CloudWatch.
struct ProcessCounters;

impl metrics::Recorder for ProcessCounters {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> metrics::Counter {
        match COUNTERS.iter().position(|name| *name == key.name()) {
            Some(slot) => metrics::Counter::from_arc(TOTALS[slot].clone()),
            None => metrics::Counter::noop(),
        }
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

/// What this process has counted under `metric` since the metrics were installed (`None`: no such
/// counter).
pub fn counted(metric: &str) -> Option<u64> {
    let slot = COUNTERS.iter().position(|name| *name == metric)?;
    Some(TOTALS[slot].load(Ordering::Relaxed))
}

/// Where finished lines go: stdout in the functions, a buffer in tests.
pub(crate) type Sink = Box<dyn Fn(&[u8]) + Send + Sync>;

/// `writer` as a [`Sink`]. A line that cannot be written is lost: never the request.
pub(crate) fn sink<W>(writer: W) -> Sink
where
    W: for<'writer> tracing_subscriber::fmt::MakeWriter<'writer> + Send + Sync + 'static,
{
    Box::new(move |line| {
        let _ = writer.make_writer().write_all(line);
    })
}

struct Emitter {
    /// What comes before the line's `timestamp`, built once: `{"level":"INFO","timestamp":"`.
    head: String,
    /// What follows `_aws.Timestamp`, built once: the namespace and the declarations.
    declarations: String,
    /// The `Function` dimension's value, as a JSON string.
    function: String,
    /// The counter totals already published.
    published: Mutex<[u64; COUNTERS.len()]>,
    sink: Sink,
}

static EMITTER: OnceLock<Option<Emitter>> = OnceLock::new();

/// Sets where and how the metrics of this process are written; the first call wins (it returns false
/// afterwards). The functions' binaries install stdout through [`crate::init_telemetry`]; until a call,
/// requests publish nothing (handlers run in-process by tests and benchmarks stay quiet).
pub fn install_metrics<W>(settings: &MetricsSettings, writer: W) -> bool
where
    W: for<'writer> tracing_subscriber::fmt::MakeWriter<'writer> + Send + Sync + 'static,
{
    let mut installed = false;
    EMITTER.get_or_init(|| {
        installed = true;
        let emitter = Emitter::new(settings, sink(writer));
        if emitter.is_some() {
            // A recorder set before (by a test) keeps its place; the counters then stay at zero.
            let _ = metrics::set_global_recorder(ProcessCounters);
        }
        emitter
    });
    installed
}

impl Emitter {
    fn new(settings: &MetricsSettings, sink: Sink) -> Option<Emitter> {
        if !settings.enabled {
            return None;
        }
        let namespace = json_string(&settings.namespace);
        let counters: String = COUNTERS
            .iter()
            .map(|name| format!(r#",{{"Name":"{name}","Unit":"Count"}}"#))
            .collect();
        let declarations = format!(
            concat!(
                r#","CloudWatchMetrics":["#,
                r#"{{"Namespace":{ns},"Dimensions":[["Function","Outcome"],["Function"]],"Metrics":[{{"Name":"Requests","Unit":"Count"}}]}},"#,
                r#"{{"Namespace":{ns},"Dimensions":[["Function"]],"Metrics":[{{"Name":"Latency","Unit":"Milliseconds"}}{counters}]}}"#,
                r#"]}}"#
            ),
            ns = namespace,
            counters = counters,
        );
        Some(Emitter {
            head: format!(r#"{{"level":"{}","timestamp":""#, settings.level),
            declarations,
            function: json_string(&settings.function),
            published: Mutex::new([0; COUNTERS.len()]),
            sink,
        })
    }

    /// Appends the line of one request, finished `at`, to `line`.
    /// Pieces are appended, not `write!`n: the formatting machinery cost more than the line's bytes.
    fn write_line(&self, line: &mut Vec<u8>, at: &Timestamp, outcome: Outcome, latency_ms: f64) {
        let mut integer = itoa::Buffer::new();
        line.extend_from_slice(self.head.as_bytes());
        line.extend_from_slice(&at.rfc3339);
        line.extend_from_slice(br#"","_aws":{"Timestamp":"#);
        line.extend_from_slice(integer.format(at.unix_ms).as_bytes());
        line.extend_from_slice(self.declarations.as_bytes());
        line.extend_from_slice(br#","Function":"#);
        line.extend_from_slice(self.function.as_bytes());
        line.extend_from_slice(br#","Outcome":""#);
        line.extend_from_slice(outcome.name().as_bytes());
        line.extend_from_slice(br#"","Requests":1,"Latency":"#);
        // Microseconds written as milliseconds with three decimals: integer formatting, cheaper than a float's.
        let micros = (latency_ms * 1000.0).max(0.0) as u64;
        line.extend_from_slice(integer.format(micros / 1000).as_bytes());
        let fraction = micros % 1000;
        line.extend_from_slice(&[
            b'.',
            b'0' + (fraction / 100) as u8,
            b'0' + (fraction / 10 % 10) as u8,
            b'0' + (fraction % 10) as u8,
        ]);
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for ((name, total), seen) in COUNTERS.iter().zip(TOTALS.iter()).zip(published.iter_mut()) {
            let total = total.load(Ordering::Relaxed);
            line.extend_from_slice(b",\"");
            line.extend_from_slice(name.as_bytes());
            line.extend_from_slice(b"\":");
            line.extend_from_slice(integer.format(total.saturating_sub(*seen)).as_bytes());
            *seen = total;
        }
        drop(published);
        line.extend_from_slice(b"}\n");
    }

    #[cfg(test)]
    fn line(&self, outcome: Outcome, latency_ms: f64) -> String {
        let mut line = Vec::new();
        self.write_line(&mut line, &Timestamp::now(), outcome, latency_ms);
        String::from_utf8(line).expect("UTF-8")
    }
}

/// Publishes one request: its outcome, its latency and what the counters gained meanwhile. The HTTP
/// handlers call it through [`crate::RequestLine`]; a handler outside that path (an authorizer)
/// calls it itself, once per invocation.
pub fn record_request(outcome: Outcome, latency_ms: f64) {
    thread_local! {
        // One buffer per thread, reused: no allocation per request.
        static LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    if let Some(Some(emitter)) = EMITTER.get() {
        LINE.with_borrow_mut(|line| {
            line.clear();
            emitter.write_line(line, &Timestamp::now(), outcome, latency_ms);
            (emitter.sink)(line);
        });
    }
}

/// Appends the metrics line of one request to `lines` instead of writing it: for the request line, which
/// writes both at once ([`crate::RequestLine`]). Nothing when no metrics are installed.
pub(crate) fn append_request(
    lines: &mut Vec<u8>,
    at: &Timestamp,
    outcome: Outcome,
    latency_ms: f64,
) {
    if let Some(Some(emitter)) = EMITTER.get() {
        emitter.write_line(lines, at, outcome, latency_ms);
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::HashSet;

    fn emitter(vars: &[(&str, &str)]) -> Option<Emitter> {
        let settings = MetricsSettings::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        });
        Emitter::new(&settings, Box::new(|_| {}))
    }

    /// Checks `line` against the EMF specification's structure and returns it parsed.
    pub(crate) fn valid_emf(line: &str) -> Value {
        let document: Value = serde_json::from_str(line).expect(line);
        let metadata = &document["_aws"];
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let timestamp = metadata["Timestamp"].as_u64().expect("Timestamp in ms");
        assert!(now_ms.abs_diff(timestamp) < 60_000, "{line}");
        let directives = metadata["CloudWatchMetrics"].as_array().expect(line);
        assert!(!directives.is_empty());
        for directive in directives {
            assert!(
                directive["Namespace"]
                    .as_str()
                    .is_some_and(|ns| !ns.is_empty())
            );
            for set in directive["Dimensions"].as_array().expect(line) {
                for dimension in set.as_array().expect(line) {
                    let name = dimension.as_str().expect(line);
                    assert!(
                        document[name].is_string(),
                        "dimension {name} missing: {line}"
                    );
                }
            }
            for metric in directive["Metrics"].as_array().expect(line) {
                let name = metric["Name"].as_str().expect(line);
                assert!(metric["Unit"].is_string(), "{line}");
                assert!(document[name].is_number(), "metric {name} missing: {line}");
            }
        }
        document
    }

    #[test]
    fn one_line_declares_every_metric_under_the_configured_namespace() {
        let token = emitter(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "m2m-token"),
            ("METRICS_NAMESPACE", "Team/M2M"),
        ])
        .expect("enabled by default");
        let line = token.line(Outcome::InvalidTokenExpired, 1.25);
        assert!(line.ends_with("}\n") && line.matches('\n').count() == 1);
        let document = valid_emf(&line);
        assert_eq!(document["Function"], "m2m-token");
        // Lambda keeps the line at any application log level, and reads its timestamp.
        assert_eq!(document["level"], "INFO");
        assert_eq!(document["timestamp"].as_str().map(str::len), Some(24));
        let quiet = emitter(&[("AWS_LAMBDA_LOG_LEVEL", "warn")]).unwrap();
        assert_eq!(
            valid_emf(&quiet.line(Outcome::Granted, 0.5))["level"],
            "WARN"
        );
        assert_eq!(document["Outcome"], "invalid_token_expired");
        assert_eq!(document["Requests"], 1);
        assert_eq!(document["Latency"], 1.25);
        let directives = document["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        let declared: HashSet<(String, String, String)> = directives
            .iter()
            .flat_map(|directive| {
                let dimensions = directive["Dimensions"].to_string();
                directive["Metrics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |metric| {
                        (
                            metric["Name"].as_str().unwrap().to_owned(),
                            metric["Unit"].as_str().unwrap().to_owned(),
                            dimensions.clone(),
                        )
                    })
            })
            .collect();
        let function = r#"[["Function"]]"#.to_owned();
        for expected in [
            (
                "Requests",
                "Count",
                r#"[["Function","Outcome"],["Function"]]"#.to_owned(),
            ),
            ("Latency", "Milliseconds", function.clone()),
            ("JwksFetches", "Count", function.clone()),
            ("JwksFetchFailures", "Count", function.clone()),
            ("SecretReadFailures", "Count", function.clone()),
            ("VerifiedTokenCacheHits", "Count", function.clone()),
            ("VerifiedTokenCacheMisses", "Count", function.clone()),
            ("VerifiedTokenCacheEvictions", "Count", function.clone()),
        ] {
            let expected = (expected.0.to_owned(), expected.1.to_owned(), expected.2);
            assert!(declared.contains(&expected), "{expected:?} in {declared:?}");
        }
        assert!(directives.iter().all(|d| d["Namespace"] == "Team/M2M"));
    }

    #[test]
    fn defaults_and_switch() {
        let settings = MetricsSettings::from_lookup(|_| None);
        assert!(settings.enabled);
        assert_eq!(settings.namespace, "M2MAuth");
        // The test binary's name stands in for the function's, as a local binary's does.
        assert!(
            settings.function.starts_with("m2m_telemetry"),
            "{}",
            settings.function
        );
        assert!(emitter(&[("METRICS_ENABLED", "false")]).is_none());
        assert!(emitter(&[("METRICS_ENABLED", "FALSE ")]).is_none());
        assert!(emitter(&[("METRICS_ENABLED", "true")]).is_some());
    }

    #[test]
    fn counters_are_published_once_as_deltas() {
        let emitter = emitter(&[]).unwrap();
        let _ = emitter.line(Outcome::Granted, 0.1);
        metrics::with_local_recorder(&ProcessCounters, || {
            metrics::counter!("SecretReadFailures").increment(1);
            // A metric the functions do not publish is dropped, not added to the line.
            metrics::counter!("SomeDependencysCounter").increment(1);
        });
        let first = valid_emf(&emitter.line(Outcome::SecretUnavailable, 0.1));
        assert!(first["SecretReadFailures"].as_u64().unwrap() >= 1);
        let second = valid_emf(&emitter.line(Outcome::SecretUnavailable, 0.1));
        assert_eq!(second["JwksFetches"], 0);
        assert!(second.get("SomeDependencysCounter").is_none());
        assert_eq!(counted("SomeDependencysCounter"), None);
    }
}
