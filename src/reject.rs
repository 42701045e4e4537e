//! The layer's own answers to requests it refuses: a status and a short generic body.
//!
//! A refusal never echoes anything from the request (no path, header or parser message), so
//! the body cannot reflect an attacker's input or disclose how the check works. The body is
//! plain text, or an RFC 9457 problem document when the client asks for JSON. The security
//! headers are added to it like to any other response.

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};

/// Why the layer answered a request itself, attached to the response's extensions.
///
/// Lets an outer layer or a test tell a refusal by the policy from an answer of the
/// application, without parsing the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refused {
    /// A state-changing request from another origin (`403`).
    CrossOrigin,
    /// A body over the limit (`413`).
    BodyTooLarge,
    /// Too many header fields, or too many bytes of them (`431`).
    HeadersTooLarge,
    /// A method outside the allow-list (`405`).
    MethodNotAllowed,
    /// A request target the URI firewall refuses: too long (`414`) or not plain (`400`).
    Target,
    /// A missing, malformed or unlisted `Host` (`400`).
    Host,
    /// A plain-HTTP request: redirected to HTTPS (`301`/`308`), or refused (`403`).
    PlainHttp,
    /// A request the layer cannot trust as framed or addressed: a bad `Content-Length`, a
    /// method-override header (`400`).
    Malformed,
}

/// A refusal decided on the request path of the pass.
#[derive(Debug)]
pub(crate) struct Rejection {
    pub(crate) status: StatusCode,
    pub(crate) reason: Refused,
    pub(crate) format: Format,
    /// A header the status calls for, such as `Allow` on a `405`.
    pub(crate) header: Option<(HeaderName, HeaderValue)>,
    /// Ask the client to close an HTTP/1 connection whose request body was not read, so it
    /// reads this answer instead of a reset.
    pub(crate) close: bool,
}

impl Rejection {
    #[cfg(test)]
    pub(crate) fn new(status: StatusCode, reason: Refused, request_headers: &HeaderMap) -> Self {
        Self {
            status,
            reason,
            format: Format::of(request_headers),
            header: None,
            close: false,
        }
    }

    /// The response sent instead of calling the inner service.
    pub(crate) fn into_response(self) -> Response<Bytes> {
        let title = self.status.canonical_reason().unwrap_or("Request refused");
        if self.format == Format::Grpc {
            return self.into_grpc(title);
        }
        // Refusals are short enough that browsers show plain text well.
        let (content_type, body) = if self.format == Format::Json {
            // RFC 9457 §3: `about:blank` means the status code says it all.
            let body = format!(
                "{{\"type\":\"about:blank\",\"title\":\"{title}\",\"status\":{}}}",
                self.status.as_u16()
            );
            ("application/problem+json", Bytes::from(body))
        } else {
            (
                "text/plain; charset=utf-8",
                Bytes::from(format!("{title}\n")),
            )
        };
        let mut response = Response::new(Bytes::new());
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        if let Some((name, value)) = self.header {
            headers.insert(name, value);
        }
        if self.close {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response.extensions_mut().insert(self.reason);
        *response.body_mut() = body;
        response
    }
}

impl Rejection {
    /// A gRPC trailers-only answer: HTTP 200, the status in `grpc-status`, no body (gRPC over
    /// HTTP/2, "Responses"). A gRPC client reads anything else as a broken frame.
    fn into_grpc(self, title: &str) -> Response<Bytes> {
        let code: u16 = match self.reason {
            Refused::BodyTooLarge | Refused::HeadersTooLarge => 8, // RESOURCE_EXHAUSTED
            Refused::Target | Refused::Malformed => 3,             // INVALID_ARGUMENT
            Refused::CrossOrigin
            | Refused::MethodNotAllowed
            | Refused::Host
            | Refused::PlainHttp => 7, // PERMISSION_DENIED
        };
        let mut response = Response::new(Bytes::new());
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(GRPC_STATUS, HeaderValue::from(code));
        if let Ok(message) = HeaderValue::from_str(title) {
            headers.insert(GRPC_MESSAGE, message);
        }
        if self.close {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response.extensions_mut().insert(self.reason);
        response
    }
}

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// The shape of the layer's own answers, chosen from the request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Format {
    /// `text/plain`.
    #[default]
    Text,
    /// `application/problem+json`, for clients that ask for JSON.
    Json,
    /// A small HTML page, for browsers; refusals answer them in plain text.
    Html,
    /// A gRPC trailers-only response, for `application/grpc*` requests.
    Grpc,
}

impl Format {
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        let grpc = headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
        Self::from_parts(grpc, headers.get_all(header::ACCEPT).iter())
    }

