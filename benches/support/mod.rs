//! What the benchmarks share: the application, its request bodies, and the stacks compared.
//!
//! - `bare`: the application alone.
//! - `floor`: the least a header layer can do: one reserve, the same pre-built header values
//!   `strict()` sends inserted where absent, fingerprint headers stripped by one scan of the
//!   response's names, `Set-Cookie` fields rewritten by a byte scan. No policy, no nonce, no
//!   request id, no request guards.
//! - `strict`: `SecurityLayer::strict()`.
//! - `strict_all`: `strict()` with every control of the crate on: trusted proxies, a Host
//!   allow-list, an HTTPS redirect, signed and encrypted cookies, a CSP report endpoint.
//! - `tower_http`: what a team would otherwise stack from tower-http: one
//!   `SetResponseHeaderLayer::if_not_present` per header `strict_all()` sends (the CSP without
//!   a nonce), request ids from a counter, fingerprint stripping by one scan of the response's
//!   names, a `Set-Cookie` rewrite through the `cookie` crate, `RequestBodyLimitLayer` and
//!   `CatchPanicLayer`: a careful build of that stack.
//! - `tower_http_by_name`: the same stack, stripping the straightforward way, one
//!   `HeaderMap::remove` per listed name.

#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use bytes::{Buf as _, Bytes};
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use pin_project_lite::pin_project;
use tower::{Layer, Service, ServiceBuilder};
use tower_security::SecurityLayer;
use tower_security::cookies::{CookiePolicy, SecretKey};
use tower_security::guards::host::AllowedHosts;
use tower_security::headers::{ContentSecurityPolicy, FINGERPRINT_HEADERS};
use tower_security::transport::https::HttpsEnforcement;
use tower_security::transport::proxies::TrustedProxies;

/// The body of the uploads: 16 frames of 4 KiB, 64 KiB in all.
pub const POST_FRAMES: u16 = 16;
const FRAME_LEN: usize = 4096;
static FRAME: [u8; FRAME_LEN] = [b'x'; FRAME_LEN];

/// A request body of `left` 4 KiB frames whose total is not announced, as a chunked
/// upload's is not; the frames are static, so making them costs nothing.
pub struct Frames {
    left: u16,
}

impl Frames {
    pub fn new(frames: u16) -> Self {
        Self { left: frames }
    }
}

impl Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        self.left -= 1;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&FRAME)))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        if self.left == 0 {
            SizeHint::with_exact(0)
        } else {
            SizeHint::default()
        }
    }
}

/// `/upload` in bytes shared as a slice of hyper's read buffer is: a clone only counts a
/// reference. (`/` is a static value in `http` itself.)
fn upload_target() -> Uri {
    static SHARED: LazyLock<Bytes> = LazyLock::new(|| {
        let bytes = Bytes::from(b"/upload".to_vec());
        // The first clone of a `Bytes` made from a `Vec` moves it to shared storage.
        drop(bytes.clone());
        bytes
    });
    Uri::from_maybe_shared(SHARED.clone()).expect("a valid target")
}

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// The two requests measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// A browser's page load: a GET with an empty body.
    Get,
    /// A same-origin upload of 64 KiB in 16 frames, which the handler reads.
    Post,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Get => "GET",
            Scenario::Post => "POST 64 KiB",
        }
    }

    /// The request, with a target and header values that share their bytes as hyper's share
    /// its read buffer: cloning one copies nothing.
    pub fn request(self) -> Request<Frames> {
        let value = HeaderValue::from_static;
        let builder = Request::builder()
            .uri("/")
            .header(header::HOST, value("example.com"))
            .header(
                header::USER_AGENT,
                value("Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0"),
            )
            .header(header::ACCEPT, value("text/html,application/xhtml+xml"))
            .header(SEC_FETCH_SITE, value("same-origin"))
            .header(header::COOKIE, value("theme=dark"));
        let request = match self {
            Scenario::Get => builder.method(Method::GET).body(Frames::new(0)),
            Scenario::Post => builder
                .method(Method::POST)
                .uri(upload_target())
                .header(header::CONTENT_TYPE, value("application/octet-stream"))
                .header(header::ORIGIN, value("https://example.com"))
                .body(Frames::new(POST_FRAMES)),
        };
        request.expect("a valid request")
    }
}

