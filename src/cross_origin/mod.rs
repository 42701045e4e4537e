//! Cross-origin request protection without tokens: state-changing requests that a browser
//! sends on behalf of another site are refused.
//!
//! A browser attaches the user's cookies to a form post or `fetch` that another site starts,
//! so a cookie alone cannot tell a deliberate request from a forged one. Browsers say where a
//! request comes from: since 2023 every major browser sends `Sec-Fetch-Site`
//! ([Fetch Metadata]), and older ones send `Origin` ([RFC 6454 §7]) on requests that are not
//! `GET` or `HEAD`. Reading those headers needs no token in forms and no state on the server.
//!
//! # How a request is judged
//!
//! | request | verdict |
//! |---|---|
//! | a WebSocket handshake: `Upgrade: websocket`, or h2's extended `CONNECT` | by the rows below |
//! | any other `GET`, `HEAD` or `OPTIONS` | allowed: a safe method ([RFC 9110 §9.2.1]) |
//! | `Sec-Fetch-Site: same-origin` or `none` | allowed |
//! | any other `Sec-Fetch-Site`, or the header twice | refused |
//! | neither `Sec-Fetch-Site` nor `Origin` | allowed: not a browser, or a very old one |
//! | `Origin` whose host and port are the request's `Host` | allowed |
//! | any other `Origin`, `null` included | refused |
//!
//! A WebSocket handshake is a `GET` over HTTP/1.1, yet the socket it opens carries the user's
//! cookies and lets the page read what comes back, so it is judged like a state-changing
//! request (cross-site WebSocket hijacking).
//!
//! A request that would be refused is let through when its `Origin` is one of the
//! [trusted origins](CrossOriginProtection::trusted_origin), or its path one of the
//! [exempt paths](CrossOriginProtection::insecure_exempt_path).
//!
//! # Example
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use tower::{service_fn, ServiceExt};
//! use tower_security::{cross_origin::CrossOriginProtection, RequestBody, SecurityLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Our single-page app on its own subdomain may post to this API; the payment provider's
//! // webhooks carry a signature instead of a browser's headers.
//! let protection = CrossOriginProtection::new()
//!     .trusted_origin("https://app.example.com")
//!     .insecure_exempt_path("/webhooks/*");
//! let layer = SecurityLayer::builder().cross_origin_protection(protection).build()?;
//! let service = tower::ServiceBuilder::new()
//!     .layer(layer)
//!     .service(service_fn(|_: Request<RequestBody<String>>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(String::from("done")))
//!     }));
//!
//! let forged = Request::post("https://api.example.com/account/delete")
//!     .header("sec-fetch-site", "cross-site")
//!     .header("origin", "https://evil.example")
//!     .body(String::new())?;
//! let response = service.oneshot(forged).await?;
//!
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! # Ok(())
//! # }
//! ```
//!
//! # Deployment caveat
//!
//! The check trusts the `Origin` and `Host` headers it is given. A reverse proxy that rewrites
//! `Host` to an internal name makes every `Origin` differ from it, so browsers that send no
//! `Sec-Fetch-Site` are refused; one that drops `Origin` lets them through unchecked. Forward
//! both headers unchanged. Browsers send `Sec-Fetch-Site` only to secure origins (HTTPS or
//! `localhost`; Fetch Metadata §3), so over plain HTTP the `Origin` comparison is all there is.
//!
//! # Limitations
//!
//! - Without `Sec-Fetch-Site`, only the host and port of `Origin` are compared with `Host`,
//!   which carries no scheme: a page on `http://example.com`, which a network attacker can
//!   forge, may post to `https://example.com` in a browser from before 2023. Current browsers
//!   send `Sec-Fetch-Site` to HTTPS sites, and HSTS keeps browsers off the plain-HTTP origin.
//! - Safe methods are never checked, so a `GET` handler that changes state is not protected.
//! - A sibling subdomain is `same-site`, not `same-origin`, and is refused unless trusted.
//!
//! [Fetch Metadata]: https://www.w3.org/TR/fetch-metadata/
//! [RFC 6454 §7]: https://www.rfc-editor.org/rfc/rfc6454#section-7
//! [RFC 9110 §9.2.1]: https://www.rfc-editor.org/rfc/rfc9110#section-9.2.1

use std::fmt::Write as _;

use http::header::{HOST, ORIGIN};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};

use crate::ConfigError;

/// Fetch Metadata §2.3; not among the `http` crate's constants.
const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

const TRUSTED_ORIGIN: &str = "cross_origin.trusted_origin";
const EXEMPT_PATH: &str = "cross_origin.exempt_path";
const ORIGIN_FORM: &str = "an origin such as https://app.example.com (scheme and host only)";
const PATH_FORM: &str = "a path such as /hooks/stripe or a prefix such as /hooks/*, no `?` or `#`";

