//! Signed and encrypted cookies: sealed on the way out, verified on the way in, with key
//! rotation.
//!
//! The cryptography is the `cookie` crate's: HMAC-SHA256 for signed cookies, AES-256-GCM with
//! the cookie's name as associated data for encrypted ones, each under a key derived from the
//! secret key with HKDF. This module only finds the cookies to seal or open and splices values
//! in place, so every attribute the application wrote stays as it was.

use cookie::{Cookie, CookieJar, Key};
use http::header::{self, HeaderValue};
use http::{HeaderMap, Request};

use super::SecretKey;
use super::harden::cookie_name;
use crate::ConfigError;
use crate::events::{Event, EventKind};
use crate::transport::proxies::ClientInfo;
use crate::transport::request_id::RequestId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Signed,
    Encrypted,
}

/// The sealed cookies of a policy and the keys that seal and open them.
pub(crate) struct Integrity {
    current: Key,
    /// Older keys, tried in order when the current one does not verify a value.
    fallbacks: Box<[Key]>,
    cookies: Box<[(Box<str>, Mode)]>,
}

impl std::fmt::Debug for Integrity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integrity")
            .field(
                "keys",
                &format_args!("<{} redacted>", 1 + self.fallbacks.len()),
            )
            .field("cookies", &self.cookies)
            .finish()
    }
}

/// Cookies of one request that verified under an old key, to be sealed again under the
/// current key on the response: names and plain values.
#[derive(Debug, Default)]
pub(crate) struct Reissue(Vec<(Box<str>, String)>);

impl Integrity {
    pub(crate) fn new(
        signed: &[String],
        encrypted: &[String],
        key: Option<&SecretKey>,
        fallbacks: &[SecretKey],
        key_setting: &str,
    ) -> Result<Option<Self>, ConfigError> {
        if signed.is_empty() && encrypted.is_empty() {
            return Ok(None);
        }
        let Some(key) = key else {
            return Err(ConfigError::secret(
                key_setting,
                "a secret key, required because cookies are signed or encrypted",
            ));
        };
        // `SecretKey` guarantees the 32 bytes that HKDF derivation requires.
        let derive = |key: &SecretKey| Key::derive_from(key.as_bytes());
        let cookies = signed
            .iter()
            .map(|name| (name.as_str().into(), Mode::Signed))
            .chain(
                encrypted
                    .iter()
                    .map(|name| (name.as_str().into(), Mode::Encrypted)),
            )
            .collect();
        Ok(Some(Self {
            current: derive(key),
            fallbacks: fallbacks.iter().map(derive).collect(),
            cookies,
        }))
    }

    /// Names the sealed cookies and counts the keys; never shows a key.
    pub(crate) fn describe(&self) -> String {
        let names = |wanted: Mode| {
            let names: Vec<&str> = self
                .cookies
                .iter()
                .filter(|(_, mode)| *mode == wanted)
                .map(|(name, _)| &**name)
                .collect();
            names.join(", ")
        };
        let mut parts = Vec::new();
        for (label, mode) in [("signed", Mode::Signed), ("encrypted", Mode::Encrypted)] {
            let names = names(mode);
            if !names.is_empty() {
                parts.push(format!("{label}: {names}"));
            }
        }
        parts.push(format!("{} fallback keys", self.fallbacks.len()));
        parts.join("; ")
    }

    fn mode(&self, name: &[u8]) -> Option<(&str, Mode)> {
        self.cookies
            .iter()
            .find(|(n, _)| n.as_bytes() == name)
            .map(|(n, mode)| (&**n, *mode))
    }

