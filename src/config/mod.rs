//! Every setting of the builder as plain data, read from a file or from the environment.
//!
//! A [`PolicyConfig`] mirrors [`SecurityLayerBuilder`]: each field is optional, and a field
//! left out keeps the value of [`SecurityLayer::strict`](crate::SecurityLayer::strict).
//! [`SecurityLayerBuilder::from_config`] applies one; with the `serde` feature,
//! `PolicyConfig::from_toml`, `from_json` and `to_toml` read and write files, and
//! [`PolicyConfig::from_vars`] reads the `TOWER_SECURITY_*` environment variables without any
//! feature. Files and variables share one conversion, so they accept the same values.
//!
//! # Example
//!
//! ```
//! use tower_security::config::PolicyConfig;
//! use tower_security::SecurityLayerBuilder;
//!
//! let vars = |name: &str| match name {
//!     "TOWER_SECURITY_HEADERS_FRAME_OPTIONS" => Some("SAMEORIGIN".to_owned()),
//!     "TOWER_SECURITY_HOSTS" => Some("example.com, www.example.com".to_owned()),
//!     _ => None,
//! };
//! let config = PolicyConfig::from_vars(vars)?;
//! let layer = SecurityLayerBuilder::from_config(&config)?.build()?;
//! # drop(layer);
//! # Ok::<(), tower_security::ConfigError>(())
//! ```
//!
//! # Errors name the key path
//!
//! A key that names no setting, or a value of the wrong form, is a [`ConfigError`] whose
//! [`setting`](ConfigError::setting) is the dotted key path in a file (`headers.hsts.max_age`)
//! or the variable's name in the environment, and whose message states the expected form.
//!
//! # Secrets
//!
//! Secret keys are not part of a `PolicyConfig`, so a configuration file can be checked in and
//! written back without leaking one; they come from `SECRET_KEY` and `SECRET_KEY_FALLBACKS`
//! ([`SecurityLayerBuilder::from_env`]) or from [`SecurityLayerBuilder::secret_key`].
//!
#![doc = include_str!("../../docs/configuration.md")]

mod apply;
#[cfg(feature = "serde")]
mod files;
mod vars;

use std::collections::BTreeMap;

use crate::{ConfigError, SecurityLayerBuilder};

pub use vars::VARIABLE_PREFIX;

/// Every setting of a [`SecurityLayerBuilder`], each optional; see the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct PolicyConfig {
    /// Response headers.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub headers: Option<HeadersConfig>,
    /// Cookie hardening, or `false` to leave cookies alone.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub cookies: Option<Switch<CookiesConfig>>,
    /// Request size limits, or `false` for none.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub limits: Option<Switch<LimitsConfig>>,
    /// The request-target firewall, or `false` to switch it off.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub uri: Option<Switch<UriConfig>>,
    /// The allowed methods, or `false` to let every method through.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub methods: Option<Switch<Vec<String>>>,
    /// The allowed host patterns, or `false` to switch the Host check off.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub hosts: Option<Switch<Vec<String>>>,
    /// The proxies, as CIDR blocks or addresses, whose forwarded headers are believed.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub trusted_proxies: Option<Vec<String>>,
    /// HTTPS enforcement, or `false` to switch it off.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub https: Option<Switch<HttpsConfig>>,
    /// [`SecurityLayerBuilder::development_mode`].
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub development_mode: Option<bool>,
    /// [`SecurityLayerBuilder::request_ids`].
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub request_ids: Option<bool>,
    /// Error-body scrubbing.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub scrub: Option<ScrubConfig>,
    /// Cross-origin request protection, or `false` to switch it off.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub cross_origin: Option<Switch<CrossOriginConfig>>,
    /// The self-audit.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub audit: Option<AuditConfig>,
}

/// A setting given a value, or switched off with `false`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Switch<T> {
    /// `false`: the control is off.
    Off,
    /// The control is on, with this value.
    On(T),
}

/// Declares a section of the configuration: a struct whose fields are all optional.
macro_rules! section {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( #[doc = $doc:literal] pub $field:ident: $ty:ty, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
        #[non_exhaustive]
        pub struct $name {
            $(
                #[doc = $doc]
                #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
                pub $field: Option<$ty>,
            )+
        }
    };
}

