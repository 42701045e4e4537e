//! Fuzz target `request`: a whole request through the layer, to an application that misbehaves
//! in every way the layer promises to contain.
//!
//! The input chooses the layer (strict, strict with a 4 KiB body limit, or only the body limit
//! and the response half), the method, the request target, up to 200 header fields, a body
//! plan (data, pending polls, an error, trailers) and what the application does: answer,
//! fail, panic in `call`, in its future or in its response body, set cookies and headers.
//!
//! Checked on every run:
//!
//! - no panic escapes the layer, and its future and body finish within the poll budget;
//! - the application never reads more body bytes than the limit, and a body that crossed it
//!   is answered `413` whatever the application made of the error;
//! - no response header value carries CR, LF or NUL, and no panic message reaches the client;
//! - the `Set-Cookie` fields out are those the application sent less the `cookie_dropped`
//!   events, when its response is passed on, and none when the layer answered instead;
//! - every log record is one line without control characters.

#![no_main]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use arbitrary::Arbitrary;
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use tower_layer::Layer;
use tower_security::guards::body::LengthLimitError;
use tower_security::guards::limits::RequestLimits;
use tower_security::{BodyPanicked, Refused, RequestBody, SecurityLayer};
use tower_security_fuzz::cookie::{Required, check_hardened};
use tower_security_fuzz::{INTENTIONAL, check_response_headers, drive, intentional_panic, logs};
use tower_service::Service;

/// The body limit of the two presets that lower it.
const SMALL_LIMIT: u64 = 4 << 10;
/// The body limit of `SecurityLayer::strict()`.
const STRICT_LIMIT: u64 = 1 << 20;
/// The most request header fields a run sends.
const MAX_HEADERS: usize = 200;
/// The most steps of a body plan, which bounds the pending polls far below the poll budget.
const MAX_STEPS: usize = 256;
/// The most `Set-Cookie` fields and other headers the application sets.
const MAX_APP_FIELDS: usize = 32;
/// Zeros for the large chunks of a body plan, shared so that a megabyte costs no allocation.
static ZEROS: [u8; 1 << 16] = [0; 1 << 16];

/// Header names the layer reads or writes, so that the fuzzer need not discover them.
const KNOWN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "accept",
    "content-type",
    "cookie",
    "origin",
    "referer",
    "sec-fetch-site",
    "sec-fetch-mode",
    "sec-fetch-dest",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
    "x-real-ip",
    "x-request-id",
    "x-http-method-override",
    "x-method-override",
    "x-http-method",
    "connection",
    "upgrade",
    "te",
    "authorization",
    "set-cookie",
    "cache-control",
    "expires",
    "server",
    "x-powered-by",
    "content-security-policy",
    "strict-transport-security",
    "x-frame-options",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "retry-after",
    "location",
    "etag",
    "x-debug-token",
];

/// A layer to test and the body limit it enforces.
struct Preset {
    /// The layer.
    layer: SecurityLayer,
    /// Its body limit, in bytes.
    body_limit: u64,
}

/// The layers under test, built once: `strict()`, `strict()` with a 4 KiB body limit, and a
/// layer with only the body limit among the request guards, so that most requests reach the
/// application.
fn presets() -> &'static [Preset] {
    static PRESETS: OnceLock<Vec<Preset>> = OnceLock::new();
    PRESETS.get_or_init(|| {
        let small = || RequestLimits::strict().max_body_size(SMALL_LIMIT);
        let small_layer = SecurityLayer::builder()
            .request_limits(small())
            .build()
            .expect("the small-limit preset builds");
        let open_layer = SecurityLayer::builder()
            .request_limits(small())
            .allowed_hosts(None)
            .allowed_methods(None)
            .uri_rules(None)
            .cross_origin_protection(None)
            .https(None)
            .scrub_client_errors(true)
            .build()
            .expect("the open preset builds");
        vec![
            Preset {
                layer: SecurityLayer::strict(),
                body_limit: STRICT_LIMIT,
            },
            Preset {
                layer: small_layer,
                body_limit: SMALL_LIMIT,
            },
            Preset {
                layer: open_layer,
                body_limit: SMALL_LIMIT,
            },
        ]
    })
}

