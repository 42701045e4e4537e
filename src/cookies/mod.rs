//! Session security for every cookie the application sends: hardening, integrity and the
//! secret key.
//!
//! Frameworks harden their own session cookie; this control hardens every `Set-Cookie` field
//! the inner service emits, by appending the `Secure`, `HttpOnly` and `SameSite` attributes a
//! cookie lacks. It never parses and re-serialises a cookie, so attributes it does not know
//! (`Partitioned`, `Priority`, ...) and the exact `Domain`, `Path`, `Expires` and `Max-Age` the
//! application wrote survive byte for byte.
//!
//! Cookies named with [`CookiePolicy::signed`] or [`CookiePolicy::encrypted`] are sealed with
//! the policy's [`SecretKey`] on the way out and verified on the way in: the handler reads
//! and writes plain values, and a forged or unsigned value never reaches it.
//!
//! # Example
//!
//! ```
//! use tower_security::cookies::{CookiePolicy, SameSite, SecretKey};
//! use tower_security::SecurityLayer;
//!
//! let layer = SecurityLayer::builder()
//!     .cookies(
//!         CookiePolicy::strict()
//!             // Scripts read the CSRF token to echo it in a header: no `HttpOnly` for it.
//!             .script_readable("csrf_token")
//!             // The "remember me" cookie must survive a link from another site.
//!             .same_site_for("remember", SameSite::Lax)
//!             .encrypted("session"),
//!     )
//!     .secret_key(SecretKey::new("p9Vx2kQ7rT4mW8zL1cB6nH3jF5sD0gYaEuIoRyXw")?)
//!     .build()?;
//! # drop(layer);
//! # Ok::<(), tower_security::ConfigError>(())
//! ```
//!
//! # What is appended
//!
//! | the cookie lacks | appended | unless |
//! |---|---|---|
//! | `Secure` | `; Secure` | [`insecure_plain_http`] names it (and nothing else needs it) |
//! | `HttpOnly` | `; HttpOnly` | [`script_readable`] names it |
//! | a valid `SameSite` | `; SameSite=Strict` (or the policy's) | [`same_site_for`] gives another |
//! | `Path` on a `__Host-` cookie | `; Path=/` | |
//!
//! [`insecure_plain_http`]: CookiePolicy::insecure_plain_http
//! [`script_readable`]: CookiePolicy::script_readable
//! [`same_site_for`]: CookiePolicy::same_site_for
//!
//! A cookie with `SameSite=None`, or a `__Secure-` or `__Host-` name, always gets `Secure`
//! (RFC 6265bis §4.1.3, §5.6.7). A `SameSite` the application set is never changed. A
//! `__Host-` cookie with a `Domain` or a `Path` other than `/`, or an empty `Set-Cookie`, cannot
//! be made valid by appending: it is dropped, and a `cookie_dropped` event says so.
//!
//! # Limitations
//!
//! - A cookie verified with an old key is re-issued under the current key with `Path=/` and
//!   no expiry (plus the hardening attributes), because the request carries only its name and
//!   value. A cookie that lives on another path, or must persist, is re-issued correctly only
//!   when the application sets it again itself.

use std::sync::Arc;

use http::header::{self, Entry};
use http::{HeaderMap, HeaderValue, Method};

use crate::ConfigError;
use crate::events::{Event, EventKind, Requester};

mod harden;
mod integrity;
mod key;

pub use self::key::SecretKey;

use self::harden::{Hardened, Required, cookie_name, harden};
pub(crate) use self::integrity::{Integrity, Reissue};

/// The `SameSite` attribute (RFC 6265bis §4.1.2.7): whether the browser sends the cookie on
/// requests that other sites start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// Only on requests this site starts: no cross-site request can ride the session.
    Strict,
    /// Also on top-level navigations from other sites (following a link).
    Lax,
    /// On every request, from any site; requires `Secure`.
    None,
}

impl SameSite {
    /// The attribute value as sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        }
    }
}

/// How every cookie the application sends is hardened, and which are signed or encrypted.
///
/// [`CookiePolicy::strict`] is the policy of [`SecurityLayer::strict`](crate::SecurityLayer):
/// `Secure`, `HttpOnly` and `SameSite=Strict` on every cookie, nothing sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookiePolicy {
    secure: bool,
    http_only: bool,
    same_site: Option<SameSite>,
    script_readable: Vec<String>,
    same_site_for: Vec<(String, SameSite)>,
    plain_http: Vec<String>,
    signed: Vec<String>,
    encrypted: Vec<String>,
}

