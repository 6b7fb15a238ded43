//! A lambda_http function of your own, protected by the layer: `GET /reports/{id}` answers only tokens
//! whose grants include `reports:read` (README, "Protect your own API").

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use m2m_api::{Require, RequireGrant, VerifiedToken};
use std::sync::Arc;
use tower::ServiceBuilder;

async fn report(request: Request) -> Result<Response<Body>, Error> {
    // RequireGrant verified the bearer token and checked the grant before this runs.
    let token = request
        .extensions()
        .get::<Arc<VerifiedToken>>()
        .ok_or("mounted without RequireGrant")?;
    let body = serde_json::json!({
        "report": request.uri().path(),
        "for": token.claims.get("sub"),
        "grants": token.grants.to_vec(),
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // DESCOPE_PROJECT_ID (and the JWT_* settings of the README's configuration table), read once.
    let verifier = m2m_api::verifier_from_env()?;
    let service = ServiceBuilder::new()
        .layer(RequireGrant::new(verifier, Require::Grant("reports:read")))
        .service_fn(report);
    // `lambda_http::run(service)` works too; `m2m_api::run` also survives hostile headers and panics.
    m2m_api::run(service).await
}
