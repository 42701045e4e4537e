//! Security events: one `tracing` event per security decision, on one stable target.
//!
//! Every refusal, dropped or tampered cookie and other decision an operator may need to alert
//! on is emitted as a `tracing` event with target [`TARGET`] and a stable `event` field naming
//! its [`EventKind`]. Untrusted values (the request path, a cookie name the application chose)
//! are escaped and truncated, so one event is always one line; credentials (`Cookie`,
//! `Set-Cookie`, `Authorization`, cookie values, secret keys) are never logged.
//!
//! | field | meaning |
//! |---|---|
//! | `event` | the [`EventKind::name`], such as `cross_origin_refused` |
//! | `rule` | the rule that decided, such as `sec-fetch-site` |
//! | `status` | the status the client got, when the layer answered itself |
//! | `method` | the request method, truncated to 32 characters |
//! | `path` | the request path, escaped and truncated to 256 characters |
//! | `cookie` | the cookie's name, for cookie events, escaped and truncated to 64 characters |
//! | `request_id` | the [`RequestId`](crate::transport::request_id::RequestId) of the request |
//! | `client` | the client's address, resolved through trusted proxies |
//! | `suppressed` | identical events dropped before this one ([rate limiting](#rate-limiting)) |
//!
//! Besides the log, every event is counted ([`counters`]), and the events written are handed
//! to the application's [hook](set_hook), for alerting.
//!
//! # Example
//!
//! Route the events to their own sink with a `tracing-subscriber` filter on the target:
//!
//! ```
//! use tracing_subscriber::{filter::Targets, fmt, prelude::*};
//!
//! let security_log =
//!     Targets::new().with_target(tower_security::events::TARGET, tracing::Level::INFO);
//! let subscriber = tracing_subscriber::registry().with(fmt::layer().with_filter(security_log));
//! # drop(subscriber);
//! ```
//!
//! Count the events for a metrics endpoint, and forward the ones an operator must see to an
//! alerting system (a SIEM) with a hook:
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! use http::{Method, Request, Response, StatusCode};
//! use tower::{ServiceExt, service_fn};
//! use tower_layer::Layer;
//! use tower_security::events::{self, EventKind, SecurityEvent};
//! use tower_security::{RequestBody, SecurityLayer};
//!
//! static ALERTS: AtomicU64 = AtomicU64::new(0);
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Once, at start-up. The hook runs on the request's task: hand the event to a queue
//! // rather than do I/O here.
//! events::set_hook(|event: &SecurityEvent<'_>| {
//!     if event.kind() == EventKind::MethodRefused {
//!         ALERTS.fetch_add(1, Ordering::Relaxed);
//!     }
//! })?;
//!
//! let service = SecurityLayer::strict().layer(service_fn(|_: Request<RequestBody<String>>| {
//!     async { Ok::<_, Infallible>(Response::new(String::from("ok"))) }
//! }));
//! let request = Request::builder()
//!     .method(Method::TRACE)
//!     .header("host", "localhost")
//!     .body(String::new())?;
//! let runtime = tokio::runtime::Builder::new_current_thread().build()?;
//! let response = runtime.block_on(service.oneshot(request))?;
//!
//! assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
//! assert_eq!(events::counters().get(EventKind::MethodRefused), 1);
//! assert_eq!(ALERTS.load(Ordering::Relaxed), 1);
//! // Serve this from `/metrics`:
//! let text = events::counters().to_prometheus();
//! assert!(text.contains("tower_security_events_total{event=\"method_refused\"} 1\n"));
//! # Ok(())
//! # }
//! ```
//!
//! # Rate limiting
//!
//! A flood of refused requests must not flood the log, nor slow the requests it is made of.
//! Identical events, those of the same kind, rule and status (whatever their path, client or
//! request id, which a flood varies), are written at most 10 times in each fixed one-second
//! window of the monotonic clock. The rest are counted ([`counters`], and the `metrics`
//! counter) but neither written nor handed to the hook; the next event of the same key that
//! is written carries a `suppressed` field with how many were dropped since the previous one,
//! however later it comes.
//!
//! The limit is a setting of the process, 10 unless [`set_rate_limit`] changes or lifts it.
//! The limiter is a fixed table of 256 slots of atomics, where each `(kind, rule, status)`
//! takes a slot of its own the first time it occurs: it takes no lock and allocates nothing,
//! and an event costs a hash of its key and a few atomic operations.
//!
//! # The `metrics` feature
//!
//! With the `metrics` feature, every event, suppressed ones included, also increments the
//! [`metrics`](https://docs.rs/metrics) counter `tower_security_events_total` with an `event`
//! label holding the [`EventKind::name`], for whichever recorder the application installs.
//! Without it, [`EventCounts::to_prometheus`] renders the same counter.
//!
//! # Limitations
//!
//! - A hook is set once per process; [`set_hook`] refuses a second one.
//! - A hook that panics is caught and logged, but only when panics unwind: with
//!   `panic = "abort"`, a panicking hook aborts the process.
//! - Events suppressed just before the traffic stops are reported by no `suppressed` field
//!   until their key next occurs; the counters include them at once.
//! - Should more than 8 keys ever compete for neighbouring slots, which the crate's rules
//!   (fewer than 100 keys) make unlikely, the later ones share a slot, and with it its
//!   budget and its `suppressed` count.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;

