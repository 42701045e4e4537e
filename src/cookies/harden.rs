//! Hardening of one `Set-Cookie` field value: appending the `Secure`, `HttpOnly`, `SameSite`
//! and `Path` attributes a policy requires, without rewriting anything the application wrote.
//!
//! The value is read the way a browser reads it (RFC 6265bis §5.6), byte by byte, because a
//! header value may carry obs-text that is not UTF-8. Only attributes are inspected: text in
//! the cookie-pair that looks like an attribute is cookie data. The result is the original
//! bytes followed by the missing attributes, so whatever the application chose (an explicit
//! `SameSite`, a narrow `Path`, an attribute this module does not know) reaches the browser
//! unchanged. A cookie that cannot be made valid by appending is reported for dropping, never
//! silently passed through weaker than required.

use bytes::Bytes;
use http::HeaderValue;

use super::SameSite;

/// The prefix that makes browsers store a cookie only if it is `Secure`
/// (RFC 6265bis §4.1.3.1).
const SECURE_PREFIX: &[u8] = b"__Secure-";

/// The prefix that makes browsers store a cookie only if it is `Secure`, has no `Domain` and
/// has `Path=/` (RFC 6265bis §4.1.3.2).
const HOST_PREFIX: &[u8] = b"__Host-";

/// What a cookie must carry after hardening (already resolved per cookie by the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Required {
    /// Append `Secure` if it is missing.
    pub(crate) secure: bool,
    /// Append `HttpOnly` if it is missing.
    pub(crate) http_only: bool,
    /// Append this `SameSite` if the cookie has no recognised one of its own.
    pub(crate) same_site: Option<SameSite>,
}

/// Why a cookie had to be dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// The value is empty or only whitespace: there is no cookie to harden.
    Empty,
    /// The value holds a control character other than HTAB. Browsers ignore such a
    /// set-cookie-string entirely (RFC 6265bis §5.6, first step) and no `HeaderValue` may
    /// carry one, so there is nothing valid to append to.
    Invalid,
    /// A `__Host-` cookie whose last `Path` is not `/`. Browsers reject it (RFC 6265bis
    /// §4.1.3.2), and rewriting the path would send the cookie where the application did not.
    HostPrefixPath,
    /// A `__Host-` cookie with a `Domain` attribute. Browsers reject it (RFC 6265bis
    /// §4.1.3.2), and removing the attribute means rewriting what the application wrote.
    HostPrefixDomain,
}

/// The outcome of hardening one `Set-Cookie` value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Hardened {
    /// Already carries everything required.
    Unchanged,
    /// The original bytes followed by the appended attributes.
    Appended(HeaderValue),
    /// Cannot be made valid without rewriting it; the caller drops it and logs an event.
    Drop(DropReason),
}