section! {
    /// The `[headers]` section.
    pub struct HeadersConfig {
        /// `Content-Security-Policy` directives, each `"name source source"`, or `false`.
        pub csp: Switch<Vec<String>>,
        /// `Content-Security-Policy-Report-Only` directives, or `false`.
        pub csp_report_only: Switch<Vec<String>>,
        /// Where the enforced policy's violation reports go; refused with `csp = false`.
        pub csp_report_to: String,
        /// `Strict-Transport-Security`, or `false`.
        pub hsts: Switch<HstsConfig>,
        /// `X-Frame-Options`: `DENY` or `SAMEORIGIN`, or `false`.
        pub frame_options: Switch<String>,
        /// `X-Content-Type-Options: nosniff`.
        pub nosniff: bool,
        /// `Referrer-Policy`, such as `no-referrer`, or `false`.
        pub referrer_policy: Switch<String>,
        /// `Permissions-Policy` entries such as `camera=()` or `fullscreen=(self)`, or `false`.
        pub permissions_policy: Switch<Vec<String>>,
        /// `Cross-Origin-Opener-Policy`, or `false`.
        pub coop: Switch<String>,
        /// `Cross-Origin-Resource-Policy`, or `false`.
        pub corp: Switch<String>,
        /// `Cross-Origin-Embedder-Policy`, or `false`.
        pub coep: Switch<String>,
        /// `Origin-Agent-Cluster: ?1`.
        pub origin_agent_cluster: bool,
        /// `X-DNS-Prefetch-Control: off`.
        pub dns_prefetch: bool,
        /// `X-Permitted-Cross-Domain-Policies: none`.
        pub cross_domain: bool,
        /// A default `Cache-Control: no-store, max-age=0`.
        pub no_store: bool,
        /// `X-XSS-Protection`: `0` or `1; mode=block`, or `false`.
        pub xss_protection: Switch<String>,
        /// Removal of OWASP's stack-disclosing headers.
        pub strip_fingerprints: bool,
        /// More header names to remove from every response.
        pub strip_headers: Vec<String>,
        /// Whether the policy's headers replace those the application set.
        pub override_app_headers: bool,
    }
}

section! {
    /// `[headers.hsts]`.
    pub struct HstsConfig {
        /// `max-age` in seconds.
        pub max_age: u64,
        /// `includeSubDomains`.
        pub include_subdomains: bool,
        /// `preload`.
        pub preload: bool,
    }
}

section! {
    /// The `[cookies]` section.
    pub struct CookiesConfig {
        /// `Secure` on every cookie.
        pub secure: bool,
        /// `HttpOnly` on every cookie.
        pub http_only: bool,
        /// The default `SameSite`: `Strict`, `Lax` or `None`, or `false` to add none.
        pub same_site: Switch<String>,
        /// Cookies scripts may read.
        pub script_readable: Vec<String>,
        /// Another `SameSite` per cookie name.
        pub same_site_for: BTreeMap<String, String>,
        /// Cookies allowed over plain HTTP.
        pub insecure_plain_http: Vec<String>,
        /// Cookies signed under the secret key.
        pub signed: Vec<String>,
        /// Cookies encrypted under the secret key.
        pub encrypted: Vec<String>,
    }
}

section! {
    /// The `[limits]` section.
    pub struct LimitsConfig {
        /// The body limit in bytes, or `false` for none.
        pub max_body: Switch<u64>,
        /// Another body limit per path prefix.
        pub max_body_for: BTreeMap<String, u64>,
        /// The most header fields.
        pub max_header_fields: usize,
        /// The most bytes of headers in all.
        pub max_header_bytes: usize,
        /// The most bytes of one header value.
        pub max_header_value_bytes: usize,
    }
}

section! {
    /// The `[uri]` section.
    pub struct UriConfig {
        /// Rules to relax, by name.
        pub relax: Vec<String>,
        /// The longest request target in bytes.
        pub max_target_length: usize,
        /// The longest query in bytes.
        pub max_query_length: usize,
        /// The most query parameters.
        pub max_query_parameters: usize,
    }
}

section! {
    /// The `[https]` section.
    pub struct HttpsConfig {
        /// Where plain-HTTP requests are redirected.
        pub canonical_host: String,
        /// Paths served over plain HTTP.
        pub exempt_paths: Vec<String>,
    }
}

section! {
    /// The `[scrub]` section.
    pub struct ScrubConfig {
        /// Replace `5xx` bodies.
        pub server_errors: bool,
        /// Replace `4xx` bodies.
        pub client_errors: bool,
    }
}

section! {
    /// The `[cross_origin]` section.
    pub struct CrossOriginConfig {
        /// Origins whose requests are accepted.
        pub trusted_origins: Vec<String>,
        /// Paths exempt from the check.
        pub exempt_paths: Vec<String>,
    }
}

section! {
    /// The `[audit]` section.
    pub struct AuditConfig {
        /// Finding ids to accept.
        pub silence: Vec<String>,
        /// The lowest severity that fails the build: `info`, `low`, `medium`, `high`, `critical`.
        pub refuse_at: String,
    }
}

