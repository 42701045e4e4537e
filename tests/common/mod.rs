//! What the integration tests expect of `SecurityLayer::strict()`'s headers, in one place.
// Each integration test is its own crate and uses only some of these items.
#![allow(dead_code)]

/// Captured `tracing` events, for the tests of the layer's security events.
pub mod cookies;
pub mod events;
pub mod heap;

/// What the layer knows of a request's transport, which decides whether the HTTPS-only
/// headers (HSTS and the CSP's `upgrade-insecure-requests`) are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// HTTPS, or nothing tells (an HTTP/1.1 request in origin form): the layer takes it as
    /// HTTPS and sends the HTTPS-only headers.
    HttpsOrUnknown,
    /// Known to be plain HTTP, such as h2c, whose `:scheme` is `http`: neither is sent.
    PlainHttp,
}

/// `Strict-Transport-Security` as `strict()` sends it, on responses not known to be plain
/// HTTP (RFC 6797 §7.2).
pub const HSTS: (&str, &str) = (
    "strict-transport-security",
    "max-age=63072000; includeSubDomains",
);

/// The headers `strict()` adds with a fixed value whatever the transport (the CSP, which
/// carries a nonce, `Permissions-Policy` and `Cache-Control`, which depends on the response,
/// are checked apart, and so is [`HSTS`]).
pub const TRANSPORT_NEUTRAL_HEADERS: &[(&str, &str)] = &[
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("cross-origin-embedder-policy", "require-corp"),
    ("origin-agent-cluster", "?1"),
    ("x-dns-prefetch-control", "off"),
    ("x-permitted-cross-domain-policies", "none"),
    ("x-xss-protection", "0"),
];

/// The headers `strict()` adds with a fixed value to a response over `transport`, each with
/// the value it must have, or `None` where it must be absent.
pub fn fixed_headers(transport: Transport) -> Vec<(&'static str, Option<&'static str>)> {
    let hsts = match transport {
        Transport::HttpsOrUnknown => Some(HSTS.1),
        Transport::PlainHttp => None,
    };
    let neutral = TRANSPORT_NEUTRAL_HEADERS
        .iter()
        .map(|&(name, value)| (name, Some(value)));

    std::iter::once((HSTS.0, hsts)).chain(neutral).collect()
}

/// The `Permissions-Policy` value `strict()` sends.
pub const STRICT_PERMISSIONS: &str = "accelerometer=(), autoplay=(), browsing-topics=(), \
    camera=(), clipboard-read=(), clipboard-write=(), cross-origin-isolated=(), \
    display-capture=(), encrypted-media=(), fullscreen=(), gamepad=(), geolocation=(), \
    gyroscope=(), hid=(), idle-detection=(), interest-cohort=(), keyboard-map=(), \
    magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), \
    publickey-credentials-get=(), screen-wake-lock=(), serial=(), sync-xhr=(self), unload=(), \
    usb=(), web-share=(), xr-spatial-tracking=()";

/// The strict `Content-Security-Policy` value for `nonce` on a response not known to be
/// plain HTTP.
pub fn strict_csp(nonce: &str) -> String {
    strict_csp_for(nonce, Transport::HttpsOrUnknown)
}

/// The strict `Content-Security-Policy` value for `nonce` over `transport`: a plain-HTTP page
/// gets no `upgrade-insecure-requests`, which would send its subresources to `https://`.
pub fn strict_csp_for(nonce: &str, transport: Transport) -> String {
    let upgrade = match transport {
        Transport::HttpsOrUnknown => "; upgrade-insecure-requests",
        Transport::PlainHttp => "",
    };
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic'; \
         style-src 'self' 'nonce-{nonce}'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'{upgrade}"
    )
}

/// The nonce `csp` names if `csp` is exactly `strict_csp(nonce)` for a nonce of 16 bytes in
/// canonical padded standard base64 (24 characters ending in `==`); `None` otherwise.
pub fn csp_nonce(csp: &str) -> Option<&str> {
    csp_nonce_for(csp, Transport::HttpsOrUnknown)
}

/// The nonce `csp` names if `csp` is exactly `strict_csp_for(nonce, transport)`, as
/// [`csp_nonce`] checks it; `None` otherwise.
pub fn csp_nonce_for(csp: &str, transport: Transport) -> Option<&str> {
    let rest = csp.strip_prefix("default-src 'self'; script-src 'nonce-")?;
    let nonce = &rest[..rest.find('\'')?];
    (is_base64_nonce(nonce) && csp == strict_csp_for(nonce, transport)).then_some(nonce)
}

/// Whether `nonce` is 16 bytes in canonical padded standard base64: 21 alphabet characters,
/// one whose low four bits are zero (`A`, `Q`, `g` or `w`), then `==`.
fn is_base64_nonce(nonce: &str) -> bool {
    let alphabet = |b: &u8| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/';
    let bytes = nonce.as_bytes();
    bytes.len() == 24
        && bytes[..21].iter().all(alphabet)
        && b"AQgw".contains(&bytes[21])
        && bytes[22..] == *b"=="
}

/// Whether `id` has the form of a request id the layer generated: 128 bits in 32 lowercase
/// hexadecimal digits.
pub fn is_generated_request_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
