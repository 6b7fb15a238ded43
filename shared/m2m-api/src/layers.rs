//! The tower layers the functions are composed of, and that anyone's `lambda_http` or axum service can use:
//! [`RequireGrant`] (verify the bearer token, enforce a grant) and [`ApiLayer`] (CORS, `POST` only, one log
//! line per request).

use crate::http::Answered;
use crate::{ApiError, Cors};
use futures_util::future::{BoxFuture, Either, Ready, ready};
use lambda_http::http::{Method, Request, Response};
use m2m_auth::{Require, Verifier, bearer_token};
use m2m_telemetry::{Outcome, RequestLine};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// Verifies the request's bearer token and checks `require` before the inner service runs; the inner service
/// finds the `Arc<`[`m2m_auth::VerifiedToken`]`>` in the request's extensions. A request without a valid token gets
/// the 401, one without the grant the 403, of docs/contract.md section 1 (bodies, `WWW-Authenticate` per
/// RFC 6750, security headers).
#[derive(Clone)]
pub struct RequireGrant {
    verifier: Arc<Verifier>,
    require: Require,
}

impl RequireGrant {
    pub fn new(verifier: impl Into<Arc<Verifier>>, require: Require) -> Self {
        RequireGrant {
            verifier: verifier.into(),
            require,
        }
    }
}

impl<S> Layer<S> for RequireGrant {
    type Service = RequireGrantService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireGrantService {
            inner,
            verifier: self.verifier.clone(),
            require: self.require,
        }
    }
}

/// The service [`RequireGrant`] wraps around another.
#[derive(Clone)]
pub struct RequireGrantService<S> {
    inner: S,
    verifier: Arc<Verifier>,
    require: Require,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireGrantService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<ResBody>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The clone that was polled ready serves this request (tower's usual hand-over).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (verifier, require) = (self.verifier.clone(), self.require);
        Box::pin(async move {
            let verified = match bearer_token(request.headers()) {
                None => Err(ApiError::MissingAuthorization),
                Some(token) => verifier.verify(token).await.map_err(ApiError::from),
            };
            let checked = verified.and_then(|token| match require.check(&token.grants) {
                Ok(()) => Ok(token),
                Err(grant) => Err(ApiError::InsufficientGrant(grant)),
            });
            match checked {
                Ok(token) => {
                    request.extensions_mut().insert(token);
                    inner.call(request).await
                }
                Err(error) => Ok(error.into_response()),
            }
        })
    }
}

/// What every API function puts in front of its handler: tower-http's CORS (preflight answers, exact
/// origins, `Vary: Origin`), `POST` only (any other method is a 405), and one log line per request naming
/// the error kind, never a token.
#[derive(Debug, Clone, Default)]
pub struct ApiLayer {
    cors: Cors,
}

impl ApiLayer {
    pub fn new(cors: Cors) -> Self {
        ApiLayer { cors }
    }

    /// `CORS_ALLOWED_ORIGINS` from the environment.
    pub fn from_env() -> Result<Self, m2m_auth::ConfigError> {
        Cors::from_env().map(Self::new)
    }
}

impl<S> Layer<S> for ApiLayer {
    type Service = RequestLog<tower_http::cors::Cors<PostOnly<S>>>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestLog::new(self.cors.layer().layer(PostOnly { inner }))
    }
}

/// Answers 405 to every method but `POST` (and `OPTIONS`, which the CORS layer in front answers).
#[derive(Debug, Clone)]
pub struct PostOnly<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for PostOnly<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response<ResBody>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if request.method() == Method::POST {
            Either::Right(self.inner.call(request))
        } else {
            Either::Left(ready(Ok(ApiError::MethodNotAllowed.into_response())))
        }
    }
}

/// Writes one log line and one metrics record per request: method, route, status, latency, outcome and
/// error kind (docs/contract.md section 2), never a token.
///
/// [`ApiLayer`] puts it in front of the protected and token functions; alone, it is whoami's only layer
/// (`ServiceBuilder::layer_fn(RequestLog::new)`).
#[derive(Debug, Clone)]
pub struct RequestLog<S> {
    inner: S,
}

impl<S> RequestLog<S> {
    pub fn new(inner: S) -> Self {
        RequestLog { inner }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequestLog<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = LogFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        LogFuture {
            line: RequestLine::of(&request),
            preflight: request.method() == Method::OPTIONS,
            inner: Box::pin(self.inner.call(request)),
        }
    }
}

/// The response future of [`RequestLog`]: logs when the response is ready.
pub struct LogFuture<F> {
    inner: Pin<Box<F>>,
    line: RequestLine,
    preflight: bool,
}

impl<F, ResBody, E> Future for LogFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let result = std::task::ready!(self.inner.as_mut().poll(cx));
        if let Ok(response) = &result {
            // The handlers and the error answers say how they answered; what has no mark was answered by
            // the CORS layer (a preflight) or is an unmarked success.
            let (outcome, error) = match response.extensions().get::<Answered>() {
                Some(answered) => (answered.outcome, answered.error),
                None if self.preflight => (Outcome::Preflight, None),
                None => (Outcome::Granted, None),
            };
            self.line.finish(response.status().as_u16(), outcome, error);
        }
        Poll::Ready(result)
    }
}
