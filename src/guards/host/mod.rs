//! Host validation and allow-list: a request must name, once and unambiguously, a host this
//! service answers for.
//!
//! The host a client names travels in `Host` ([RFC 9110 §7.2]), or in HTTP/2 and HTTP/3 in
//! the `:authority` pseudo-header, which becomes the request URI's authority. Applications
//! build absolute links, password-reset mails and cache keys from it, so a forged host turns
//! into a link to the attacker's site or a poisoned cache entry. A host list also defeats DNS
//! rebinding: a page on `attacker.example` whose name now resolves to `127.0.0.1` reaches a
//! local service, but its requests still say `Host: attacker.example`.
//!
//! # How a request is judged
//!
//! | request | rule |
//! |---|---|
//! | no `Host` and no URI authority | `host-missing` |
//! | `Host` present more than once ([RFC 9112 §3.2]) | `host-duplicate` |
//! | `Host` with an empty value | `host-empty` |
//! | `Host` or URI authority not of the forms below | `host-malformed` |
//! | both a `Host` and a URI authority, naming different hosts or ports | `host-mismatch` |
//! | a host that no [pattern](AllowedHosts::allow) matches, if any are given | `host-not-allowed` |
//!
//! Every refusal is a `400 Bad Request`. A well-formed host is a name, an IPv4 address in
//! dotted-decimal, or an IPv6 address in brackets, then an optional `:` and a port from 1 to
//! 65535. A name is made of non-empty, dot-separated labels of ASCII letters, digits, `-`
//! and `_`, and may end in one dot (`example.com.` is `example.com`). A name whose last label
//! is a number, such as `1.2.3` or `0x7f.1`, must be an exact dotted-decimal IPv4 address:
//! some resolvers read those forms as addresses, others as names. Names are compared without
//! regard to ASCII case; a name with other letters must be sent and configured in punycode
//! (`xn--…`), as browsers send it.
//!
//! Labels that start or end with `-`, and labels with `_`, are accepted although DNS host
//! names may not have them ([RFC 1123 §2.1]): browsers send such hosts as they are, and a
//! host is only ever compared, never resolved, here.
//!
//! # Example
//!
//! ```
//! use tower_security::guards::host::AllowedHosts;
//!
//! // The public site and its subdomains, plus the local health check on its own port.
//! let hosts = AllowedHosts::new()
//!     .allow("example.com")
//!     .allow("*.example.com")
//!     .allow("127.0.0.1:9090");
//!
//! assert!(!hosts.is_empty());
//! assert!(AllowedHosts::new().is_empty());
//! ```
//!
//! # Deployment caveat
//!
//! The check reads the host the client sent to this server. A reverse proxy that rewrites
//! `Host` to an internal name makes every request name that host: list it, and check the
//! public host at the proxy. `X-Forwarded-Host` and `Forwarded` are not read.
//!
//! # Limitations
//!
//! - An HTTP/1.1 request in origin form carries no scheme, so a `Host` without a port
//!   matches a pattern for port 80 and one for port 443 alike.
//! - A wildcard is not checked against the public suffix list: `*.co.uk` is accepted and
//!   allows every host under it.
//! - An HTTP/1.1 request in absolute form without `Host` is judged by its URI's authority,
//!   as an HTTP/2 request is, although RFC 9112 §3.2 asks servers to refuse it: both name
//!   the host the client chose, so neither is more trustworthy.
//!
//! [RFC 9110 §7.2]: https://www.rfc-editor.org/rfc/rfc9110#section-7.2
//! [RFC 9112 §3.2]: https://www.rfc-editor.org/rfc/rfc9112#section-3.2
//! [RFC 1123 §2.1]: https://www.rfc-editor.org/rfc/rfc1123#section-2.1

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use http::header::HOST;
use http::{Request, Uri};

use crate::ConfigError;

/// The setting a [`ConfigError`] names.
const SETTING: &str = "hosts.allow";
/// The form a pattern must have, in words.
const PATTERN_FORM: &str = "a host name, `*.` wildcard or IP address, with an optional port";

/// No `Host` and no URI authority.
const MISSING: &str = "host-missing";
/// A `Host` with an empty value.
const EMPTY: &str = "host-empty";
/// More than one `Host`.
const DUPLICATE: &str = "host-duplicate";
/// A `Host` or URI authority that is not a well-formed host with an optional port.
const MALFORMED: &str = "host-malformed";
/// A `Host` that names another host or port than the URI's authority.
const MISMATCH: &str = "host-mismatch";
/// A well-formed host that no pattern of a non-empty list matches.
const NOT_ALLOWED: &str = "host-not-allowed";