/// A handler: reads the whole request body, then answers with a small page (GET) or a short
/// confirmation (POST), and a `Content-Type`.
#[derive(Clone, Copy, Debug, Default)]
pub struct App;

impl<B: Body> Service<Request<B>> for App {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = AppFuture<B>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let post = request.method() == Method::POST;
        AppFuture {
            body: request.into_body(),
            read: 0,
            post,
        }
    }
}

pin_project! {
    /// The handler's future: the body read to its end, then the answer.
    pub struct AppFuture<B> {
        #[pin]
        body: B,
        read: usize,
        post: bool,
    }
}

impl<B: Body> Future for AppFuture<B> {
    type Output = Result<Response<Full<Bytes>>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.body.as_mut().poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        *this.read += data.remaining();
                    }
                }
                Poll::Ready(Some(Err(_))) => {
                    let mut response = Response::new(Full::new(Bytes::from_static(b"bad body")));
                    *response.status_mut() = StatusCode::BAD_REQUEST;
                    return Poll::Ready(Ok(response));
                }
                Poll::Ready(None) => break,
                Poll::Pending => return Poll::Pending,
            }
        }
        let (body, content_type): (&'static [u8], _) = if *this.post {
            (b"stored", "text/plain; charset=utf-8")
        } else {
            (
                b"<!doctype html><title>hello</title><p>hello</p>",
                "text/html; charset=utf-8",
            )
        };
        let mut response = Response::new(Full::new(Bytes::from_static(body)));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        Poll::Ready(Ok(response))
    }
}

/// `strict()` with every control on that the preset leaves to configuration.
pub fn strict_all() -> SecurityLayer {
    let key = "0wl9ExqpOQFsSwdxhRwFrWDSKjLOFG5ahSaBvf0pwFtS0ZLlWB3w3mJaAFJW";
    SecurityLayer::builder()
        .trusted_proxies(TrustedProxies::new().trust("10.0.0.0/8"))
        .allowed_hosts(AllowedHosts::new().allow("example.com"))
        .https(HttpsEnforcement::redirect_to("example.com"))
        .secret_key(SecretKey::new(key).expect("a strong key"))
        .cookies(CookiePolicy::strict().signed("session").encrypted("vault"))
        .content_security_policy(ContentSecurityPolicy::strict().report_to("/csp-reports"))
        .build()
        .expect("a valid policy")
}

/// The headers `layer` adds to the application's GET answer, in the order it sends them.
pub fn headers_sent_by(layer: &SecurityLayer) -> Vec<(HeaderName, HeaderValue)> {
    let mut service = layer.layer(App);
    let response = call(&mut service, Scenario::Get.request());
    response
        .headers()
        .iter()
        .filter(|(name, _)| *name != header::CONTENT_TYPE)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// Calls `service` once and drives its future and the response body to their ends, as a
/// server would; the stacks measured never pend. Returns a figure of the response, so the
/// work cannot be optimised away.
pub fn drive<S, B, RB>(service: &mut S, request: Request<B>) -> usize
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Error: std::fmt::Debug,
    RB: Body,
{
    let response = call(service, request);
    let mut cx = Context::from_waker(Waker::noop());
    let (parts, body) = response.into_parts();
    let mut body = pin!(body);
    let mut seen = parts.headers.len();
    while let Poll::Ready(Some(frame)) = body.as_mut().poll_frame(&mut cx) {
        if let Ok(Some(data)) = frame.map(|frame| frame.into_data().ok()) {
            seen += data.remaining();
        }
    }
    seen
}

fn call<S, B, RB>(service: &mut S, request: Request<B>) -> Response<RB>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    match service.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        _ => panic!("the benchmarked services are always ready"),
    }
    let mut future = pin!(service.call(request));
    loop {
        if let Poll::Ready(result) = future.as_mut().poll(&mut cx) {
            return result.expect("the benchmarked services never fail");
        }
    }
}