    /// Verifies the sealed cookies of a request's `Cookie` fields and replaces them with their
    /// plain values; removes those that fail, with a `cookie_tampered` event.
    pub(crate) fn on_request<B>(&self, request: &mut Request<B>) -> Option<Reissue> {
        let sealed_present = request
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .any(|value| pairs(value.as_bytes()).any(|(name, _)| self.mode(name).is_some()));
        if !sealed_present {
            return None;
        }

        let mut reissue = Reissue::default();
        let fields: Vec<HeaderValue> = match request.headers_mut().entry(header::COOKIE) {
            header::Entry::Occupied(entry) => entry.remove_entry_mult().1.collect(),
            header::Entry::Vacant(_) => Vec::new(),
        };
        for field in fields {
            let mut out: Vec<u8> = Vec::with_capacity(field.len());
            for (name, value) in pairs(field.as_bytes()) {
                let plain = match self.mode(name) {
                    None => Some((value.to_vec(), false)),
                    Some((name, mode)) => self.open(name, mode, value),
                };
                let Some((plain, old_key)) = plain else {
                    Event {
                        kind: EventKind::CookieTampered,
                        rule: "invalid-signature",
                        status: None,
                        method: request.method(),
                        path: request.uri().path(),
                        cookie: Some(name),
                        request_id: request_id(request),
                        client: client(request),
                        detail: None,
                    }
                    .emit();
                    continue;
                };
                if old_key && let Ok(text) = String::from_utf8(plain.clone()) {
                    let name = String::from_utf8_lossy(name).into();
                    reissue.0.push((name, text));
                }
                if !out.is_empty() {
                    out.extend_from_slice(b"; ");
                }
                // A nameless cookie travels as its bare value (RFC 6265bis §5.8.3).
                if !name.is_empty() {
                    out.extend_from_slice(name);
                    out.push(b'=');
                }
                out.extend_from_slice(&plain);
            }
            if let Ok(value) = HeaderValue::from_bytes(&out)
                && !out.is_empty()
            {
                request.headers_mut().append(header::COOKIE, value);
            }
        }
        for (name, _) in &reissue.0 {
            log_reissue(request, name);
        }
        (!reissue.0.is_empty()).then_some(reissue)
    }

    /// Opens a sealed value: its plain bytes, and whether an old key was needed.
    fn open(&self, name: &str, mode: Mode, value: &[u8]) -> Option<(Vec<u8>, bool)> {
        let value = std::str::from_utf8(value).ok()?;
        let jar = CookieJar::new();
        let try_key = |key: &Key| {
            let cookie = Cookie::new(name.to_owned(), value.to_owned());
            let opened = match mode {
                Mode::Signed => jar.signed(key).verify(cookie),
                Mode::Encrypted => jar.private(key).decrypt(cookie),
            };
            opened.map(|cookie| cookie.value().as_bytes().to_vec())
        };
        if let Some(plain) = try_key(&self.current) {
            return Some((plain, false));
        }
        self.fallbacks
            .iter()
            .find_map(try_key)
            .map(|plain| (plain, true))
    }

    /// Seals the value of one `Set-Cookie` field in place if it names a sealed cookie.
    /// Deletions (an empty value) are left as they are.
    pub(crate) fn seal(&self, field: &mut HeaderValue) -> Result<(), &'static str> {
        let bytes = field.as_bytes();
        let Some((name, mode)) = self.mode(cookie_name(bytes)) else {
            return Ok(());
        };
        let pair_end = bytes.iter().position(|&b| b == b';').unwrap_or(bytes.len());
        let Some(eq) = bytes[..pair_end].iter().position(|&b| b == b'=') else {
            return Err("unsealable");
        };
        let raw = &bytes[eq + 1..pair_end];
        let start = eq + 1 + raw.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let end = pair_end
            - raw
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
        let plain = bytes.get(start..end).unwrap_or_default();
        if plain.is_empty() {
            return Ok(());
        }
        let plain = std::str::from_utf8(plain).map_err(|_| "unsealable")?;

        let mut jar = CookieJar::new();
        let cookie = Cookie::new(name.to_owned(), plain.to_owned());
        match mode {
            Mode::Signed => jar.signed_mut(&self.current).add(cookie),
            Mode::Encrypted => jar.private_mut(&self.current).add(cookie),
        }
        let sealed = jar.get(name).map(Cookie::value).ok_or("unsealable")?;