/// The hosts this service answers for, checked when the layer is built.
///
/// Without patterns, every well-formed host is allowed; the request is still refused if its
/// host is missing, repeated, malformed or ambiguous, as the [module documentation](self)
/// explains.
///
/// # What is refused
///
/// Building the layer returns a [`ConfigError`] for a pattern that is not a host the
/// [module documentation](self) calls well formed, optionally preceded by `*.`: a scheme
/// (`https://a.com`), a path, a user name (`user@host`), whitespace, non-ASCII text, port 0,
/// a bare `*`, or a `*` anywhere but a leading `*.` in front of a name. A pattern given
/// twice, after lowercasing, is refused too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    /// As given; parsed by `compile`.
    patterns: Vec<String>,
}

impl AllowedHosts {
    /// An empty list: every well-formed host is allowed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows the hosts `pattern` matches, without regard to ASCII case:
    ///
    /// - `example.com` matches that name on any port, `example.com:8443` on that port only;
    /// - `*.example.com` matches every name one or more labels below `example.com`, such as
    ///   `a.example.com` and `a.b.example.com`, but not `example.com` itself;
    /// - `127.0.0.1` and `[::1]:8080` match those addresses, however an IPv6 address is
    ///   written (`[0::1]` is `[::1]`).
    ///
    /// A request `Host` without a port names the scheme's default port, so it matches a
    /// pattern for port 443 over `https` and for port 80 over `http`.
    pub fn allow(mut self, pattern: impl Into<String>) -> Self {
        self.patterns.push(pattern.into());
        self
    }

    /// Whether no pattern was given, so that any well-formed host is allowed.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Validates the patterns and puts them in the form [`CompiledHosts::check`] reads.
    pub(crate) fn compile(&self) -> Result<CompiledHosts, ConfigError> {
        let mut patterns: Vec<Pattern> = Vec::with_capacity(self.patterns.len());
        for given in &self.patterns {
            let pattern = Pattern::parse(given)
                .ok_or_else(|| ConfigError::invalid(SETTING, given, PATTERN_FORM))?;
            if patterns.contains(&pattern) {
                return Err(ConfigError::duplicate(
                    SETTING,
                    given,
                    "each host pattern once",
                ));
            }
            patterns.push(pattern);
        }

        // The exact `Host` values that pass: a name pattern as written, lowercase, with its
        // port if it names one.
        let exact = patterns
            .iter()
            .filter_map(|pattern| match &pattern.host {
                PatternHost::Name(name) => Some(match pattern.port {
                    Some(port) => format!("{name}:{port}").into_bytes().into_boxed_slice(),
                    None => name.as_bytes().into(),
                }),
                _ => None,
            })
            .collect();
        Ok(CompiledHosts {
            patterns: patterns.into_boxed_slice(),
            exact,
        })
    }
}

/// The validated form of [`AllowedHosts`]: nothing left to parse, and nothing allocated per
/// request.
#[derive(Clone, Debug)]
pub(crate) struct CompiledHosts {
    /// Empty when any well-formed host is allowed.
    patterns: Box<[Pattern]>,
    /// `Host` values that name an allowed host exactly, as browsers send them: one of these
    /// is allowed without parsing.
    exact: Box<[Box<[u8]>]>,
}

impl CompiledHosts {
    /// The control's summary for [`SecurityLayer::controls`](crate::SecurityLayer::controls).
    pub(crate) fn describe(&self) -> String {
        if self.patterns.is_empty() {
            return String::from("any well-formed host (no allow-list)");
        }
        let noun = if self.patterns.len() == 1 {
            "pattern"
        } else {
            "patterns"
        };
        let list: Vec<String> = self.patterns.iter().map(Pattern::to_string).collect();
        format!("{} host {noun}: {}", self.patterns.len(), list.join(", "))
    }