/// One fuzz input.
#[derive(Arbitrary, Debug)]
struct Spec {
    /// Which of [`presets`], modulo their number.
    preset: u8,
    /// The request method.
    method: MethodSpec,
    /// The request-target bytes; an input `http` refuses as a URI is skipped.
    target: Vec<u8>,
    /// The HTTP version.
    version: VersionSpec,
    /// The request header fields, the first [`MAX_HEADERS`] of them.
    headers: Vec<(NameSpec, Vec<u8>)>,
    /// The request body.
    body: BodySpec,
    /// What the application does.
    app: AppSpec,
}

/// A method: the common ones by name, or any bytes `http` accepts.
#[derive(Arbitrary, Debug)]
enum MethodSpec {
    /// `GET`.
    Get,
    /// `HEAD`.
    Head,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
    /// `OPTIONS`.
    Options,
    /// `TRACE`.
    Trace,
    /// `CONNECT`.
    Connect,
    /// These bytes, if `http` takes them as a method.
    Raw(Vec<u8>),
}

/// The request's HTTP version.
#[derive(Arbitrary, Debug)]
enum VersionSpec {
    /// HTTP/1.0.
    Http10,
    /// HTTP/1.1.
    Http11,
    /// HTTP/2.
    Http2,
}

/// A header name: one of [`KNOWN_HEADERS`], or any bytes `http` accepts.
#[derive(Arbitrary, Debug)]
enum NameSpec {
    /// An entry of [`KNOWN_HEADERS`], modulo their number.
    Known(u8),
    /// These bytes, if `http` takes them as a header name.
    Raw(Vec<u8>),
}

/// The request body, step by step.
#[derive(Arbitrary, Debug)]
struct BodySpec {
    /// The steps, the first [`MAX_STEPS`] of them.
    steps: Vec<BodyStep>,
    /// Report the exact remaining length in `size_hint` rather than nothing.
    exact_hint: bool,
    /// Report the end in `is_end_stream` once only pending polls are left.
    end_known: bool,
}

/// One step of the request body.
#[derive(Arbitrary, Debug, Clone)]
enum BodyStep {
    /// A data frame with these bytes.
    Data(Vec<u8>),
    /// A data frame of this many zero bytes, for bodies that cross the limits.
    Zeros(u16),
    /// `Poll::Pending`, after waking the waker.
    Pending,
    /// An error, which ends the body.
    Error,
    /// A trailers frame with the fields `http` accepts, which ends the body.
    Trailers(Vec<(Vec<u8>, Vec<u8>)>),
}

/// What the application does.
#[derive(Arbitrary, Debug)]
struct AppSpec {
    /// Read the request body to its end or its error before answering.
    read_body: bool,
    /// How the call ends.
    outcome: Outcome,
    /// The response status, from 100 to 999.
    status: u16,
    /// The `Set-Cookie` values, those `http` accepts among the first [`MAX_APP_FIELDS`].
    cookies: Vec<Vec<u8>>,
    /// Other response header fields, the first [`MAX_APP_FIELDS`].
    headers: Vec<(NameSpec, Vec<u8>)>,
    /// Pending polls of the application's future before it answers.
    pending: u8,
    /// The response body's steps.
    body: Vec<ResponseStep>,
    /// The text of the application's panics.
    message: String,
}

/// How the application's call ends.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A response.
    Answer,
    /// An error from the future.
    Fail,
    /// A panic in `Service::call`, before any future exists.
    PanicInCall,
    /// A panic while the future is polled.
    PanicInFuture,
}

/// One step of the application's response body.
#[derive(Arbitrary, Debug, Clone)]
enum ResponseStep {
    /// A data frame with these bytes.
    Data(Vec<u8>),
    /// `Poll::Pending`, after waking the waker.
    Pending,
    /// A panic while the layer polls the body.
    Panic,
    /// An error, which ends the body.
    Error,
    /// A trailers frame with the fields `http` accepts, which ends the body.
    Trailers(Vec<(Vec<u8>, Vec<u8>)>),
}

/// What the application saw and did, read after the run.
#[derive(Debug, Default)]
struct Observed {
    /// The layer called the application.
    called: bool,
    /// The request body bytes the application read.
    body_bytes: u64,
    /// The request body ended with the layer's `LengthLimitError`.
    limit_error: bool,
    /// The `Set-Cookie` fields of the application's response, if it answered.
    cookies_sent: Option<usize>,
    /// The application's future ended with an error.
    failed: bool,
    /// The response body panicked while the layer polled it.
    body_panicked: bool,
}

