//! The response body type of [`Security`](crate::Security).

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use http::{Method, Uri};

use crate::events::{Event, EventKind};
use crate::guards::body::BoxError;
use crate::scrub;
use crate::transport::request_id::RequestId;

pin_project! {
    /// The body of a response that passed through [`Security`](crate::Security).
    ///
    /// For the application's responses it forwards the inner body: frames, trailers,
    /// [`size_hint`](Body::size_hint) and [`is_end_stream`](Body::is_end_stream) are the inner
    /// body's own, and nothing is buffered. Two things are added: a panic while the inner body
    /// is polled ends the stream with a [`BodyPanicked`] error instead of unwinding into the
    /// server, and the `grpc-message` trailer of a gRPC internal error is replaced. For the
    /// layer's own answers (a refusal, a scrubbed error) it is a short generic body.
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner {
            #[pin]
            body: B,
            // Scrub `grpc-message` in the trailers of this gRPC response.
            grpc: bool,
            // Set once the body panicked: it is never polled again.
            poisoned: bool,
            // The request, for the event a panic writes.
            origin: Option<Origin>,
        },
        Generated { data: Option<Bytes> },
    }
}

impl<B> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Inner { .. } => "inner",
            Kind::Generated { .. } => "generated",
        };
        f.debug_struct("ResponseBody").field("kind", &kind).finish()
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn inner(body: B, grpc: bool, origin: Option<Origin>) -> Self {
        Self {
            kind: Kind::Inner {
                body,
                grpc,
                poisoned: false,
                origin,
            },
        }
    }

    pub(crate) fn generated(data: Bytes) -> Self {
        let data = Some(data).filter(|data| !data.is_empty());
        Self {
            kind: Kind::Generated { data },
        }
    }
}

/// The request a response body belongs to, moved in from the request state.
#[derive(Debug)]
pub(crate) struct Origin {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) request_id: Option<RequestId>,
    pub(crate) client: Option<std::net::IpAddr>,
}

/// The error a [`ResponseBody`] ends with when the application's body panicked while being
/// polled. The response head was already sent, so the stream is cut short; the panic itself
/// goes to the security log, never to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BodyPanicked;

impl fmt::Display for BodyPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the response body panicked")
    }
}

impl std::error::Error for BodyPanicked {}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner {
                body,
                grpc,
                poisoned,
                origin,
            } => {
                if *poisoned {
                    return Poll::Ready(None);
                }
                // The body is never used again after a panic, so whatever state the panic left
                // it in cannot be observed.
                let polled = catch_unwind(AssertUnwindSafe(|| body.poll_frame(cx)));
                match polled {
                    Ok(Poll::Ready(Some(Ok(frame)))) if *grpc => {
                        Poll::Ready(Some(Ok(scrub_grpc_trailers(frame))))
                    }
                    Ok(polled) => polled.map_err(Into::into),
                    Err(payload) => {
                        *poisoned = true;
                        let method = origin.as_ref().map_or(&Method::GET, |o| &o.method);
                        Event {
                            kind: EventKind::Panic,
                            rule: "body",
                            status: None,
                            method,
                            path: origin.as_ref().map_or("", |o| o.uri.path()),
                            cookie: None,
                            request_id: origin
                                .as_ref()
                                .and_then(|o| o.request_id.as_ref())
                                .map(RequestId::as_str),
                            client: origin.as_ref().and_then(|o| o.client),
                            detail: Some(scrub::panic_message(payload.as_ref())),
                        }
                        .emit();
                        Poll::Ready(Some(Err(Box::new(BodyPanicked))))
                    }
                }
            }
            KindProj::Generated { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body, poisoned, .. } => *poisoned || body.is_end_stream(),
            Kind::Generated { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body, .. } => body.size_hint(),
            Kind::Generated { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}

fn scrub_grpc_trailers(frame: Frame<Bytes>) -> Frame<Bytes> {
    match frame.into_trailers() {
        Ok(mut trailers) => {
            scrub::grpc_message(&mut trailers);
            Frame::trailers(trailers)
        }
        Err(frame) => frame,
    }
}
