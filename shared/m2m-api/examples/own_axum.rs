//! An axum router of your own, protected by the layer (README, "Protect your own API"): every route below
//! needs a valid token whose grants include `reports:read`.

use axum::routing::get;
use axum::{Extension, Json, Router};
use m2m_api::{Require, RequireGrant, VerifiedToken};
use serde_json::{Value, json};
use std::sync::Arc;

async fn report(Extension(token): Extension<Arc<VerifiedToken>>) -> Json<Value> {
    Json(json!({"for": token.claims.get("sub"), "grants": token.grants.to_vec()}))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let verifier = m2m_api::verifier_from_env()?;
    let app = Router::new()
        .route("/reports/{id}", get(report))
        .layer(RequireGrant::new(verifier, Require::Grant("reports:read")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
