//! A collector for Content Security Policy violation reports: one `csp_violation` event per
//! report a browser sends.
//!
//! Mount [`CspReportCollector`] at the URL given to
//! [`ContentSecurityPolicy::report_to`](crate::headers::ContentSecurityPolicy::report_to).
//! Browsers then post each violation of the policy there, in one of two formats:
//!
//! - `report-uri` ([CSP Level 2 §4.4]): `Content-Type: application/csp-report`, one report
//!   in an object, `{"csp-report": {"document-uri": …, "violated-directive": …}}`;
//! - the Reporting API ([CSP3 §5], [Reporting API]): `Content-Type: application/reports+json`,
//!   an array of reports, `[{"type": "csp-violation", "body": {"documentURL": …}}]`.
//!
//! Older browsers send either shape as `application/json`, which is accepted too. Each report
//! becomes one [`EventKind::CspViolation`] event on the [security target](crate::events),
//! whose `rule` is the violated directive and whose `path` is the path of the page that
//! violated the policy.
//!
//! # Answers
//!
//! | request | answer |
//! |---|---|
//! | `POST` of reports | `204 No Content`, one event per report |
//! | any other method | `405 Method Not Allowed`, with `Allow: POST` |
//! | another media type, or a compressed body | `415 Unsupported Media Type`, `Accept-Post` |
//! | a body over the [limit](CspReportCollector::max_body_size) | `413 Content Too Large` |
//! | a body that fails to arrive, is not JSON, or holds no report | `400 Bad Request` |
//!
//! Answers have no body: nothing a client sent is ever echoed back.
//!
//! # What is logged
//!
//! Reports come from anyone who can reach the URL, so their values are treated as hostile:
//!
//! - `rule` is the report's `effective-directive` (or, failing that, the first word of its
//!   `violated-directive`) when it names a directive of CSP3, such as `script-src-elem`;
//!   anything else is logged as `other`.
//! - `path` is the path of the report's `document-uri`: its query and fragment are left out,
//!   since they may carry tokens. A URL without a host (`about:blank`, `data:…`) gives its
//!   scheme only. The events module escapes and truncates it like any request path.
//! - `method` is `POST`; `request_id` and `client` are those of the report's request, when a
//!   [`SecurityLayer`](crate::SecurityLayer) in front of the collector resolved them.
//!
//! # Example
//!
//! ```
//! use axum::{body::Body, routing::get, Router};
//! use http::{Request, StatusCode};
//! use tower::ServiceExt;
//! use tower_security::{headers::ContentSecurityPolicy, reports::CspReportCollector};
//! use tower_security::SecurityLayer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The policy tells browsers where to send reports; the collector receives them there.
//! let csp = ContentSecurityPolicy::strict().report_to("/csp-reports");
//! let layer = SecurityLayer::builder().content_security_policy(csp).build()?;
//! let app = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .route_service("/csp-reports", CspReportCollector::new())
//!     .layer(layer);
//!
//! let report = r#"{"csp-report": {
//!     "document-uri": "https://example.com/checkout?session=secret",
//!     "effective-directive": "script-src-elem",
//!     "blocked-uri": "inline"
//! }}"#;
//! let request = Request::post("/csp-reports")
//!     .header("host", "example.com")
//!     .header("content-type", "application/csp-report")
//!     .body(Body::from(report))?;
//! let response = app.oneshot(request).await?;
//!
//! // Logged: rule="script-src-elem", path="/checkout", without the query.
//! assert_eq!(response.status(), StatusCode::NO_CONTENT);
//! # Ok(())
//! # }
//! ```
//!
//! # Limitations
//!
//! - Reports are not authenticated: anyone can post made-up ones. Treat the events as hints
//!   about the policy, not as evidence of an attack.
//! - At most 20 reports of one request are logged; later ones are read and dropped.
//! - Like every security event, violation events are [rate-limited](crate::events#rate-limiting)
//!   per directive: a flood of reports is counted, not written.
//! - The blocked resource, source file, line and disposition are read but not yet part of
//!   the event.
//! - Browsers send reports to a collector on another origin as CORS requests, preceded by a
//!   preflight `OPTIONS` that this service answers `405`. Serve the collector on the pages'
//!   own origin, or put a CORS layer in front of it.
//! - JSON nested deeper than 8 levels is refused, whatever it holds; no browser's report
//!   nests deeper than 3.
//!
//! [CSP Level 2 §4.4]: https://www.w3.org/TR/CSP2/#violation-reports
//! [CSP3 §5]: https://www.w3.org/TR/CSP3/#reporting
//! [Reporting API]: https://www.w3.org/TR/reporting-1/

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::net::IpAddr;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