impl Default for CookiePolicy {
    fn default() -> Self {
        Self::strict()
    }
}

impl CookiePolicy {
    /// `Secure`, `HttpOnly` and `SameSite=Strict` on every cookie.
    pub fn strict() -> Self {
        Self {
            secure: true,
            http_only: true,
            same_site: Some(SameSite::Strict),
            script_readable: Vec::new(),
            same_site_for: Vec::new(),
            plain_http: Vec::new(),
            signed: Vec::new(),
            encrypted: Vec::new(),
        }
    }

    /// Whether cookies get `Secure`. Switch it off only for local development over plain
    /// HTTP: a cookie without `Secure` travels in clear text wherever plain HTTP reaches.
    pub fn secure(mut self, enabled: bool) -> Self {
        self.secure = enabled;
        self
    }

    /// Whether cookies get `HttpOnly`, which hides them from scripts.
    pub fn http_only(mut self, enabled: bool) -> Self {
        self.http_only = enabled;
        self
    }

    /// The `SameSite` value for cookies that set none, or `None` to add none.
    pub fn same_site(mut self, same_site: impl Into<Option<SameSite>>) -> Self {
        self.same_site = same_site.into();
        self
    }

    /// Lets scripts read the cookie `name`: it gets every other attribute, but not
    /// `HttpOnly`. For a CSRF token that scripts copy into a header.
    pub fn script_readable(mut self, name: impl Into<String>) -> Self {
        self.script_readable.push(name.into());
        self
    }

    /// Gives the cookie `name` another `SameSite` value than the policy's, when it sets none.
    /// `SameSite::None` brings `Secure` with it.
    pub fn same_site_for(mut self, name: impl Into<String>, same_site: SameSite) -> Self {
        self.same_site_for.push((name.into(), same_site));
        self
    }

    /// Lets the cookie `name` travel over plain HTTP: no `Secure` is added to it, unless its
    /// `__Secure-`/`__Host-` prefix or `SameSite=None` requires it.
    pub fn insecure_plain_http(mut self, name: impl Into<String>) -> Self {
        self.plain_http.push(name.into());
        self
    }

    /// Signs the cookie `name` with HMAC-SHA256 under the policy's [`SecretKey`]: clients can
    /// read it but not change it. Needs a secret key.
    pub fn signed(mut self, name: impl Into<String>) -> Self {
        self.signed.push(name.into());
        self
    }

    /// Encrypts and authenticates the cookie `name` with AES-256-GCM under the policy's
    /// [`SecretKey`]: clients can neither read nor change it. Needs a secret key.
    pub fn encrypted(mut self, name: impl Into<String>) -> Self {
        self.encrypted.push(name.into());
        self
    }

    /// Whether every cookie gets `Secure`, for the self-audit.
    pub(crate) fn is_secure(&self) -> bool {
        self.secure
    }

    /// Whether every cookie gets `HttpOnly`, for the self-audit.
    pub(crate) fn is_http_only(&self) -> bool {
        self.http_only
    }

    /// The `SameSite` value added by default, for the self-audit.
    pub(crate) fn default_same_site(&self) -> Option<SameSite> {
        self.same_site
    }

    pub(crate) fn with_flags(
        mut self,
        secure: Option<bool>,
        http_only: Option<bool>,
        same_site: Option<SameSite>,
    ) -> Self {
        self.secure = secure.unwrap_or(self.secure);
        self.http_only = http_only.unwrap_or(self.http_only);
        self.same_site = same_site.or(self.same_site);
        self
    }

