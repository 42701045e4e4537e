//! Cost of the layer per request, against a bare service in the same run.
//!
//! Each benchmark times one `Service::call` and the poll of its future to completion, with the
//! request built outside the timed section; the inner service answers at once. divan's
//! allocation profiler reports allocations per request beside each timing.
//!
//! ```text
//! cargo bench --bench layer
//! ```

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use divan::{AllocProfiler, Bencher, black_box};
use http::{Request, Response};
use http_body_util::Full;
use tower::Service;
use tower_layer::Layer;
use tower_security::SecurityLayer;

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

/// An app that answers a GET with a small HTML page and a content type, as a handler would.
#[derive(Clone, Copy)]
struct App;

impl<B> Service<Request<B>> for App {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        let mut response = Response::new(Full::new(Bytes::from_static(b"<p>hello</p>")));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/html; charset=utf-8"),
        );
        ready(Ok(response))
    }
}

type ReqBody = http_body_util::Empty<Bytes>;

fn request() -> Request<ReqBody> {
    Request::builder()
        .uri("/")
        .header("host", "example.com")
        .header("accept", "text/html")
        .body(ReqBody::new())
        .unwrap_or_default()
}

/// Calls `service` once and drives the future to completion; the app never pends.
fn call<S>(service: &mut S, request: Request<ReqBody>) -> S::Response
where
    S: Service<Request<ReqBody>>,
    S::Error: std::fmt::Debug,
{
    let mut future = pin!(service.call(request));
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(result) = future.as_mut().poll(&mut cx) {
            return result.expect("the benchmark app never fails");
        }
    }
}

fn run<S>(bencher: Bencher, mut service: S)
where
    S: Service<Request<ReqBody>>,
    S::Error: std::fmt::Debug,
{
    bencher
        .with_inputs(request)
        .bench_local_values(|request| black_box(call(&mut service, request)));
}

#[divan::bench]
fn bare(bencher: Bencher) {
    run(bencher, App);
}

#[divan::bench]
fn strict(bencher: Bencher) {
    run(bencher, SecurityLayer::strict().layer(App));
}

#[divan::bench]
fn strict_without_nonce(bencher: Bencher) {
    let csp = tower_security::headers::ContentSecurityPolicy::new()
        .directive("default-src", ["'self'"])
        .directive("object-src", ["'none'"])
        .directive("frame-ancestors", ["'none'"]);
    let layer = SecurityLayer::builder()
        .content_security_policy(csp)
        .build();
    run(bencher, layer.expect("a valid policy").layer(App));
}

/// The least any header layer can do: insert pre-built values, with no policy logic.
#[divan::bench]
fn floor(bencher: Bencher) {
    let mut strict = SecurityLayer::strict().layer(App);
    let headers: Vec<(http::HeaderName, http::HeaderValue)> = call(&mut strict, request())
        .headers()
        .clone()
        .into_iter()
        .filter_map(|(name, value)| Some((name?, value)))
        .collect();
    let mut app = App;
    bencher.with_inputs(request).bench_local_values(|request| {
        let mut response = call(&mut app, request);
        let map = response.headers_mut();
        map.reserve(headers.len());
        for (name, value) in &headers {
            if !map.contains_key(name) {
                map.insert(name, value.clone());
            }
        }
        black_box(response)
    });
}