use bytes::{Buf as _, BufMut as _};
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode, Version};
use http_body::Body;
use tower_service::Service;

use crate::events::{Event, EventKind};
use crate::guards::body::BoxError;
use crate::transport::proxies::ClientInfo;
use crate::transport::request_id::RequestId;

mod json;
#[cfg(test)]
mod tests;

use self::json::Report;

/// The default body limit: a Reporting API batch of a few dozen reports fits.
const DEFAULT_MAX_BODY: usize = 64 * 1024;

/// The media types of violation reports, as `Accept-Post` lists them.
const MEDIA_TYPES: [&str; 3] = [
    "application/reports+json",
    "application/csp-report",
    "application/json",
];

/// `Accept-Post` (W3C Linked Data Platform §7.1, in IANA's header registry): the media types
/// a `415` answer suggests instead. Not among the `http` crate's constants.
const ACCEPT_POST: HeaderName = HeaderName::from_static("accept-post");

/// The directives CSP3 (§6) and its extensions define, as `rule` names them; any other value
/// is logged as `other`.
const DIRECTIVES: &[&str] = &[
    "default-src",
    "script-src",
    "script-src-elem",
    "script-src-attr",
    "style-src",
    "style-src-elem",
    "style-src-attr",
    "img-src",
    "font-src",
    "connect-src",
    "media-src",
    "object-src",
    "frame-src",
    "child-src",
    "worker-src",
    "manifest-src",
    "prefetch-src",
    "fenced-frame-src",
    "base-uri",
    "form-action",
    "frame-ancestors",
    "navigate-to",
    "sandbox",
    "trusted-types",
    "require-trusted-types-for",
    "webrtc",
    "upgrade-insecure-requests",
    "block-all-mixed-content",
    "plugin-types",
];

/// Accepts CSP violation reports and logs each as a `csp_violation` event.
///
/// A `tower` service answering every request itself, to be mounted at the report URL; the
/// [module documentation](self) describes what it accepts and what it logs.
#[derive(Clone, Debug)]
pub struct CspReportCollector {
    max_body: usize,
}

impl CspReportCollector {
    /// A collector with a body limit of 64 KiB.
    pub fn new() -> Self {
        Self {
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// Sets the largest body accepted, in bytes; a larger one is answered `413`.
    ///
    /// The body is read frame by frame and never buffered past the limit, with or without a
    /// `Content-Length`.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }
}

impl Default for CspReportCollector {
    fn default() -> Self {
        Self::new()
    }
}

/// The future of [`CspReportCollector`]'s answer.
pub type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<String>, Infallible>> + Send>>;

impl<B> Service<Request<B>> for CspReportCollector
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<String>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let max_body = self.max_body;
        Box::pin(async move { Ok(collect(request, max_body).await) })
    }
}

async fn collect<B>(request: Request<B>, max_body: usize) -> Response<String>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let (parts, body) = request.into_parts();
    // An HTTP/1 request whose body is left unread: closing is the only way the client reads
    // this answer rather than a reset, or the next request misread.
    let http1 = parts.version <= Version::HTTP_11;
    let unread = |body: &B| http1 && !body.is_end_stream();

    if parts.method != Method::POST {
        let mut response = answer(StatusCode::METHOD_NOT_ALLOWED, unread(&body));
        let allow = HeaderValue::from_static("POST");
        response.headers_mut().insert(header::ALLOW, allow);
        return response;
    }
    if !is_report_media_type(&parts.headers) {
        let mut response = answer(StatusCode::UNSUPPORTED_MEDIA_TYPE, unread(&body));
        let accepted = HeaderValue::from_static(
            "application/reports+json, application/csp-report, application/json",
        );
        response.headers_mut().insert(ACCEPT_POST, accepted);
        return response;
    }
    let limit = u64::try_from(max_body).unwrap_or(u64::MAX);
    if body.size_hint().lower() > limit {
        return answer(StatusCode::PAYLOAD_TOO_LARGE, unread(&body));
    }
    let bytes = match read_bounded(body, max_body).await {
        Ok(bytes) => bytes,
        Err(status) => return answer(status, http1),
    };
    let Ok(reports) = json::read_reports(&bytes) else {
        return answer(StatusCode::BAD_REQUEST, false);
    };

    let request_id = parts.extensions.get::<RequestId>().map(RequestId::as_str);
    let client = parts
        .extensions
        .get::<ClientInfo>()
        .and_then(|info| info.addr);
    for report in &reports {
        log(report, request_id, client);
    }
    answer(StatusCode::NO_CONTENT, false)
}

