//! Fuzz target `target_and_host`: arbitrary request-target bytes and `Host` fields through
//! `SecurityLayer::strict()`'s request guards.
//!
//! Checked on every run, against the rules the guards document rather than their code:
//!
//! - no panic;
//! - a request the application sees has a path that, percent-decoded once, is UTF-8 with no
//!   `.` or `..` segment (nor one before a `;`), no `\`, no control character (C1 included)
//!   and no line separator or bidirectional control; a query without encoded control
//!   characters; a target and a query within their length limits;
//! - it names its host once, well formed, from `Host` or the URI's authority, and where both
//!   are present they agree;
//! - a refusal is `400` or `414` for the target, `400` for the host and `403` for plain HTTP
//!   (the preset has nowhere to redirect to), with the generic body and one security event;
//! - every log record is one line without control characters.

#![no_main]

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::rc::Rc;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use arbitrary::Arbitrary;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::Empty;
use libfuzzer_sys::fuzz_target;
use tower_layer::Layer;
use tower_security::{Refused, RequestBody, SecurityLayer};
use tower_security_fuzz::{check_response_headers, drive, logs};
use tower_service::Service;

/// The longest target `strict()` accepts.
const MAX_TARGET: usize = 8 << 10;
/// The longest query `strict()` accepts.
const MAX_QUERY: usize = 4 << 10;

/// One fuzz input.
#[derive(Arbitrary, Debug)]
struct Spec {
    /// The request-target bytes; an input `http` refuses as a URI is skipped.
    target: Vec<u8>,
    /// Where `pad_len` bytes of `a` go into the target, so that inputs far shorter than the
    /// length limits can cross them.
    pad_at: u16,
    /// See `pad_at`.
    pad_len: u16,
    /// The `Host` fields, none to several.
    hosts: Vec<Vec<u8>>,
    /// Which of [`METHODS`], modulo their number.
    method: u8,
}

/// The methods tried: those `strict()` allows without a body, `OPTIONS` for `*`.
const METHODS: [Method; 3] = [Method::GET, Method::HEAD, Method::OPTIONS];

/// `SecurityLayer::strict()`, built once.
fn layer() -> &'static SecurityLayer {
    static LAYER: OnceLock<SecurityLayer> = OnceLock::new();
    LAYER.get_or_init(SecurityLayer::strict)
}

fuzz_target!(
    init: tower_security_fuzz::init(),
    |spec: Spec| run(spec)
);

/// One run: the request through the layer, then every check.
fn run(spec: Spec) {
    let mut target = spec.target;
    let at = usize::from(spec.pad_at).min(target.len());
    target.splice(at..at, std::iter::repeat_n(b'a', usize::from(spec.pad_len)));
    let Ok(uri) = Uri::from_maybe_shared(Bytes::from(target)) else {
        return;
    };
    let mut request = Request::new(Empty::<Bytes>::new());
    *request.method_mut() = METHODS[usize::from(spec.method) % METHODS.len()].clone();
    *request.uri_mut() = uri;
    for host in spec.hosts.iter().take(4) {
        if let Ok(value) = HeaderValue::from_bytes(host) {
            request.headers_mut().append(header::HOST, value);
        }
    }
    let seen = Rc::new(RefCell::new(None));
    let mut service = layer().layer(Recorder {
        seen: Rc::clone(&seen),
    });

    let log = logs::Run::start();
    let future = service.call(request);
    let response = drive::block_on(future).expect("the layer's future never fails");
    let (parts, body) = response.into_parts();
    let collected = drive::collect(body);
    let captured = log.finish();

    check_response_headers(&parts.headers);
    let seen = seen.borrow();
    let Some(accepted) = seen.as_ref() else {
        let refused = parts.extensions.get::<Refused>().copied();
        let (statuses, event): (&[u16], &str) = match refused {
            Some(Refused::Target) => (&[400, 414], "path_refused"),
            Some(Refused::Host) => (&[400], "host_refused"),
            Some(Refused::PlainHttp) => (&[403], "https_required"),
            other => panic!("a refusal for another reason: {other:?}, {}", parts.status),
        };
        assert!(
            statuses.contains(&parts.status.as_u16()),
            "{refused:?} refused with {}",
            parts.status
        );
        assert_eq!(captured.count(event), 1, "one {event} event per refusal");
        check_generic_body(parts.status, &parts.headers, &collected.data);
        return;
    };
    assert_eq!(
        parts.status,
        StatusCode::OK,
        "an accepted request answered by the app"
    );
    check_target(&accepted.uri);
    check_host(&accepted.uri, &accepted.hosts);
}

/// What the application saw of an accepted request.
struct Seen {
    /// The request URI.
    uri: Uri,
    /// Every `Host` field.
    hosts: Vec<HeaderValue>,
}

/// The application: records the request and answers `200`.
struct Recorder {
    /// Where to record the request.
    seen: Rc<RefCell<Option<Seen>>>,
}

impl Service<Request<RequestBody<Empty<Bytes>>>> for Recorder {
    type Response = Response<Empty<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Empty<Bytes>>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<RequestBody<Empty<Bytes>>>) -> Self::Future {
        *self.seen.borrow_mut() = Some(Seen {
            uri: request.uri().clone(),
            hosts: request
                .headers()
                .get_all(header::HOST)
                .iter()
                .cloned()
                .collect(),
        });
        ready(Ok(Response::new(Empty::new())))
    }
}

