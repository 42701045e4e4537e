//! Size limits on a request's headers and body.
//!
//! Headers are counted and measured before anything else reads them: more than the field
//! limit, more bytes in all than the total limit, or one value over the value limit gets
//! `431 Request Header Fields Too Large` (RFC 6585 §5). A body is limited without being
//! buffered: a `Content-Length` over the limit gets `413 Content Too Large` at once (RFC 9110
//! §15.5.14); a body without one (chunked, HTTP/2) is counted as it streams, the application
//! never sees more than the limit, and the response becomes `413` once it trips.
//!
//! # Example
//!
//! ```
//! use tower_security::guards::limits::RequestLimits;
//! use tower_security::SecurityLayer;
//!
//! // 1 MiB everywhere, 50 MiB for uploads.
//! let limits = RequestLimits::strict().max_body_size_for("/uploads/", 50 << 20);
//! let layer = SecurityLayer::builder().request_limits(limits).build()?;
//! # drop(layer);
//! # Ok::<(), tower_security::ConfigError>(())
//! ```
//!
//! # Decompression
//!
//! The limit counts the bytes on the wire. Put request decompression (tower-http's
//! `RequestDecompressionLayer`) inside this layer, and give it a limit of its own: a few
//! kilobytes of gzip can inflate to gigabytes, which only a limit after decompression sees.
//!
//! # Limitations
//!
//! A body whose size is not announced is counted as it streams. When it crosses the limit
//! before the application has answered, the answer becomes a `413`; once the application has
//! started its response (a gRPC client or bidirectional stream, a handler that answers before
//! reading everything), only the body error reaches it, no `body_too_large` event is written,
//! and a gRPC call ends with `UNKNOWN`. The limit bounds a stream's total request bytes, so
//! give long-lived streaming routes a limit of their own.

use http::StatusCode;
use http::header::{self, HeaderMap};

use crate::ConfigError;

/// Limits on the size of requests. [`RequestLimits::strict`] is the default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLimits {
    max_body: Option<u64>,
    body_routes: Vec<(String, u64)>,
    max_fields: usize,
    max_header_bytes: usize,
    max_value_bytes: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self::strict()
    }
}

impl RequestLimits {
    /// A 1 MiB body; 100 header fields (every value counted), 32 KiB of headers in all and
    /// 8 KiB for one value.
    pub fn strict() -> Self {
        Self {
            max_body: Some(1 << 20),
            body_routes: Vec::new(),
            max_fields: 100,
            max_header_bytes: 32 << 10,
            max_value_bytes: 8 << 10,
        }
    }

    /// Sets the body limit in bytes, or removes it with `None`.
    pub fn max_body_size(mut self, bytes: impl Into<Option<u64>>) -> Self {
        self.max_body = bytes.into();
        self
    }

    /// Sets another body limit for paths that start with `prefix` (the longest matching
    /// prefix wins), such as an upload route.
    pub fn max_body_size_for(mut self, prefix: impl Into<String>, bytes: u64) -> Self {
        self.body_routes.push((prefix.into(), bytes));
        self
    }

    /// Sets the most header fields a request may carry, every value of a repeated name
    /// counted.
    pub fn max_header_fields(mut self, count: usize) -> Self {
        self.max_fields = count;
        self
    }

    /// Sets the most bytes of header names and values a request may carry in all.
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// Sets the most bytes one header value may have.
    pub fn max_header_value_bytes(mut self, bytes: usize) -> Self {
        self.max_value_bytes = bytes;
        self
    }

    /// The default body limit and the per-route ones, for the self-audit.
    pub(crate) fn body_limits(&self) -> (Option<u64>, &[(String, u64)]) {
        (self.max_body, &self.body_routes)
    }