/// The body, if it ends within `max` bytes: `413` as soon as a frame would cross the limit,
/// without polling further, and `400` if the body fails.
async fn read_bounded<B>(body: B, max: usize) -> Result<Vec<u8>, StatusCode>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let mut body = pin!(body);
    let hinted = usize::try_from(body.size_hint().lower()).unwrap_or(usize::MAX);
    let mut bytes = Vec::with_capacity(hinted.min(max));
    while let Some(frame) = poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let Ok(frame) = frame else {
            return Err(StatusCode::BAD_REQUEST);
        };
        // Trailers carry nothing a report needs.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.remaining() > max - bytes.len() {
            return Err(StatusCode::PAYLOAD_TOO_LARGE);
        }
        bytes.put(data);
    }
    Ok(bytes)
}

/// Whether the request carries one `Content-Type` naming a report format (parameters such as
/// `charset` aside) and no content coding.
fn is_report_media_type(headers: &HeaderMap) -> bool {
    let encoded = headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .any(|coding| !coding.as_bytes().eq_ignore_ascii_case(b"identity"));
    let mut types = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(content_type), None) = (types.next(), types.next()) else {
        return false;
    };
    let Ok(content_type) = content_type.to_str() else {
        return false;
    };
    let media_type = content_type.split(';').next().unwrap_or_default().trim();

    !encoded
        && MEDIA_TYPES
            .iter()
            .any(|known| known.eq_ignore_ascii_case(media_type))
}

fn answer(status: StatusCode, close: bool) -> Response<String> {
    let mut response = Response::new(String::new());
    *response.status_mut() = status;
    if close {
        let close = HeaderValue::from_static("close");
        response.headers_mut().insert(header::CONNECTION, close);
    }
    response
}

fn log(report: &Report<'_>, request_id: Option<&str>, client: Option<IpAddr>) {
    Event {
        kind: EventKind::CspViolation,
        rule: rule(report.directive()),
        status: None,
        method: &Method::POST,
        path: document_path(report.document.as_deref().unwrap_or_default()),
        cookie: None,
        request_id,
        client,
        detail: None,
    }
    .emit();
}

/// The directive's name from [`DIRECTIVES`], or `other`: `rule` is a fixed name, never text
/// from the report.
fn rule(directive: Option<&str>) -> &'static str {
    directive
        .and_then(|name| {
            DIRECTIVES
                .iter()
                .find(|known| known.eq_ignore_ascii_case(name))
        })
        .copied()
        .unwrap_or("other")
}

/// The path of the page a report is about, without the scheme, host, query and fragment
/// (RFC 3986 §3); the scheme alone for a URL without a host, such as `about:blank`.
fn document_path(url: &str) -> &str {
    let (scheme, rest) = match url.split_once(':') {
        Some((scheme, rest)) if is_scheme(scheme) => (Some(scheme), rest),
        _ => (None, url),
    };
    let path = if let Some(authority) = rest.strip_prefix("//") {
        &authority[authority.find(['/', '?', '#']).unwrap_or(authority.len())..]
    } else if rest.starts_with('/') {
        rest
    } else {
        // The rest of `data:` or `blob:` URLs is content, not a place.
        return scheme.map_or("", |scheme| &url[..=scheme.len()]);
    };
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];

    if path.is_empty() { "/" } else { path }
}

/// What a report's `blocked-uri` may show: `scheme://host:port` for a URL with a host, the
/// scheme for other URLs, and the keyword for `inline`, `eval` and the like (CSP3 §5.2).
/// A path or query may carry a token and credentials must never be logged, so neither is
/// kept.
// Used outside tests once `Event` has a field for the blocked resource.
#[cfg_attr(not(test), allow(dead_code))]
fn blocked_origin(blocked: &str) -> Cow<'_, str> {
    let Some((scheme, rest)) = blocked.split_once(':').filter(|(s, _)| is_scheme(s)) else {
        let keyword = (1..=32).contains(&blocked.len())
            && blocked
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        return Cow::Borrowed(if keyword { blocked } else { "other" });
    };
    let Some(after) = rest.strip_prefix("//") else {
        return Cow::Borrowed(&blocked[..=scheme.len()]);
    };
    let authority = &after[..after.find(['/', '?', '#']).unwrap_or(after.len())];

    match authority.rsplit_once('@') {
        Some((_, host)) => Cow::Owned(format!("{scheme}://{host}")),
        None => Cow::Borrowed(&blocked[..scheme.len() + 3 + authority.len()]),
    }
}

/// RFC 3986 §3.1: a letter, then letters, digits, `+`, `-` and `.`.
fn is_scheme(scheme: &str) -> bool {
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}