/// Which browser requests from other origins a service accepts, checked when the layer is
/// built.
///
/// Without settings, every cross-origin request with an unsafe method is refused; the
/// [module documentation](self) explains how a request is judged.
///
/// # What is refused
///
/// Building the layer returns a [`ConfigError`] for:
///
/// - a trusted origin that is not `http://` or `https://` followed by a host and an optional
///   port: a path (even a lone `/`), query, fragment, user name, whitespace or non-ASCII text
///   would never equal a browser's `Origin`, so the entry would silently trust nobody;
/// - an exempt path that does not start with `/`, contains `?`, `#`, whitespace or non-ASCII
///   text, or uses `*` anywhere but a final `/*`;
/// - the prefix `/*`, which would exempt every request;
/// - an origin or path given twice.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrossOriginProtection {
    trusted_origins: Vec<String>,
    exempt_paths: Vec<String>,
}

impl CrossOriginProtection {
    /// Protection with no trusted origin and no exempt path.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts requests whose `Origin` is exactly this origin, such as
    /// `"https://app.example.com"`.
    ///
    /// Scheme and host are matched without regard to case, and `:443` or `:80` after the
    /// matching scheme may be left out, as browsers do. A host with non-ASCII letters must be
    /// given in punycode (`xn--…`), the form browsers send.
    pub fn trusted_origin(mut self, origin: impl Into<String>) -> Self {
        self.trusted_origins.push(origin.into());
        self
    }

    /// Lets every request to exactly this path through unchecked, for endpoints that
    /// authenticate requests by other means, such as signed webhooks; named for its danger.
    ///
    /// A path ending in `/*` exempts everything under it: `/hooks/*` covers `/hooks/`,
    /// `/hooks/a` and `/hooks/a/b`, but not `/hooks` or `/hooksx`. Paths are compared byte for
    /// byte with the request's path, before any percent-decoding; the query is not part of
    /// the path.
    pub fn insecure_exempt_path(mut self, path: impl Into<String>) -> Self {
        self.exempt_paths.push(path.into());
        self
    }

    /// Validates the settings and puts them in the form [`CompiledCrossOrigin::check`] reads.
    pub(crate) fn compile(&self) -> Result<CompiledCrossOrigin, ConfigError> {
        let mut trusted_origins: Vec<Box<str>> = Vec::with_capacity(self.trusted_origins.len());
        for origin in &self.trusted_origins {
            let normalised = normalise_trusted_origin(origin)
                .ok_or_else(|| ConfigError::invalid(TRUSTED_ORIGIN, origin, ORIGIN_FORM))?;
            if trusted_origins.contains(&normalised) {
                return Err(ConfigError::duplicate(
                    TRUSTED_ORIGIN,
                    origin,
                    "each trusted origin once",
                ));
            }
            trusted_origins.push(normalised);
        }

        let mut exact_paths = Vec::new();
        let mut path_prefixes = Vec::new();
        for (i, path) in self.exempt_paths.iter().enumerate() {
            if self
                .exempt_paths
                .iter()
                .take(i)
                .any(|earlier| earlier == path)
            {
                return Err(ConfigError::duplicate(
                    EXEMPT_PATH,
                    path,
                    "each exempt path once",
                ));
            }
            match exempt_prefix(path)? {
                Some(prefix) => path_prefixes.push(Box::from(prefix)),
                None => exact_paths.push(Box::from(path.as_str())),
            }
        }

        Ok(CompiledCrossOrigin {
            trusted_origins: trusted_origins.into_boxed_slice(),
            exact_paths: exact_paths.into_boxed_slice(),
            path_prefixes: path_prefixes.into_boxed_slice(),
        })
    }
}

/// The lowercase form of a trusted origin without a default port, as a browser serialises it
/// (RFC 6454 §6.2), or `None` if `origin` is not an `http` or `https` origin.
fn normalise_trusted_origin(origin: &str) -> Option<Box<str>> {
    let parsed = SerializedOrigin::parse(origin.as_bytes())?;
    let default_port = parsed.default_port()?;
    // The parser admits only ASCII letters, digits and a few punctuation marks in a host.
    let host = std::str::from_utf8(parsed.authority.host).ok()?;

    let scheme = if default_port == 443 { "https" } else { "http" };
    let mut out = format!("{scheme}://{}", host.to_ascii_lowercase());
    if let Some(port) = parsed.authority.port.filter(|&port| port != default_port) {
        // Writing to a `String` cannot fail.
        let _ = write!(out, ":{port}");
    }
    Some(out.into_boxed_str())
}