        let mut out = Vec::with_capacity(bytes.len() + sealed.len());
        out.extend_from_slice(&bytes[..start]);
        out.extend_from_slice(sealed.as_bytes());
        out.extend_from_slice(&bytes[end..]);
        let mut sealed = HeaderValue::from_bytes(&out).map_err(|_| "unsealable")?;
        sealed.set_sensitive(field.is_sensitive());
        *field = sealed;
        Ok(())
    }

    /// Adds a `Set-Cookie` for each cookie to re-issue that the application did not set
    /// itself, with the plain value; [`seal`](Self::seal) then seals it under the current key.
    pub(crate) fn reissue(&self, headers: &mut HeaderMap, reissue: Reissue) {
        for (name, plain) in reissue.0 {
            let already_set = headers
                .get_all(header::SET_COOKIE)
                .iter()
                .any(|value| cookie_name(value.as_bytes()) == name.as_bytes());
            if already_set {
                continue;
            }
            if let Ok(value) = HeaderValue::from_str(&format!("{name}={plain}; Path=/")) {
                headers.append(header::SET_COOKIE, value);
            }
        }
    }
}

fn log_reissue<B>(request: &Request<B>, name: &str) {
    Event {
        kind: EventKind::CookieReissued,
        rule: "old-key",
        status: None,
        method: request.method(),
        path: request.uri().path(),
        cookie: Some(name.as_bytes()),
        request_id: request_id(request),
        client: client(request),
        detail: None,
    }
    .emit();
}

fn client<B>(request: &Request<B>) -> Option<std::net::IpAddr> {
    request
        .extensions()
        .get::<ClientInfo>()
        .and_then(|client| client.addr)
}

fn request_id<B>(request: &Request<B>) -> Option<&str> {
    request
        .extensions()
        .get::<RequestId>()
        .map(RequestId::as_str)
}