// The floor.

/// See the module docs.
#[derive(Clone)]
pub struct Floor<S> {
    inner: S,
    headers: &'static [(HeaderName, HeaderValue)],
}

impl<S> Floor<S> {
    pub fn new(inner: S, headers: Vec<(HeaderName, HeaderValue)>) -> Self {
        Self {
            inner,
            headers: Vec::leak(headers),
        }
    }
}

impl<S, B, RB> Service<Request<B>> for Floor<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = FloorFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        FloorFuture {
            inner: self.inner.call(request),
            headers: self.headers,
        }
    }
}

pin_project! {
    pub struct FloorFuture<F> {
        #[pin]
        inner: F,
        headers: &'static [(HeaderName, HeaderValue)],
    }
}

impl<F, RB, E> Future for FloorFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = match this.inner.poll(cx) {
            Poll::Ready(Ok(response)) => response,
            other => return other,
        };
        let headers = response.headers_mut();
        strip_fingerprints(headers);
        rewrite_cookies_by_scan(headers);
        headers.reserve(this.headers.len());
        for (name, value) in this.headers.iter() {
            if let header::Entry::Vacant(entry) = headers.entry(name) {
                entry.insert(value.clone());
            }
        }
        Poll::Ready(Ok(response))
    }
}

fn is_fingerprint(name: &HeaderName) -> bool {
    FINGERPRINT_HEADERS.binary_search(&name.as_str()).is_ok()
}

/// One scan of the response's names; removal only when one is found.
pub fn strip_fingerprints(headers: &mut http::HeaderMap) {
    if !headers.keys().any(is_fingerprint) {
        return;
    }
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|n| is_fingerprint(n))
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// Appends `Secure`, `HttpOnly` and `SameSite=Strict` to each `Set-Cookie` field missing
/// them, by a case-insensitive scan of the field's bytes.
fn rewrite_cookies_by_scan(headers: &mut http::HeaderMap) {
    let header::Entry::Occupied(mut entry) = headers.entry(header::SET_COOKIE) else {
        return;
    };
    for value in entry.iter_mut() {
        let lower = value.as_bytes().to_ascii_lowercase();
        let contains = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
        let mut out = value.as_bytes().to_vec();
        for (needle, add) in [
            (&b"secure"[..], &b"; Secure"[..]),
            (b"httponly", b"; HttpOnly"),
            (b"samesite", b"; SameSite=Strict"),
        ] {
            if !contains(needle) {
                out.extend_from_slice(add);
            }
        }
        if let Ok(rewritten) = HeaderValue::from_bytes(&out) {
            *value = rewritten;
        }
    }
}

// The tower-http stack.

/// `Set-Cookie` hardened through the `cookie` crate: each field parsed, the missing
/// attributes set, and the cookie encoded again.
fn rewrite_cookies_with_cookie_crate(headers: &mut http::HeaderMap) {
    let header::Entry::Occupied(mut entry) = headers.entry(header::SET_COOKIE) else {
        return;
    };
    for value in entry.iter_mut() {
        let Ok(text) = value.to_str() else { continue };
        let Ok(mut cookie) = cookie::Cookie::parse(text) else {
            continue;
        };
        if cookie.secure().is_none() {
            cookie.set_secure(true);
        }
        if cookie.http_only().is_none() {
            cookie.set_http_only(true);
        }
        if cookie.same_site().is_none() {
            cookie.set_same_site(cookie::SameSite::Strict);
        }
        if let Ok(rewritten) = HeaderValue::from_str(&cookie.to_string()) {
            *value = rewritten;
        }
    }
}