    /// Validates the request's host and matches it against the list; on success, returns
    /// the host as sent, from `Host` if present, else from the URI's authority.
    pub(crate) fn check<'a, B>(&self, request: &'a Request<B>) -> Result<&'a str, HostRefusal> {
        let uri = request.uri();
        let default = default_port(uri);
        let mut values = request.headers().get_all(HOST).iter();
        let (sent, host) = match (values.next(), values.next()) {
            // RFC 9112 §3.2: a request with more than one `Host` gets a 400; which one a
            // proxy or the application would read is anybody's guess.
            (Some(_), Some(_)) => return Err(HostRefusal::new(DUPLICATE)),
            // An empty `Host` is meant for a target URI without an authority (RFC 9112
            // §3.2), which names no host this service could answer for.
            (Some(value), None) if value.is_empty() => return Err(HostRefusal::new(EMPTY)),
            // The common case: an origin-form target, and the `Host` of an allowed name,
            // which was validated when the layer was built.
            (Some(value), None)
                if uri.authority().is_none()
                    && self.exact.iter().any(|exact| **exact == *value.as_bytes()) =>
            {
                // The bytes equal a validated ASCII name, so this cannot fail.
                return value.to_str().map_err(|_| HostRefusal::new(MALFORMED));
            }
            (Some(value), None) => {
                // `to_str` refuses bytes outside printable ASCII, which no host contains.
                let sent = value.to_str().map_err(|_| HostRefusal::new(MALFORMED))?;
                let host = HostPort::parse(sent.as_bytes()).ok_or(HostRefusal::new(MALFORMED))?;
                if let Some(authority) = uri.authority() {
                    // RFC 9112 §3.2.2 has a server ignore `Host` for an absolute-form target,
                    // and RFC 9113 §8.3.1 calls an HTTP/2 request whose `Host` and
                    // `:authority` differ malformed. A component in front of us may have read
                    // the other one, so a disagreement is refused rather than resolved.
                    let authority = HostPort::parse(authority.as_str().as_bytes())
                        .ok_or(HostRefusal::new(MALFORMED))?;
                    if !host.agrees_with(&authority, default) {
                        return Err(HostRefusal::new(MISMATCH));
                    }
                }
                (sent, host)
            }
            (None, _) => {
                let authority = uri.authority().ok_or(HostRefusal::new(MISSING))?;
                let sent = authority.as_str();
                // The parser refuses `@`, so userinfo (RFC 3986 §3.2.1) is malformed here.
                let host = HostPort::parse(sent.as_bytes()).ok_or(HostRefusal::new(MALFORMED))?;
                (sent, host)
            }
        };

        let allowed = self.patterns.is_empty()
            || self
                .patterns
                .iter()
                .any(|pattern| pattern.matches(&host, default));
        if allowed {
            Ok(sent)
        } else {
            Err(HostRefusal::new(NOT_ALLOWED))
        }
    }
}

/// Why a request's host was refused; every refusal is a `400 Bad Request`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HostRefusal {
    /// The rule that refused the request, a stable name for logs and events.
    pub(crate) rule: &'static str,
}

impl HostRefusal {
    fn new(rule: &'static str) -> Self {
        Self { rule }
    }
}

/// The port a request without one names, when its URI gives the scheme (RFC 9110 §4.2).
fn default_port(uri: &Uri) -> Option<u16> {
    let scheme = uri.scheme_str()?;
    if scheme.eq_ignore_ascii_case("https") {
        Some(443)
    } else if scheme.eq_ignore_ascii_case("http") {
        Some(80)
    } else {
        None
    }
}

/// One entry of the allow-list, lowercase and without a trailing dot.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pattern {
    /// The name, name suffix or address matched.
    host: PatternHost,
    /// `None` matches any port.
    port: Option<u16>,
}

/// What a [`Pattern`] matches in place of the host.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PatternHost {
    /// Exactly this name.
    Name(Box<str>),
    /// Any name that ends in this suffix, which starts with `.`, and is longer than it.
    Below(Box<str>),
    /// This IPv4 address.
    V4(Ipv4Addr),
    /// This IPv6 address, however it is written.
    V6(Ipv6Addr),
}

impl Pattern {
    /// Parses a configured pattern, or returns `None` if it is not of a form `allow` accepts.
    fn parse(given: &str) -> Option<Self> {
        let (wildcard, rest) = match given.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, given),
        };
        let parsed = HostPort::parse(rest.as_bytes())?;
        let host = match parsed.host {
            Host::Name(name) => {
                // The name is ASCII: the parser admits nothing else.
                let name = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
                if wildcard {
                    PatternHost::Below(format!(".{name}").into_boxed_str())
                } else {
                    PatternHost::Name(name.into_boxed_str())
                }
            }
            // Addresses have no subdomains.
            _ if wildcard => return None,
            Host::V4(address) => PatternHost::V4(address),
            Host::V6(address) => PatternHost::V6(address),
        };
        Some(Self {
            host,
            port: parsed.port,
        })
    }

    /// Whether `target` is a host this pattern allows; `default` is the port a target without
    /// one names, if the request's scheme is known.
    fn matches(&self, target: &HostPort<'_>, default: Option<u16>) -> bool {
        let host_matches = match (&self.host, target.host) {
            (PatternHost::Name(name), Host::Name(sent)) => {
                sent.eq_ignore_ascii_case(name.as_bytes())
            }
            (PatternHost::Below(suffix), Host::Name(sent)) => sent
                .len()
                .checked_sub(suffix.len())
                .filter(|&start| start > 0)
                .and_then(|start| sent.get(start..))
                .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix.as_bytes())),
            (PatternHost::V4(ours), Host::V4(sent)) => *ours == sent,
            (PatternHost::V6(ours), Host::V6(sent)) => *ours == sent,
            _ => false,
        };
        let port_matches = match (self.port, target.port) {
            (None, _) => true,
            (Some(ours), Some(sent)) => ours == sent,
            (Some(ours), None) => match default {
                Some(default) => ours == default,
                // Origin form over HTTP/1.1: either default port; see `# Limitations`.
                None => ours == 80 || ours == 443,
            },
        };
        host_matches && port_matches
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            PatternHost::Name(name) => f.write_str(name)?,
            PatternHost::Below(suffix) => write!(f, "*{suffix}")?,
            PatternHost::V4(address) => write!(f, "{address}")?,
            PatternHost::V6(address) => write!(f, "[{address}]")?,
        }
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