use http::{Method, StatusCode};

mod counters;
mod rate;
#[cfg(test)]
mod tests;

pub use self::counters::{EventCounts, counters};

use self::rate::{Admit, LIMITER};

/// The `tracing` target of every security event.
pub const TARGET: &str = "tower_security::event";

/// Longest path, in characters, written to an event.
const MAX_PATH_CHARS: usize = 256;
/// Longest cookie name, in characters, written to an event.
const MAX_NAME_CHARS: usize = 64;
/// Longest method, in characters, written to an event.
const MAX_METHOD_CHARS: usize = 32;
/// Longest request id written to an event; the layer's own ids are at most 64 characters.
const MAX_ID_CHARS: usize = 64;

/// The kinds of security event, each with a stable name.
///
/// A new kind goes at the end, and into [`EventKind::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A state-changing request from another origin was refused (`cross_origin_refused`).
    CrossOriginRefused,
    /// A `Set-Cookie` that could not be made valid was not sent (`cookie_dropped`).
    CookieDropped,
    /// A signed or encrypted cookie failed verification and was removed from the request
    /// (`cookie_tampered`).
    CookieTampered,
    /// A cookie verified with an old key was re-issued under the current one
    /// (`cookie_reissued`).
    CookieReissued,
    /// A request body over the limit (`body_too_large`).
    BodyTooLarge,
    /// Too many header fields or bytes (`header_limit`).
    HeaderLimit,
    /// A method outside the allow-list, or a method-override header (`method_refused`).
    MethodRefused,
    /// A `Content-Length` that cannot be trusted (`invalid_request`).
    InvalidRequest,
    /// A request target refused by the URI firewall (`path_refused`).
    PathRefused,
    /// Forwarded headers from a peer that is not a trusted proxy were removed
    /// (`forwarded_headers_stripped`).
    ForwardedHeadersStripped,
    /// A missing, malformed or unlisted `Host` (`host_refused`).
    HostRefused,
    /// A plain-HTTP request sent to HTTPS (`https_redirect`).
    HttpsRedirect,
    /// A plain-HTTP request refused: gRPC, or no canonical host (`https_required`).
    HttpsRequired,
    /// A server error's body replaced by a generic one (`error_scrubbed`).
    ErrorScrubbed,
    /// The application panicked; the client got a generic 500 or a cut-off body (`panic`).
    Panic,
    /// A browser reported a Content Security Policy violation (`csp_violation`).
    CspViolation,
}

impl EventKind {
    /// Every kind, in declaration order: for a dashboard or an alert rule per kind.
    pub const ALL: &'static [Self] = &[
        Self::CrossOriginRefused,
        Self::CookieDropped,
        Self::CookieTampered,
        Self::CookieReissued,
        Self::BodyTooLarge,
        Self::HeaderLimit,
        Self::MethodRefused,
        Self::InvalidRequest,
        Self::PathRefused,
        Self::ForwardedHeadersStripped,
        Self::HostRefused,
        Self::HttpsRedirect,
        Self::HttpsRequired,
        Self::ErrorScrubbed,
        Self::Panic,
        Self::CspViolation,
    ];

    /// The stable name, the value of the `event` field.
    pub const fn name(self) -> &'static str {
        match self {
            Self::CrossOriginRefused => "cross_origin_refused",
            Self::CookieDropped => "cookie_dropped",
            Self::CookieTampered => "cookie_tampered",
            Self::CookieReissued => "cookie_reissued",
            Self::BodyTooLarge => "body_too_large",
            Self::HeaderLimit => "header_limit",
            Self::MethodRefused => "method_refused",
            Self::InvalidRequest => "invalid_request",
            Self::PathRefused => "path_refused",
            Self::ForwardedHeadersStripped => "forwarded_headers_stripped",
            Self::HostRefused => "host_refused",
            Self::HttpsRedirect => "https_redirect",
            Self::HttpsRequired => "https_required",
            Self::ErrorScrubbed => "error_scrubbed",
            Self::Panic => "panic",
            Self::CspViolation => "csp_violation",
        }
    }

    /// The kind's position in [`ALL`](Self::ALL), which lists the kinds in declaration order.
    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who made the request an event is about.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Requester<'a> {
    pub(crate) id: Option<&'a str>,
    pub(crate) client: Option<IpAddr>,
}

