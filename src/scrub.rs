//! Failing without disclosure: server errors, panics and inner-service errors become generic
//! answers that carry only the request id, while the details go to the security log.
//!
//! A `5xx` response from the application keeps its status (and `Retry-After`), but its body is
//! dropped unread and replaced by a short generic one in the client's format: plain text,
//! `application/problem+json` (RFC 9457) or a small HTML page. Headers that described the old
//! body (`Content-Length`, `Content-Encoding`, `Content-Type`, `ETag`, ...) or that debug
//! frameworks add are removed. A panic in the application, before its response exists, becomes
//! the same generic `500`; after the head is sent, the body ends with an error. gRPC responses
//! keep their status and trailers; only the `grpc-message` of the internal-kind codes
//! (UNKNOWN, INTERNAL, DATA_LOSS) is replaced, and their `grpc-status-details-bin` dropped.
//!
//! # Composing with the service's error type
//!
//! [`Security`](crate::Security) keeps the inner service's error type but never returns an
//! error from its response future: an `Err` becomes a scrubbed `500` (and an `error_scrubbed`
//! event naming the `service-error` rule), because a server turns an unhandled error into a
//! dropped connection, which helps no one. Once the request body has crossed the size limit,
//! an `Err` is answered `413` instead, so a handler may pass the body's
//! [`LengthLimitError`](crate::guards::body::LengthLimitError) on with `?`. Errors from
//! `poll_ready` still propagate.
//!
//! # Limitations
//!
//! - Rust's panic hook still runs before the layer catches a panic: by default it prints the
//!   message and a backtrace to stderr. Install a quieter hook with `std::panic::set_hook` if
//!   stderr is collected somewhere less protected than the security log.
//! - A panic that aborts (`panic = "abort"` in the build profile) cannot be caught.
//!
//! # Example
//!
//! ```
//! use tower_security::SecurityLayer;
//!
//! // Client errors (4xx) from frameworks often echo parser details: scrub them too.
//! let layer = SecurityLayer::builder().scrub_client_errors(true).build()?;
//! # drop(layer);
//! # Ok::<(), tower_security::ConfigError>(())
//! ```

use std::any::Any;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};

use crate::reject::Format;
use crate::transport::request_id::RequestId;

/// Longest panic message written to the log, in characters.
const MAX_PAYLOAD_CHARS: usize = 256;

/// Headers that describe a body, or that debug tooling adds; none survives a scrubbed body.
const BODY_HEADERS: [HeaderName; 8] = [
    header::CONTENT_LENGTH,
    header::CONTENT_ENCODING,
    header::CONTENT_TYPE,
    header::CONTENT_RANGE,
    header::CONTENT_LANGUAGE,
    header::CONTENT_LOCATION,
    header::ETAG,
    header::LAST_MODIFIED,
];

/// Debug headers of common frameworks (Symfony, Laravel, ASP.NET, Express debug middleware).
const DEBUG_HEADERS: [HeaderName; 7] = [
    HeaderName::from_static("x-debug-token"),
    HeaderName::from_static("x-debug-token-link"),
    HeaderName::from_static("x-debug-exception"),
    HeaderName::from_static("x-debug-exception-file"),
    HeaderName::from_static("x-exception"),
    HeaderName::from_static("x-stack-trace"),
    HeaderName::from_static("x-error-detail"),
];

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
const GRPC_DETAILS: HeaderName = HeaderName::from_static("grpc-status-details-bin");

/// Whether a response is gRPC: its `Content-Type` is `application/grpc` or a subtype.
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// Replaces the `grpc-message` of UNKNOWN (2), INTERNAL (13) and DATA_LOSS (15), and drops
/// their `grpc-status-details-bin`: those carry
/// server internals (a panic message, a database error) that the client has no use for.
/// Other codes describe the client's own request and keep their message.
pub(crate) fn grpc_message(headers: &mut HeaderMap) -> bool {
    let internal = headers
        .get(&GRPC_STATUS)
        .is_some_and(|status| matches!(status.as_bytes(), b"2" | b"13" | b"15"));
    if !internal {
        return false;
    }
    // The rich error model's `google.rpc.Status` repeats the message and may carry debug
    // stack entries.
    let details = headers.remove(&GRPC_DETAILS).is_some();
    if headers.contains_key(&GRPC_MESSAGE) {
        headers.insert(GRPC_MESSAGE, HeaderValue::from_static("Internal error"));
        return true;
    }
    details
}

