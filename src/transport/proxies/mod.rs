//! The client behind trusted reverse proxies: its address, and whether it used HTTPS.
//!
//! Behind a load balancer every connection comes from the balancer, which passes on what it
//! saw in `X-Forwarded-For`, `X-Forwarded-Proto` or `Forwarded` ([RFC 7239]). Any client can
//! send those headers too, so they are believed only when the connection comes from one of the
//! [`TrustedProxies`]; from any other peer they are removed before the application sees them,
//! so no handler, logger or rate limiter further in can be fooled by them.
//!
//! # How the client is found
//!
//! Each proxy appends the address it received the request from, so the chain is read from the
//! right ([RFC 7239 §5.2]). Starting at the peer (the direct connection), while the current
//! address is a trusted proxy, the walk steps one entry to the left:
//!
//! | `X-Forwarded-For` from peer `10.0.0.2` (`10.0.0.0/8` trusted) | client |
//! |---|---|
//! | `203.0.113.7` | `203.0.113.7` |
//! | `203.0.113.7, 10.0.0.9` | `203.0.113.7`: `10.0.0.9` is another trusted proxy |
//! | `6.6.6.6, 203.0.113.7` | `203.0.113.7`: the first untrusted hop; `6.6.6.6` was sent by it |
//! | `10.0.0.8, 10.0.0.9` | `10.0.0.8`: every hop is trusted, so the leftmost one |
//! | `203.0.113.7, unknown, 10.0.0.9` | `10.0.0.9`: a malformed entry stops the walk |
//! | none | `10.0.0.2`, the peer |
//!
//! The [`ClientInfo`] the walk produces goes into the request's extensions, for handlers:
//!
//! | source | read when |
//! |---|---|
//! | the peer: a [`PeerAddr`] extension, else a bare [`SocketAddr`] one | always |
//! | `X-Forwarded-For`, all fields in order, and `Forwarded: for=` | peer trusted |
//! | the rightmost `X-Forwarded-Proto`; the last `Forwarded` `proto=` | peer trusted; wins |
//! | the URI's scheme (absolute form, HTTP/2 `:scheme`) | always |
//!
//! An `X-Forwarded-For` entry is an IPv4 or IPv6 address, optionally with a port
//! (`192.0.2.7:5678`, `[2001:db8::1]:4711`), as some proxies write it; the port is dropped. A
//! `Forwarded` node is written as RFC 7239 §6 says (`for="[2001:db8::1]:4711"`); `unknown` and
//! obfuscated identifiers such as `_hidden` name no address and stop the walk. A forwarded
//! protocol counts only if it is `http` or `https`, in any case. IPv4-mapped IPv6 addresses
//! (`::ffff:10.0.0.1`) are read as the IPv4 address they carry, on the wire and in the list.
//!
//! When a request carries both `X-Forwarded-For` and `Forwarded`, the walk follows both and
//! stops at the first hop where they name different addresses; likewise a protocol on which the
//! two disagree is unknown. A proxy that manages one of the headers passes the other on as the
//! client sent it, so a disagreement means the client wrote one of them.
//!
//! # Example
//!
//! axum records the peer as `ConnectInfo<SocketAddr>` when served with
//! `into_make_service_with_connect_info::<SocketAddr>()`. With this crate's `axum` feature the
//! layer reads it directly. Without the feature, a small middleware outside the security layer
//! copies it:
//!
//! ```
//! use std::net::SocketAddr;
//!
//! use axum::body::Body;
//! use axum::extract::{ConnectInfo, Request};
//! use axum::middleware::{self, Next};
//! use axum::response::Response;
//! use axum::{routing::get, Extension, Router};
//! use tower::ServiceExt;
//! use tower_security::transport::proxies::{PeerAddr, TrustedProxies};
//!
//! /// Copies the address axum records per connection to where the security layer reads it.
//! async fn peer_addr(mut request: Request, next: Next) -> Response {
//!     if let Some(&ConnectInfo(addr)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
//!         request.extensions_mut().insert(PeerAddr(addr));
//!     }
//!     next.run(request).await
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The load balancers' subnets; never a range that ordinary clients share.
//! let proxies = TrustedProxies::new().trust("10.0.0.0/8").trust("fd00::/8");
//! # drop(proxies);
//! let app: Router = Router::new()
//!     .route("/", get(|Extension(peer): Extension<PeerAddr>| async move { peer.0.to_string() }))
//!     // Added last, so it runs first: layers added before it see `PeerAddr`.
//!     .layer(middleware::from_fn(peer_addr));
//!
//! // `axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())` inserts
//! // `ConnectInfo` into every request; here it is inserted by hand.
//! let mut request = Request::new(Body::empty());
//! request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 2], 40000))));
//! let response = app.oneshot(request).await?;
//!
//! let body = axum::body::to_bytes(response.into_body(), 64).await?;
//! assert_eq!(body, "10.0.0.2:40000");
//! # Ok(())
//! # }
//! ```
//!
//! A plain hyper server inserts [`PeerAddr`] in the service it builds for each connection, from
//! the address `accept` returned. tonic records the peer as its own `TcpConnectInfo`, which a
//! layer copies the same way.
//!
//! # Deployment caveat
//!
//! Trust only proxies that add the address they received the request from to the header this
//! layer reads (`X-Forwarded-For` or `Forwarded`), or overwrite it, on every request. A trusted
//! proxy that passes the client's header on unchanged lets the client choose its address. So
//! does any host inside a trusted network: trust the proxies' own subnet, never one shared with
//! other workloads. The edge proxy should likewise overwrite `X-Forwarded-Proto` rather than
//! append to it.
//!
//! # Limitations
//!
//! - The protocol is the one the nearest trusted proxy reports; behind several proxies, each
//!   must pass on the protocol the previous one reported.
//! - A `Forwarded` value that uses quoted-pair escapes (`"\1.2.3.4"`) is not decoded: it names
//!   no address or protocol, and stops the walk.
//! - An IPv6 address in `X-Forwarded-For` with a port must be in brackets: `2001:db8::1:80` is
//!   read as an address, as it is a valid one.
//! - `X-Real-IP`, `X-Forwarded-Host`, `X-Forwarded-Port` and `X-Forwarded-Prefix` are never
//!   read; they are only removed when the peer is not trusted.
//!
//! [RFC 7239]: https://www.rfc-editor.org/rfc/rfc7239
//! [RFC 7239 §5.2]: https://www.rfc-editor.org/rfc/rfc7239#section-5.2