/// One event about to be emitted.
pub(crate) struct Event<'a> {
    pub(crate) kind: EventKind,
    pub(crate) rule: &'static str,
    pub(crate) status: Option<u16>,
    pub(crate) method: &'a Method,
    pub(crate) path: &'a str,
    pub(crate) cookie: Option<&'a [u8]>,
    pub(crate) request_id: Option<&'a str>,
    /// The client's address, as the trusted-proxy walk resolved it.
    pub(crate) client: Option<IpAddr>,
    /// What the operator needs to know and the client must not: a panic's message. Escaped
    /// and truncated like the path.
    pub(crate) detail: Option<&'a str>,
}

impl Event<'_> {
    /// Counts the event, and unless too many identical ones came just before it, writes it
    /// and hands it to the hook.
    pub(crate) fn emit(&self) {
        counters::record(self.kind);
        let key = rate::key(self.kind, self.rule, self.status);
        let Admit::Write { suppressed } = LIMITER.admit(key, rate::now_ms()) else {
            return;
        };

        self.write(suppressed);
        if let Some(hook) = HOOK.get() {
            call_hook(hook.as_ref(), &SecurityEvent::new(self, suppressed));
        }
    }

    /// Writes the `tracing` event: WARN for refusals and tampering, INFO for routine repairs.
    fn write(&self, suppressed: u64) {
        let path = Truncated(self.path, MAX_PATH_CHARS);
        let cookie = self.cookie.map(String::from_utf8_lossy);
        // An `Option` field is recorded only when it is `Some`.
        let cookie = cookie
            .as_deref()
            .map(|name| tracing::field::debug(Truncated(name, MAX_NAME_CHARS)));
        let status = self.status;
        let method = Plain(self.method.as_str(), MAX_METHOD_CHARS);
        let request_id = self
            .request_id
            .map(|id| tracing::field::display(Plain(id, MAX_ID_CHARS)));
        let suppressed = (suppressed > 0).then_some(suppressed);
        let detail = self
            .detail
            .map(|detail| tracing::field::debug(Truncated(detail, MAX_PATH_CHARS)));
        // `?` formats with `Debug`, which escapes quotes, backslashes and control characters,
        // and `Plain` falls back to it, so one event stays one line whatever the request
        // carried.
        // The level must be a constant in `tracing`'s macros, hence one expansion per level.
        macro_rules! write {
            ($level:expr) => {
                tracing::event!(
                    target: TARGET,
                    $level,
                    event = self.kind.name(),
                    rule = self.rule,
                    status,
                    method = %method,
                    path = ?path,
                    cookie,
                    request_id,
                    client = self.client.map(tracing::field::display),
                    detail,
                    suppressed,
                    "security event"
                )
            };
        }
        match self.kind {
            EventKind::Panic => write!(tracing::Level::ERROR),
            EventKind::CookieReissued
            | EventKind::ForwardedHeadersStripped
            | EventKind::HttpsRedirect => write!(tracing::Level::INFO),
            _ => write!(tracing::Level::WARN),
        }
    }
}

/// Sets how many identical events are written in each one-second window, for the whole
/// process; `None` writes every event. The default is 10.
///
/// Events over the limit are counted, by [`counters`] and the `metrics` counter, but neither
/// written nor handed to the hook ([rate limiting](self#rate-limiting)). Lift the limit where
/// a policy requires every refusal in the log itself, and the log pipeline can take a flood.
///
/// ```
/// // A test that asserts on every event its requests produce.
/// tower_security::events::set_rate_limit(None);
/// ```
pub fn set_rate_limit(events_per_second: Option<u32>) {
    LIMITER.set_limit(events_per_second);
}

/// One security event that was written, as the [hook](set_hook) sees it.
///
/// The values are the request's own, truncated like the log's but not escaped: escape them
/// before writing them anywhere that control characters or quotes could mislead.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct SecurityEvent<'a> {
    event: &'a Event<'a>,
    suppressed: u64,
}

impl<'a> SecurityEvent<'a> {
    fn new(event: &'a Event<'a>, suppressed: u64) -> Self {
        Self { event, suppressed }
    }

    /// What happened.
    pub fn kind(&self) -> EventKind {
        self.event.kind
    }