/// Replaces a server error's body with a generic one; returns the new body.
///
/// `head` answers without a body, as a `HEAD` response must (RFC 9110 §9.3.2).
pub(crate) fn replace_body<B>(
    response: &mut Response<B>,
    format: Format,
    request_id: Option<&RequestId>,
    head: bool,
) -> Bytes {
    let headers = response.headers_mut();
    for name in BODY_HEADERS.iter().chain(DEBUG_HEADERS.iter()) {
        headers.remove(name);
    }
    let (content_type, body) = generic_body(response.status(), format, request_id);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if head { Bytes::new() } else { body }
}

/// The generic answer to a request whose handler panicked or failed.
pub(crate) fn internal_error(format: Format, request_id: Option<&RequestId>) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    if format == Format::Grpc {
        // Trailers-only: HTTP 200 with the gRPC status INTERNAL (gRPC over HTTP/2).
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(GRPC_STATUS, HeaderValue::from_static("13"));
        headers.insert(GRPC_MESSAGE, HeaderValue::from_static("Internal error"));
        return response;
    }
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    let body = replace_body(&mut response, format, request_id, false);
    *response.body_mut() = body;
    response
}

fn generic_body(
    status: StatusCode,
    format: Format,
    request_id: Option<&RequestId>,
) -> (&'static str, Bytes) {
    let title = status.canonical_reason().unwrap_or("Error");
    let id = request_id.map_or("", RequestId::as_str);
    // The request id is hex or a short token of letters, digits, `.`, `_` and `-`, so it needs
    // no escaping in JSON or HTML.
    let body = match format {
        Format::Json => format!(
            "{{\"type\":\"about:blank\",\"title\":\"{title}\",\"status\":{},\
             \"request_id\":\"{id}\"}}",
            status.as_u16()
        ),
        Format::Html => format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}\
             </title></head><body><h1>{title}</h1><p>Request id: {id}</p></body></html>\n"
        ),
        Format::Text | Format::Grpc => format!("{title}\nrequest id: {id}\n"),
    };
    let content_type = match format {
        Format::Json => "application/problem+json",
        Format::Html => "text/html; charset=utf-8",
        Format::Text | Format::Grpc => "text/plain; charset=utf-8",
    };
    (content_type, Bytes::from(body))
}

/// A panic's message, for the security log: the `&str` or `String` it carried, truncated.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<a panic payload that is not a string>");
    match message.char_indices().nth(MAX_PAYLOAD_CHARS) {
        Some((cut, _)) => &message[..cut],
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_messages_of_internal_codes_are_replaced() {
        let cases = [
            ("2", true),
            ("13", true),
            ("15", true),
            ("5", false),
            ("0", false),
        ];

        for (code, replaced) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(GRPC_STATUS, HeaderValue::from_static(code));
            headers.insert(
                GRPC_MESSAGE,
                HeaderValue::from_static("db-7.internal: timeout"),
            );
            headers.insert(GRPC_DETAILS, HeaderValue::from_static("ZGItNy5pbnRlcm5hbA"));

            let changed = grpc_message(&mut headers);

            assert_eq!(changed, replaced, "{code}");
            let message = headers[&GRPC_MESSAGE].to_str().unwrap();
            assert_eq!(message == "Internal error", replaced, "{code}");
            assert_eq!(headers.contains_key(&GRPC_DETAILS), !replaced, "{code}");
        }
    }

    #[test]
    fn replaced_bodies_are_generic_and_carry_the_request_id() {
        let id = RequestId::for_request(&HeaderMap::new(), false);
        let formats = [Format::Text, Format::Json, Format::Html];

        for format in formats {
            let mut response = Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .header("content-encoding", "gzip")
                .header("content-length", "999")
                .header("retry-after", "120")
                .header("x-debug-token", "abc")
                .body(())
                .unwrap();

            let body = replace_body(&mut response, format, Some(&id), false);

            let text = std::str::from_utf8(&body).unwrap();
            assert!(text.contains(id.as_str()), "{format:?}: {text}");
            assert!(text.contains("Service Unavailable"), "{format:?}");
            let headers = response.headers();
            assert_eq!(headers["retry-after"], "120");
            assert_eq!(headers["content-length"], body.len().to_string());
            assert!(headers.get("content-encoding").is_none());
            assert!(headers.get("x-debug-token").is_none());
        }
    }
}
