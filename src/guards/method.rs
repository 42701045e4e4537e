//! The method allow-list, and refusal of method-override headers.
//!
//! A method outside the list gets `405 Method Not Allowed` with an `Allow` header listing the
//! methods that are (RFC 9110 §15.5.6). Headers that ask a framework to treat a `POST` as
//! another method are refused outright: they let a form, which can only `POST`, reach a
//! `DELETE` handler and slip past checks keyed on the method.
//!
//! HTTP/2's extended `CONNECT` (RFC 8441), the form a WebSocket handshake takes there, is the
//! same request as a `GET` with `Upgrade: websocket` over HTTP/1.1, so it is allowed wherever
//! `GET` is. A classic `CONNECT`, which asks for a tunnel to another host, needs `CONNECT` in
//! the list. The two are told apart by the target: an extended `CONNECT` carries a path
//! (RFC 8441 §4), a tunnel only an authority (RFC 9110 §9.3.6).
//!
//! # Example
//!
//! ```
//! use http::Method;
//! use tower_security::guards::method::AllowedMethods;
//! use tower_security::SecurityLayer;
//!
//! // A read-only service.
//! let methods = AllowedMethods::new([Method::GET, Method::HEAD, Method::OPTIONS]);
//! let layer = SecurityLayer::builder().allowed_methods(methods).build()?;
//! # drop(layer);
//! # Ok::<(), tower_security::ConfigError>(())
//! ```

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};

use crate::ConfigError;

/// Headers that override the method in common frameworks.
const OVERRIDE_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-http-method-override"),
    HeaderName::from_static("x-http-method"),
    HeaderName::from_static("x-method-override"),
];

/// The methods a service answers. [`AllowedMethods::default`] allows GET, HEAD, POST, PUT,
/// PATCH, DELETE and OPTIONS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedMethods {
    methods: Vec<Method>,
}

impl Default for AllowedMethods {
    fn default() -> Self {
        Self::new([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
    }
}

impl AllowedMethods {
    /// Allows exactly `methods`.
    pub fn new(methods: impl IntoIterator<Item = Method>) -> Self {
        Self {
            methods: methods.into_iter().collect(),
        }
    }

    /// The allowed methods, for the self-audit.
    pub(crate) fn methods(&self) -> &[Method] {
        &self.methods
    }

    pub(crate) fn compile(&self) -> Result<CompiledMethods, ConfigError> {
        if self.methods.is_empty() {
            return Err(ConfigError::invalid(
                "allowed_methods",
                "",
                "at least one method",
            ));
        }
        let names: Vec<&str> = self.methods.iter().map(Method::as_str).collect();
        let allow = names.join(", ");
        let allow = HeaderValue::from_str(&allow)
            .map_err(|_| ConfigError::invalid("allowed_methods", &allow, "method tokens"))?;
        Ok(CompiledMethods {
            methods: self.methods.clone().into(),
            allow,
        })
    }
}

/// The validated allow-list, with its `Allow` header rendered.
#[derive(Clone, Debug)]
pub(crate) struct CompiledMethods {
    methods: Box<[Method]>,
    allow: HeaderValue,
}

/// A refused method: the status, the rule, and the `Allow` header to send with a 405.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MethodRefusal {
    pub(crate) status: StatusCode,
    pub(crate) rule: &'static str,
    pub(crate) allow: Option<HeaderValue>,
}

impl CompiledMethods {
    pub(crate) fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<(), MethodRefusal> {
        let allowed = self.methods.contains(method)
            || (is_extended_connect(method, uri) && self.methods.contains(&Method::GET));
        if !allowed {
            return Err(MethodRefusal {
                status: StatusCode::METHOD_NOT_ALLOWED,
                rule: "method-not-allowed",
                allow: Some(self.allow.clone()),
            });
        }
        // One pass over the names sent, compared without hashing: cheaper than three lookups
        // of names a request almost never carries.
        if headers.keys().any(|name| OVERRIDE_HEADERS.contains(name)) {
            return Err(MethodRefusal {
                status: StatusCode::BAD_REQUEST,
                rule: "method-override",
                allow: None,
            });
        }
        Ok(())
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "{}; method-override headers refused",
            self.allow.to_str().unwrap_or("")
        )
    }
}

/// Whether a request is HTTP/2's extended `CONNECT` (RFC 8441 §4), which has a path, rather
/// than a tunnel request, whose target is an authority alone (RFC 9110 §9.3.6).
pub(crate) fn is_extended_connect(method: &Method, uri: &Uri) -> bool {
    *method == Method::CONNECT && uri.path().starts_with('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_list_get_405_with_allow() {
        let methods = AllowedMethods::default().compile().unwrap();
        let plain = HeaderMap::new();
        let mut overridden = HeaderMap::new();
        overridden.insert("x-http-method-override", HeaderValue::from_static("DELETE"));
        let cases: [(&str, Method, &HeaderMap, Result<(), &str>); 7] = [
            ("GET", Method::GET, &plain, Ok(())),
            ("PATCH", Method::PATCH, &plain, Ok(())),
            ("TRACE", Method::TRACE, &plain, Err("method-not-allowed")),
            (
                "CONNECT",
                Method::CONNECT,
                &plain,
                Err("method-not-allowed"),
            ),
            (
                "PROPFIND",
                Method::from_bytes(b"PROPFIND").unwrap(),
                &plain,
                Err("method-not-allowed"),
            ),
            (
                "lowercase get",
                Method::from_bytes(b"get").unwrap(),
                &plain,
                Err("method-not-allowed"),
            ),
            (
                "override",
                Method::POST,
                &overridden,
                Err("method-override"),
            ),
        ];

        for (name, method, headers, expected) in cases {
            let result = methods.check(&method, &Uri::from_static("example.com:443"), headers);

            assert_eq!(
                result.as_ref().map(|_| ()).map_err(|r| r.rule),
                expected,
                "{name}"
            );
            if let Err(refusal) = result {
                let allow = refusal.allow.as_ref().map(|v| v.to_str().unwrap());
                match refusal.rule {
                    "method-not-allowed" => assert_eq!(
                        allow,
                        Some("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
                        "{name}"
                    ),
                    _ => assert_eq!(allow, None, "{name}"),
                }
            }
        }
    }

    #[test]
    fn extended_connect_goes_with_get_and_a_tunnel_needs_connect() {
        let headers = HeaderMap::new();
        let default = AllowedMethods::default().compile().unwrap();
        let no_get = AllowedMethods::new([Method::POST]).compile().unwrap();
        let tunnels = AllowedMethods::new([Method::CONNECT]).compile().unwrap();
        // An h2 extended CONNECT arrives with :scheme, :authority and :path; a tunnel request
        // with :authority only.
        let websocket = Uri::from_static("https://example.com/chat");
        let tunnel = Uri::from_static("example.com:443");
        let cases = [
            ("extended, GET allowed", &default, &websocket, true),
            ("tunnel, default list", &default, &tunnel, false),
            ("extended, no GET", &no_get, &websocket, false),
            ("tunnel, CONNECT listed", &tunnels, &tunnel, true),
        ];

        for (name, methods, uri, allowed) in cases {
            let verdict = methods.check(&Method::CONNECT, uri, &headers);

            assert_eq!(verdict.is_ok(), allowed, "{name}");
        }
    }

    #[test]
    fn an_empty_list_is_refused() {
        assert!(AllowedMethods::new([]).compile().is_err());
    }
}
