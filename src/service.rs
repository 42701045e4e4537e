//! The middleware service of [`SecurityLayer`](crate::SecurityLayer) and its future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::body::ResponseBody;
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
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let state = self.policy.on_request(&mut request);

        ResponseFuture {
            inner: self.inner.call(request),
            finish: Some((Arc::clone(&self.policy), state)),
        }
    }
}

pin_project! {
    /// Response future of [`Security`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        finish: Option<(Arc<Policy>, RequestState)>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;

        if let Some((policy, state)) = this.finish.take() {
            policy.on_response(state, &mut response);
        }

        Poll::Ready(Ok(response.map(ResponseBody::new)))
    }
}
