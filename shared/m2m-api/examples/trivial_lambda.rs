//! The Lambda runtime's own floor, for `bench/invocation_cpu.py` only (never deployed): a `lambda_http`
//! function on a current-thread runtime, built like the real ones, that answers every API Gateway event with
//! a constant 200 and does nothing else. The CPU a real function spends per warm invocation beyond this one
//! is its own work.
//!
//! The constant is `{"success":true}`, or, with `TRIVIAL_ANSWER` set to `{"headers": {...}, "body": "..."}`,
//! that answer (the bench hands it the `user` function's own, to price the answer apart from the work).

use lambda_http::http::{HeaderMap, HeaderName, HeaderValue};
use lambda_http::{Body, Request, Response};
use std::convert::Infallible;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let (headers, body) = answer_from_env()?;
    lambda_http::run(lambda_http::service_fn(move |_request: Request| {
        let mut response = Response::new(Body::from(body.clone()));
        *response.headers_mut() = headers.clone();
        async { Ok::<_, Infallible>(response) }
    }))
    .await
}

fn answer_from_env() -> Result<(HeaderMap, String), lambda_http::Error> {
    let mut headers = HeaderMap::new();
    let Ok(answer) = std::env::var("TRIVIAL_ANSWER") else {
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        return Ok((headers, r#"{"success":true}"#.to_owned()));
    };
    #[derive(serde::Deserialize)]
    struct Answer {
        headers: std::collections::BTreeMap<String, String>,
        body: String,
    }
    let answer: Answer = serde_json::from_str(&answer)?;
    for (name, value) in answer.headers {
        headers.insert(HeaderName::try_from(name)?, HeaderValue::try_from(value)?);
    }
    Ok((headers, answer.body))
}