    /// The format for a request that is gRPC or not, with these `Accept` values.
    pub(crate) fn from_parts<'a>(
        grpc: bool,
        accept: impl IntoIterator<Item = &'a HeaderValue>,
    ) -> Self {
        if grpc {
            return Self::Grpc;
        }
        match preferred(accept) {
            Some(media) if media.ends_with("json") => Self::Json,
            Some("text/html") => Self::Html,
            _ => Self::Text,
        }
    }
}

/// Whether the client prefers JSON: an `Accept` naming `application/json` or a `+json` type
/// (RFC 6839 §3.1), ahead of any HTML or plain-text type it also lists.
#[cfg(test)]
fn wants_json(headers: &HeaderMap) -> bool {
    preferred(headers.get_all(header::ACCEPT)).is_some_and(|media| media.ends_with("json"))
}

/// The first media type in `Accept` that this crate can answer in: JSON (`application/json`
/// or a `+json` type, RFC 6839 §3.1), any `text/` type, or `*/*`. Quality values are not
/// weighed: browsers and API clients list their preference first.
fn preferred<'a>(accept: impl IntoIterator<Item = &'a HeaderValue>) -> Option<&'a str> {
    accept
        .into_iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|item| item.split(';').next().unwrap_or("").trim())
        .find(|media| {
            media.ends_with("/json")
                || media.ends_with("+json")
                || media.starts_with("text/")
                || *media == "*/*"
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(accept: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        headers
    }

    #[test]
    fn body_format_follows_accept() {
        let cases = [
            ("application/json", true),
            ("application/problem+json", true),
            ("text/html,application/xhtml+xml,*/*;q=0.8", false),
            ("*/*", false),
            ("application/vnd.api+json, text/plain", true),
            ("text/plain, application/json", false),
            ("", false),
        ];

        for (accept, json) in cases {
            assert_eq!(wants_json(&headers(accept)), json, "{accept}");
        }
    }

    #[test]
    fn grpc_requests_get_trailers_only_answers() {
        let mut grpc = HeaderMap::new();
        grpc.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc+proto"),
        );
        let cases = [
            (StatusCode::PAYLOAD_TOO_LARGE, Refused::BodyTooLarge, "8"),
            (StatusCode::BAD_REQUEST, Refused::Target, "3"),
            (StatusCode::FORBIDDEN, Refused::CrossOrigin, "7"),
            (StatusCode::BAD_REQUEST, Refused::Host, "7"),
        ];

        for (status, reason, code) in cases {
            let response = Rejection::new(status, reason, &grpc).into_response();

            assert_eq!(response.status(), StatusCode::OK, "{reason:?}");
            assert_eq!(response.headers()["grpc-status"], code, "{reason:?}");
            assert_eq!(response.headers()["content-type"], "application/grpc");
            assert!(response.body().is_empty());
        }
    }

    #[test]
    fn responses_are_generic() {
        let plain = Rejection::new(
            StatusCode::FORBIDDEN,
            Refused::CrossOrigin,
            &HeaderMap::new(),
        );
        let json = Rejection::new(
            StatusCode::FORBIDDEN,
            Refused::CrossOrigin,
            &headers("application/json"),
        );

        let plain = plain.into_response();
        let json = json.into_response();

        assert_eq!(plain.body(), "Forbidden\n");
        assert_eq!(plain.headers()["content-type"], "text/plain; charset=utf-8");
        assert_eq!(plain.headers()["content-length"], "10");
        assert_eq!(
            json.body(),
            r#"{"type":"about:blank","title":"Forbidden","status":403}"#
        );
        assert_eq!(json.headers()["content-type"], "application/problem+json");
        assert_eq!(json.extensions().get(), Some(&Refused::CrossOrigin));
    }
}