fuzz_target!(
    init: tower_security_fuzz::init(),
    |spec: Spec| run(spec)
);

/// One run: the request through the layer, then every check.
fn run(spec: Spec) {
    let Some(request) = build_request(&spec) else {
        return;
    };
    let presets = presets();
    let preset = &presets[usize::from(spec.preset) % presets.len()];
    let observed = Rc::new(RefCell::new(Observed::default()));
    let app = App {
        spec: Rc::new(spec.app),
        observed: Rc::clone(&observed),
    };
    let mut service = preset.layer.layer(app);
    let log = logs::Run::start();

    drive::block_on(std::future::poll_fn(|cx| service.poll_ready(cx))).expect("the app is ready");
    let future = service.call(request);
    let response = drive::block_on(future).expect("the layer's future never fails");
    let (parts, body) = response.into_parts();
    let collected = drive::collect(body);
    let captured = log.finish();

    let observed = observed.borrow();
    check_response_headers(&parts.headers);
    assert!(
        observed.body_bytes <= preset.body_limit,
        "the application read {} body bytes past a limit of {}",
        observed.body_bytes,
        preset.body_limit
    );
    let refused = parts.extensions.get::<Refused>().copied();
    // `LengthLimitError`'s promise: a 413 whatever the application makes of the error, be it
    // an answer of its own or an error it propagates.
    let answered = observed.cookies_sent.is_some();
    if observed.limit_error && (answered || observed.failed) {
        assert_eq!(parts.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(refused, Some(Refused::BodyTooLarge));
    }
    // The layer's own answers say nothing of the application's failure.
    let leaked = |bytes: &[u8]| {
        bytes
            .windows(INTENTIONAL.len())
            .any(|w| w == INTENTIONAL.as_bytes())
    };
    assert!(!leaked(&collected.data), "a panic message reached the body");
    for value in parts.headers.values() {
        assert!(
            !leaked(value.as_bytes()),
            "a panic message reached a header"
        );
    }
    if observed.body_panicked {
        let error = collected
            .error
            .as_ref()
            .expect("a body panic ends the body with an error");
        assert!(
            error.is::<BodyPanicked>(),
            "a body panic ends with BodyPanicked: {error}"
        );
    }

    let out = parts.headers.get_all(header::SET_COOKIE).iter().count();
    let dropped = captured.count("cookie_dropped");
    match (refused, observed.cookies_sent) {
        // The application's response was passed on, scrubbed or not: each of its cookies
        // either leaves hardened or is reported dropped.
        (None, Some(sent)) => assert_eq!(
            out + dropped,
            sent,
            "{sent} cookies sent, {out} out, {dropped} reported dropped"
        ),
        // A refusal, a 413 in place of the application's answer, or the generic 500 after a
        // failure: no cookie of the application's leaves, and none needed dropping.
        _ => assert_eq!(
            (out, dropped),
            (0, 0),
            "cookies out of a layer's own answer"
        ),
    }
    let strict = Required {
        secure: true,
        http_only: true,
        same_site: true,
    };
    for value in parts.headers.get_all(header::SET_COOKIE) {
        check_hardened(value.as_bytes(), strict);
    }
    if !observed.called {
        assert!(
            refused.is_some(),
            "a request the application never saw was not refused"
        );
    }
}

/// The request the input describes, or `None` when `http` refuses one of its parts.
fn build_request(spec: &Spec) -> Option<Request<PlannedBody>> {
    let method = match &spec.method {
        MethodSpec::Get => Method::GET,
        MethodSpec::Head => Method::HEAD,
        MethodSpec::Post => Method::POST,
        MethodSpec::Put => Method::PUT,
        MethodSpec::Patch => Method::PATCH,
        MethodSpec::Delete => Method::DELETE,
        MethodSpec::Options => Method::OPTIONS,
        MethodSpec::Trace => Method::TRACE,
        MethodSpec::Connect => Method::CONNECT,
        MethodSpec::Raw(bytes) => Method::from_bytes(bytes).ok()?,
    };
    let uri = Uri::from_maybe_shared(Bytes::copy_from_slice(&spec.target)).ok()?;
    let version = match spec.version {
        VersionSpec::Http10 => Version::HTTP_10,
        VersionSpec::Http11 => Version::HTTP_11,
        VersionSpec::Http2 => Version::HTTP_2,
    };
    let headers = header_map(&spec.headers, MAX_HEADERS);
    let body = PlannedBody::new(&spec.body, declared_length(&headers));

    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    Some(request)
}

/// The fields `http` accepts among the first `max`, in order.
fn header_map(fields: &[(NameSpec, Vec<u8>)], max: usize) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in fields.iter().take(max) {
        let name = match name {
            NameSpec::Known(i) => {
                HeaderName::from_static(KNOWN_HEADERS[usize::from(*i) % KNOWN_HEADERS.len()])
            }
            NameSpec::Raw(bytes) => match HeaderName::from_bytes(bytes) {
                Ok(name) => name,
                Err(_) => continue,
            },
        };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            map.append(name, value);
        }
    }
    map
}

