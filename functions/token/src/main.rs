//! `POST /m2m/token`: exchanges an access key for a verified JWT.

// One invocation at a time per container: a single-threaded runtime starts faster and uses less memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    m2m_api::init_tracing();
    let api = m2m_api::TokenApi::from_env()?;
    lambda_http::run(m2m_api::service(api)).await
}
