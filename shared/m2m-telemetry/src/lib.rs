//! The functions' telemetry (docs/contract.md section 2): the log subscriber and its level rules
//! ([`init_telemetry`]), the one log line and EMF metrics line of each request ([`RequestLine`]), and the
//! [`Outcome`] both name. It knows nothing of HTTP answers or of the token exchange: they report to it.

mod logging;
pub mod metrics;
mod outcome;
mod request_line;

pub use logging::{
    LEVEL_CAPS, LogFormat, LogSettings, init_telemetry, lambda_json_layer, text_layer,
};
pub use metrics::{COUNTERS, MetricsSettings, install_metrics};
pub use outcome::Outcome;
pub use request_line::{RequestLine, install_json_request_lines};