/// Hardens one `Set-Cookie` field value so that it carries what `required` asks, plus what
/// the cookie's own name prefix and `SameSite=None` demand of it.
///
/// Missing attributes are appended in a fixed order (`Secure`, `HttpOnly`, `SameSite`,
/// `Path=/`), each as `; Name[=value]`, so the output always starts with the input bytes and
/// hardening the output again returns [`Hardened::Unchanged`]. A recognised `SameSite` the
/// cookie already carries is kept, stricter or looser than required: it is the application's
/// explicit choice. The returned value is not marked sensitive; the caller carries that flag
/// over from the original.
pub(crate) fn harden(value: &[u8], required: Required) -> Hardened {
    if !value.iter().all(|&byte| is_field_byte(byte)) {
        return Hardened::Drop(DropReason::Invalid);
    }
    if trim(value).is_empty() {
        return Hardened::Drop(DropReason::Empty);
    }

    // The cookie-pair runs to the first `;`, and every `;` after it starts an attribute
    // (RFC 6265bis §5.6): quotes do not protect a `;`, for browsers or for us.
    let mut parts = value.split(|&byte| byte == b';');
    let name = name_of(parts.next().unwrap_or_default());
    let found = Attributes::parse(parts);
    let host = starts_with_ignore_case(name, HOST_PREFIX);

    // Browsers compare the prefixes case-insensitively (RFC 6265bis §5.7), so `__host-`
    // gets the same treatment.
    if host && found.domain {
        return Hardened::Drop(DropReason::HostPrefixDomain);
    }
    if host && found.path.is_some_and(|path| path != b"/") {
        return Hardened::Drop(DropReason::HostPrefixPath);
    }

    let same_site = found.same_site.or(required.same_site);
    // Browsers refuse `SameSite=None` without `Secure` (RFC 6265bis §5.6.7), and both
    // prefixes exist only to promise `Secure`: the cookie would be lost without it.
    let needs_secure = required.secure
        || host
        || starts_with_ignore_case(name, SECURE_PREFIX)
        || same_site == Some(SameSite::None);
    let suffix: [&[u8]; 4] = [
        if needs_secure && !found.secure {
            b"; Secure"
        } else {
            b""
        },
        if required.http_only && !found.http_only {
            b"; HttpOnly"
        } else {
            b""
        },
        match (found.same_site, required.same_site) {
            (None, Some(wanted)) => same_site_attribute(wanted),
            _ => b"",
        },
        // Without a `Path` browsers reject a `__Host-` cookie outright; `/` is the only path
        // the prefix allows, so appending it is what the application must have meant.
        if host && found.path.is_none() {
            b"; Path=/"
        } else {
            b""
        },
    ];
    let extra: usize = suffix.iter().map(|part| part.len()).sum();
    if extra == 0 {
        return Hardened::Unchanged;
    }

    let mut bytes = Vec::with_capacity(value.len() + extra);
    bytes.extend_from_slice(value);
    for part in suffix {
        bytes.extend_from_slice(part);
    }

    // The input passed the same check `HeaderValue` makes and the suffix is plain ASCII, so
    // this cannot fail; if it ever did, dropping is safer than sending the weaker cookie.
    match HeaderValue::from_maybe_shared(Bytes::from(bytes)) {
        Ok(hardened) => Hardened::Appended(hardened),
        Err(_) => Hardened::Drop(DropReason::Invalid),
    }
}

/// The cookie's name: the bytes before the first `=` of the cookie-pair (before the first
/// `;`), trimmed of spaces and tabs; empty for a nameless cookie. Used for per-cookie
/// exemptions.
///
/// A cookie-pair without `=` is a nameless cookie whose value is the whole pair
/// (RFC 6265bis §5.6, step 3), so `abc` has an empty name.
pub(crate) fn cookie_name(value: &[u8]) -> &[u8] {
    name_of(value.split(|&byte| byte == b';').next().unwrap_or_default())
}

/// The name within a cookie-pair: trimmed bytes before the first `=`, empty if there is none.
fn name_of(pair: &[u8]) -> &[u8] {
    match pair.iter().position(|&byte| byte == b'=') {
        Some(end) => trim(pair.get(..end).unwrap_or_default()),
        None => &[],
    }
}

/// What a cookie's attributes say, as far as hardening is concerned.
#[derive(Debug, Default)]
struct Attributes<'a> {
    /// A `Secure` attribute is present, whatever its value (RFC 6265bis §5.6.5 ignores it).
    secure: bool,
    /// An `HttpOnly` attribute is present, whatever its value (RFC 6265bis §5.6.6).
    http_only: bool,
    /// A `Domain` attribute is present, even an empty one.
    domain: bool,
    /// The last `SameSite` attribute's setting, or `None` if it is absent or unrecognised:
    /// the storage model reads only the last one (RFC 6265bis §5.7).
    same_site: Option<SameSite>,
    /// The trimmed value of the last `Path` attribute, for the same reason.
    path: Option<&'a [u8]>,
}

