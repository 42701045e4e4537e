//! Request bodies stream through the layer: 64 concurrent uploads just under the body limit
//! raise the process's peak heap by far less than one buffered upload each would.
//!
//! The measure is a counting allocator over the whole test binary, so this file holds a
//! single test: another running beside it would count too.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use tower::{Layer, Service, ServiceExt};
use tower_security::SecurityLayer;
use tower_security::guards::body::BoxError;

mod common;

#[global_allocator]
static GLOBAL: common::heap::Tracking = common::heap::Tracking;

const LIMIT: usize = 1 << 20;
const UPLOADS: usize = 64;
const CHUNK: usize = 16 * 1024;
/// Just under the default 1 MiB limit.
const UPLOAD: usize = LIMIT - 1024;

/// A chunked upload of `UPLOAD` bytes whose size is not announced, in freshly allocated
/// 16 KiB chunks as a connection would deliver them, pausing before each so that the 64
/// uploads interleave.
struct Upload {
    left: usize,
    paused: bool,
}

impl Body for Upload {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        if !self.paused {
            self.paused = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.paused = false;
        let n = self.left.min(CHUNK);
        self.left -= n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'u'; n])))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// Runs the 64 uploads concurrently through `strict()` around `handler`; returns how far the
/// peak heap rose above where it started, and the answers.
fn peak_growth<S>(handler: S) -> (usize, Vec<(StatusCode, Bytes)>)
where
    S: Service<
            Request<tower_security::guards::body::RequestBody<Upload>>,
            Response = Response<Full<Bytes>>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let service = SecurityLayer::strict().layer(handler);
        let mut tasks = tokio::task::JoinSet::new();
        let requests: Vec<_> = (0..UPLOADS)
            .map(|_| {
                Request::post("/upload")
                    .header("host", "example.com")
                    .header("sec-fetch-site", "same-origin")
                    .body(Upload {
                        left: UPLOAD,
                        paused: false,
                    })
                    .expect("a valid request")
            })
            .collect();
        let start = common::heap::reset_peak();
        for request in requests {
            let service = service.clone();
            tasks.spawn(async move {
                let response = service.oneshot(request).await.expect("infallible");
                let status = response.status();
                let body = response.into_body().collect().await.expect("a body");
                (status, body.to_bytes())
            });
        }
        let answers = tasks.join_all().await;
        let growth = common::heap::peak() - start;
        (growth.max(0) as usize, answers)
    })
}

/// A handler that reads the body frame by frame and answers with the count; or, when
/// `buffer` is set, one that collects the whole body first, as a buffering layer would, so the
/// test can show that its measure sees the difference.
#[derive(Clone)]
struct Handler {
    buffer: bool,
}

impl<B> Service<Request<B>> for Handler
where
    B: Body<Data = Bytes, Error = BoxError> + Send + Unpin + 'static,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let buffer = self.buffer;
        Box::pin(async move {
            let mut body = request.into_body();
            if buffer {
                let Ok(collected) = body.collect().await else {
                    return Ok(answer(StatusCode::BAD_REQUEST, 0));
                };
                let body = collected.to_bytes();
                // Held while the other uploads arrive, as a buffer would be.
                tokio::task::yield_now().await;
                return Ok(answer(StatusCode::OK, body.len()));
            }
            let mut read = 0;
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(frame) => read += frame.data_ref().map_or(0, Bytes::len),
                    Err(_) => return Ok(answer(StatusCode::BAD_REQUEST, 0)),
                }
            }
            Ok(answer(StatusCode::OK, read))
        })
    }
}

fn answer(status: StatusCode, read: usize) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(read.to_string())));
    *response.status_mut() = status;
    response
}

#[test]
fn concurrent_uploads_just_under_the_limit_are_streamed_not_buffered() {
    let budget = UPLOADS * 64 * 1024;

    let (streamed, answers) = peak_growth(Handler { buffer: false });
    let (buffered, _) = peak_growth(Handler { buffer: true });

    assert_eq!(answers.len(), UPLOADS);
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK);
        assert_eq!(body, UPLOAD.to_string().as_bytes());
    }
    eprintln!(
        "peak heap growth for {UPLOADS} concurrent uploads of {UPLOAD} bytes: streamed \
         {streamed} bytes, buffered by the handler {buffered} bytes (budget {budget})"
    );
    assert!(streamed < budget, "{streamed} bytes >= {budget}");
    // The measure would have caught buffering: collecting the bodies costs most of them.
    assert!(buffered > UPLOADS * UPLOAD / 2, "{buffered} bytes");
}