/// Validates an exempt path; returns the prefix, trailing `/` kept, if it ends in `/*`.
fn exempt_prefix(path: &str) -> Result<Option<&str>, ConfigError> {
    let prefix = path.strip_suffix('*');
    let body = prefix.unwrap_or(path);
    let well_formed = body.starts_with('/')
        && body
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'*'))
        && prefix.is_none_or(|prefix| prefix.ends_with('/'));
    if !well_formed {
        return Err(ConfigError::invalid(EXEMPT_PATH, path, PATH_FORM));
    }
    if prefix == Some("/") {
        return Err(ConfigError::invalid(
            EXEMPT_PATH,
            path,
            "a path or a prefix narrower than `/*`, which would exempt every request",
        ));
    }
    Ok(prefix)
}

/// The validated form of [`CrossOriginProtection`]: nothing left to parse, and nothing
/// allocated per request.
#[derive(Clone, Debug)]
pub(crate) struct CompiledCrossOrigin {
    /// Lowercase, without default ports.
    trusted_origins: Box<[Box<str>]>,
    exact_paths: Box<[Box<str>]>,
    /// Each ends in `/`.
    path_prefixes: Box<[Box<str>]>,
}

impl CompiledCrossOrigin {
    /// The control's summary for [`SecurityLayer::controls`](crate::SecurityLayer::controls).
    pub(crate) fn describe(&self) -> String {
        let exempt = self.exact_paths.len() + self.path_prefixes.len();
        format!(
            "Sec-Fetch-Site or Origin checked on state-changing requests, 403 otherwise; \
             {} trusted origins; {exempt} exempt paths",
            self.trusted_origins.len()
        )
    }

    /// Decides whether `request` may reach the service.
    pub(crate) fn check<B>(&self, request: &Request<B>) -> Result<(), Refusal> {
        if is_safe(request.method()) && !opens_websocket(request) {
            return Ok(());
        }

        // The exemptions are looked up only for a request that would be refused, so the
        // common case, a same-origin request from a current browser, reads one header.
        match judge(request.headers(), request.uri()) {
            Err(_) if self.is_exempt(request) => Ok(()),
            verdict => verdict,
        }
    }

    fn is_exempt<B>(&self, request: &Request<B>) -> bool {
        let path = request.uri().path();
        if self.exact_paths.iter().any(|exact| **exact == *path)
            || self
                .path_prefixes
                .iter()
                .any(|prefix| path.starts_with(&**prefix))
        {
            return true;
        }

        // Two `Origin` headers are no origin at all (RFC 6454 §7.3 allows one).
        let Some(origin) = single(request.headers(), &ORIGIN) else {
            return false;
        };
        self.trusted_origins
            .iter()
            .any(|trusted| trusted.as_bytes().eq_ignore_ascii_case(origin.as_bytes()))
    }
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `Sec-Fetch-Site` is present but is neither `same-origin` nor `none`, or is repeated.
    CrossSite,
    /// There is no `Sec-Fetch-Site`, and `Origin` is `null`, malformed, repeated, or names a
    /// host other than the request's.
    OriginMismatch,
}

impl Refusal {
    /// The rule that refused the request, a stable name for logs and events.
    pub(crate) fn rule(self) -> &'static str {
        match self {
            Self::CrossSite => "sec-fetch-site",
            Self::OriginMismatch => "origin-mismatch",
        }
    }
}

/// Whether the method is safe (RFC 9110 §9.2.1). Method names are case-sensitive (§9.1), so
/// `get` is some other method and is checked.
fn is_safe(method: &Method) -> bool {
    *method == Method::GET || *method == Method::HEAD || *method == Method::OPTIONS
}

/// Whether a request opens a WebSocket: `Upgrade: websocket` (RFC 6455 §4.1; the token is
/// case-insensitive) or an HTTP/2 extended `CONNECT` (RFC 8441 §4). A browser lets any page
/// open one to any site with the user's cookies, and the same-origin policy does not apply to
/// what comes back.
fn opens_websocket<B>(request: &Request<B>) -> bool {
    crate::guards::method::is_extended_connect(request.method(), request.uri())
        || request
            .headers()
            .get_all(http::header::UPGRADE)
            .iter()
            .flat_map(|value| value.as_bytes().split(|&b| b == b','))
            .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"websocket"))
}