/// The body length a server would enforce for these headers: the first `Content-Length`
/// item, when it is a number.
///
/// hyper and h2 refuse a body longer than a `Content-Length` they accepted (and hyper drops
/// the field when `Transfer-Encoding` is present), so the planned body stops there too. The
/// layer refuses every request whose `Content-Length` items are not one and the same
/// number, so reading the first item is enough for the requests that get through.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(header::CONTENT_LENGTH)?.as_bytes();
    let item = value.split(|&b| b == b',').next()?.trim_ascii();
    if item.is_empty() || item.len() > 19 || !item.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(item.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// A request body that follows its plan, as a server's body would deliver what the client
/// sent.
struct PlannedBody {
    /// The steps still to come.
    steps: VecDeque<BodyStep>,
    /// The declared length, past which a server delivers nothing.
    cap: Option<u64>,
    /// The data bytes delivered so far.
    delivered: u64,
    /// Ended: by an error, trailers, the last step or the cap.
    finished: bool,
    /// See [`BodySpec::exact_hint`].
    exact_hint: bool,
    /// See [`BodySpec::end_known`].
    end_known: bool,
}

impl PlannedBody {
    /// The body `spec` plans, stopping after `cap` bytes if a length was declared.
    fn new(spec: &BodySpec, cap: Option<u64>) -> Self {
        Self {
            steps: spec.steps.iter().take(MAX_STEPS).cloned().collect(),
            cap,
            delivered: 0,
            finished: false,
            exact_hint: spec.exact_hint,
            end_known: spec.end_known,
        }
    }

    /// The data bytes the plan still holds, within the cap.
    fn remaining(&self) -> u64 {
        let planned: u64 = self
            .steps
            .iter()
            .map(|step| match step {
                BodyStep::Data(data) => data.len() as u64,
                BodyStep::Zeros(len) => u64::from(*len),
                _ => 0,
            })
            .sum();
        match self.cap {
            Some(cap) => planned.min(cap.saturating_sub(self.delivered)),
            None => planned,
        }
    }

    /// Whether the declared length has been delivered.
    fn capped(&self) -> bool {
        self.cap.is_some_and(|cap| self.delivered >= cap)
    }
}

impl Body for PlannedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = &mut *self;
        if this.finished || this.capped() {
            this.finished = true;
            return Poll::Ready(None);
        }
        let Some(step) = this.steps.pop_front() else {
            this.finished = true;
            return Poll::Ready(None);
        };
        let data = match step {
            BodyStep::Pending => {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            BodyStep::Error => {
                this.finished = true;
                return Poll::Ready(Some(Err(std::io::Error::other("planned body error"))));
            }
            BodyStep::Trailers(fields) => {
                this.finished = true;
                let trailers = fields
                    .iter()
                    .filter_map(|(name, value)| {
                        let name = HeaderName::from_bytes(name).ok()?;
                        Some((name, HeaderValue::from_bytes(value).ok()?))
                    })
                    .collect();
                return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
            }
            BodyStep::Data(data) => Bytes::from(data),
            BodyStep::Zeros(len) => Bytes::from_static(&ZEROS[..usize::from(len)]),
        };
        let room = this.cap.map_or(u64::MAX, |cap| cap - this.delivered);
        let data = data.slice(..data.len().min(usize::try_from(room).unwrap_or(usize::MAX)));
        this.delivered += data.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        let only_pending = self.steps.iter().all(|s| matches!(s, BodyStep::Pending));
        self.finished || self.capped() || (self.end_known && only_pending)
    }

    fn size_hint(&self) -> SizeHint {
        // hyper reports a declared length as exact, whatever actually arrives.
        if let Some(cap) = self.cap {
            return SizeHint::with_exact(cap.saturating_sub(self.delivered));
        }
        if self.exact_hint {
            SizeHint::with_exact(self.remaining())
        } else {
            SizeHint::default()
        }
    }
}

