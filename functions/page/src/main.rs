//! Serves the web page for local runs (`cargo lambda watch`), on the same origin as the API. Not deployed:
//! in AWS the page is served from S3 behind CloudFront.

mod page;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    m2m_telemetry::init_telemetry();
    let api = page::PageApi::new(page::PageSettings::from_env());
    let api = &api;
    m2m_api::run(tower::service_fn(move |request| async move {
        Ok::<_, std::convert::Infallible>(api.handle(request).await)
    }))
    .await
}
