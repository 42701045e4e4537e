//! `Content-Security-Policy`: a validated directive list, compiled once into a template that
//! only needs the request's nonce.

use bytes::{BufMut as _, Bytes, BytesMut};
use http::HeaderValue;

mod check;

use self::check::{check_report_url, check_sources, directive_kind};
use super::CspNonce;
use crate::ConfigError;

/// A Content Security Policy ([CSP Level 3]), checked when the layer is built.
///
/// Directives are written as in the header: a name and its source expressions. Keywords keep
/// their quotes (`'self'`, `'none'`); [`NONCE`](Self::NONCE) stands for the per-request nonce.
///
/// # Example
///
/// ```
/// use tower_security::{headers::ContentSecurityPolicy, SecurityLayer};
///
/// // The strict policy, plus images from a CDN and reports sent to our own collector.
/// let csp = ContentSecurityPolicy::strict()
///     .directive("img-src", ["'self'", "https://img.example.com", "data:"])
///     .report_to("/csp-reports");
/// let layer = SecurityLayer::builder().content_security_policy(csp).build().unwrap();
/// # drop(layer);
/// ```
///
/// # What is refused
///
/// [`build`](crate::SecurityLayerBuilder::build) returns a [`ConfigError`] for:
///
/// - an unknown directive name, or one given twice (browsers silently keep the first, CSP3
///   §2.2.1);
/// - a source containing `;`, `,`, whitespace, a control character or non-ASCII text, which
///   would end the directive or the policy early;
/// - an unquoted keyword such as `self` (it would name a host called `self`) or an unknown
///   quoted one;
/// - `'none'` beside other sources, where browsers ignore it;
/// - a fixed `'nonce-…'` value, which defeats the purpose of a nonce;
/// - [`NONCE`](Self::NONCE) outside `default-src`, `script-src*` and `style-src*`;
/// - a report URL that browsers would not send reports to.
///
/// [CSP Level 3]: https://www.w3.org/TR/CSP3/
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContentSecurityPolicy {
    directives: Vec<(String, Vec<String>)>,
    report_url: Option<String>,
}

impl ContentSecurityPolicy {
    /// The per-request nonce, as a source expression: rendered as `'nonce-<base64>'` with a
    /// fresh value on each response, the same value handlers read from [`CspNonce`].
    pub const NONCE: &'static str = "'nonce'";

    /// An empty policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// A strict nonce-based policy, in the manner of CSP3 §8.2 and OWASP's recommendation:
    ///
    /// ```text
    /// default-src 'self'; script-src 'nonce-…' 'strict-dynamic'; style-src 'self' 'nonce-…';
    /// object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none';
    /// upgrade-insecure-requests
    /// ```
    ///
    /// Scripts run only when they carry the request's nonce, or are loaded by one that does
    /// (`'strict-dynamic'`); inline event handlers and `javascript:` URLs never run.
    pub fn strict() -> Self {
        Self::new()
            .directive("default-src", ["'self'"])
            .directive("script-src", [Self::NONCE, "'strict-dynamic'"])
            .directive("style-src", ["'self'", Self::NONCE])
            .directive("object-src", ["'none'"])
            .directive("base-uri", ["'none'"])
            .directive("form-action", ["'self'"])
            .directive("frame-ancestors", ["'none'"])
            .directive("upgrade-insecure-requests", [""; 0])
    }

    /// Adds a directive with its sources, after those already present.
    ///
    /// Adding a name twice is refused at build time; use [`remove`](Self::remove) first to
    /// replace a directive of a preset.
    pub fn directive<I, S>(mut self, name: impl Into<String>, sources: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let sources = sources.into_iter().map(Into::into).collect();
        self.directives.push((name.into(), sources));
        self
    }