impl<'a> Attributes<'a> {
    /// Reads the attributes that follow the cookie-pair, one `;`-separated item each.
    fn parse(attributes: impl Iterator<Item = &'a [u8]>) -> Self {
        let mut found = Self::default();
        for attribute in attributes {
            // The name is everything before the first `=`, the value everything after; both
            // are trimmed and the name matched case-insensitively (RFC 6265bis §5.6, step 6).
            let mut halves = attribute.splitn(2, |&byte| byte == b'=');
            let name = trim(halves.next().unwrap_or_default());
            let value = trim(halves.next().unwrap_or_default());
            if name.eq_ignore_ascii_case(b"secure") {
                found.secure = true;
            } else if name.eq_ignore_ascii_case(b"httponly") {
                found.http_only = true;
            } else if name.eq_ignore_ascii_case(b"domain") {
                found.domain = true;
            } else if name.eq_ignore_ascii_case(b"path") {
                found.path = Some(value);
            } else if name.eq_ignore_ascii_case(b"samesite") {
                // An unrecognised value leaves the browser's default in force (RFC 6265bis
                // §5.6.7), which is not an explicit choice we must respect.
                found.same_site = parse_same_site(value);
            }
        }
        found
    }
}

/// The `SameSite` setting a recognised attribute value names, case-insensitively.
fn parse_same_site(value: &[u8]) -> Option<SameSite> {
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

/// The attribute text appended for a required `SameSite`.
fn same_site_attribute(same_site: SameSite) -> &'static [u8] {
    match same_site {
        SameSite::Strict => b"; SameSite=Strict",
        SameSite::Lax => b"; SameSite=Lax",
        SameSite::None => b"; SameSite=None",
    }
}

/// Whether a byte may appear in a field value: anything but a control character, HTAB
/// excepted. This is `HeaderValue`'s own rule and the set RFC 6265bis §5.6 rejects.
fn is_field_byte(byte: u8) -> bool {
    byte == b'\t' || (byte >= 0x20 && byte != 0x7f)
}

