//! The middleware service of [`SecurityLayer`](crate::SecurityLayer) and its future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

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
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let kind = match self.policy.on_request(request) {
            Ok((request, state)) => Kind::Inner {
                future: self.inner.call(request),
                finish: Some((Arc::clone(&self.policy), state)),
            },
            Err(refused) => Kind::Refused {
                response: Some(*refused),
            },
        };
        ResponseFuture { kind }
    }
}

pin_project! {
    /// Response future of [`Security`].
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner {
            #[pin]
            future: F,
            finish: Option<(Arc<Policy>, RequestState)>,
        },
        // The layer answered itself; the inner service was not called.
        Refused {
            response: Option<Response<Bytes>>,
        },
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future, finish } => {
                let response = ready!(future.poll(cx))?;
                let response = match finish.take() {
                    Some((policy, state)) => policy.on_response(state, response),
                    // Polled again after completion: pass the response through untouched.
                    None => response.map(ResponseBody::new),
                };
                Poll::Ready(Ok(response))
            }
            KindProj::Refused { response } => {
                // Polled again after completion: an empty answer rather than a panic.
                let response = response.take().unwrap_or_default();
                Poll::Ready(Ok(response.map(ResponseBody::generated)))
            }
        }
    }
}