    /// Removes every directive called `name`.
    pub fn remove(mut self, name: &str) -> Self {
        self.directives
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// Sends violation reports to `url`: adds `report-to` (CSP3) with a matching
    /// `Reporting-Endpoints` header, and `report-uri` for browsers without the Reporting API.
    ///
    /// `url` is an `https://` URL, a path on this origin such as `/csp-reports`, or an
    /// `http://` URL on `localhost` or a loopback address, the only places browsers deliver
    /// reports to.
    ///
    /// Browsers read `Reporting-Endpoints` only on HTTPS responses, and a policy with
    /// `report-to` makes them ignore `report-uri` (CSP3 §6.5), so a response known to be plain
    /// HTTP gets `report-uri` alone, and no `Reporting-Endpoints`.
    pub fn report_to(mut self, url: impl Into<String>) -> Self {
        self.report_url = Some(url.into());
        self
    }

    /// The directive names, in header order.
    pub fn directive_names(&self) -> impl Iterator<Item = &str> {
        self.directives.iter().map(|(name, _)| name.as_str())
    }

    /// The sources of the directive `name`, if present.
    pub fn sources(&self, name: &str) -> Option<&[String]> {
        self.directives
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, sources)| sources.as_slice())
    }

    /// The report URL, if one is set.
    pub fn report_url(&self) -> Option<&str> {
        self.report_url.as_deref()
    }

    /// Validates the policy and splits its rendering around the nonce placeholders.
    ///
    /// `group` is the Reporting API endpoint name that `report-to` refers to; with `None`,
    /// reports go by `report-uri` alone, for plain-HTTP responses.
    pub(crate) fn compile(
        &self,
        setting: &str,
        group: Option<&str>,
    ) -> Result<CompiledCsp, ConfigError> {
        let mut parts = Vec::new();
        let mut current = String::with_capacity(256);
        let mut seen: Vec<&str> = Vec::with_capacity(self.directives.len());

        for (name, sources) in &self.directives {
            let kind = directive_kind(name).ok_or_else(|| {
                ConfigError::invalid(
                    setting,
                    name,
                    "a lowercase CSP Level 3 directive name such as `script-src`",
                )
            })?;
            if seen.contains(&name.as_str()) {
                return Err(ConfigError::duplicate(
                    setting,
                    name,
                    "each directive once; browsers ignore a repeated directive",
                ));
            }
            seen.push(name);
            let at = format!("{setting}.{name}");
            check_sources(&at, name, kind, sources)?;

            if !current.is_empty() || !parts.is_empty() {
                current.push_str("; ");
            }
            current.push_str(name);
            for source in sources {
                current.push(' ');
                if source == Self::NONCE {
                    current.push_str("'nonce-");
                    parts.push(std::mem::take(&mut current));
                    current.push('\'');
                } else {
                    current.push_str(source);
                }
            }
        }

        if let Some(url) = &self.report_url {
            check_report_url(&format!("{setting}.report_to"), url)?;
            for reserved in ["report-to", "report-uri"] {
                if seen.contains(&reserved) {
                    return Err(ConfigError::duplicate(
                        setting,
                        reserved,
                        "reporting set either by `report_to()` or by directives, not both",
                    ));
                }
            }
            if !current.is_empty() || !parts.is_empty() {
                current.push_str("; ");
            }
            if let Some(group) = group {
                current.push_str("report-to ");
                current.push_str(group);
                current.push_str("; ");
            }
            current.push_str("report-uri ");
            current.push_str(url);
        }
        parts.push(current);

        CompiledCsp::new(setting, parts)
    }
}

/// A CSP rendered at build time: `parts` joined by the request's nonce.
#[derive(Clone, Debug)]
pub(crate) struct CompiledCsp {
    parts: Box<[Bytes]>,
    /// The whole value when the policy has no nonce; otherwise the value with a nonce that no
    /// response carries, sent only if a rendered value were ever refused (fail closed).
    fixed: HeaderValue,
    len: usize,
}

impl CompiledCsp {
    fn new(setting: &str, parts: Vec<String>) -> Result<Self, ConfigError> {
        const UNUSABLE: &str = "AAAAAAAAAAAAAAAAAAAAAA==";
        let joined = parts.join(UNUSABLE);
        let fixed = HeaderValue::from_str(&joined)
            .map_err(|_| ConfigError::invalid(setting, &joined, "visible ASCII characters only"))?;
        let len = parts.iter().map(String::len).sum();
        let parts = parts.into_iter().map(Bytes::from).collect();
        Ok(Self { parts, fixed, len })
    }

    /// The value as configured, with `{nonce}` where each response carries its nonce.
    pub(crate) fn template(&self) -> String {
        let parts: Vec<_> = self
            .parts
            .iter()
            .map(|p| String::from_utf8_lossy(p))
            .collect();
        parts.join("{nonce}")
    }

    pub(crate) fn uses_nonce(&self) -> bool {
        self.parts.len() > 1
    }