    pub(crate) fn compile(&self) -> Result<CompiledLimits, ConfigError> {
        let positive = [
            ("request_limits.max_header_fields", self.max_fields),
            ("request_limits.max_header_bytes", self.max_header_bytes),
            (
                "request_limits.max_header_value_bytes",
                self.max_value_bytes,
            ),
        ];
        for (setting, value) in positive {
            if value == 0 {
                return Err(ConfigError::invalid(setting, "0", "a limit of at least 1"));
            }
        }
        let mut routes: Vec<(Box<str>, u64)> = Vec::with_capacity(self.body_routes.len());
        for (prefix, limit) in &self.body_routes {
            let setting = "request_limits.max_body_size_for";
            if !prefix.starts_with('/') || !prefix.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ConfigError::invalid(
                    setting,
                    prefix,
                    "a path prefix such as /uploads/",
                ));
            }
            if routes.iter().any(|(p, _)| **p == **prefix) {
                return Err(ConfigError::duplicate(setting, prefix, "each prefix once"));
            }
            routes.push((prefix.as_str().into(), *limit));
        }
        // Longest prefix first, so the first match is the most specific.
        routes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Ok(CompiledLimits {
            max_body: self.max_body,
            routes: routes.into(),
            max_fields: self.max_fields,
            max_header_bytes: self.max_header_bytes,
            max_value_bytes: self.max_value_bytes,
        })
    }
}

/// The validated limits.
#[derive(Clone, Debug)]
pub(crate) struct CompiledLimits {
    max_body: Option<u64>,
    routes: Box<[(Box<str>, u64)]>,
    max_fields: usize,
    max_header_bytes: usize,
    max_value_bytes: usize,
}

/// A request over a limit, or with a `Content-Length` that cannot be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LimitRefusal {
    pub(crate) status: StatusCode,
    pub(crate) rule: &'static str,
}

impl LimitRefusal {
    const fn new(status: StatusCode, rule: &'static str) -> Self {
        Self { status, rule }
    }
}

impl CompiledLimits {
    /// Checks the header limits in one pass over the fields.
    pub(crate) fn check_headers(&self, headers: &HeaderMap) -> Result<(), LimitRefusal> {
        let too_large = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
        // `len` counts every value, so a name repeated a thousand times counts a thousand.
        if headers.len() > self.max_fields {
            return Err(LimitRefusal::new(too_large, "header-count"));
        }
        let mut total = 0usize;
        for (name, value) in headers {
            if value.len() > self.max_value_bytes {
                return Err(LimitRefusal::new(too_large, "header-value-size"));
            }
            total = total.saturating_add(name.as_str().len() + value.len());
        }
        if total > self.max_header_bytes {
            return Err(LimitRefusal::new(too_large, "header-size"));
        }
        Ok(())
    }

    /// The body limit for `path`, if any.
    pub(crate) fn body_limit(&self, path: &str) -> Option<u64> {
        self.routes
            .iter()
            .find(|(prefix, _)| path.starts_with(&**prefix))
            .map(|(_, limit)| *limit)
            .or(self.max_body)
    }

