//! The request body the inner service receives: passed through, or counted against the limit.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// The boxed error type of [`RequestBody`], as Tower and hyper use it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error a [`RequestBody`] yields when the body grows past the layer's limit.
///
/// The layer answers `413 Content Too Large` for the request whatever the handler makes of
/// this error, so a handler may simply propagate it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LengthLimitError;

impl fmt::Display for LengthLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request body is larger than the limit")
    }
}

impl std::error::Error for LengthLimitError {}

pin_project! {
    /// The body of a request that passed through [`Security`](crate::Security).
    ///
    /// A body with a trustworthy `Content-Length` within the limit is passed through as it
    /// is: its framing already bounds it. Any other body is counted frame by frame, and the
    /// frame that would cross the limit is never handed over: the body ends with a
    /// [`LengthLimitError`] instead. Nothing is buffered.
    #[derive(Debug)]
    pub struct RequestBody<B> {
        #[pin]
        inner: B,
        counter: Option<Counter>,
    }
}

/// Bytes still allowed, and the flag the response half reads.
#[derive(Debug)]
pub(crate) struct Counter {
    remaining: u64,
    tripped: Arc<AtomicBool>,
}

impl Counter {
    /// A counter for `limit` bytes, and the flag that says it tripped.
    pub(crate) fn new(limit: u64) -> (Self, Arc<AtomicBool>) {
        let tripped = Arc::new(AtomicBool::new(false));
        let counter = Self {
            remaining: limit,
            tripped: Arc::clone(&tripped),
        };
        (counter, tripped)
    }
}

impl<B> RequestBody<B> {
    pub(crate) fn new(inner: B, counter: Option<Counter>) -> Self {
        Self { inner, counter }
    }

    /// Returns the wrapped body.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B> Body for RequestBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        use bytes::Buf as _;

        let this = self.project();
        let Some(counter) = this.counter else {
            return this.inner.poll_frame(cx).map_err(Into::into);
        };
        if counter.tripped.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        let frame = match std::task::ready!(this.inner.poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            Some(Err(err)) => return Poll::Ready(Some(Err(err.into()))),
            None => return Poll::Ready(None),
        };
        if let Some(data) = frame.data_ref() {
            let len = data.remaining() as u64;
            if len > counter.remaining {
                counter.tripped.store(true, Ordering::Relaxed);
                return Poll::Ready(Some(Err(Box::new(LengthLimitError))));
            }
            counter.remaining -= len;
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