/// The `name=value` pairs of a `Cookie` field (RFC 6265 §5.4), trimmed, empty ones skipped.
fn pairs(field: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    field.split(|&b| b == b';').filter_map(|pair| {
        let pair = pair.trim_ascii();
        if pair.is_empty() {
            return None;
        }
        Some(match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (pair[..eq].trim_ascii(), pair[eq + 1..].trim_ascii()),
            None => (&pair[..0], pair),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> SecretKey {
        SecretKey::new(text).unwrap()
    }

    fn integrity(current: &str, fallbacks: &[&str]) -> Integrity {
        let fallbacks: Vec<SecretKey> = fallbacks.iter().map(|k| key(k)).collect();
        Integrity::new(
            &["prefs".into()],
            &["session".into()],
            Some(&key(current)),
            &fallbacks,
            "secret_key",
        )
        .unwrap()
        .unwrap()
    }

    const OLD: &str = "0ld-K3y/with+enough?bytes=and*variety!";
    const NEW: &str = "n3w-K3y/with+enough?bytes=and*variety!";

    fn sealed(integrity: &Integrity, set_cookie: &str) -> String {
        let mut value = HeaderValue::from_str(set_cookie).unwrap();
        integrity.seal(&mut value).unwrap();
        value.to_str().unwrap().to_owned()
    }

    fn cookie_value(set_cookie: &str) -> &str {
        let pair = set_cookie.split(';').next().unwrap();
        pair.split_once('=').unwrap().1
    }

    fn request_with(cookie: &str) -> Request<()> {
        Request::builder()
            .header("cookie", cookie)
            .body(())
            .unwrap()
    }

    #[test]
    fn seal_keeps_attributes_and_changes_only_the_value() {
        let integrity = integrity(NEW, &[]);

        let signed = sealed(&integrity, "prefs=dark; Path=/app; Max-Age=60; Partitioned");
        let encrypted = sealed(&integrity, "session=user-42; HttpOnly");
        let other = sealed(&integrity, "theme=dark; Path=/");
        let deletion = sealed(&integrity, "session=; Max-Age=0");

        assert!(signed.starts_with("prefs="));
        assert!(signed.ends_with("; Path=/app; Max-Age=60; Partitioned"));
        assert!(
            cookie_value(&signed).ends_with("dark"),
            "signed values stay readable"
        );
        assert!(!encrypted.contains("user-42"), "encrypted values are not");
        assert!(encrypted.ends_with("; HttpOnly"));
        assert_eq!(other, "theme=dark; Path=/");
        assert_eq!(deletion, "session=; Max-Age=0");
    }

    #[test]
    fn verified_cookies_reach_the_handler_as_plain_values() {
        let integrity = integrity(NEW, &[]);
        let session = sealed(&integrity, "session=user-42");
        let prefs = sealed(&integrity, "prefs=dark");
        let cookie = format!(
            "theme=blue; session={}; prefs={}",
            cookie_value(&session),
            cookie_value(&prefs)
        );
        let mut request = request_with(&cookie);

        let reissue = integrity.on_request(&mut request);

        assert!(reissue.is_none());
        assert_eq!(
            request.headers()["cookie"],
            "theme=blue; session=user-42; prefs=dark"
        );
    }

    #[test]
    fn tampered_and_unsigned_values_are_removed() {
        let integrity = integrity(NEW, &[]);
        let prefs = sealed(&integrity, "prefs=dark");
        let tampered = cookie_value(&prefs).replace("dark", "lite");
        let cookie = format!("session=user-42; prefs={tampered}; theme=blue");
        let mut request = request_with(&cookie);

        integrity.on_request(&mut request);

        assert_eq!(request.headers()["cookie"], "theme=blue");
    }

    #[test]
    fn old_keys_verify_and_ask_for_reissue_under_the_current_key() {
        let old = integrity(OLD, &[]);
        let rotated = integrity(NEW, &[OLD]);
        let unknown = integrity(NEW, &[]);
        let value = cookie_value(&sealed(&old, "session=user-42")).to_owned();
        let mut request = request_with(&format!("session={value}"));
        let mut without_fallback = request_with(&format!("session={value}"));

        let reissue = rotated.on_request(&mut request).unwrap();
        unknown.on_request(&mut without_fallback);
        let mut response = HeaderMap::new();
        rotated.reissue(&mut response, reissue);
        let mut reissued = response["set-cookie"].clone();
        rotated.seal(&mut reissued).unwrap();

        assert_eq!(request.headers()["cookie"], "session=user-42");
        assert!(without_fallback.headers().get("cookie").is_none());
        let reissued = reissued.to_str().unwrap();
        assert!(reissued.ends_with("; Path=/"));
        let fresh = format!("session={}", cookie_value(reissued));
        let mut next = request_with(&fresh);
        assert!(
            unknown.on_request(&mut next).is_none(),
            "sealed under the new key"
        );
        assert_eq!(next.headers()["cookie"], "session=user-42");
    }

    #[test]
    fn reissue_skips_cookies_the_application_sets_itself() {
        let rotated = integrity(NEW, &[OLD]);
        let mut response = HeaderMap::new();
        response.append("set-cookie", HeaderValue::from_static("session=new-value"));

        rotated.reissue(
            &mut response,
            Reissue(vec![("session".into(), "user-42".into())]),
        );

        assert_eq!(response.get_all("set-cookie").iter().count(), 1);
    }

    #[test]
    fn a_sealed_cookie_needs_a_key() {
        let err = Integrity::new(&["prefs".into()], &[], None, &[], "SECRET_KEY").unwrap_err();

        assert_eq!(err.setting(), "SECRET_KEY");
    }

    #[test]
    fn cookie_pairs_are_split_and_trimmed() {
        let pairs: Vec<_> = pairs(b" a=1;b = 2 ;; c ; d=x=y").collect();

        let expected: [(&[u8], &[u8]); 4] =
            [(b"a", b"1"), (b"b", b"2"), (b"", b"c"), (b"d", b"x=y")];
        assert_eq!(pairs, expected);
    }
}