use std::net::{IpAddr, SocketAddr};

use http::header::FORWARDED;
use http::{Extensions, HeaderMap, HeaderName, Request};

use self::network::Network;
use crate::ConfigError;

mod network;

/// The de facto standard for the address chain; `http` has no constant for it.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// The de facto standard for the scheme a proxy received.
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Every header through which a client could claim another address, scheme or host; removed
/// unless the peer is trusted.
const FORWARDING_HEADERS: [HeaderName; 7] = [
    FORWARDED,
    X_FORWARDED_FOR,
    X_FORWARDED_PROTO,
    HeaderName::from_static("x-forwarded-host"),
    HeaderName::from_static("x-real-ip"),
    HeaderName::from_static("x-forwarded-port"),
    HeaderName::from_static("x-forwarded-prefix"),
];

/// The setting's name in configuration errors.
const SETTING: &str = "trusted_proxies";

/// The address of the peer at the other end of the connection, for servers that do not record
/// it in a form this crate reads.
///
/// Insert it into each request's extensions before the security layer sees the request; the
/// [module documentation](self) shows how with axum. A bare [`SocketAddr`] extension is read
/// too; when both are present, this one wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);

/// What the layer learned about the client, put into the request's extensions for handlers.
///
/// A handler reads it as any extension, such as axum's `Extension<ClientInfo>`; the
/// [module documentation](self) explains how each field is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ClientInfo {
    /// The client's address: the peer, or the first untrusted hop of a trusted proxy chain.
    /// `None` without a peer address. An IPv4-mapped IPv6 address is given as IPv4.
    pub addr: Option<IpAddr>,
    /// The peer (the direct connection), if known, as the server recorded it.
    pub peer: Option<SocketAddr>,
    /// `Some(true)` when the request arrived over HTTPS (URI scheme, or trusted proxy),
    /// `Some(false)` for http, `None` when unknown.
    pub https: Option<bool>,
    /// Whether the peer is a trusted proxy.
    pub via_trusted_proxy: bool,
}

