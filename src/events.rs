//! Security events: one `tracing` event per security decision, on one stable target.
//!
//! Every refusal, dropped or tampered cookie and other decision an operator may need to alert
//! on is emitted as a `tracing` event with target [`TARGET`] and a stable `event` field naming
//! its [`EventKind`]. Untrusted values (the request path, a cookie name the application chose)
//! are escaped and truncated; credentials (`Cookie`, `Set-Cookie`, `Authorization`, cookie
//! values, secret keys) are never logged.
//!
//! | field | meaning |
//! |---|---|
//! | `event` | the [`EventKind::name`], such as `cross_origin_refused` |
//! | `rule` | the rule that decided, such as `sec-fetch-site` |
//! | `status` | the status the client got, when the layer answered itself |
//! | `method` | the request method |
//! | `path` | the request path, escaped and truncated to 256 characters |
//! | `cookie` | the cookie's name, for cookie events, escaped and truncated to 64 characters |
//! | `request_id` | the [`RequestId`](crate::transport::request_id::RequestId) of the request |
//! | `client` | the client's address, resolved through trusted proxies |
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

use std::fmt;

use std::net::IpAddr;

use http::Method;

/// The `tracing` target of every security event.
pub const TARGET: &str = "tower_security::event";

/// Longest path, in characters, written to an event.
const MAX_PATH_CHARS: usize = 256;
/// Longest cookie name, in characters, written to an event.
const MAX_NAME_CHARS: usize = 64;

/// The kinds of security event, each with a stable name.
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
}

impl Event<'_> {
    /// Emits the event: WARN for refusals and tampering, INFO for routine repairs.
    pub(crate) fn emit(&self) {
        let path = Truncated(self.path, MAX_PATH_CHARS);
        let cookie = self.cookie.map(String::from_utf8_lossy);
        // An `Option` field is recorded only when it is `Some`.
        let cookie = cookie
            .as_deref()
            .map(|name| tracing::field::debug(Truncated(name, MAX_NAME_CHARS)));
        let status = self.status;
        // `?` formats with `Debug`, which escapes quotes, backslashes and control characters,
        // so one event stays one line whatever the request carried.
        match self.kind {
            EventKind::CookieReissued
            | EventKind::ForwardedHeadersStripped
            | EventKind::HttpsRedirect => tracing::info!(
                target: TARGET,
                event = self.kind.name(),
                rule = self.rule,
                status,
                method = %self.method,
                path = ?path,
                cookie,
                request_id = self.request_id,
                client = self.client.map(tracing::field::display),
                "security event"
            ),
            _ => tracing::warn!(
                target: TARGET,
                event = self.kind.name(),
                rule = self.rule,
                status,
                method = %self.method,
                path = ?path,
                cookie,
                request_id = self.request_id,
                client = self.client.map(tracing::field::display),
                "security event"
            ),
        }
    }
}

/// A string cut to at most `.1` characters, on a character boundary, for `Debug` output.
struct Truncated<'a>(&'a str, usize);

impl fmt::Debug for Truncated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(self.1) {
            Some((cut, _)) => write!(f, "{:?}...", &self.0[..cut]),
            None => write!(f, "{:?}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_char_boundaries_and_escapes() {
        let long = format!("/{}", "é".repeat(300));

        let shown = format!("{:?}", Truncated(&long, 4));
        let escaped = format!("{:?}", Truncated("/a\"b\n\u{202e}", 100));

        assert_eq!(shown, "\"/ééé\"...");
        assert_eq!(escaped, "\"/a\\\"b\\n\\u{202e}\"");
    }

    #[test]
    fn names_are_stable() {
        let names = [
            EventKind::CrossOriginRefused,
            EventKind::CookieDropped,
            EventKind::CookieTampered,
            EventKind::CookieReissued,
        ]
        .map(EventKind::name);

        assert_eq!(
            names,
            [
                "cross_origin_refused",
                "cookie_dropped",
                "cookie_tampered",
                "cookie_reissued"
            ]
        );
    }
}