/// Whether `bytes` starts with `prefix`, ignoring ASCII case.
fn starts_with_ignore_case(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// `bytes` without leading and trailing spaces and tabs, the only whitespace RFC 6265bis §5.6
/// trims.
fn trim(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Everything a strict policy asks for.
    const STRICT: Required = Required {
        secure: true,
        http_only: true,
        same_site: Some(SameSite::Strict),
    };

    /// A strict policy that settles for `SameSite=Lax`.
    const LAX: Required = Required {
        same_site: Some(SameSite::Lax),
        ..STRICT
    };

    /// No requirement at all: only prefixes and `SameSite=None` can add anything.
    const NOTHING: Required = Required {
        secure: false,
        http_only: false,
        same_site: None,
    };

    /// The longest text `harden` can append.
    const LONGEST_SUFFIX: &[u8] = b"; Secure; HttpOnly; SameSite=Strict; Path=/";

    /// The expected outcome of one table row.
    #[derive(Debug)]
    enum Want {
        /// `Hardened::Unchanged`.
        Same,
        /// `Hardened::Appended` with exactly this text after the input.
        Add(&'static str),
        /// `Hardened::Drop` for this reason.
        Gone(DropReason),
    }

    /// Everything `STRICT` appends to a cookie that has none of it.
    const ALL: Want = Want::Add("; Secure; HttpOnly; SameSite=Strict");

    #[test]
    fn hardens_each_case_as_documented() {
        use DropReason::{Empty, HostPrefixDomain, HostPrefixPath, Invalid};
        use Want::{Add, Gone, Same};
        let none_required = Required {
            same_site: Some(SameSite::None),
            ..NOTHING
        };

        // One row per line reads as a table; rustfmt would stack each row over six lines.
        #[rustfmt::skip]
        let cases: &[(&str, &[u8], Required, Want)] = &[
            ("plain cookie", b"session=abc", STRICT, ALL),
            ("lowercase secure", b"a=b; secure", STRICT, Add("; HttpOnly; SameSite=Strict")),
            ("uppercase HTTPONLY", b"a=b; HTTPONLY", STRICT, Add("; Secure; SameSite=Strict")),
            ("samesite=lax kept", b"a=b; samesite=lax", STRICT, Add("; Secure; HttpOnly")),
            ("odd case and spacing", b"a=b;secure ;\tHttpOnly;SAMESITE = sTrIcT", STRICT, Same),
            ("valued flags", b"a=b; Secure=x; HttpOnly=", STRICT, Add("; SameSite=Strict")),
            ("names in the cookie-pair are data", b"Secure=HttpOnly", STRICT, ALL),
            ("SameSite as the cookie-pair", b"SameSite=Strict", STRICT, ALL),
            ("after the pair", b"a=Secure;HttpOnly=x", STRICT, Add("; Secure; SameSite=Strict")),
            ("value containing =", b"a=b=c", STRICT, ALL),
            ("quoted value", b"a=\"x y\"", STRICT, ALL),
            ("quotes do not hide a ;", b"a=\"x;Secure\"", STRICT, ALL),
            ("SameSite=None brings Secure", b"a=b; SameSite=None", NOTHING, Add("; Secure")),
            ("required None brings Secure", b"a=b", none_required, Add("; Secure; SameSite=None")),
            ("existing Strict beats Lax", b"a=b; SameSite=Strict", LAX, Add("; Secure; HttpOnly")),
            ("existing Lax not upgraded", b"a=b; SameSite=Lax; Secure; HttpOnly", STRICT, Same),
            ("existing None kept", b"a=b; SameSite=None", STRICT, Add("; Secure; HttpOnly")),
            ("unknown SameSite", b"a=b; SameSite=bogus", STRICT, ALL),
            ("valueless SameSite", b"a=b; SameSite", LAX, Add("; Secure; HttpOnly; SameSite=Lax")),
            ("last SameSite ok", b"a=b;SameSite=x;SameSite=Lax", STRICT, Add("; Secure; HttpOnly")),
            ("last SameSite bad", b"a=b; SameSite=Lax; SameSite=x", STRICT, ALL),
            ("__Secure- needs Secure", b"__Secure-id=1", NOTHING, Add("; Secure")),
            ("__Secure- already Secure", b"__Secure-id=1; Secure", NOTHING, Same),
            ("lowercase __secure-", b"__secure-id=1", NOTHING, Add("; Secure")),
            ("__Host- complete", b"__Host-id=1; Secure; Path=/", NOTHING, Same),
            ("__Host- without Path", b"__Host-id=1; Secure", NOTHING, Add("; Path=/")),
            ("__Host- bare", b"__Host-id=1", STRICT,
                Add("; Secure; HttpOnly; SameSite=Strict; Path=/")),
            ("__Host- name trimmed", b" __Host-id=1", NOTHING, Add("; Secure; Path=/")),
            ("uppercase __HOST-", b"__HOST-id=1", NOTHING, Add("; Secure; Path=/")),
            ("__Host- wrong Path", b"__Host-id=1; Secure; Path=/app", STRICT, Gone(HostPrefixPath)),
            ("__Host- empty Path", b"__Host-id=1; Path=", STRICT, Gone(HostPrefixPath)),
            ("__Host- last Path /", b"__Host-id=1; Path=/app; Path= / ", NOTHING, Add("; Secure")),
            ("__Host- last Path bad", b"__Host-a=1;Path=/;Path=/x", NOTHING, Gone(HostPrefixPath)),
            ("__Host- Domain", b"__Host-id=1; Path=/; Domain=a.b", STRICT, Gone(HostPrefixDomain)),
            ("lowercase __host- Domain", b"__host-id=1; domain=", NOTHING, Gone(HostPrefixDomain)),
            ("prefix in the value only", b"id=__Host-1; Domain=a.b", STRICT, ALL),
            ("unknown attributes kept",
                b"a=b; Partitioned; Priority=High; Max-Age=0; Domain=a.b", STRICT, ALL),
            ("trailing ;", b"a=b;", STRICT, ALL),
            ("trailing spaces", b"a=b; Secure;  ", STRICT, Add("; HttpOnly; SameSite=Strict")),
            ("nameless cookie", b"abc", STRICT, ALL),
            ("non-UTF-8 bytes", b"a=\xff\xfe; Path=/\x80", STRICT, ALL),
            ("0xA0 is not whitespace", b"a=b; Secure\xa0", STRICT, ALL),
            ("empty", b"", STRICT, Gone(Empty)),
            ("whitespace only", b" \t ", STRICT, Gone(Empty)),
            ("CR LF", b"a=b\r\nSet-Cookie: c=d", STRICT, Gone(Invalid)),
            ("NUL", b"a=\0", NOTHING, Gone(Invalid)),
            ("DEL", b"a=\x7f", NOTHING, Gone(Invalid)),
            ("nothing required", b"session=abc", NOTHING, Same),
        ];

        for (name, input, required, want) in cases {
            let got = harden(input, *required);

            match (got, want) {
                (Hardened::Unchanged, Same) => {}
                (Hardened::Appended(value), Add(suffix)) => {
                    let expected = [*input, suffix.as_bytes()].concat();
                    assert_eq!(value.as_bytes(), expected, "{name}");
                    let again = harden(value.as_bytes(), *required);
                    assert_eq!(again, Hardened::Unchanged, "{name}: not idempotent");
                }
                (Hardened::Drop(reason), Gone(wanted)) => assert_eq!(reason, *wanted, "{name}"),
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn cookie_name_is_the_trimmed_text_before_the_first_equals() {
        let cases: &[(&str, &[u8], &[u8])] = &[
            ("plain", b"session=abc; Path=/", b"session"),
            ("spaces and tabs", b" \tmy id =abc", b"my id"),
            ("value containing =", b"a=b=c", b"a"),
            ("nameless", b"abc; a=b", b""),
            ("empty name", b"=abc", b""),
            ("empty pair", b"; a=b", b""),
            ("empty", b"", b""),
            ("prefix kept", b"__Host-id=1", b"__Host-id"),
            ("non-UTF-8", b"x\xff=1", b"x\xff"),
        ];

        for (name, input, expected) in cases {
            assert_eq!(cookie_name(input), *expected, "{name}");
        }
    }

    /// A cookie as a browser sees it, parsed here independently of the code under test.
    struct View {
        /// The lowercased cookie name.
        name: Vec<u8>,
        /// Each attribute's lowercased name and trimmed value, in order.
        attributes: Vec<(Vec<u8>, Vec<u8>)>,
    }

    impl View {
        fn new(value: &[u8]) -> Self {
            let mut items = value.split(|&byte| byte == b';');
            let pair = items.next().unwrap_or_default();
            let name = match pair.iter().position(|&byte| byte == b'=') {
                Some(end) => pair[..end].trim_ascii().to_ascii_lowercase(),
                None => Vec::new(),
            };
            let attributes = items
                .map(|item| match item.iter().position(|&byte| byte == b'=') {
                    Some(end) => (
                        item[..end].trim_ascii().to_ascii_lowercase(),
                        item[end + 1..].trim_ascii().to_vec(),
                    ),
                    None => (item.trim_ascii().to_ascii_lowercase(), Vec::new()),
                })
                .collect();

            Self { name, attributes }
        }

        fn has(&self, attribute: &str) -> bool {
            self.attributes
                .iter()
                .any(|(name, _)| name == attribute.as_bytes())
        }

        fn last(&self, attribute: &str) -> Option<&[u8]> {
            self.attributes
                .iter()
                .rev()
                .find(|(name, _)| name == attribute.as_bytes())
                .map(|(_, value)| value.as_slice())
        }

        /// The lowercased `SameSite` the browser enforces, if the last one is recognised.
        fn same_site(&self) -> Option<Vec<u8>> {
            let value = self.last("samesite")?.to_ascii_lowercase();
            [&b"strict"[..], b"lax", b"none"]
                .contains(&value.as_slice())
                .then_some(value)
        }

        fn is_host(&self) -> bool {
            self.name.starts_with(b"__host-")
        }

        /// Whether the cookie carries everything `required`, its prefix and its `SameSite` ask.
        fn satisfies(&self, required: Required) -> bool {
            let same_site = self.same_site();
            let needs_secure = required.secure
                || self.is_host()
                || self.name.starts_with(b"__secure-")
                || same_site.as_deref() == Some(b"none");

            (!needs_secure || self.has("secure"))
                && (!required.http_only || self.has("httponly"))
                && (required.same_site.is_none() || same_site.is_some())
                && (!self.is_host() || (self.last("path") == Some(b"/") && !self.has("domain")))
        }

        /// The only reason a value may be dropped, if it has one.
        fn drop_reason(value: &[u8]) -> Option<DropReason> {
            let view = Self::new(value);
            if value
                .iter()
                .any(|&byte| byte != b'\t' && (byte < 0x20 || byte == 0x7f))
            {
                Some(DropReason::Invalid)
            } else if value.trim_ascii().is_empty() {
                Some(DropReason::Empty)
            } else if view.is_host() && view.has("domain") {
                Some(DropReason::HostPrefixDomain)
            } else if view.is_host() && view.last("path").is_some_and(|path| path != b"/") {
                Some(DropReason::HostPrefixPath)
            } else {
                None
            }
        }
    }

    /// Text that exercises the parser: separators, attribute names in several cases,
    /// `SameSite` values, prefixes.
    const TOKENS: &[&[u8]] = &[
        b";",
        b"; ",
        b" ",
        b"=",
        b"Secure",
        b"secure",
        b"HttpOnly",
        b"SameSite=",
        b"SameSite",
        b"Strict",
        b"lax",
        b"NONE",
        b"Path=/",
        b"Path=",
        b"/",
        b"Domain=x",
        b"__Host-",
        b"__Secure-",
    ];

    /// How a generated value starts: often with a cookie prefix, in various cases.
    const PREFIXES: &[&[u8]] = &[b"", b"", b"__Host-", b"__host-", b"__Secure-", b"__SECURE-"];

    /// A valid header value, often starting with a cookie prefix.
    fn field_value() -> impl Strategy<Value = Vec<u8>> {
        let prefix = prop::sample::select(PREFIXES);
        let fragment = prop_oneof![
            3 => prop::sample::select(TOKENS).prop_map(<[u8]>::to_vec),
            2 => (0x20u8..0x7f).prop_map(|byte| vec![byte]),
            1 => (0x80u8..=0xff).prop_map(|byte| vec![byte]),
            1 => Just(vec![b'\t']),
        ];

        (prefix, prop::collection::vec(fragment, 0..16))
            .prop_map(|(prefix, fragments)| [prefix.to_vec(), fragments.concat()].concat())
    }

    fn required() -> impl Strategy<Value = Required> {
        let same_site = prop_oneof![
            Just(None),
            Just(Some(SameSite::Strict)),
            Just(Some(SameSite::Lax)),
            Just(Some(SameSite::None)),
        ];

        (any::<bool>(), any::<bool>(), same_site).prop_map(|(secure, http_only, same_site)| {
            Required {
                secure,
                http_only,
                same_site,
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn hardening_keeps_its_promises(value in field_value(), required in required()) {
            let got = harden(&value, required);

            match got {
                Hardened::Unchanged => {
                    prop_assert!(View::new(&value).satisfies(required));
                    prop_assert_eq!(View::drop_reason(&value), None);
                }
                Hardened::Appended(hardened) => {
                    let bytes = hardened.as_bytes();
                    prop_assert!(bytes.starts_with(&value));
                    prop_assert!(bytes.len() > value.len());
                    prop_assert!(bytes.len() <= value.len() + LONGEST_SUFFIX.len());
                    prop_assert!(View::new(bytes).satisfies(required));
                    prop_assert_eq!(View::drop_reason(&value), None);
                    // A recognised SameSite is the application's choice and must survive.
                    if let Some(own) = View::new(&value).same_site() {
                        prop_assert_eq!(View::new(bytes).same_site(), Some(own));
                    }
                    prop_assert_eq!(cookie_name(bytes), cookie_name(&value));
                    prop_assert_eq!(harden(bytes, required), Hardened::Unchanged);
                }
                Hardened::Drop(reason) => {
                    prop_assert_eq!(View::drop_reason(&value), Some(reason));
                }
            }
        }

        #[test]
        fn control_characters_are_invalid(
            value in field_value(),
            control in prop_oneof![0x00u8..0x09, 0x0au8..0x20, Just(0x7fu8)],
            at in any::<prop::sample::Index>(),
            required in required(),
        ) {
            let mut value = value;
            value.insert(at.index(value.len() + 1), control);

            let got = harden(&value, required);

            prop_assert_eq!(got, Hardened::Drop(DropReason::Invalid));
        }
    }
}
