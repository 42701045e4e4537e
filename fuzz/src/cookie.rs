//! Reads a `Set-Cookie` value the way a browser does (RFC 6265bis §5.6), written apart from
//! the layer's own reader so that the two can disagree.
//!
//! The cookie-pair runs to the first `;`; each later `;` starts an attribute, whose name is
//! matched without regard to ASCII case. Spaces and tabs around names and values are trimmed.

/// A `Set-Cookie` value split into its name and its attributes.
#[derive(Debug)]
pub struct SetCookie<'a> {
    /// The cookie's name: the trimmed bytes before the first `=` of the cookie-pair, empty
    /// for a cookie-pair without `=`.
    pub name: &'a [u8],
    /// Each attribute's trimmed name and value, in order.
    attributes: Vec<(&'a [u8], &'a [u8])>,
}

/// A recognised `SameSite` value (RFC 6265bis §5.6.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// `Strict`.
    Strict,
    /// `Lax`.
    Lax,
    /// `None`, which browsers accept only with `Secure`.
    None,
}

impl<'a> SetCookie<'a> {
    /// Splits `value`.
    pub fn parse(value: &'a [u8]) -> Self {
        let mut parts = value.split(|&b| b == b';');
        let pair = parts.next().unwrap_or_default();
        let name = match pair.iter().position(|&b| b == b'=') {
            Some(end) => trim(&pair[..end]),
            None => &[],
        };
        let attributes = parts
            .map(
                |attribute| match attribute.iter().position(|&b| b == b'=') {
                    Some(eq) => (trim(&attribute[..eq]), trim(&attribute[eq + 1..])),
                    None => (trim(attribute), &[][..]),
                },
            )
            .collect();
        Self { name, attributes }
    }

    /// Whether the attribute `name` is present, whatever its value.
    pub fn has(&self, name: &str) -> bool {
        self.attributes
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
    }

    /// The value of the last attribute `name`: the one the storage model reads.
    pub fn last(&self, name: &str) -> Option<&'a [u8]> {
        self.attributes
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, value)| *value)
    }

    /// The `SameSite` setting a browser applies: that of the last `SameSite` attribute, if
    /// its value is recognised.
    pub fn same_site(&self) -> Option<SameSite> {
        let value = self.last("samesite")?;
        if value.eq_ignore_ascii_case(b"strict") {
            Some(SameSite::Strict)
        } else if value.eq_ignore_ascii_case(b"lax") {
            Some(SameSite::Lax)
        } else if value.eq_ignore_ascii_case(b"none") {
            Some(SameSite::None)
        } else {
            None
        }
    }

    /// Whether the name carries `prefix`, compared without regard to ASCII case as browsers
    /// compare the `__Secure-` and `__Host-` prefixes.
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.name
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
    }
}

/// `bytes` without leading and trailing spaces and tabs.
fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |last| last + 1);
    &bytes[start..end]
}

/// What a surviving cookie must carry, unless the policy exempts it.
#[derive(Clone, Copy, Debug)]
pub struct Required {
    /// `Secure`.
    pub secure: bool,
    /// `HttpOnly`.
    pub http_only: bool,
    /// A recognised `SameSite`.
    pub same_site: bool,
}

/// Checks that a `Set-Cookie` value leaving the layer is one a browser stores as hardened:
/// the attributes `required` asks for, `Secure` wherever its prefix or `SameSite=None`
/// demands it, and a `__Host-` cookie with `Path=/` and no `Domain`.
///
/// # Panics
///
/// When the value falls short.
pub fn check_hardened(value: &[u8], required: Required) {
    let text = String::from_utf8_lossy(value);
    assert!(
        !value.iter().all(|b| matches!(b, b' ' | b'\t')),
        "an empty Set-Cookie left the layer"
    );
    assert!(
        http::HeaderValue::from_bytes(value).is_ok(),
        "a Set-Cookie that is no valid field value left the layer: {text:?}"
    );
    let cookie = SetCookie::parse(value);
    let host = cookie.has_prefix("__Host-");
    let needs_secure = required.secure
        || host
        || cookie.has_prefix("__Secure-")
        || cookie.same_site() == Some(SameSite::None);
    assert!(
        !needs_secure || cookie.has("secure"),
        "a cookie left without Secure: {text:?}"
    );
    assert!(
        !required.http_only || cookie.has("httponly"),
        "a cookie left without HttpOnly: {text:?}"
    );
    assert!(
        !required.same_site || cookie.same_site().is_some(),
        "a cookie left without a recognised SameSite: {text:?}"
    );
    if host {
        assert!(
            cookie.last("path") == Some(b"/") && !cookie.has("domain"),
            "a __Host- cookie left with a Domain or a Path other than /: {text:?}"
        );
    }
}