/// A request id a tower-http user would make: a counter, cheaper than the UUID most pick.
#[derive(Clone, Default)]
pub struct CountingIds;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl tower_http::request_id::MakeRequestId for CountingIds {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<tower_http::request_id::RequestId> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        Some(tower_http::request_id::RequestId::new(HeaderValue::from(
            id,
        )))
    }
}

/// The names `strict_all()` sends, in the order the tower-http stack sets them.
pub const PEER_HEADERS: [&str; 15] = [
    "content-security-policy",
    "strict-transport-security",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "permissions-policy",
    "cross-origin-opener-policy",
    "cross-origin-resource-policy",
    "cross-origin-embedder-policy",
    "origin-agent-cluster",
    "x-dns-prefetch-control",
    "x-permitted-cross-domain-policies",
    "x-xss-protection",
    "cache-control",
    "reporting-endpoints",
];

/// What the tower-http stack answers with: `CatchPanicLayer` boxes every body.
pub type PeerBody = tower_http::body::UnsyncBoxBody<Bytes, tower_http::BoxError>;

/// The tower-http stack's answers.
pub type PeerAnswer = Response<PeerBody>;

type Limited<B> = tower_http::body::Limited<B>;

/// What the application's answer is inside the tower-http stack's body limit.
type PeerResponse = tower_http::limit::ResponseBody<Full<Bytes>>;

/// Strips with one scan of the response's names, and rewrites cookies: the careful
/// `map_response` step of the tower-http stack.
fn harden_by_scan<B>(mut response: Response<B>) -> Response<B> {
    let headers = response.headers_mut();
    strip_fingerprints(headers);
    rewrite_cookies_with_cookie_crate(headers);
    response
}

/// Strips by removing each listed name, the straightforward way to write it, and rewrites
/// cookies.
fn harden_by_name<B>(mut response: Response<B>) -> Response<B> {
    let headers = response.headers_mut();
    for name in FINGERPRINT_HEADERS {
        headers.remove(*name);
    }
    rewrite_cookies_with_cookie_crate(headers);
    response
}

/// How the tower-http stack strips fingerprint headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stripping {
    /// One pass over the response's names (what this crate and the floor do).
    Scan,
    /// `HeaderMap::remove` for each of the 87 listed names.
    ByName,
}

/// The tower-http stack around `inner`, sending `headers` (one value per name in
/// [`PEER_HEADERS`]).
pub fn tower_http_stack<S, B>(
    inner: S,
    headers: &[(HeaderName, HeaderValue)],
    stripping: Stripping,
) -> impl Service<Request<B>, Response = PeerAnswer, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ 'static
where
    S: Service<Request<Limited<B>>, Response = Response<Full<Bytes>>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
{
    use tower_http::set_header::SetResponseHeaderLayer;
    let value = |name: &str| -> HeaderValue {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("strict_all() sends {name}"))
    };
    let set = |i: usize| {
        SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static(PEER_HEADERS[i]),
            value(PEER_HEADERS[i]),
        )
    };
    let x_request_id = HeaderName::from_static("x-request-id");
    ServiceBuilder::new()
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(tower_http::request_id::SetRequestIdLayer::new(
            x_request_id.clone(),
            CountingIds,
        ))
        .layer(tower_http::request_id::PropagateRequestIdLayer::new(
            x_request_id,
        ))
        .layer(set(0))
        .layer(set(1))
        .layer(set(2))
        .layer(set(3))
        .layer(set(4))
        .layer(set(5))
        .layer(set(6))
        .layer(set(7))
        .layer(set(8))
        .layer(set(9))
        .layer(set(10))
        .layer(set(11))
        .layer(set(12))
        .layer(set(13))
        .layer(set(14))
        .map_response(match stripping {
            Stripping::Scan => harden_by_scan::<PeerResponse> as fn(_) -> _,
            Stripping::ByName => harden_by_name::<PeerResponse>,
        })
        .layer(tower_http::limit::RequestBodyLimitLayer::new(1 << 20))
        .service(inner)
}
