//! `GET /api/whoami`: an example backend behind the authorizer, with no verification code of its own: it
//! answers the context the authorizer passed (docs/contract.md section 6).

use m2m_api::RequestLog;
use tower::ServiceBuilder;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    m2m_telemetry::init_telemetry();
    let service = ServiceBuilder::new()
        .layer_fn(RequestLog::new) // one log line and one metrics line per request
        .service_fn(m2m_api::whoami);
    m2m_api::run(service).await
}
