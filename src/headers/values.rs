//! Typed values for the single-token security headers and for HSTS.

use std::time::Duration;

use crate::ConfigError;

/// One year, the minimum `max-age` the HSTS preload list accepts.
const ONE_YEAR: u64 = 31_536_000;

/// `Strict-Transport-Security` ([RFC 6797]): tells browsers to use HTTPS only for this host.
///
/// The default is `max-age=63072000; includeSubDomains` (two years), the value OWASP recommends.
/// [`preload`](Self::preload) is opt-in because it is hard to undo: browsers ship the preload
/// list, so a mistake outlives any change of this header.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use tower_security::{headers::StrictTransportSecurity, SecurityLayer};
///
/// let hsts = StrictTransportSecurity::default()
///     .max_age(Duration::from_secs(31_536_000))
///     .preload();
/// let layer = SecurityLayer::builder().hsts(hsts).build().unwrap();
/// # drop(layer);
/// ```
///
/// [RFC 6797]: https://www.rfc-editor.org/rfc/rfc6797
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrictTransportSecurity {
    max_age: u64,
    include_subdomains: bool,
    preload: bool,
}

impl Default for StrictTransportSecurity {
    fn default() -> Self {
        Self {
            max_age: 2 * ONE_YEAR,
            include_subdomains: true,
            preload: false,
        }
    }
}

impl StrictTransportSecurity {
    /// Sets `max-age`, rounded down to whole seconds.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age.as_secs();
        self
    }

    /// Sets whether the policy covers every subdomain (`includeSubDomains`).
    pub fn include_subdomains(mut self, include: bool) -> Self {
        self.include_subdomains = include;
        self
    }

    /// Adds `preload`, consent to inclusion in the browsers' built-in HSTS list.
    ///
    /// The preload list requires a `max-age` of at least one year and `includeSubDomains`;
    /// [`build`](crate::SecurityLayerBuilder::build) refuses `preload` without both.
    pub fn preload(mut self) -> Self {
        self.preload = true;
        self
    }

    /// `max-age` in seconds, for the self-audit.
    pub(crate) fn max_age_secs(&self) -> u64 {
        self.max_age
    }

    /// Whether `includeSubDomains` is sent, for the self-audit.
    pub(crate) fn includes_subdomains(&self) -> bool {
        self.include_subdomains
    }

    /// Whether `preload` is sent, for configuration files.
    pub(crate) fn preloads(&self) -> bool {
        self.preload
    }

    pub(crate) fn render(&self) -> Result<String, ConfigError> {
        if self.preload && (self.max_age < ONE_YEAR || !self.include_subdomains) {
            return Err(ConfigError::conflict(
                "hsts.preload",
                "`preload` together with a max-age of at least 31536000 seconds (one year) \
                 and `includeSubDomains`",
            ));
        }
        let mut value = format!("max-age={}", self.max_age);
        if self.include_subdomains {
            value.push_str("; includeSubDomains");
        }
        if self.preload {
            value.push_str("; preload");
        }
        Ok(value)
    }
}

/// Declares an enum of header tokens: each variant renders to one fixed string.
macro_rules! token_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $token:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// The header value this variant is sent as.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $token, )+
                }
            }
        }
    };
}

token_enum! {
    /// `X-Frame-Options`: whether other pages may put this one in a frame.
    ///
    /// Superseded by CSP `frame-ancestors`, which browsers prefer when both are present; it is
    /// still sent for older browsers and scanners.
    pub enum FrameOptions {
        /// `DENY`: never framed.
        Deny => "DENY",
        /// `SAMEORIGIN`: framed only by pages of the same origin.
        SameOrigin => "SAMEORIGIN",
    }
}

token_enum! {
    /// `Referrer-Policy` ([W3C Referrer Policy]): how much of this page's URL other requests see.
    ///
    /// [W3C Referrer Policy]: https://www.w3.org/TR/referrer-policy/#referrer-policies
    pub enum ReferrerPolicy {
        /// `no-referrer`: never send a `Referer`.
        NoReferrer => "no-referrer",
        /// `no-referrer-when-downgrade`.
        NoReferrerWhenDowngrade => "no-referrer-when-downgrade",
        /// `origin`: send only the origin.
        Origin => "origin",
        /// `origin-when-cross-origin`.
        OriginWhenCrossOrigin => "origin-when-cross-origin",
        /// `same-origin`: the full URL to the same origin, nothing elsewhere.
        SameOrigin => "same-origin",
        /// `strict-origin`.
        StrictOrigin => "strict-origin",
        /// `strict-origin-when-cross-origin`: the browsers' default.
        StrictOriginWhenCrossOrigin => "strict-origin-when-cross-origin",
        /// `unsafe-url`: the full URL everywhere, even over plain HTTP.
        UnsafeUrl => "unsafe-url",
    }
}