/// `host [ ":" port ]`, the form of `Host` (RFC 9110 §7.2) and of a URI's authority without
/// userinfo (RFC 3986 §3.2).
#[derive(Clone, Copy, Debug)]
struct HostPort<'a> {
    /// The name or address.
    host: Host<'a>,
    /// The port, if one was given; never 0.
    port: Option<u16>,
}

/// The host part of a [`HostPort`].
#[derive(Clone, Copy, Debug)]
enum Host<'a> {
    /// A registered name without its trailing dot, in the case it was sent.
    Name(&'a [u8]),
    /// An address in dotted-decimal.
    V4(Ipv4Addr),
    /// An address in brackets.
    V6(Ipv6Addr),
}

impl<'a> HostPort<'a> {
    /// Parses `input`, or returns `None` if it is not a well-formed host with an optional
    /// port, as the module documentation defines one.
    fn parse(input: &'a [u8]) -> Option<Self> {
        let (host, rest) = match input.strip_prefix(b"[") {
            Some(literal) => {
                // RFC 3986 §3.2.2: an IPv6 address in brackets. `IPvFuture` and zone
                // identifiers (RFC 6874) fail the address parser, as they should.
                let end = literal.iter().position(|&b| b == b']')?;
                let (address, rest) = literal.split_at_checked(end)?;
                let address = std::str::from_utf8(address).ok()?.parse().ok()?;
                (Host::V6(address), rest.strip_prefix(b"]")?)
            }
            None => {
                let end = input.iter().position(|&b| b == b':').unwrap_or(input.len());
                let (name, rest) = input.split_at_checked(end)?;
                (Host::parse_name(name)?, rest)
            }
        };
        let port = match rest {
            [] => None,
            [b':', digits @ ..] => Some(parse_port(digits)?),
            _ => return None,
        };
        Some(Self { host, port })
    }

    /// Whether `self` (from `Host`) and `authority` (from the URI) name the same host and
    /// port, a missing port standing for `default`.
    fn agrees_with(&self, authority: &HostPort<'_>, default: Option<u16>) -> bool {
        let same_host = match (self.host, authority.host) {
            (Host::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
            (Host::V4(a), Host::V4(b)) => a == b,
            (Host::V6(a), Host::V6(b)) => a == b,
            _ => false,
        };
        same_host && self.port.or(default) == authority.port.or(default)
    }
}

impl<'a> Host<'a> {
    /// A name or an IPv4 address, or `None`.
    fn parse_name(name: &'a [u8]) -> Option<Self> {
        // A fully qualified name may end in a dot (RFC 1034 §3.1); it names the same host.
        let name = name.strip_suffix(b".").unwrap_or(name);
        let mut last = None;
        for label in name.split(|&b| b == b'.') {
            let label_ok = !label.is_empty()
                && label
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
            if !label_ok {
                return None;
            }
            last = Some(label);
        }

        // No top-level domain is numeric (RFC 3696 §2), and the WHATWG URL standard reads a
        // host whose last label is a decimal or `0x` number as an IPv4 address, in forms
        // such as `127.1` or `0x7f.0.0.1` that resolvers disagree on. Only the exact
        // dotted-decimal form is accepted; the parser refuses leading zeros too.
        if last.is_some_and(is_number) {
            let address = std::str::from_utf8(name).ok()?.parse().ok()?;
            return Some(Self::V4(address));
        }
        Some(Self::Name(name))
    }
}

/// Whether a label is a number to the WHATWG URL standard's IPv4 parser: decimal digits, or
/// `0x` followed by hexadecimal digits.
fn is_number(label: &[u8]) -> bool {
    let hex = label
        .strip_prefix(b"0x")
        .or_else(|| label.strip_prefix(b"0X"));
    match hex {
        Some(digits) => digits.iter().all(u8::is_ascii_hexdigit),
        None => label.iter().all(u8::is_ascii_digit),
    }
}

/// A decimal port from 1 to 65535 (RFC 3986 §3.2.3). An empty port, which RFC 3986 allows,
/// is refused rather than read as absent, and port 0 names no service.
fn parse_port(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() {
        return None;
    }
    let port = digits.iter().try_fold(0u16, |port, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        port.checked_mul(10)?.checked_add(u16::from(digit))
    })?;
    (port != 0).then_some(port)
}

#[cfg(test)]
mod tests;
