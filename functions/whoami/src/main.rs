//! `GET /api/whoami`: an example backend behind the authorizer, with no verification code of its own: it
//! answers the context the authorizer passed (docs/contract.md section 6).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    m2m_telemetry::init_telemetry();
    m2m_api::run(tower::service_fn(m2m_api::whoami)).await
}
