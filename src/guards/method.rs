//! The method allow-list, and refusal of method-override headers.
//!
//! A method outside the list gets `405 Method Not Allowed` with an `Allow` header listing the
//! methods that are (RFC 9110 §15.5.6). Headers that ask a framework to treat a `POST` as
//! another method are refused outright: they let a form, which can only `POST`, reach a
//! `DELETE` handler and slip past checks keyed on the method.
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

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

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
    pub(crate) fn check(&self, method: &Method, headers: &HeaderMap) -> Result<(), MethodRefusal> {
        if !self.methods.contains(method) {
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
            let result = methods.check(&method, headers);

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
    fn an_empty_list_is_refused() {
        assert!(AllowedMethods::new([]).compile().is_err());
    }
}