/// Every key path, with the form its value takes. The environment variables are derived from
/// it, and serde's errors are reworded with it.
pub(crate) const SETTINGS: &[(&str, &str)] = &[
    (
        "headers.csp",
        "CSP directives, each \"name source ...\", or false",
    ),
    (
        "headers.csp_report_only",
        "CSP directives, each \"name source ...\", or false",
    ),
    ("headers.csp_report_to", "a report URL"),
    (
        "headers.hsts",
        "a table of max_age, include_subdomains and preload, or false",
    ),
    ("headers.hsts.max_age", "a number of seconds"),
    ("headers.hsts.include_subdomains", BOOL),
    ("headers.hsts.preload", BOOL),
    ("headers.frame_options", "DENY or SAMEORIGIN, or false"),
    ("headers.nosniff", BOOL),
    (
        "headers.referrer_policy",
        "a Referrer-Policy token such as no-referrer, or false",
    ),
    (
        "headers.permissions_policy",
        "entries such as camera=() or fullscreen=(self), or false",
    ),
    (
        "headers.coop",
        "same-origin, same-origin-allow-popups, noopener-allow-popups, \
                      unsafe-none, or false",
    ),
    (
        "headers.corp",
        "same-origin, same-site or cross-origin, or false",
    ),
    (
        "headers.coep",
        "require-corp, credentialless or unsafe-none, or false",
    ),
    ("headers.origin_agent_cluster", BOOL),
    ("headers.dns_prefetch", BOOL),
    ("headers.cross_domain", BOOL),
    ("headers.no_store", BOOL),
    ("headers.xss_protection", "0 or 1; mode=block, or false"),
    ("headers.strip_fingerprints", BOOL),
    ("headers.strip_headers", "a list of header names"),
    ("headers.override_app_headers", BOOL),
    ("cookies", "a [cookies] table, or false"),
    ("cookies.secure", BOOL),
    ("cookies.http_only", BOOL),
    ("cookies.same_site", "Strict, Lax or None, or false"),
    ("cookies.script_readable", "a list of cookie names"),
    (
        "cookies.same_site_for",
        "cookie names mapped to Strict, Lax or None",
    ),
    ("cookies.insecure_plain_http", "a list of cookie names"),
    ("cookies.signed", "a list of cookie names"),
    ("cookies.encrypted", "a list of cookie names"),
    ("limits", "a [limits] table, or false"),
    ("limits.max_body", "a number of bytes, or false"),
    (
        "limits.max_body_for",
        "path prefixes mapped to a number of bytes",
    ),
    ("limits.max_header_fields", "a number of fields"),
    ("limits.max_header_bytes", "a number of bytes"),
    ("limits.max_header_value_bytes", "a number of bytes"),
    ("uri", "a [uri] table, or false"),
    ("uri.relax", "a list of URI rule names"),
    ("uri.max_target_length", "a number of bytes"),
    ("uri.max_query_length", "a number of bytes"),
    ("uri.max_query_parameters", "a number of parameters"),
    ("methods", "a list of HTTP methods, or false"),
    ("hosts", "a list of host patterns, or false"),
    ("trusted_proxies", "a list of addresses or CIDR blocks"),
    ("https", "an [https] table, or false"),
    ("https.canonical_host", "a host name, with an optional port"),
    ("https.exempt_paths", "a list of paths"),
    ("development_mode", BOOL),
    ("request_ids", BOOL),
    ("scrub.server_errors", BOOL),
    ("scrub.client_errors", BOOL),
    ("cross_origin", "a [cross_origin] table, or false"),
    ("cross_origin.trusted_origins", "a list of origins"),
    ("cross_origin.exempt_paths", "a list of paths"),
    (
        "audit.silence",
        "a list of finding ids from the audit catalogue",
    ),
    ("audit.refuse_at", "info, low, medium, high or critical"),
];

const BOOL: &str = "true or false";

/// The expected form of the setting at `path`, or of the closest section that has one.
pub(crate) fn expected(path: &str) -> &'static str {
    // An entry of a list, `methods[1]`, takes the list's form.
    let mut path = path.split('[').next().unwrap_or(path);
    loop {
        if let Some((_, form)) = SETTINGS.iter().find(|(p, _)| *p == path) {
            return form;
        }
        match path.rsplit_once('.') {
            Some((parent, _)) => path = parent,
            None => return "a setting listed in the `config` module's table",
        }
    }
}

impl SecurityLayerBuilder {
    /// Starts from [`SecurityLayer::strict`](crate::SecurityLayer::strict) and applies
    /// `config`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the key path of the first value of the wrong form. The
    /// settings themselves are checked by [`build`](Self::build), as for the setters.
    pub fn from_config(config: &PolicyConfig) -> Result<Self, ConfigError> {
        Self::strict().apply(config)
    }
}
