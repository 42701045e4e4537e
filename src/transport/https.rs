//! HTTPS enforcement: plain-HTTP requests are sent to the canonical HTTPS address, and the
//! HTTPS-only headers go on HTTPS responses only.
//!
//! A request is plain HTTP when the connection says so ([`ConnectionSecurity::PlainHttp`],
//! inserted by a server that listens on both), when a trusted proxy's `X-Forwarded-Proto` or
//! `Forwarded: proto=` says `http`, or when its URI carries the `http` scheme (HTTP/2 `:scheme`,
//! an absolute-form target). Such a request gets a redirect to `https://`, the configured
//! canonical host and the raw path and query: `301` for GET and HEAD, `308` for other methods so
//! the body is sent again (RFC 9110 §15.4.9). The `Location` is never built from `Host` or
//! `X-Forwarded-Host`, which the client controls. A gRPC request is refused instead: gRPC
//! clients do not follow redirects.
//!
//! When nothing tells the transport (a plain hyper or axum server behind a TLS-terminating
//! proxy that is not configured as trusted), the request is taken as HTTPS: redirecting it
//! could loop forever through the proxy. Settings cannot tell such a proxy apart from a
//! service that terminates TLS itself, so the [self-audit](crate::audit#limitations) does not
//! report it: check the trusted proxies when deploying behind one.
//!
//! # Example
//!
//! ```
//! use tower_security::transport::https::HttpsEnforcement;
//! use tower_security::SecurityLayer;
//!
//! let https = HttpsEnforcement::redirect_to("www.example.com").exempt_path("/health");
//! let layer = SecurityLayer::builder().https(https).build()?;
//! # drop(layer);
//! # Ok::<(), tower_security::ConfigError>(())
//! ```

use http::{HeaderValue, Method, Request, StatusCode, header};

use crate::ConfigError;
use crate::transport::proxies::ClientInfo;

/// How the connection a request arrived on is secured, for servers that know it: insert it
/// into each request's extensions, as the demo server does for its two listeners.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionSecurity {
    /// Plain TCP: the request is plain HTTP unless a trusted proxy says otherwise.
    PlainHttp,
    /// TLS terminated by this server.
    Tls,
}

/// Where plain-HTTP requests are sent, and which paths stay reachable over plain HTTP.
///
/// [`HttpsEnforcement::new`], the setting of both presets, has no canonical host: a request
/// known to be plain HTTP is then refused with `403` rather than redirected to an address
/// taken from the request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpsEnforcement {
    canonical_host: Option<String>,
    exempt_paths: Vec<String>,
}

impl HttpsEnforcement {
    /// Refuses plain-HTTP requests, with nowhere to redirect them.
    pub fn new() -> Self {
        Self::default()
    }

    /// Redirects plain-HTTP requests to `https://host`, where `host` is a host name with an
    /// optional port, such as `www.example.com` or `localhost:8443`.
    pub fn redirect_to(host: impl Into<String>) -> Self {
        Self {
            canonical_host: Some(host.into()),
            exempt_paths: Vec::new(),
        }
    }

    /// Lets plain-HTTP requests to exactly `path` through, such as a load balancer's health
    /// check.
    pub fn exempt_path(mut self, path: impl Into<String>) -> Self {
        self.exempt_paths.push(path.into());
        self
    }

    /// The canonical host, if set.
    pub fn canonical_host(&self) -> Option<&str> {
        self.canonical_host.as_deref()
    }

    pub(crate) fn compile(&self) -> Result<CompiledHttps, ConfigError> {
        let origin = match &self.canonical_host {
            Some(host) => {
                let valid = !host.is_empty()
                    && host.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                    });
                if !valid {
                    return Err(ConfigError::invalid(
                        "https.canonical_host",
                        host,
                        "a host name with an optional port, such as www.example.com:8443",
                    ));
                }
                Some(format!("https://{}", host.to_ascii_lowercase()).into_boxed_str())
            }
            None => None,
        };
        for path in &self.exempt_paths {
            if !path.starts_with('/') || !path.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ConfigError::invalid(
                    "https.exempt_path",
                    path,
                    "a path such as /health",
                ));
            }
        }
        Ok(CompiledHttps {
            origin,
            exempt_paths: self
                .exempt_paths
                .iter()
                .map(|p| p.as_str().into())
                .collect(),
        })
    }
}

/// The validated setting.
#[derive(Clone, Debug)]
pub(crate) struct CompiledHttps {
    /// `https://host[:port]`, rendered once.
    origin: Option<Box<str>>,
    exempt_paths: Box<[Box<str>]>,
}