token_enum! {
    /// `Cross-Origin-Opener-Policy` ([HTML §7.1.3]): whether windows of other origins that this
    /// page opens, or that open it, share its browsing context group.
    ///
    /// [HTML §7.1.3]: https://html.spec.whatwg.org/#cross-origin-opener-policies
    pub enum CrossOriginOpenerPolicy {
        /// `same-origin`: full isolation.
        SameOrigin => "same-origin",
        /// `same-origin-allow-popups`: keeps a reference to popups it opens (OAuth, payments).
        SameOriginAllowPopups => "same-origin-allow-popups",
        /// `noopener-allow-popups`.
        NoopenerAllowPopups => "noopener-allow-popups",
        /// `unsafe-none`: no isolation.
        UnsafeNone => "unsafe-none",
    }
}

token_enum! {
    /// `Cross-Origin-Resource-Policy` ([Fetch §3.7]): which origins may load this response as a
    /// subresource.
    ///
    /// [Fetch §3.7]: https://fetch.spec.whatwg.org/#cross-origin-resource-policy-header
    pub enum CrossOriginResourcePolicy {
        /// `same-origin`.
        SameOrigin => "same-origin",
        /// `same-site`.
        SameSite => "same-site",
        /// `cross-origin`: any origin, for public assets and APIs.
        CrossOrigin => "cross-origin",
    }
}

token_enum! {
    /// `Cross-Origin-Embedder-Policy` ([HTML §7.1.4]): whether the page may load cross-origin
    /// resources that did not opt in.
    ///
    /// [HTML §7.1.4]: https://html.spec.whatwg.org/multipage/browsers.html#coep
    pub enum CrossOriginEmbedderPolicy {
        /// `require-corp`: only resources sent with CORP or CORS load.
        RequireCorp => "require-corp",
        /// `credentialless`: cross-origin `no-cors` loads are sent without credentials.
        Credentialless => "credentialless",
        /// `unsafe-none`.
        UnsafeNone => "unsafe-none",
    }
}

token_enum! {
    /// `X-XSS-Protection`: the switch of the removed browser XSS auditors.
    ///
    /// Current browsers ignore the header. In the old ones that still honour it, the auditor
    /// could be abused to leak data across sites or to disable a page's own scripts, so the
    /// safe value is `0`; see `SECURITY.md`.
    pub enum XssProtection {
        /// `0`: the auditor stays off. The default.
        Disabled => "0",
        /// `1; mode=block`, for written policies that still require it.
        Block => "1; mode=block",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsts_renders_default_and_preload() {
        let default = StrictTransportSecurity::default().render().unwrap();
        let preload = StrictTransportSecurity::default()
            .preload()
            .render()
            .unwrap();
        let short = StrictTransportSecurity::default()
            .max_age(Duration::from_secs(300))
            .include_subdomains(false)
            .render()
            .unwrap();

        assert_eq!(default, "max-age=63072000; includeSubDomains");
        assert_eq!(preload, "max-age=63072000; includeSubDomains; preload");
        assert_eq!(short, "max-age=300");
    }

    #[test]
    fn hsts_preload_requires_a_year_and_subdomains() {
        let cases = [
            (
                "short max-age",
                StrictTransportSecurity::default().max_age(Duration::from_secs(ONE_YEAR - 1)),
            ),
            (
                "no includeSubDomains",
                StrictTransportSecurity::default().include_subdomains(false),
            ),
        ];

        for (name, hsts) in cases {
            let err = hsts.preload().render().unwrap_err();

            assert_eq!(err.setting(), "hsts.preload", "{name}");
        }
    }

    #[test]
    fn tokens_are_valid_header_values() {
        for token in [
            FrameOptions::Deny.as_str(),
            ReferrerPolicy::StrictOriginWhenCrossOrigin.as_str(),
            CrossOriginOpenerPolicy::SameOriginAllowPopups.as_str(),
            CrossOriginResourcePolicy::CrossOrigin.as_str(),
            CrossOriginEmbedderPolicy::Credentialless.as_str(),
            XssProtection::Block.as_str(),
        ] {
            assert!(http::HeaderValue::from_str(token).is_ok(), "{token}");
        }
    }
}