    /// Checks `Content-Length`: the declared length, if the request declares one.
    ///
    /// Several fields, or one with a list, must all carry the same digits (RFC 9110 §8.6);
    /// anything else is refused rather than guessed at (RFC 9112 §6.3: a server must treat an
    /// invalid length as an unrecoverable framing error).
    pub(crate) fn check_length(
        &self,
        headers: &HeaderMap,
        limit: Option<u64>,
    ) -> Result<Option<u64>, LimitRefusal> {
        let bad = LimitRefusal::new(StatusCode::BAD_REQUEST, "content-length");
        let mut declared: Option<u64> = None;
        for value in headers.get_all(header::CONTENT_LENGTH) {
            for item in value.as_bytes().split(|&b| b == b',') {
                let item = item.trim_ascii();
                let valid =
                    !item.is_empty() && item.len() <= 19 && item.iter().all(u8::is_ascii_digit);
                if !valid {
                    return Err(bad);
                }
                let length = item.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
                match declared {
                    Some(previous) if previous != length => return Err(bad),
                    _ => declared = Some(length),
                }
            }
        }
        match (declared, limit) {
            (Some(length), Some(limit)) if length > limit => Err(LimitRefusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-size",
            )),
            _ => Ok(declared),
        }
    }

    /// A one-line summary for [`SecurityLayer::controls`](crate::SecurityLayer::controls).
    pub(crate) fn describe(&self) -> String {
        let body = match self.max_body {
            Some(limit) => format!("body <= {limit} bytes"),
            None => "no body limit".to_owned(),
        };
        let routes = match self.routes.len() {
            0 => String::new(),
            n => format!(" ({n} route overrides)"),
        };
        format!(
            "{body}{routes}; headers <= {} fields, {} bytes in all, {} bytes per value",
            self.max_fields, self.max_header_bytes, self.max_value_bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn compiled(limits: RequestLimits) -> CompiledLimits {
        limits.compile().unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn header_limits_from_both_sides() {
        let limits = compiled(
            RequestLimits::strict()
                .max_header_fields(3)
                .max_header_value_bytes(10)
                .max_header_bytes(30),
        );
        let ten = "x".repeat(10);
        let eleven = "x".repeat(11);
        let cases: [(&str, HeaderMap, Result<(), &str>); 6] = [
            (
                "fields at limit",
                headers(&[("a", "1"), ("a", "2"), ("b", "3")]),
                Ok(()),
            ),
            (
                "fields over",
                headers(&[("a", "1"), ("a", "2"), ("a", "3"), ("b", "4")]),
                Err("header-count"),
            ),
            ("value at limit", headers(&[("a", &ten)]), Ok(())),
            (
                "value over",
                headers(&[("a", &eleven)]),
                Err("header-value-size"),
            ),
            (
                "total at limit",
                headers(&[("aaaaa", &ten), ("bbbbb", &ten)]),
                Ok(()),
            ),
            (
                "total over",
                headers(&[("aaaaaa", &ten), ("bbbbb", &ten)]),
                Err("header-size"),
            ),
        ];

        for (name, headers, expected) in cases {
            let result = limits.check_headers(&headers).map_err(|r| r.rule);

            assert_eq!(result, expected, "{name}");
        }
    }

    #[test]
    fn content_length_is_checked_strictly() {
        let limits = compiled(RequestLimits::strict().max_body_size(100));
        type Case<'a> = (&'a str, &'a [&'a str], Result<Option<u64>, &'a str>);
        let cases: [Case; 10] = [
            ("absent", &[], Ok(None)),
            ("limit - 1", &["99"], Ok(Some(99))),
            ("limit", &["100"], Ok(Some(100))),
            ("limit + 1", &["101"], Err("body-size")),
            ("huge", &["99999999999999999999"], Err("content-length")),
            ("repeated, equal", &["5", "5"], Ok(Some(5))),
            ("list, equal", &["5, 5"], Ok(Some(5))),
            ("conflicting", &["5", "6"], Err("content-length")),
            ("sign", &["+5"], Err("content-length")),
            ("empty item", &["5,"], Err("content-length")),
        ];

        for (name, values, expected) in cases {
            let pairs: Vec<(&str, &str)> = values.iter().map(|v| ("content-length", *v)).collect();

            let result = limits
                .check_length(&headers(&pairs), Some(100))
                .map_err(|r| r.rule);

            assert_eq!(result, expected, "{name}");
        }
    }

    #[test]
    fn the_longest_route_prefix_wins() {
        let limits = compiled(
            RequestLimits::strict()
                .max_body_size(10)
                .max_body_size_for("/up/", 100)
                .max_body_size_for("/up/big/", 1000),
        );

        assert_eq!(limits.body_limit("/"), Some(10));
        assert_eq!(limits.body_limit("/up/a"), Some(100));
        assert_eq!(limits.body_limit("/up/big/a"), Some(1000));
        assert_eq!(limits.body_limit("/upx"), Some(10));
    }

    #[test]
    fn bad_limits_are_refused() {
        let cases = [
            RequestLimits::strict().max_header_fields(0),
            RequestLimits::strict().max_body_size_for("up", 1),
            RequestLimits::strict()
                .max_body_size_for("/a", 1)
                .max_body_size_for("/a", 2),
        ];

        for limits in cases {
            assert!(limits.compile().is_err());
        }
    }
}
