//! Request ids: one per request, in the request's extensions, the response and every event.
//!
//! An `X-Request-Id` that a trusted proxy set is kept when it is short and plain (at most 64
//! characters of letters, digits, `.`, `_` and `-`), so one id follows a request through the
//! proxy's logs and this service's. Any other request gets a fresh 128-bit id in hex. A
//! client outside the trusted proxies cannot choose its id, so it cannot make its requests
//! look like someone else's in the logs.
//!
//! # Example
//!
//! ```
//! use http::Request;
//! use tower_security::transport::request_id::RequestId;
//!
//! fn log_line<B>(request: &Request<B>) -> String {
//!     let id = request.extensions().get::<RequestId>().map_or("-", RequestId::as_str);
//!     format!("handling request {id}")
//! }
//! # assert_eq!(log_line(&Request::new(())), "handling request -");
//! ```

use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue};
use rand::Rng as _;

/// The header that carries the id, in both directions.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest id accepted from a trusted proxy.
const MAX_LEN: usize = 64;

/// The id of the current request, in the request's extensions.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Both constructors admit ASCII only.
        self.0.to_str().unwrap_or_default()
    }

    pub(crate) fn header_value(&self) -> &HeaderValue {
        &self.0
    }

    /// The id a trusted proxy sent, if it is short and plain; otherwise a fresh one.
    pub(crate) fn for_request(headers: &HeaderMap, trusted: bool) -> Self {
        // Only a trusted proxy's id is read, so an untrusted request costs no lookup.
        let given = trusted
            .then(|| headers.get(&X_REQUEST_ID))
            .flatten()
            .filter(|value| {
                let bytes = value.as_bytes();
                !bytes.is_empty()
                    && bytes.len() <= MAX_LEN
                    && bytes
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            });
        match given {
            Some(value) => Self(value.clone()),
            None => Self::generate(),
        }
    }

    fn generate() -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut raw = [0u8; 16];
        rand::rng().fill_bytes(&mut raw);
        let mut text = [0u8; 32];
        for (i, byte) in raw.iter().enumerate() {
            text[2 * i] = HEX[usize::from(byte >> 4)];
            text[2 * i + 1] = HEX[usize::from(byte & 0x0f)];
        }
        // One allocation, shared by every clone: the id goes to the request's headers, its
        // extensions, the response and the events. Hex digits are always a valid value.
        let shared = bytes::Bytes::from_owner(text);
        Self(HeaderValue::from_maybe_shared(shared).unwrap_or(HeaderValue::from_static("0")))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestId").field(&self.as_str()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(id: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(X_REQUEST_ID, HeaderValue::from_str(id).unwrap());
        headers
    }

    #[test]
    fn ids_come_from_trusted_proxies_only_and_only_when_plain() {
        let long = "a".repeat(MAX_LEN + 1);
        let cases = [
            (
                "trusted, plain",
                headers("abc-123_x.y"),
                true,
                Some("abc-123_x.y"),
            ),
            ("untrusted", headers("abc-123"), false, None),
            ("trusted, too long", headers(&long), true, None),
            ("trusted, spaces", headers("a b"), true, None),
            ("trusted, quote", headers("a\"b"), true, None),
            ("trusted, absent", HeaderMap::new(), true, None),
        ];

        for (name, headers, trusted, expected) in cases {
            let id = RequestId::for_request(&headers, trusted);

            match expected {
                Some(expected) => assert_eq!(id.as_str(), expected, "{name}"),
                None => {
                    assert_eq!(id.as_str().len(), 32, "{name}");
                    assert!(id.as_str().bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
                }
            }
        }
    }

    #[test]
    fn generated_ids_differ() {
        let a = RequestId::generate();
        let b = RequestId::generate();

        assert_ne!(a, b);
    }
}