/// Checks a refusal's body: the status's reason phrase and nothing else, as plain text.
fn check_generic_body(status: StatusCode, headers: &http::HeaderMap, body: &[u8]) {
    let reason = status
        .canonical_reason()
        .expect("a refusal status has a reason");
    assert_eq!(
        body,
        format!("{reason}\n").as_bytes(),
        "a refusal's body is not the generic one"
    );
    assert_eq!(
        headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes),
        Some(&b"text/plain; charset=utf-8"[..])
    );
}

/// Checks an accepted target against the firewall's documented rules.
fn check_target(uri: &Uri) {
    let target_len = uri.to_string().len();
    assert!(
        target_len <= MAX_TARGET,
        "a target of {target_len} bytes got through"
    );
    let path = uri.path();
    let decoded = decode_once(path.as_bytes());
    let shown = String::from_utf8_lossy(&decoded);
    let Ok(text) = std::str::from_utf8(&decoded) else {
        panic!("a path that is not UTF-8 once decoded got through: {path:?}");
    };
    for segment in text.split('/') {
        // A servlet container reads a segment only up to its `;`.
        let before_parameter = segment.split(';').next().unwrap_or_default();
        for part in [segment, before_parameter] {
            assert!(
                part != "." && part != "..",
                "a dot segment got through: {path:?} decodes to {shown:?}"
            );
        }
    }
    let forbidden = |c: char| {
        c.is_control()
            || c == '\\'
            || matches!(
                c,
                '\u{061C}'
                    | '\u{200E}'
                    | '\u{200F}'
                    | '\u{2028}'
                    | '\u{2029}'
                    | '\u{202A}'..='\u{202E}'
                    | '\u{2066}'..='\u{2069}'
            )
    };
    assert!(
        !text.chars().any(forbidden),
        "a control character, backslash or separator got through: {path:?} decodes to {shown:?}"
    );
    if let Some(query) = uri.query() {
        assert!(
            query.len() <= MAX_QUERY,
            "a query of {} bytes got through",
            query.len()
        );
        let decoded = decode_once(query.as_bytes());
        assert!(
            !decoded.iter().any(|&b| b < 0x20 || b == 0x7f),
            "an encoded control character in the query got through: {query:?}"
        );
    }
}

/// Percent-decodes `bytes` once; a `%` without two hex digits after it stays as it is.
fn decode_once(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = match bytes[i..] {
            [b'%', high, low, ..] => hex(high).zip(hex(low)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match escape {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// A host as the guard's documentation defines it, normalised for comparison.
#[derive(Debug, PartialEq, Eq)]
enum Host {
    /// A name, lowercase, without its trailing dot.
    Name(String),
    /// A dotted-decimal IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address in brackets.
    V6(Ipv6Addr),
}

/// Checks that an accepted request names one well-formed host, and that `Host` and the URI's
/// authority agree where both are present.
fn check_host(uri: &Uri, hosts: &[HeaderValue]) {
    assert!(
        hosts.len() <= 1,
        "a request with {} Host fields got through",
        hosts.len()
    );
    let default = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("http") => Some(80),
        Some("https") => Some(443),
        _ => None,
    };
    let authority = uri.authority().map(|authority| {
        let text = authority.as_str();
        parse_host_port(text.as_bytes())
            .unwrap_or_else(|| panic!("a malformed URI authority got through: {text:?}"))
    });
    let Some(host) = hosts.first() else {
        assert!(authority.is_some(), "a request without a host got through");
        return;
    };
    let header = parse_host_port(host.as_bytes())
        .unwrap_or_else(|| panic!("a malformed Host got through: {host:?}"));
    if let Some((host, port)) = authority {
        assert!(
            header.0 == host && header.1.or(default) == port.or(default),
            "Host {header:?} and authority {:?} disagree but got through",
            (host, port)
        );
    }
}

/// `host [":" port]` with a port from 1 to 65535, or `None`.
fn parse_host_port(bytes: &[u8]) -> Option<(Host, Option<u16>)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (host, rest) = match text.strip_prefix('[') {
        Some(literal) => {
            let (address, rest) = literal.split_once(']')?;
            (Host::V6(address.parse().ok()?), rest)
        }
        None => {
            let (name, rest) = text.split_at(text.find(':').unwrap_or(text.len()));
            (parse_name(name)?, rest)
        }
    };
    let port = match rest.strip_prefix(':') {
        None if rest.is_empty() => None,
        None => return None,
        Some(digits) => {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let value = digits.trim_start_matches('0');
            let port: u16 = if value.is_empty() {
                0
            } else {
                value.parse().ok()?
            };
            if port == 0 {
                return None;
            }
            Some(port)
        }
    };
    Some((host, port))
}

/// A name of dot-separated labels of letters, digits, `-` and `_`, with an optional trailing
/// dot; a name whose last label is a number must be a dotted-decimal IPv4 address.
fn parse_name(name: &str) -> Option<Host> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !labels.iter().all(label_ok) {
        return None;
    }
    let last = labels.last()?;
    let hex = last.strip_prefix("0x").or_else(|| last.strip_prefix("0X"));
    let numeric = match hex {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_hexdigit()),
        None => last.bytes().all(|b| b.is_ascii_digit()),
    };
    if numeric {
        return name.parse().ok().map(Host::V4);
    }
    Some(Host::Name(name.to_ascii_lowercase()))
}
