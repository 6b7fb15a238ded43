//! The Lambda runtime's own floor, for `bench/invocation_cpu.py` only (never deployed): a `lambda_http`
//! function on a current-thread runtime, built like the real ones, that answers every API Gateway event with
//! a constant 200 and does nothing else. The CPU a real function spends per warm invocation beyond this one
//! is its own work.

use lambda_http::{Body, Request, Response};
use std::convert::Infallible;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::run(lambda_http::service_fn(|_request: Request| async {
        Ok::<_, Infallible>(
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from(r#"{"success":true}"#))
                .expect("a constant response"),
        )
    }))
    .await
}
