//! The middleware service of [`SecurityLayer`](crate::SecurityLayer) and its future.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::guards::body::RequestBody;
use crate::policy::{Policy, RequestState};

/// Middleware that applies a security policy to every request and response of a service.
///
/// Created by [`SecurityLayer`](crate::SecurityLayer); see there for what it does.
#[derive(Clone, Debug)]
pub struct Security<S> {
    inner: S,
    policy: Arc<Policy>,
}

impl<S> Security<S> {
    pub(crate) fn new(inner: S, policy: Arc<Policy>) -> Self {
        Self { inner, policy }
    }

    /// Gets a reference to the inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Gets a mutable reference to the inner service.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes `self`, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Security<S>
where
    S: Service<Request<RequestBody<ReqBody>>, Response = Response<ResBody>>,
    ReqBody: http_body::Body,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (request, state) = match self.policy.on_request(request) {
            Ok(pass) => pass,
            Err(refused) => {
                let response = Some(refused.map(ResponseBody::generated));
                return ResponseFuture {
                    kind: Kind::Answered { response },
                };
            }
        };
        // A panic here must not unwind into the server: the client gets a generic 500 and
        // the panic goes to the security log. The service is not used again for this request.
        let inner = &mut self.inner;
        let kind = match catch_unwind(AssertUnwindSafe(|| inner.call(request))) {
            Ok(future) => Kind::Inner {
                future,
                finish: Some((Arc::clone(&self.policy), state)),
            },
            Err(payload) => {
                let response = self.policy.on_failure(state, Some(&payload), "call");
                Kind::Answered {
                    response: Some(response),
                }
            }
        };
        ResponseFuture { kind }
    }
}

pin_project! {
    /// Response future of [`Security`].
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Inner {
            #[pin]
            future: F,
            finish: Option<(Arc<Policy>, RequestState)>,
        },
        // The layer answered itself: a refusal, or the application panicked in `call`.
        Answered {
            response: Option<Response<ResponseBody<B>>>,
        },
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    /// Never an `Err`: an error of the inner service becomes a scrubbed `500`, or a `413` once
    /// the request body crossed the limit.
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future, finish } => {
                let polled = catch_unwind(AssertUnwindSafe(|| future.poll(cx)));
                let outcome = match polled {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(Ok(response))) => Ok(response),
                    Ok(Poll::Ready(Err(_))) => Err(None),
                    Err(payload) => Err(Some(payload)),
                };
                let Some((policy, state)) = finish.take() else {
                    // Polled again after completion: an empty answer rather than a panic.
                    return Poll::Ready(Ok(Response::new(ResponseBody::generated(Bytes::new()))));
                };
                let response = match outcome {
                    Ok(response) => policy.on_response(state, response),
                    Err(Some(payload)) => policy.on_failure(state, Some(&payload), "future"),
                    Err(None) => policy.on_failure(state, None, "service-error"),
                };
                Poll::Ready(Ok(response))
            }
            KindProj::Answered { response } => {
                // Polled again after completion: an empty answer rather than a panic.
                let response = response
                    .take()
                    .unwrap_or_else(|| Response::new(ResponseBody::generated(Bytes::new())));
                Poll::Ready(Ok(response))
            }
        }
    }
}
