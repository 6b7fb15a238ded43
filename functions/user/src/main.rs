//! `POST /api/user`: answers requests whose token grants `read:data`.

// One invocation at a time per container: a single-threaded runtime starts faster and uses less memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    m2m_api::init_tracing();
    let api = m2m_api::ProtectedApi::from_env(m2m_api::USER)?;
    lambda_http::run(m2m_api::service(api)).await
}