/// The proxies whose forwarded headers are believed, checked when the layer is built.
///
/// Without entries, nobody is trusted: every request's forwarded headers are removed, and the
/// client is the peer.
///
/// # What is refused
///
/// Building the layer returns a [`ConfigError`] for:
///
/// - an entry that is not an IP address, optionally followed by `/` and a prefix length of at
///   most 32 (IPv4) or 128 (IPv6); host names, zone indices and spaces included;
/// - a network with bits set after its prefix, such as `10.0.0.1/8`: did it mean the host or
///   the network?
/// - a network that holds every IPv4 or every IPv6 address (`0.0.0.0/0`, `::/0`,
///   `::ffff:0:0/96`), which would let any client forge its address;
/// - a network given twice, in any spelling (`10.0.0.1` and `10.0.0.1/32`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<String>,
}

impl TrustedProxies {
    /// A list that trusts nobody.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts the peers in `cidr`: a single address (`192.168.1.7`, `::1`) or a network in CIDR
    /// notation (`10.0.0.0/8`, `fd00::/8`).
    pub fn trust(mut self, cidr: impl Into<String>) -> Self {
        self.networks.push(cidr.into());
        self
    }

    /// Validates the entries and puts them in the form [`CompiledProxies::resolve`] reads.
    pub(crate) fn compile(&self) -> Result<CompiledProxies, ConfigError> {
        let mut networks: Vec<Network> = Vec::with_capacity(self.networks.len());
        for entry in &self.networks {
            let network = Network::parse(entry)?;
            if networks.contains(&network) {
                return Err(ConfigError::duplicate(SETTING, entry, "each network once"));
            }
            networks.push(network);
        }
        Ok(CompiledProxies {
            networks: networks.into_boxed_slice(),
        })
    }
}

/// The validated form of [`TrustedProxies`].
#[derive(Clone, Debug)]
pub(crate) struct CompiledProxies {
    networks: Box<[Network]>,
}

/// The outcome of [`CompiledProxies::resolve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// What is known about the client; the caller puts it into the request's extensions.
    pub(crate) client: ClientInfo,
    /// Whether forwarded headers from an untrusted peer were removed.
    pub(crate) stripped: bool,
}

impl CompiledProxies {
    /// The control's summary for [`SecurityLayer::controls`](crate::SecurityLayer::controls).
    pub(crate) fn describe(&self) -> String {
        if self.networks.is_empty() {
            return "no trusted proxies: forwarded headers removed from every request".to_owned();
        }
        let networks: Vec<String> = self.networks.iter().map(Network::to_string).collect();
        format!(
            "client address and scheme from forwarded headers sent by {}; \
             those headers removed from other peers",
            networks.join(", ")
        )
    }

    /// Resolves the client and strips untrusted forwarded headers. Allocation-free when the
    /// request carries no forwarded headers.
    pub(crate) fn resolve<B>(&self, request: &mut Request<B>) -> Resolved {
        let peer = peer_addr(request.extensions());
        let peer_ip = peer.map(|peer| peer.ip().to_canonical());
        // RFC 9110 §4.2: the scheme is part of the target URI, which a server reconstructs
        // from the request line, or from `:scheme` in HTTP/2 (RFC 9113 §8.3.1).
        let uri_https = request.uri().scheme_str().and_then(https_from_scheme);

        let Some(peer_ip) = peer_ip.filter(|&ip| self.trusts(ip)) else {
            let stripped = strip_forwarding_headers(request.headers_mut());
            let client = ClientInfo {
                addr: peer_ip,
                peer,
                https: uri_https,
                via_trusted_proxy: false,
            };
            return Resolved { client, stripped };
        };

        let headers = request.headers();
        // Collecting nothing allocates nothing: a request without `Forwarded` costs no heap.
        let elements: Vec<Element> = headers
            .get_all(FORWARDED)
            .iter()
            .flat_map(|value| split_unquoted(value.as_bytes(), b','))
            .map(trim_ows)
            .filter(|element| !element.is_empty())
            .map(Element::parse)
            .collect();
        let client = ClientInfo {
            addr: Some(self.client_behind(peer_ip, headers, &elements)),
            peer,
            // The proxy saw the client's side of the exchange; the URI this service received
            // (an h2c `:scheme`, say) only describes the proxy's hop.
            https: forwarded_https(headers, &elements).or(uri_https),
            via_trusted_proxy: true,
        };
        Resolved {
            client,
            stripped: false,
        }
    }