/// The verdict on an unsafe request, before exemptions.
fn judge(headers: &HeaderMap, uri: &Uri) -> Result<(), Refusal> {
    let mut sites = headers.get_all(SEC_FETCH_SITE).iter();
    if let Some(site) = sites.next() {
        // Fetch Metadata §2.3: one token, the initiator's relation to the target. Only
        // `same-origin` and `none` (typed by the user) vouch for the request. The spec asks
        // servers to ignore an unknown value; only a browser can set a `Sec-` header, so an
        // unknown or repeated one is refused rather than let fall back to weaker checks.
        let allowed = matches!(site.as_bytes(), b"same-origin" | b"none") && sites.next().is_none();
        return if allowed {
            Ok(())
        } else {
            Err(Refusal::CrossSite)
        };
    }

    let mut origins = headers.get_all(ORIGIN).iter();
    let Some(origin) = origins.next() else {
        // Browsers send `Origin` with every request whose method is not GET or HEAD (Fetch
        // §3.1), so a request without it comes from some other client, which no other site
        // can make act for the user, or from a browser too old to follow that rule.
        return Ok(());
    };
    if origins.next().is_some() {
        return Err(Refusal::OriginMismatch);
    }
    let same_host = SerializedOrigin::parse(origin.as_bytes())
        .zip(request_host(headers, uri))
        .is_some_and(|(origin, host)| origin.is_at(&host));
    if same_host {
        Ok(())
    } else {
        Err(Refusal::OriginMismatch)
    }
}

/// The request's target host: the `Host` header (RFC 9110 §7.2), or the URI's authority where
/// HTTP/2 and HTTP/3 carry it in `:authority` instead.
fn request_host<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<HostPort<'a>> {
    let mut hosts = headers.get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(host), None) => HostPort::parse(host.as_bytes()),
        // RFC 9112 §3.2: a request with more than one `Host` is invalid.
        (Some(_), Some(_)) => None,
        (None, _) => uri
            .authority()
            .and_then(|authority| HostPort::parse(authority.as_str().as_bytes())),
    }
}

/// The value of a header that occurs exactly once.
fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a HeaderValue> {
    let mut values = headers.get_all(name).iter();
    values.next().filter(|_| values.next().is_none())
}

/// `scheme "://" host [ ":" port ]`, an origin as browsers serialise it (RFC 6454 §6.2).
struct SerializedOrigin<'a> {
    scheme: &'a [u8],
    authority: HostPort<'a>,
}

impl<'a> SerializedOrigin<'a> {
    fn parse(input: &'a [u8]) -> Option<Self> {
        let end = input.windows(3).position(|w| w == b"://")?;
        let (scheme, rest) = input.split_at_checked(end)?;
        // RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
        let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
            && scheme
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return None;
        }
        let authority = HostPort::parse(rest.strip_prefix(b"://")?)?;
        Some(Self { scheme, authority })
    }

    /// The port a browser leaves out of this origin, for the schemes it sends `Origin` for.
    fn default_port(&self) -> Option<u16> {
        if self.scheme.eq_ignore_ascii_case(b"https") {
            Some(443)
        } else if self.scheme.eq_ignore_ascii_case(b"http") {
            Some(80)
        } else {
            None
        }
    }

    /// Whether this origin's host and port are `target`'s. `Host` carries no scheme, so a
    /// missing port on either side stands for the default port of this origin's scheme.
    fn is_at(&self, target: &HostPort<'_>) -> bool {
        if !self.authority.host.eq_ignore_ascii_case(target.host) {
            return false;
        }
        match (self.authority.port, target.port) {
            (Some(ours), Some(theirs)) => ours == theirs,
            (None, None) => true,
            (Some(port), None) | (None, Some(port)) => Some(port) == self.default_port(),
        }
    }
}

/// `host [ ":" port ]`, the form of `Host` (RFC 9110 §7.2) and of an origin's authority.
struct HostPort<'a> {
    /// A name or IPv4 address, or an IPv6 address in brackets (RFC 3986 §3.2.2).
    host: &'a [u8],
    port: Option<u16>,
}

impl<'a> HostPort<'a> {
    fn parse(input: &'a [u8]) -> Option<Self> {
        let (host, rest) = match input.strip_prefix(b"[") {
            Some(literal) => {
                let end = literal.iter().position(|&b| b == b']')?;
                let address = literal.get(..end)?;
                let ip_ok = !address.is_empty()
                    && address
                        .iter()
                        .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'));
                if !ip_ok {
                    return None;
                }
                // Two more bytes: the brackets.
                input.split_at_checked(end + 2)?
            }
            None => {
                let end = input.iter().position(|&b| b == b':').unwrap_or(input.len());
                let (name, rest) = input.split_at_checked(end)?;
                // Letters, digits, `-`, `.` and `_`: what a browser leaves in a host after
                // IDNA and percent-decoding. Anything else, `@` and `/` included, means the
                // value is not a bare host.
                let name_ok = !name.is_empty()
                    && name
                        .iter()
                        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
                if !name_ok {
                    return None;
                }
                (name, rest)
            }
        };
        let port = match rest {
            [] => None,
            [b':', digits @ ..] => Some(parse_port(digits)?),
            _ => return None,
        };
        Some(Self { host, port })
    }
}

/// A decimal port (RFC 3986 §3.2.3); an empty port is refused rather than read as absent.
fn parse_port(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u16, |port, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        port.checked_mul(10)?.checked_add(u16::from(digit))
    })
}

#[cfg(test)]
mod tests;