    /// The stable name of the rule that decided, such as `sec-fetch-site`.
    pub fn rule(&self) -> &'static str {
        self.event.rule
    }

    /// The status the client got, when the layer answered itself.
    pub fn status(&self) -> Option<StatusCode> {
        self.event
            .status
            .and_then(|status| StatusCode::from_u16(status).ok())
    }

    /// The request method.
    pub fn method(&self) -> &'a Method {
        self.event.method
    }

    /// The request path, cut to at most 256 characters; not escaped.
    pub fn path(&self) -> &'a str {
        truncate(self.event.path, MAX_PATH_CHARS)
    }

    /// The request's id, when the layer assigns them.
    pub fn request_id(&self) -> Option<&'a str> {
        self.event.request_id
    }

    /// The client's address, resolved through trusted proxies, when known.
    pub fn client(&self) -> Option<IpAddr> {
        self.event.client
    }

    /// For a cookie event, the cookie's name, decoded as UTF-8 with invalid bytes replaced,
    /// and cut to at most 64 characters; not escaped.
    pub fn cookie_name(&self) -> Option<Cow<'a, str>> {
        let name = String::from_utf8_lossy(self.event.cookie?);

        Some(match name {
            Cow::Borrowed(name) => Cow::Borrowed(truncate(name, MAX_NAME_CHARS)),
            Cow::Owned(mut name) => {
                name.truncate(truncate(&name, MAX_NAME_CHARS).len());
                Cow::Owned(name)
            }
        })
    }

    /// How many identical events were suppressed since the previous one written
    /// ([rate limiting](self#rate-limiting)).
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }
}

impl fmt::Debug for SecurityEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityEvent")
            .field("kind", &self.kind())
            .field("rule", &self.rule())
            .field("status", &self.event.status)
            .field("method", &self.method())
            .field("path", &self.path())
            .field("cookie_name", &self.cookie_name())
            .field("request_id", &self.request_id())
            .field("client", &self.client())
            .field("suppressed", &self.suppressed)
            .finish()
    }
}

/// The application's hook, called with every event written.
type Hook = dyn Fn(&SecurityEvent<'_>) + Send + Sync;

static HOOK: OnceLock<Box<Hook>> = OnceLock::new();

/// Sets the process-wide hook that receives every security event written, for alerting.
///
/// The hook runs after the event is written to `tracing`, on the task serving the request,
/// and never for events the [rate limiter](self#rate-limiting) suppressed. It should be
/// quick: queue the event for a background task rather than send it anywhere itself. A panic
/// in the hook is caught and logged, and the request goes on.
///
/// The hook is set once, for the life of the process: a second call leaves the first hook in
/// place and returns [`HookAlreadySet`].
///
/// See the [module documentation](self#example) for an example.
pub fn set_hook(
    hook: impl Fn(&SecurityEvent<'_>) + Send + Sync + 'static,
) -> Result<(), HookAlreadySet> {
    HOOK.set(Box::new(hook)).map_err(|_| HookAlreadySet)
}

/// Calls `hook` with `event`, catching and logging a panic: the hook is the application's
/// code, and a bug in it must not cost the client its answer.
fn call_hook(hook: &(impl Fn(&SecurityEvent<'_>) + ?Sized), event: &SecurityEvent<'_>) {
    if panic::catch_unwind(AssertUnwindSafe(|| hook(event))).is_err() {
        tracing::error!(
            target: TARGET,
            event = "hook_panicked",
            "the security event hook panicked"
        );
    }
}

/// The error [`set_hook`] returns when a hook is already set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HookAlreadySet;

impl fmt::Display for HookAlreadySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a security event hook is already set")
    }
}

impl std::error::Error for HookAlreadySet {}

/// The longest prefix of `text` of at most `max` characters.
fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

/// A string cut to at most `.1` characters, on a character boundary, for `Debug` output.
struct Truncated<'a>(&'a str, usize);

impl fmt::Debug for Truncated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = truncate(self.0, self.1);
        match shown.len() < self.0.len() {
            true => write!(f, "{shown:?}..."),
            false => write!(f, "{shown:?}"),
        }
    }
}

/// A value written as it is when it is at most `.1` characters of an HTTP token (RFC 9110
/// §5.6.2), as methods and the layer's request ids are; otherwise like [`Truncated`].
struct Plain<'a>(&'a str, usize);

impl fmt::Display for Plain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        match self.0.len() <= self.1 && self.0.bytes().all(token) {
            true => f.write_str(self.0),
            false => fmt::Debug::fmt(&Truncated(self.0, self.1), f),
        }
    }
}