    /// Walks the forwarded chain from the trusted `peer` leftwards while the current hop is
    /// trusted; `elements` are the `Forwarded` header's.
    fn client_behind(&self, peer: IpAddr, headers: &HeaderMap, elements: &[Element]) -> IpAddr {
        let mut from_xff = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .rev()
            .flat_map(|value| value.as_bytes().rsplit(|&b| b == b','))
            .map(trim_ows)
            // RFC 9110 §5.6.1.2: empty list elements are ignored.
            .filter(|entry| !entry.is_empty())
            .map(parse_node);
        let mut from_forwarded = elements.iter().rev().map(|element| element.node);

        let mut client = peer;
        while self.trusts(client) {
            let hop = match (from_xff.next(), from_forwarded.next()) {
                (None, None) => break,
                (Some(hop), None) | (None, Some(hop)) => hop,
                (Some(xff), Some(forwarded)) if xff == forwarded => xff,
                // The proxy maintains one header and passes the other on as the client wrote
                // it; which one is which cannot be told, so neither is followed further.
                (Some(_), Some(_)) => break,
            };
            let Some(hop) = hop else {
                break;
            };
            client = hop;
        }
        client
    }

    /// Whether `ip`, in canonical form, is in a trusted network.
    fn trusts(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|network| network.contains(ip))
    }
}

/// The peer's address: [`PeerAddr`], else a bare [`SocketAddr`].
fn peer_addr(extensions: &Extensions) -> Option<SocketAddr> {
    let peer = extensions
        .get::<PeerAddr>()
        .map(|peer| peer.0)
        .or_else(|| extensions.get::<SocketAddr>().copied());
    #[cfg(feature = "axum")]
    let peer = peer.or_else(|| {
        extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|info| info.0)
    });
    peer
}

/// Removes every forwarding header; reports whether there was any.
fn strip_forwarding_headers(headers: &mut HeaderMap) -> bool {
    // One pass over the names the client sent, compared without hashing, is cheaper than a
    // lookup of each forwarding name; the lookups only run when one is there.
    // Every forwarding name is `forwarded` or starts with `x-`: the prefix rules out nearly
    // every name a browser sends before any full comparison.
    let is_forwarding = |name: &HeaderName| {
        let name_str = name.as_str();
        (name_str.starts_with("x-") || name_str == "forwarded") && FORWARDING_HEADERS.contains(name)
    };
    if !headers.keys().any(is_forwarding) {
        return false;
    }
    for name in &FORWARDING_HEADERS {
        // `remove` drops every field of that name.
        headers.remove(name);
    }
    true
}

/// The protocol the nearest trusted proxy reports: the rightmost `X-Forwarded-Proto` entry and
/// the last `Forwarded` element's `proto=`, unknown if either is unusable or they disagree.
fn forwarded_https(headers: &HeaderMap, elements: &[Element]) -> Option<bool> {
    let from_xfp = headers
        .get_all(X_FORWARDED_PROTO)
        .iter()
        .rev()
        .flat_map(|value| value.as_bytes().rsplit(|&b| b == b','))
        .map(trim_ows)
        .find(|entry| !entry.is_empty())
        .map(https_from_proto);
    // Only the last element: an earlier one may come from the client, and a proxy that adds
    // an element without `proto=` reports no protocol.
    let from_forwarded = elements
        .last()
        .and_then(|element| element.proto)
        .map(https_from_proto);
    match (from_xfp, from_forwarded) {
        (Some(xfp), Some(forwarded)) if xfp != forwarded => None,
        (Some(https), _) | (None, Some(https)) => https,
        (None, None) => None,
    }
}

/// Whether a URI scheme is `https`, `http`, or neither.
fn https_from_scheme(scheme: &str) -> Option<bool> {
    https_from_proto(scheme.as_bytes())
}

/// `https` or `http`, in any case (RFC 3986 §3.1); anything else is not understood.
fn https_from_proto(proto: &[u8]) -> Option<bool> {
    if proto.eq_ignore_ascii_case(b"https") {
        Some(true)
    } else if proto.eq_ignore_ascii_case(b"http") {
        Some(false)
    } else {
        None
    }
}

/// What the walk needs from one `forwarded-element` (RFC 7239 §4).
#[derive(Clone, Copy, Debug, Default)]
struct Element<'a> {
    /// The `for=` address; `None` if absent, `unknown`, obfuscated or malformed.
    node: Option<IpAddr>,
    /// The raw `proto=` value.
    proto: Option<&'a [u8]>,
}

