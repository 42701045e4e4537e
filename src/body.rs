//! The response body type of [`Security`](crate::Security).

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The body of a response that passed through [`Security`](crate::Security).
    ///
    /// It forwards the inner body untouched: frames, trailers, [`size_hint`](Body::size_hint)
    /// and [`is_end_stream`](Body::is_end_stream) are the inner body's own, and nothing is
    /// buffered.
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(inner: B) -> Self {
        Self { inner }
    }

    /// Returns the wrapped body.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