    /// Validates the names and seals the key into the policy's compiled form.
    pub(crate) fn compile(
        &self,
        key: Option<&SecretKey>,
        fallbacks: &[SecretKey],
        key_setting: &str,
    ) -> Result<CookieRules, ConfigError> {
        let lists: [(&str, Vec<&str>); 5] = [
            (
                "cookies.script_readable",
                self.script_readable.iter().map(String::as_str).collect(),
            ),
            (
                "cookies.same_site_for",
                self.same_site_for.iter().map(|(n, _)| n.as_str()).collect(),
            ),
            (
                "cookies.insecure_plain_http",
                self.plain_http.iter().map(String::as_str).collect(),
            ),
            (
                "cookies.signed",
                self.signed.iter().map(String::as_str).collect(),
            ),
            (
                "cookies.encrypted",
                self.encrypted.iter().map(String::as_str).collect(),
            ),
        ];
        for (setting, names) in &lists {
            for (i, name) in names.iter().enumerate() {
                check_cookie_name(setting, name)?;
                if names[..i].contains(name) {
                    return Err(ConfigError::duplicate(
                        *setting,
                        name,
                        "each cookie name once",
                    ));
                }
            }
        }
        if let Some(name) = self.signed.iter().find(|n| self.encrypted.contains(n)) {
            return Err(ConfigError::invalid(
                "cookies.signed",
                name,
                "a cookie either signed or encrypted, not both",
            ));
        }
        let integrity = Integrity::new(&self.signed, &self.encrypted, key, fallbacks, key_setting)?;

        let exemptions: Vec<(Box<[u8]>, Required)> = self
            .script_readable
            .iter()
            .chain(self.same_site_for.iter().map(|(name, _)| name))
            .chain(&self.plain_http)
            .map(|name| (name.as_bytes().into(), self.required_for(name)))
            .fold(Vec::new(), |mut acc, entry| {
                if !acc
                    .iter()
                    .any(|(n, _): &(Box<[u8]>, Required)| *n == entry.0)
                {
                    acc.push(entry);
                }
                acc
            });
        Ok(CookieRules {
            default: self.required_for(""),
            exemptions: exemptions.into(),
            integrity: integrity.map(Arc::new),
        })
    }

    /// What the cookie `name` must carry under this policy.
    fn required_for(&self, name: &str) -> Required {
        let is = |list: &[String]| list.iter().any(|n| n == name);
        let same_site = self
            .same_site_for
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| *s)
            .or(self.same_site);
        Required {
            secure: self.secure && !is(&self.plain_http),
            http_only: self.http_only && !is(&self.script_readable),
            same_site,
        }
    }
}

/// A cookie name is an RFC 9110 token (RFC 6265 §4.1.1).
fn check_cookie_name(setting: &str, name: &str) -> Result<(), ConfigError> {
    let token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if token {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            setting,
            name,
            "a cookie name: letters, digits and !#$%&'*+-.^_`|~",
        ))
    }
}

/// The cookie part of a built policy.
#[derive(Clone, Debug)]
pub(crate) struct CookieRules {
    default: Required,
    exemptions: Box<[(Box<[u8]>, Required)]>,
    integrity: Option<Arc<Integrity>>,
}

impl CookieRules {
    pub(crate) fn integrity(&self) -> Option<&Integrity> {
        self.integrity.as_deref()
    }

    /// Lists the cookie controls, for [`SecurityLayer::controls`](crate::SecurityLayer).
    pub(crate) fn describe(&self, out: &mut Vec<crate::Control>) {
        const AREA: &str = "session security";
        let Required {
            secure,
            http_only,
            same_site,
        } = self.default;
        let mut attributes: Vec<String> = Vec::new();
        if secure {
            attributes.push("Secure".into());
        }
        if http_only {
            attributes.push("HttpOnly".into());
        }
        if let Some(same_site) = same_site {
            attributes.push(format!("SameSite={}", same_site.as_str()));
        }
        let mut value = match attributes.is_empty() {
            true => "nothing appended (prefix rules and SameSite=None still enforced)".to_owned(),
            false => format!("{} appended where missing", attributes.join(", ")),
        };
        if !self.exemptions.is_empty() {
            value.push_str(&format!(
                "; {} cookies with exemptions",
                self.exemptions.len()
            ));
        }
        out.push(crate::Control::new(AREA, "set-cookie hardening", value));
        if let Some(integrity) = &self.integrity {
            out.push(crate::Control::new(
                AREA,
                "sealed cookies",
                integrity.describe(),
            ));
        }
    }

    fn required(&self, value: &[u8]) -> Required {
        if self.exemptions.is_empty() {
            return self.default;
        }
        let name = cookie_name(value);
        self.exemptions
            .iter()
            .find(|(n, _)| **n == *name)
            .map_or(self.default, |(_, required)| *required)
    }

