//! The per-request CSP nonce handed to handlers.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::Rng as _;

/// Bytes of randomness in a nonce: 128 bits, as CSP Level 3 §7.6 asks of a nonce
/// ("at least 128 bits long ... generated via a cryptographically secure random number
/// generator").
const NONCE_BYTES: usize = 16;
/// Length of 16 bytes in padded base64.
const ENCODED_LEN: usize = 24;

/// The Content-Security-Policy nonce of the current request.
///
/// When the policy's CSP uses [`ContentSecurityPolicy::NONCE`], the layer draws 128 fresh bits
/// for every request from a ChaCha12 generator seeded by the operating system (the thread-local
/// generator of the `rand` crate, reseeded every 64 KiB), puts the base64 form into the
/// request's extensions as a `CspNonce`, and sends the same value in the response's CSP. A
/// handler stamps it on every `<script>` and `<style>` element it trusts; an injected element
/// without it does not run.
///
/// With the `axum` feature, `CspNonce` is also an extractor.
///
/// # Example
///
/// ```
/// use http::Request;
/// use tower_security::CspNonce;
///
/// fn page<B>(request: &Request<B>) -> String {
///     // Present whenever the layer's CSP uses a nonce; `Display` writes the base64 value.
///     let nonce = request.extensions().get::<CspNonce>().copied();
///     match nonce {
///         Some(nonce) => format!(r#"<script nonce="{nonce}">start()</script>"#),
///         None => String::new(),
///     }
/// }
/// # assert_eq!(page(&Request::new(())), "");
/// ```
///
/// [`ContentSecurityPolicy::NONCE`]: crate::headers::ContentSecurityPolicy::NONCE
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CspNonce {
    encoded: [u8; ENCODED_LEN],
}

impl CspNonce {
    /// Draws a fresh nonce.
    pub(crate) fn generate() -> Self {
        let mut raw = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut raw);

        let mut encoded = [0u8; ENCODED_LEN];
        // 16 bytes always encode to exactly 24 padded base64 characters.
        let written = STANDARD.encode_slice(raw, &mut encoded).unwrap_or(0);
        debug_assert_eq!(written, ENCODED_LEN);
        Self { encoded }
    }

    /// The nonce in base64, as it appears in the `'nonce-…'` source and in `nonce="…"`.
    pub fn as_str(&self) -> &str {
        // Only base64 characters are ever written into `encoded`, all of them ASCII.
        std::str::from_utf8(&self.encoded).unwrap_or_default()
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.encoded
    }
}

impl fmt::Display for CspNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CspNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CspNonce").field(&self.as_str()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn nonces_are_128_bit_base64_and_unique() {
        let nonces: Vec<CspNonce> = (0..10_000).map(|_| CspNonce::generate()).collect();

        let distinct: HashSet<_> = nonces.iter().collect();
        assert_eq!(distinct.len(), nonces.len());
        for nonce in &nonces {
            let decoded = STANDARD.decode(nonce.as_str()).unwrap();
            assert_eq!(decoded.len(), 16);
            assert_eq!(nonce.as_str().len(), 24);
        }
    }

    #[test]
    fn bits_are_balanced() {
        // A generator stuck on a constant, or one that zeroes bytes, fails this; a CSPRNG
        // lands within a few standard deviations (sd = 0.5 * sqrt(n) = 32 for n = 4096).
        let ones: u32 = (0..32)
            .map(|_| STANDARD.decode(CspNonce::generate().as_str()).unwrap())
            .flat_map(|bytes| bytes.into_iter())
            .map(u8::count_ones)
            .sum();

        assert!((1848..=2248).contains(&ones), "{ones} of 4096 bits set");
    }
}