    /// The header value for a response whose request was given `nonce`.
    pub(crate) fn value(&self, nonce: Option<&CspNonce>) -> HeaderValue {
        let Some(nonce) = nonce.filter(|_| self.uses_nonce()) else {
            return self.fixed.clone();
        };
        let nonce = nonce.as_bytes();
        let mut out = BytesMut::with_capacity(self.len + nonce.len() * (self.parts.len() - 1));
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                out.put_slice(nonce);
            }
            out.put_slice(part);
        }
        // Every part was validated at build time and a nonce is base64, so this cannot fail.
        HeaderValue::from_maybe_shared(out.freeze()).unwrap_or_else(|_| self.fixed.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConfigErrorKind;

    fn compile(csp: ContentSecurityPolicy) -> Result<CompiledCsp, ConfigError> {
        csp.compile("content_security_policy", Some("csp-endpoint"))
    }

    #[test]
    fn strict_renders_the_nonce_in_scripts_and_styles() {
        let compiled = compile(ContentSecurityPolicy::strict()).unwrap();
        let nonce = CspNonce::generate();

        let value = compiled.value(Some(&nonce));

        let expected = format!(
            "default-src 'self'; script-src 'nonce-{n}' 'strict-dynamic'; \
             style-src 'self' 'nonce-{n}'; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'; upgrade-insecure-requests",
            n = nonce
        );
        assert_eq!(value.to_str().unwrap(), expected);
        assert!(compiled.uses_nonce());
    }

    #[test]
    fn without_a_nonce_the_value_is_fixed() {
        let csp = ContentSecurityPolicy::new()
            .directive("default-src", ["'none'"])
            .report_to("https://r.example.com/csp");

        let compiled = compile(csp).unwrap();

        assert!(!compiled.uses_nonce());
        assert_eq!(
            compiled.value(None).to_str().unwrap(),
            "default-src 'none'; report-to csp-endpoint; report-uri https://r.example.com/csp"
        );
    }

    #[test]
    fn invalid_policies_name_the_directive() {
        let base = ContentSecurityPolicy::new;
        let cases = [
            (
                "semicolon",
                base().directive("img-src", ["a.com;script-src"]),
                "img-src",
            ),
            (
                "comma",
                base().directive("img-src", ["a.com,b.com"]),
                "img-src",
            ),
            ("CR", base().directive("img-src", ["a.com\r"]), "img-src"),
            ("LF", base().directive("img-src", ["a.com\n"]), "img-src"),
            (
                "space",
                base().directive("img-src", ["a.com b.com"]),
                "img-src",
            ),
            (
                "non-ASCII",
                base().directive("img-src", ["exämple.com"]),
                "img-src",
            ),
            ("empty", base().directive("img-src", [""]), "img-src"),
            (
                "unquoted self",
                base().directive("script-src", ["self"]),
                "script-src",
            ),
            (
                "unquoted none",
                base().directive("object-src", ["NONE"]),
                "object-src",
            ),
            (
                "unquoted unsafe",
                base().directive("script-src", ["unsafe-inline"]),
                "script-src",
            ),
            (
                "unknown keyword",
                base().directive("script-src", ["'selff'"]),
                "script-src",
            ),
            (
                "half quoted",
                base().directive("script-src", ["'self"]),
                "script-src",
            ),
            (
                "fixed nonce",
                base().directive("script-src", ["'nonce-abc'"]),
                "script-src",
            ),
            (
                "nonce in img",
                base().directive("img-src", [ContentSecurityPolicy::NONCE]),
                "img-src",
            ),
            (
                "value on flag",
                base().directive("upgrade-insecure-requests", ["x"]),
                "upgrade",
            ),
            (
                "keyword ancestor",
                base().directive("frame-ancestors", ["'unsafe-inline'"]),
                "frame",
            ),
        ];

        for (name, csp, directive) in cases {
            let err = compile(csp).unwrap_err();

            assert_eq!(err.kind(), ConfigErrorKind::Invalid, "{name}");
            assert!(err.setting().contains(directive), "{name}: {err}");
        }
    }

    #[test]
    fn structural_mistakes_are_refused() {
        let duplicate = ContentSecurityPolicy::strict().directive("default-src", ["'none'"]);
        let unknown = ContentSecurityPolicy::new().directive("scirpt-src", ["'self'"]);
        let none_plus = ContentSecurityPolicy::new().directive("img-src", ["'none'", "a.com"]);
        let report_twice = ContentSecurityPolicy::new()
            .directive("report-uri", ["/r"])
            .report_to("/r");

        assert_eq!(
            compile(duplicate).unwrap_err().kind(),
            ConfigErrorKind::Duplicate
        );
        assert_eq!(
            compile(unknown).unwrap_err().kind(),
            ConfigErrorKind::Invalid
        );
        assert_eq!(
            compile(none_plus).unwrap_err().kind(),
            ConfigErrorKind::Conflict
        );
        assert_eq!(
            compile(report_twice).unwrap_err().kind(),
            ConfigErrorKind::Duplicate
        );
    }

    #[test]
    fn report_urls_must_be_deliverable() {
        let ok = [
            "https://r.example.com/csp",
            "/csp-reports",
            "http://localhost:8080/r",
        ];
        let bad = [
            "http://r.example.com/csp",
            "//evil.example",
            "/r\"x",
            "",
            "ftp://x",
        ];

        for url in ok {
            assert!(
                compile(ContentSecurityPolicy::new().report_to(url)).is_ok(),
                "{url}"
            );
        }
        for url in bad {
            assert!(
                compile(ContentSecurityPolicy::new().report_to(url)).is_err(),
                "{url}"
            );
        }
    }

    #[test]
    fn remove_allows_replacing_a_preset_directive() {
        let csp = ContentSecurityPolicy::strict()
            .remove("frame-ancestors")
            .directive("frame-ancestors", ["https://partner.example.com"]);

        let value = compile(csp).unwrap().value(None);

        assert!(
            value
                .to_str()
                .unwrap()
                .contains("frame-ancestors https://partner.example.com")
        );
    }
}
