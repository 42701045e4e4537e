//! What the integration tests expect of `SecurityLayer::strict()`'s headers, in one place.
// Each integration test is its own crate and uses only some of these items.
#![allow(dead_code)]

/// Captured `tracing` events, for the tests of the layer's security events.
pub mod events;

/// The headers `strict()` adds with a fixed value (the CSP, which carries a nonce,
/// `Permissions-Policy` and `Cache-Control`, which depends on the response, are checked apart).
pub const FIXED_HEADERS: &[(&str, &str)] = &[
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains",
    ),
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

/// The `Permissions-Policy` value `strict()` sends.
pub const STRICT_PERMISSIONS: &str = "accelerometer=(), autoplay=(), browsing-topics=(), \
    camera=(), clipboard-read=(), clipboard-write=(), cross-origin-isolated=(), \
    display-capture=(), encrypted-media=(), fullscreen=(), gamepad=(), geolocation=(), \
    gyroscope=(), hid=(), idle-detection=(), interest-cohort=(), keyboard-map=(), \
    magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), \
    publickey-credentials-get=(), screen-wake-lock=(), serial=(), sync-xhr=(self), unload=(), \
    usb=(), web-share=(), xr-spatial-tracking=()";

/// The strict `Content-Security-Policy` value for `nonce`.
pub fn strict_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic'; \
         style-src 'self' 'nonce-{nonce}'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'; upgrade-insecure-requests"
    )
}

/// The nonce `csp` names if `csp` is exactly `strict_csp(nonce)` for a nonce of 16 bytes in
/// canonical padded standard base64 (24 characters ending in `==`); `None` otherwise.
pub fn csp_nonce(csp: &str) -> Option<&str> {
    let rest = csp.strip_prefix("default-src 'self'; script-src 'nonce-")?;
    let nonce = &rest[..rest.find('\'')?];
    (is_base64_nonce(nonce) && csp == strict_csp(nonce)).then_some(nonce)
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