    /// Seals, re-issues and hardens every `Set-Cookie` of a response.
    pub(crate) fn on_response(
        &self,
        headers: &mut HeaderMap,
        reissue: Option<Reissue>,
        method: &Method,
        path: &str,
        who: Requester<'_>,
    ) {
        if let (Some(integrity), Some(reissue)) = (&self.integrity, reissue) {
            integrity.reissue(headers, reissue);
        }
        let Entry::Occupied(mut cookies) = headers.entry(header::SET_COOKIE) else {
            return;
        };
        let mut dropped = false;
        for value in cookies.iter_mut() {
            if let Some(integrity) = &self.integrity
                && let Err(reason) = integrity.seal(value)
            {
                drop_cookie(value, reason, method, path, who);
                dropped = true;
                continue;
            }
            match harden(value.as_bytes(), self.required(value.as_bytes())) {
                Hardened::Unchanged => {}
                Hardened::Appended(mut hardened) => {
                    // Keep the application's choice to keep this field out of HPACK tables.
                    hardened.set_sensitive(value.is_sensitive());
                    *value = hardened;
                }
                Hardened::Drop(reason) => {
                    drop_cookie(value, reason.rule(), method, path, who);
                    dropped = true;
                }
            }
        }
        if dropped {
            // Rare: rebuild the field list without the emptied values, order kept.
            let kept: Vec<HeaderValue> = cookies
                .remove_entry_mult()
                .1
                .filter(|value| !value.is_empty())
                .collect();
            for value in kept {
                headers.append(header::SET_COOKIE, value);
            }
        }
    }
}

/// Logs a cookie that cannot be sent and empties it, for removal once the pass is done.
fn drop_cookie(
    value: &mut HeaderValue,
    rule: &'static str,
    method: &Method,
    path: &str,
    who: Requester<'_>,
) {
    Event {
        kind: EventKind::CookieDropped,
        rule,
        status: None,
        method,
        path,
        cookie: Some(cookie_name(value.as_bytes())),
        request_id: who.id,
        client: who.client,
        detail: None,
    }
    .emit();
    *value = HeaderValue::from_static("");
}

impl harden::DropReason {
    /// The stable rule name of a dropped cookie's event.
    fn rule(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::Invalid => "invalid",
            Self::HostPrefixPath => "host-prefix-path",
            Self::HostPrefixDomain => "host-prefix-domain",
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    /// Set-Cookie values: mostly ordinary cookies, some that must be dropped, some odd bytes.
    fn set_cookie() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"; ".to_vec()),
            Just(b"=".to_vec()),
            Just(b"Secure".to_vec()),
            Just(b"httponly".to_vec()),
            Just(b"SameSite=Lax".to_vec()),
            Just(b"Path=/".to_vec()),
            Just(b"Domain=a.example".to_vec()),
            Just(b"__Host-".to_vec()),
            Just(b"Expires=Wed, 21 Oct 2026 07:28:00 GMT".to_vec()),
            "[a-z0-9]{1,6}".prop_map(String::into_bytes),
            vec(0x80u8..=0xff, 1..3),
        ];
        vec(piece, 0..8).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Fields keep their number and order: each is hardened on its own, and only those
        /// that `harden` drops are missing.
        #[test]
        fn fields_keep_their_number_and_order(values in vec(set_cookie(), 0..6)) {
            let rules = CookiePolicy::strict().compile(None, &[], "secret_key").unwrap();
            let mut headers = HeaderMap::new();
            for value in &values {
                headers.append(header::SET_COOKIE, HeaderValue::from_bytes(value).unwrap());
            }
            let expected: Vec<Vec<u8>> = values
                .iter()
                .filter_map(|value| match harden(value, rules.default) {
                    Hardened::Unchanged => Some(value.clone()),
                    Hardened::Appended(hardened) => Some(hardened.as_bytes().to_vec()),
                    Hardened::Drop(_) => None,
                })
                .collect();

            rules.on_response(&mut headers, None, &Method::GET, "/", Requester::default());

            let out: Vec<Vec<u8>> = headers
                .get_all(header::SET_COOKIE)
                .iter()
                .map(|value| value.as_bytes().to_vec())
                .collect();
            prop_assert_eq!(out, expected);
        }
    }
}