impl<'a> Element<'a> {
    /// Reads an element; a malformed one yields neither address nor protocol.
    fn parse(element: &'a [u8]) -> Self {
        Self::parse_pairs(element).unwrap_or_default()
    }

    /// `forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )`, where
    /// `forwarded-pair = token "=" value` and `value = token / quoted-string`.
    fn parse_pairs(element: &'a [u8]) -> Option<Self> {
        let mut node = None;
        let mut proto = None;
        for pair in split_unquoted(element, b';').map(trim_ows) {
            if pair.is_empty() {
                continue;
            }
            let equals = pair.iter().position(|&b| b == b'=')?;
            let (name, value) = pair.split_at_checked(equals)?;
            let value = unquote(value.get(1..)?)?;
            if name.is_empty() || !name.iter().copied().all(is_tchar) {
                return None;
            }
            // §4: "Each parameter MUST NOT occur more than once per forwarded-element."
            let slot = if name.eq_ignore_ascii_case(b"for") {
                &mut node
            } else if name.eq_ignore_ascii_case(b"proto") {
                &mut proto
            } else {
                continue;
            };
            if slot.replace(value).is_some() {
                return None;
            }
        }
        Some(Self {
            node: node.and_then(parse_node),
            proto,
        })
    }
}

/// The content of a token or quoted-string (RFC 9110 §5.6.2, §5.6.4), escapes left in place.
fn unquote(value: &[u8]) -> Option<&[u8]> {
    let Some(quoted) = value.strip_prefix(b"\"") else {
        let token_ok = !value.is_empty() && value.iter().copied().all(is_tchar);
        return token_ok.then_some(value);
    };
    let inner = quoted.strip_suffix(b"\"")?;
    let mut escaped = false;
    for &b in inner {
        let allowed = b == b'\t' || b == b' ' || b.is_ascii_graphic() || b >= 0x80;
        if !allowed || (!escaped && b == b'"') {
            return None;
        }
        escaped = !escaped && b == b'\\';
    }
    // A trailing backslash would have escaped the closing quote.
    (!escaped).then_some(inner)
}

/// RFC 9110 §5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Splits `input` at each `separator` outside a quoted-string. An unterminated quote runs to
/// the end, so the last piece is then malformed and refused by [`unquote`].
fn split_unquoted(input: &[u8], separator: u8) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(input);
    std::iter::from_fn(move || {
        let current = rest?;
        let mut quoted = false;
        let mut escaped = false;
        let end = current.iter().position(|&b| {
            if escaped {
                escaped = false;
            } else if quoted && b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                quoted = !quoted;
            } else {
                return !quoted && b == separator;
            }
            false
        });
        match end.and_then(|end| current.split_at_checked(end)) {
            Some((piece, tail)) => {
                rest = tail.get(1..);
                Some(piece)
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// Drops optional whitespace (RFC 9110 §5.6.3) from both ends.
fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |end| end + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// An address, with an optional port, in canonical form: `192.0.2.7`, `192.0.2.7:80`,
/// `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:80`, where a `Forwarded` port may also be
/// obfuscated (RFC 7239 §6). Anything else, `unknown` included, is `None`.
fn parse_node(node: &[u8]) -> Option<IpAddr> {
    let node = std::str::from_utf8(node).ok()?;
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let (ip, port) = match node.strip_prefix('[') {
        Some(bracketed) => {
            let (ip, rest) = bracketed.split_once(']')?;
            let port = if rest.is_empty() {
                None
            } else {
                Some(rest.strip_prefix(':')?)
            };
            (IpAddr::V6(ip.parse().ok()?), port)
        }
        None => {
            let (ip, port) = node.split_once(':')?;
            (IpAddr::V4(ip.parse().ok()?), Some(port))
        }
    };
    port.is_none_or(is_node_port).then(|| ip.to_canonical())
}

/// `node-port = port / obfport` (RFC 7239 §6.1, §6.3).
fn is_node_port(port: &str) -> bool {
    match port.strip_prefix('_') {
        Some(obfuscated) => {
            !obfuscated.is_empty()
                && obfuscated
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        None => port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok(),
    }
}

#[cfg(test)]
mod tests;