/// What to do with a plain-HTTP request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Send it to this address with this status.
    Redirect(StatusCode, HeaderValue),
    /// Refuse it: gRPC, or no canonical host to send it to.
    Refuse,
}

impl CompiledHttps {
    /// The verdict on a request known to be plain HTTP, or `None` to let it through.
    pub(crate) fn check<B>(&self, request: &Request<B>) -> Option<Verdict> {
        let path = request.uri().path();
        if self.exempt_paths.iter().any(|exempt| **exempt == *path) {
            return None;
        }
        let grpc = request
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
        // An asterisk-form `OPTIONS *` names no resource to redirect to (RFC 9112 §3.2.4).
        let Some(origin) = self
            .origin
            .as_deref()
            .filter(|_| !grpc && path.starts_with('/'))
        else {
            return Some(Verdict::Refuse);
        };
        let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
        let location = format!("{origin}{target}");
        let status = match *request.method() {
            Method::GET | Method::HEAD => StatusCode::MOVED_PERMANENTLY,
            _ => StatusCode::PERMANENT_REDIRECT,
        };
        // The target passed the `http` crate's URI parser, so it is a valid header value.
        HeaderValue::from_str(&location)
            .ok()
            .map_or(Some(Verdict::Refuse), |location| {
                Some(Verdict::Redirect(status, location))
            })
    }

    pub(crate) fn describe(&self) -> String {
        let exempt = self.exempt_paths.len();
        match &self.origin {
            Some(origin) => format!("plain HTTP redirected to {origin} ({exempt} exempt paths)"),
            None => format!("plain HTTP refused, no canonical host ({exempt} exempt paths)"),
        }
    }
}

/// Whether `request` arrived over HTTPS: `Some(false)` when known to be plain HTTP, `None`
/// when nothing tells.
pub(crate) fn is_https<B>(request: &Request<B>, client: &ClientInfo) -> Option<bool> {
    // A trusted proxy knows the client's side; the connection only shows the proxy's.
    if client.via_trusted_proxy && client.https.is_some() {
        return client.https;
    }
    match request.extensions().get::<ConnectionSecurity>() {
        Some(ConnectionSecurity::Tls) => Some(true),
        Some(ConnectionSecurity::PlainHttp) => Some(false),
        None => client.https,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, uri: &str, grpc: bool) -> Request<()> {
        let mut request = Request::builder().method(method).uri(uri);
        if grpc {
            request = request.header("content-type", "application/grpc+proto");
        }
        request.header("host", "evil.example").body(()).unwrap()
    }

    #[test]
    fn plain_requests_are_redirected_to_the_canonical_host_only() {
        let https = HttpsEnforcement::redirect_to("WWW.Example.com:8443")
            .exempt_path("/health")
            .compile()
            .unwrap();
        let refuse_only = HttpsEnforcement::new().compile().unwrap();
        let cases = [
            (
                "GET",
                &https,
                request(Method::GET, "/a/b?c=%2F&d", false),
                Some("301 https://www.example.com:8443/a/b?c=%2F&d"),
            ),
            (
                "HEAD",
                &https,
                request(Method::HEAD, "/", false),
                Some("301 https://www.example.com:8443/"),
            ),
            (
                "POST",
                &https,
                request(Method::POST, "/form", false),
                Some("308 https://www.example.com:8443/form"),
            ),
            (
                "absolute-form",
                &https,
                request(Method::GET, "http://evil.example/x", false),
                Some("301 https://www.example.com:8443/x"),
            ),
            (
                "exempt",
                &https,
                request(Method::GET, "/health", false),
                None,
            ),
            (
                "gRPC",
                &https,
                request(Method::POST, "/pkg.Svc/Call", true),
                Some("refuse"),
            ),
            (
                "no canonical host",
                &refuse_only,
                request(Method::GET, "/", false),
                Some("refuse"),
            ),
        ];

        for (name, https, request, expected) in cases {
            let verdict = https.check(&request).map(|verdict| match verdict {
                Verdict::Redirect(status, location) => {
                    format!("{} {}", status.as_u16(), location.to_str().unwrap())
                }
                Verdict::Refuse => "refuse".to_owned(),
            });

            assert_eq!(verdict.as_deref(), expected, "{name}");
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        let cases = [
            HttpsEnforcement::redirect_to("https://www.example.com"),
            HttpsEnforcement::redirect_to("www.example.com/path"),
            HttpsEnforcement::redirect_to(""),
            HttpsEnforcement::new().exempt_path("health"),
        ];

        for https in cases {
            assert!(https.compile().is_err(), "{https:?}");
        }
    }
}
