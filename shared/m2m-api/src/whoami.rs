//! `GET /api/whoami`: an example backend with no verification code of its own. The authorizer in front of
//! it verified the token; this answers what the authorizer put in the request context (docs/contract.md
//! section 6) — for HTTP API payload 2.0 simple responses, `requestContext.authorizer.lambda`.

use crate::ApiError;
use crate::http::json_response;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Map, Value, json};
use std::convert::Infallible;

/// The context members the authorizer sets.
const CONTEXT: [&str; 4] = ["sub", "grants", "tenant", "exp"];

pub async fn whoami(request: Request) -> Result<Response<Body>, Infallible> {
    let context = request
        .request_context_ref()
        .and_then(|context| context.authorizer())
        .map(|authorizer| &authorizer.fields)
        .filter(|fields| !fields.is_empty());
    Ok(match context {
        Some(fields) => {
            let identity: Map<String, Value> = CONTEXT
                .iter()
                .filter_map(|name| Some(((*name).to_owned(), fields.get(*name)?.clone())))
                .collect();
            json_response(
                StatusCode::OK,
                &json!({"success": true, "authorizer": identity}),
            )
        }
        // Not behind the authorizer (a route wired without it, or `cargo lambda watch`): fail closed.
        None => ApiError::NoAuthorizerContext.into_response(),
    })
}
