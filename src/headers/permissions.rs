//! `Permissions-Policy`: which powerful browser features the page and its frames may use.

use std::fmt::Write as _;

use crate::ConfigError;

/// The features [`PermissionsPolicy::strict`] denies, and what it allows to the page itself.
///
/// This is the list the OWASP Secure Headers Project recommends, plus `browsing-topics`
/// (the successor of `interest-cohort`). `sync-xhr` keeps `(self)` as OWASP does: a
/// synchronous same-origin request is slow, not dangerous, and old code still uses it.
const STRICT_FEATURES: &[(&str, &[&str])] = &[
    ("accelerometer", &[]),
    ("autoplay", &[]),
    ("browsing-topics", &[]),
    ("camera", &[]),
    ("clipboard-read", &[]),
    ("clipboard-write", &[]),
    ("cross-origin-isolated", &[]),
    ("display-capture", &[]),
    ("encrypted-media", &[]),
    ("fullscreen", &[]),
    ("gamepad", &[]),
    ("geolocation", &[]),
    ("gyroscope", &[]),
    ("hid", &[]),
    ("idle-detection", &[]),
    ("interest-cohort", &[]),
    ("keyboard-map", &[]),
    ("magnetometer", &[]),
    ("microphone", &[]),
    ("midi", &[]),
    ("payment", &[]),
    ("picture-in-picture", &[]),
    ("publickey-credentials-get", &[]),
    ("screen-wake-lock", &[]),
    ("serial", &[]),
    ("sync-xhr", &["self"]),
    ("unload", &[]),
    ("usb", &[]),
    ("web-share", &[]),
    ("xr-spatial-tracking", &[]),
];

/// `Permissions-Policy` ([Permissions Policy §5][W3C §5]): a feature name and the origins allowed
/// to use it, as a structured-field dictionary ([RFC 8941]).
///
/// A feature listed with no origins is denied to the page and every frame in it; a feature
/// not listed keeps the browser's default (usually "this origin only").
///
/// # Example
///
/// ```
/// use tower_security::{headers::PermissionsPolicy, SecurityLayer};
///
/// // Deny everything the strict list denies, but let the page itself and a maps provider
/// // ask for the user's location.
/// let policy = PermissionsPolicy::strict()
///     .allow("geolocation", ["self", "https://maps.example.com"]);
/// let layer = SecurityLayer::builder().permissions_policy(policy).build().unwrap();
/// # drop(layer);
/// ```
///
/// [W3C §5]: https://www.w3.org/TR/permissions-policy-1/#permissions-policy-http-header-field
/// [RFC 8941]: https://www.rfc-editor.org/rfc/rfc8941
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PermissionsPolicy {
    features: Vec<(String, Allowlist)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Allowlist {
    Any,
    Origins(Vec<String>),
}

impl PermissionsPolicy {
    /// An empty policy; add features with [`deny`](Self::deny) and [`allow`](Self::allow).
    pub fn new() -> Self {
        Self::default()
    }

    /// Denies every powerful feature on OWASP's list, except synchronous XHR to the page's
    /// own origin.
    pub fn strict() -> Self {
        let features = STRICT_FEATURES
            .iter()
            .map(|(name, origins)| {
                let origins = origins.iter().map(|o| (*o).to_owned()).collect();
                ((*name).to_owned(), Allowlist::Origins(origins))
            })
            .collect();
        Self { features }
    }

    /// Denies `feature` to the page and all its frames (`feature=()`), replacing any earlier
    /// entry for it.
    pub fn deny(self, feature: impl Into<String>) -> Self {
        self.set(feature.into(), Allowlist::Origins(Vec::new()))
    }

    /// Allows `feature` to the listed origins only, replacing any earlier entry for it.
    ///
    /// An origin is `self`, `src`, or a serialised origin such as `https://example.com`.
    pub fn allow<I, O>(self, feature: impl Into<String>, origins: I) -> Self
    where
        I: IntoIterator<Item = O>,
        O: Into<String>,
    {
        let origins = origins.into_iter().map(Into::into).collect();
        self.set(feature.into(), Allowlist::Origins(origins))
    }

    /// Allows `feature` to every origin (`feature=*`), replacing any earlier entry for it.
    pub fn allow_all(self, feature: impl Into<String>) -> Self {
        self.set(feature.into(), Allowlist::Any)
    }

    fn set(mut self, feature: String, allowlist: Allowlist) -> Self {
        match self.features.iter_mut().find(|(name, _)| *name == feature) {
            Some(entry) => entry.1 = allowlist,
            None => self.features.push((feature, allowlist)),
        }
        self
    }

    /// The features this policy lists, in header order.
    pub fn features(&self) -> impl Iterator<Item = &str> {
        self.features.iter().map(|(name, _)| name.as_str())
    }

    pub(crate) fn render(&self) -> Result<String, ConfigError> {
        const SETTING: &str = "permissions_policy";
        let mut out = String::with_capacity(self.features.len() * 16);
        for (name, allowlist) in &self.features {
            check_feature_name(name)?;
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(name);
            match allowlist {
                Allowlist::Any => out.push_str("=*"),
                Allowlist::Origins(origins) => {
                    out.push_str("=(");
                    for (i, origin) in origins.iter().enumerate() {
                        if i > 0 {
                            out.push(' ');
                        }
                        match origin.as_str() {
                            // Tokens in the structured-field inner list.
                            "self" | "src" => out.push_str(origin),
                            _ if is_origin(origin) => {
                                let _ = write!(out, "\"{origin}\"");
                            }
                            _ => {
                                return Err(ConfigError::invalid(
                                    format!("{SETTING}.{name}"),
                                    origin,
                                    "`self`, `src` or an origin such as `https://example.com`",
                                ));
                            }
                        }
                    }
                    out.push(')');
                }
            }
        }
        Ok(out)
    }
}

/// A feature name is a structured-field key (RFC 8941 §3.1.2): lowercase letters, digits,
/// `_`, `-`, `.` and `*`, starting with a letter or `*`.
fn check_feature_name(name: &str) -> Result<(), ConfigError> {
    let mut bytes = name.bytes();
    let valid_start = matches!(bytes.next(), Some(b'a'..=b'z' | b'*'));
    let valid_rest =
        bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*'));
    if valid_start && valid_rest {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "permissions_policy",
            name,
            "a non-empty feature name of lowercase letters, digits and `-`, such as `camera`",
        ))
    }
}

