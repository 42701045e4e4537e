//! The layer's allocations per request stay within their budget: the README's performance
//! figures count them, and an allocation added on the hot path should fail here rather than
//! go unnoticed.
//!
//! The budget for a page load through `strict()`, over what the application itself allocates:
//!
//! - 2 for the clone of the pre-built response headers (the least any header layer pays to
//!   make room for its headers in a response map);
//! - 1 for the `Content-Security-Policy` value carrying this request's nonce;
//! - 1 for the request id, shared by every copy of it;
//! - 5 for the three request extensions the handler reads (`CspNonce`, `ClientInfo`,
//!   `RequestId`): `http`'s extension map allocates its box and table on the first insert,
//!   and one box per value.
//!
//! A streamed upload of unknown length adds one: the flag its body counter shares with the
//! response.
//!
//! Allocations are counted, not timed, with the tracking allocator of `tests/common/heap.rs`,
//! on a service driven by hand with a no-op waker, so no runtime allocates beside it.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, header};
use http_body_util::{BodyExt as _, Full, StreamBody};
use tower::{Layer, Service, service_fn};
use tower_security::SecurityLayer;

mod common;

#[global_allocator]
static GLOBAL: common::heap::Tracking = common::heap::Tracking;

/// What the layer may allocate per page load, over the application's own allocations.
const PAGE_LOAD_BUDGET: usize = 9;
/// And per streamed upload of unknown length.
const STREAMED_UPLOAD_BUDGET: usize = PAGE_LOAD_BUDGET + 1;

/// Runs `future` to completion; the services here never wait.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// A browser's page load, with header values that share their bytes as hyper's do.
fn page_load() -> Request<Full<Bytes>> {
    Request::builder()
        .uri("/")
        .header(header::HOST, HeaderValue::from_static("example.com"))
        .header(header::ACCEPT, HeaderValue::from_static("text/html"))
        .header("sec-fetch-site", HeaderValue::from_static("same-origin"))
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// The application: reads the whole body, answers a page with its `Content-Type`.
async fn app<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible>
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let mut response = Response::new(Full::new(Bytes::from_static(b"<p>hello</p>")));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    assert!(body.len() < 1 << 20);
    Ok(response)
}

/// Allocations made while `service` answers `request` and the answer's body is read, after
/// the request was built.
fn allocations_for<S, B, RB>(service: &mut S, request: Request<B>) -> usize
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Error: std::fmt::Debug,
    RB: http_body::Body,
    RB::Error: std::fmt::Debug,
{
    let before = common::heap::allocations();
    let response = ready(service.call(request)).unwrap();
    let (parts, body) = response.into_parts();
    let body = ready(body.collect()).unwrap().to_bytes();
    drop((parts, body));
    common::heap::allocations() - before
}

/// The least over a few runs, so a one-off (a thread-local's first use, a lazily grown
/// buffer) does not count against the layer.
fn least<F: FnMut() -> usize>(mut run: F) -> usize {
    (0..5).map(|_| run()).min().unwrap()
}

// One test: the count is the whole process's, so nothing may run beside it.
#[test]
fn the_layer_allocates_within_its_budget_per_request() {
    let mut bare = service_fn(app);
    let mut strict = SecurityLayer::strict().layer(service_fn(app));

    let bare_page = least(|| allocations_for(&mut bare, page_load()));
    let strict_page = least(|| allocations_for(&mut strict, page_load()));
    let page = strict_page - bare_page;

    // An upload whose length is not announced, as a chunked one's is not: its frames are
    // counted against the limit as they stream.
    let upload = || {
        let frames = (0..4)
            .map(|_| Ok::<_, Infallible>(http_body::Frame::data(Bytes::from_static(b"data"))));
        let mut request = page_load().map(|_| StreamBody::new(futures_util::stream::iter(frames)));
        *request.method_mut() = Method::POST;
        request.headers_mut().insert(
            header::ORIGIN,
            HeaderValue::from_static("https://example.com"),
        );
        request
    };
    let mut bare = service_fn(app);
    let mut strict = SecurityLayer::strict().layer(service_fn(app));
    let bare_upload = least(|| allocations_for(&mut bare, upload()));
    let strict_upload = least(|| allocations_for(&mut strict, upload()));
    let streamed = strict_upload - bare_upload;

    eprintln!(
        "allocations per request over the application's: page load {page} (budget \
         {PAGE_LOAD_BUDGET}), streamed upload {streamed} (budget {STREAMED_UPLOAD_BUDGET})"
    );
    assert!(page <= PAGE_LOAD_BUDGET, "page load: {page} allocations");
    assert!(
        streamed <= STREAMED_UPLOAD_BUDGET,
        "streamed upload: {streamed} allocations"
    );
    // The measure itself works: the layer's own allocations show up.
    assert!(page >= 4, "page load: only {page} allocations seen");
}