/// The application: a service that does what its spec says and records what it saw.
struct App {
    /// What to do.
    spec: Rc<AppSpec>,
    /// Where to record what happened.
    observed: Rc<RefCell<Observed>>,
}

/// The error of a failing application.
#[derive(Debug)]
struct AppError;

/// The application's future.
type AppFuture = Pin<Box<dyn Future<Output = Result<Response<PlannedResponse>, AppError>>>>;

impl Service<Request<RequestBody<PlannedBody>>> for App {
    type Response = Response<PlannedResponse>;
    type Error = AppError;
    type Future = AppFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), AppError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<RequestBody<PlannedBody>>) -> AppFuture {
        self.observed.borrow_mut().called = true;
        let spec = Rc::clone(&self.spec);
        if spec.outcome == Outcome::PanicInCall {
            intentional_panic(&spec.message);
        }
        let observed = Rc::clone(&self.observed);
        Box::pin(async move {
            if spec.read_body {
                read_body(request.into_body(), &observed).await;
            }
            for _ in 0..spec.pending % 8 {
                YieldOnce(false).await;
            }
            match spec.outcome {
                Outcome::PanicInFuture => intentional_panic(&spec.message),
                Outcome::Fail => {
                    observed.borrow_mut().failed = true;
                    return Err(AppError);
                }
                Outcome::Answer | Outcome::PanicInCall => {}
            }
            let mut response = Response::new(PlannedResponse {
                steps: spec.body.iter().take(MAX_STEPS).cloned().collect(),
                message: spec.message.clone(),
                observed: Rc::clone(&observed),
            });
            *response.status_mut() =
                StatusCode::from_u16(100 + spec.status % 900).unwrap_or(StatusCode::OK);
            let headers = response.headers_mut();
            headers.extend(header_map(&spec.headers, MAX_APP_FIELDS));
            for cookie in spec.cookies.iter().take(MAX_APP_FIELDS) {
                if let Ok(value) = HeaderValue::from_bytes(cookie) {
                    headers.append(header::SET_COOKIE, value);
                }
            }
            let sent = headers.get_all(header::SET_COOKIE).iter().count();
            observed.borrow_mut().cookies_sent = Some(sent);
            Ok(response)
        })
    }
}

/// Reads the request body to its end or its first error, counting the bytes.
async fn read_body(mut body: RequestBody<PlannedBody>, observed: &RefCell<Observed>) {
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    observed.borrow_mut().body_bytes += data.len() as u64;
                }
            }
            Err(error) => {
                observed.borrow_mut().limit_error = error.is::<LengthLimitError>();
                return;
            }
        }
    }
}

/// Pending once, after waking its waker.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The application's response body, following its plan.
struct PlannedResponse {
    /// The steps still to come.
    steps: VecDeque<ResponseStep>,
    /// The text of a planned panic.
    message: String,
    /// Where to record a panic.
    observed: Rc<RefCell<Observed>>,
}

impl Body for PlannedResponse {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let Some(step) = self.steps.pop_front() else {
            return Poll::Ready(None);
        };
        match step {
            ResponseStep::Data(data) => Poll::Ready(Some(Ok(Frame::data(Bytes::from(data))))),
            ResponseStep::Pending => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            ResponseStep::Panic => {
                self.observed.borrow_mut().body_panicked = true;
                intentional_panic(&self.message)
            }
            ResponseStep::Error => {
                self.steps.clear();
                Poll::Ready(Some(Err(std::io::Error::other("planned response error"))))
            }
            ResponseStep::Trailers(fields) => {
                self.steps.clear();
                let trailers = fields
                    .iter()
                    .filter_map(|(name, value)| {
                        let name = HeaderName::from_bytes(name).ok()?;
                        Some((name, HeaderValue::from_bytes(value).ok()?))
                    })
                    .collect();
                Poll::Ready(Some(Ok(Frame::trailers(trailers))))
            }
        }
    }
}