/// A serialised origin: `scheme://host[:port]`, printable ASCII with no quote, backslash,
/// whitespace, path or comma, so that it fits in a structured-field string.
fn is_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    let rest_ok = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'/' | b',' | b';'));
    !scheme.is_empty() && scheme_ok && rest_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConfigErrorKind;

    #[test]
    fn strict_denies_everything_but_same_origin_sync_xhr() {
        let value = PermissionsPolicy::strict().render().unwrap();

        assert!(value.starts_with("accelerometer=(), autoplay=(), browsing-topics=()"));
        assert!(value.contains("sync-xhr=(self), unload=()"));
        assert_eq!(value.matches("=()").count(), STRICT_FEATURES.len() - 1);
    }

    #[test]
    fn allow_replaces_an_entry_in_place() {
        let policy = PermissionsPolicy::new()
            .deny("camera")
            .deny("geolocation")
            .allow("camera", ["self", "https://meet.example.com"])
            .allow_all("fullscreen");

        let value = policy.render().unwrap();

        assert_eq!(
            value,
            r#"camera=(self "https://meet.example.com"), geolocation=(), fullscreen=*"#
        );
    }

    #[test]
    fn invalid_feature_names_and_origins_are_refused() {
        let cases = [
            ("empty feature", PermissionsPolicy::new().deny("")),
            ("uppercase feature", PermissionsPolicy::new().deny("Camera")),
            (
                "comma in feature",
                PermissionsPolicy::new().deny("camera,usb"),
            ),
            (
                "bare host",
                PermissionsPolicy::new().allow("camera", ["example.com"]),
            ),
            (
                "quote in origin",
                PermissionsPolicy::new().allow("camera", ["https://a\"b"]),
            ),
            (
                "path in origin",
                PermissionsPolicy::new().allow("camera", ["https://a.com/x"]),
            ),
        ];

        for (name, policy) in cases {
            let err = policy.render().unwrap_err();

            assert_eq!(err.kind(), ConfigErrorKind::Invalid, "{name}");
            assert!(err.setting().starts_with("permissions_policy"), "{name}");
        }
    }
}
