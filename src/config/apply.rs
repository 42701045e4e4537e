//! The one conversion from a [`PolicyConfig`] to builder settings, for files and variables.

use std::time::Duration;

use http::Method;

use super::{
    CookiesConfig, CrossOriginConfig, HeadersConfig, HttpsConfig, LimitsConfig, PolicyConfig,
    Switch, UriConfig, expected,
};
use crate::ConfigError;
use crate::SecurityLayerBuilder;
use crate::audit::{Severity, catalogue};
use crate::cookies::{CookiePolicy, SameSite};
use crate::cross_origin::CrossOriginProtection;
use crate::guards::host::AllowedHosts;
use crate::guards::limits::RequestLimits;
use crate::guards::method::AllowedMethods;
use crate::guards::uri::UriRules;
use crate::headers::{
    ContentSecurityPolicy, CrossOriginEmbedderPolicy, CrossOriginOpenerPolicy,
    CrossOriginResourcePolicy, FrameOptions, PermissionsPolicy, ReferrerPolicy,
    StrictTransportSecurity, XssProtection,
};
use crate::transport::https::HttpsEnforcement;
use crate::transport::proxies::TrustedProxies;

impl SecurityLayerBuilder {
    /// Applies every setting `config` gives to this builder; the others keep their values.
    ///
    /// # Errors
    ///
    /// As [`from_config`](Self::from_config).
    pub fn apply(mut self, config: &PolicyConfig) -> Result<Self, ConfigError> {
        if let Some(headers) = &config.headers {
            self = apply_headers(self, headers)?;
        }
        if let Some(cookies) = &config.cookies {
            self.cookies = switch(cookies, |c| {
                cookie_policy(self.cookies.clone().unwrap_or_default(), c)
            })?;
        }
        if let Some(limits) = &config.limits {
            self.limits = switch(limits, |l| {
                Ok(request_limits(self.limits.clone().unwrap_or_default(), l))
            })?;
        }
        if let Some(uri) = &config.uri {
            self.uri = switch(uri, |u| Ok(uri_rules(self.uri.clone(), u)))?;
        }
        if let Some(methods) = &config.methods {
            self.methods = switch(methods, |m| allowed_methods(m))?;
        }
        if let Some(hosts) = &config.hosts {
            self.hosts = switch(hosts, |h| {
                Ok(h.iter().fold(AllowedHosts::new(), |a, h| a.allow(h)))
            })?;
        }
        if let Some(proxies) = &config.trusted_proxies {
            let proxies = proxies
                .iter()
                .fold(TrustedProxies::new(), |p, c| p.trust(c));
            self = self.trusted_proxies(proxies);
        }
        if let Some(https) = &config.https {
            self.https = switch(https, |h| Ok(https_enforcement(h)))?;
        }
        if let Some(enabled) = config.development_mode {
            self = self.development_mode(enabled);
        }
        if let Some(enabled) = config.request_ids {
            self = self.request_ids(enabled);
        }
        if let Some(scrub) = &config.scrub {
            if let Some(enabled) = scrub.server_errors {
                self = self.scrub_server_errors(enabled);
            }
            if let Some(enabled) = scrub.client_errors {
                self = self.scrub_client_errors(enabled);
            }
        }
        if let Some(cross_origin) = &config.cross_origin {
            self.cross_origin = switch(cross_origin, |c| Ok(cross_origin_protection(c)))?;
        }
        if let Some(audit) = &config.audit {
            for id in audit.silence.iter().flatten() {
                let info = catalogue().iter().find(|info| info.id() == id);
                let info = info.ok_or_else(|| invalid("audit.silence", id))?;
                self = self.silence_finding(info.id());
            }
            if let Some(severity) = &audit.refuse_at {
                self = self.refuse_findings_at(severity_from(severity)?);
            }
        }
        Ok(self)
    }
}

fn apply_headers(
    mut b: SecurityLayerBuilder,
    h: &HeadersConfig,
) -> Result<SecurityLayerBuilder, ConfigError> {
    if let Some(csp) = &h.csp {
        b.headers.csp = switch(csp, |d| Ok(csp_from(d)))?;
    }
    if let Some(url) = &h.csp_report_to {
        let Some(csp) = b.headers.csp.take() else {
            return Err(ConfigError::conflict(
                "headers.csp_report_to",
                "a policy to report on: `csp_report_to` needs `csp` other than false",
            ));
        };
        b.headers.csp = Some(csp.report_to(url));
    }
    if let Some(csp) = &h.csp_report_only {
        b.headers.csp_report_only = switch(csp, |d| Ok(csp_from(d)))?;
    }
    if let Some(hsts) = &h.hsts {
        let base = b.headers.hsts.clone().unwrap_or_default();
        b.headers.hsts = switch(hsts, |c| {
            let max_age = c.max_age.unwrap_or(base.max_age_secs());
            let hsts = StrictTransportSecurity::default()
                .max_age(Duration::from_secs(max_age))
                .include_subdomains(c.include_subdomains.unwrap_or(base.includes_subdomains()));
            Ok(match c.preload.unwrap_or(base.preloads()) {
                true => hsts.preload(),
                false => hsts,
            })
        })?;
    }
    let headers = &mut b.headers;
    if let Some(v) = &h.frame_options {
        headers.frame_options = switch(v, |v| token("headers.frame_options", v, FRAME))?;
    }
    if let Some(v) = &h.referrer_policy {
        headers.referrer_policy = switch(v, |v| token("headers.referrer_policy", v, REFERRER))?;
    }
    if let Some(v) = &h.coop {
        headers.coop = switch(v, |v| token("headers.coop", v, COOP))?;
    }
    if let Some(v) = &h.corp {
        headers.corp = switch(v, |v| token("headers.corp", v, CORP))?;
    }
    if let Some(v) = &h.coep {
        headers.coep = switch(v, |v| token("headers.coep", v, COEP))?;
    }
    if let Some(v) = &h.xss_protection {
        headers.xss_protection = switch(v, |v| token("headers.xss_protection", v, XSS))?;
    }
    if let Some(v) = &h.permissions_policy {
        headers.permissions_policy = switch(v, |v| permissions_from(v))?;
    }
    let flags = [
        (h.nosniff, &mut headers.nosniff),
        (h.origin_agent_cluster, &mut headers.origin_agent_cluster),
        (h.dns_prefetch, &mut headers.dns_prefetch_off),
        (h.cross_domain, &mut headers.deny_cross_domain_policies),
        (h.no_store, &mut headers.no_store_by_default),
        (h.strip_fingerprints, &mut headers.strip_fingerprints),
        (h.override_app_headers, &mut headers.override_app_headers),
    ];
    for (value, field) in flags {
        if let Some(value) = value {
            *field = value;
        }
    }
    for name in h.strip_headers.iter().flatten() {
        b = b.strip_header(name);
    }
    Ok(b)
}

fn switch<T, U>(
    value: &Switch<T>,
    on: impl FnOnce(&T) -> Result<U, ConfigError>,
) -> Result<Option<U>, ConfigError> {
    match value {
        Switch::Off => Ok(None),
        Switch::On(value) => on(value).map(Some),
    }
}

fn invalid(path: &str, value: &str) -> ConfigError {
    ConfigError::invalid(path, value, expected(path))
}

fn token<T: Copy>(path: &str, value: &str, table: &[(&str, T)]) -> Result<T, ConfigError> {
    let value_ = value.trim();
    table
        .iter()
        .find(|(token, _)| token.eq_ignore_ascii_case(value_))
        .map(|(_, t)| *t)
        .ok_or_else(|| invalid(path, value))
}

const FRAME: &[(&str, FrameOptions)] = &[
    ("DENY", FrameOptions::Deny),
    ("SAMEORIGIN", FrameOptions::SameOrigin),
];
const REFERRER: &[(&str, ReferrerPolicy)] = &[
    ("no-referrer", ReferrerPolicy::NoReferrer),
    (
        "no-referrer-when-downgrade",
        ReferrerPolicy::NoReferrerWhenDowngrade,
    ),
    ("origin", ReferrerPolicy::Origin),
    (
        "origin-when-cross-origin",
        ReferrerPolicy::OriginWhenCrossOrigin,
    ),
    ("same-origin", ReferrerPolicy::SameOrigin),
    ("strict-origin", ReferrerPolicy::StrictOrigin),
    (
        "strict-origin-when-cross-origin",
        ReferrerPolicy::StrictOriginWhenCrossOrigin,
    ),
    ("unsafe-url", ReferrerPolicy::UnsafeUrl),
];
const COOP: &[(&str, CrossOriginOpenerPolicy)] = &[
    ("same-origin", CrossOriginOpenerPolicy::SameOrigin),
    (
        "same-origin-allow-popups",
        CrossOriginOpenerPolicy::SameOriginAllowPopups,
    ),
    (
        "noopener-allow-popups",
        CrossOriginOpenerPolicy::NoopenerAllowPopups,
    ),
    ("unsafe-none", CrossOriginOpenerPolicy::UnsafeNone),
];
const CORP: &[(&str, CrossOriginResourcePolicy)] = &[
    ("same-origin", CrossOriginResourcePolicy::SameOrigin),
    ("same-site", CrossOriginResourcePolicy::SameSite),
    ("cross-origin", CrossOriginResourcePolicy::CrossOrigin),
];
const COEP: &[(&str, CrossOriginEmbedderPolicy)] = &[
    ("require-corp", CrossOriginEmbedderPolicy::RequireCorp),
    ("credentialless", CrossOriginEmbedderPolicy::Credentialless),
    ("unsafe-none", CrossOriginEmbedderPolicy::UnsafeNone),
];
const XSS: &[(&str, XssProtection)] = &[
    ("0", XssProtection::Disabled),
    ("1; mode=block", XssProtection::Block),
];
const SAME_SITE: &[(&str, SameSite)] = &[
    ("Strict", SameSite::Strict),
    ("Lax", SameSite::Lax),
    ("None", SameSite::None),
];
const SEVERITY: &[(&str, Severity)] = &[
    ("info", Severity::Info),
    ("low", Severity::Low),
    ("medium", Severity::Medium),
    ("high", Severity::High),
    ("critical", Severity::Critical),
];

fn severity_from(value: &str) -> Result<Severity, ConfigError> {
    token("audit.refuse_at", value, SEVERITY)
}

/// Each entry is `"name source source"`; [`build`](SecurityLayerBuilder::build) checks them.
fn csp_from(directives: &[String]) -> ContentSecurityPolicy {
    directives
        .iter()
        .fold(ContentSecurityPolicy::new(), |csp, directive| {
            let mut words = directive.split_whitespace();
            let name = words.next().unwrap_or_default();
            csp.directive(name, words)
        })
}

/// Each entry is `feature=()`, `feature=*` or `feature=(self "https://a.example")`.
fn permissions_from(entries: &[String]) -> Result<PermissionsPolicy, ConfigError> {
    let path = "headers.permissions_policy";
    entries
        .iter()
        .try_fold(PermissionsPolicy::new(), |policy, entry| {
            let (feature, list) = entry.split_once('=').ok_or_else(|| invalid(path, entry))?;
            let (feature, list) = (feature.trim(), list.trim());
            if list == "*" {
                return Ok(policy.allow_all(feature));
            }
            let origins = list
                .strip_prefix('(')
                .and_then(|l| l.strip_suffix(')'))
                .ok_or_else(|| invalid(path, entry))?;
            let origins: Vec<&str> = origins
                .split_whitespace()
                .map(|o| o.trim_matches('"'))
                .collect();
            Ok(match origins.is_empty() {
                true => policy.deny(feature),
                false => policy.allow(feature, origins),
            })
        })
}

fn cookie_policy(mut policy: CookiePolicy, c: &CookiesConfig) -> Result<CookiePolicy, ConfigError> {
    if let Some(secure) = c.secure {
        policy = policy.secure(secure);
    }
    if let Some(http_only) = c.http_only {
        policy = policy.http_only(http_only);
    }
    if let Some(same_site) = &c.same_site {
        let same_site = switch(same_site, |s| token("cookies.same_site", s, SAME_SITE))?;
        policy = policy.same_site(same_site);
    }
    for name in c.script_readable.iter().flatten() {
        policy = policy.script_readable(name);
    }
    for (name, value) in c.same_site_for.iter().flatten() {
        policy = policy.same_site_for(name, token("cookies.same_site_for", value, SAME_SITE)?);
    }
    for name in c.insecure_plain_http.iter().flatten() {
        policy = policy.insecure_plain_http(name);
    }
    for name in c.signed.iter().flatten() {
        policy = policy.signed(name);
    }
    for name in c.encrypted.iter().flatten() {
        policy = policy.encrypted(name);
    }
    Ok(policy)
}

fn request_limits(mut limits: RequestLimits, l: &LimitsConfig) -> RequestLimits {
    if let Some(max_body) = &l.max_body {
        limits = limits.max_body_size(match max_body {
            Switch::Off => None,
            Switch::On(bytes) => Some(*bytes),
        });
    }
    for (prefix, bytes) in l.max_body_for.iter().flatten() {
        limits = limits.max_body_size_for(prefix, *bytes);
    }
    if let Some(count) = l.max_header_fields {
        limits = limits.max_header_fields(count);
    }
    if let Some(bytes) = l.max_header_bytes {
        limits = limits.max_header_bytes(bytes);
    }
    if let Some(bytes) = l.max_header_value_bytes {
        limits = limits.max_header_value_bytes(bytes);
    }
    limits
}

fn uri_rules(rules: Option<UriRules>, u: &UriConfig) -> UriRules {
    let mut rules = rules.unwrap_or_else(UriRules::strict);
    for rule in u.relax.iter().flatten() {
        rules = rules.relax(rule);
    }
    if let Some(bytes) = u.max_target_length {
        rules = rules.max_target_length(bytes);
    }
    if let Some(bytes) = u.max_query_length {
        rules = rules.max_query_length(bytes);
    }
    if let Some(count) = u.max_query_parameters {
        rules = rules.max_query_parameters(count);
    }
    rules
}

fn allowed_methods(methods: &[String]) -> Result<AllowedMethods, ConfigError> {
    let methods = methods
        .iter()
        .map(|m| Method::from_bytes(m.trim().as_bytes()).map_err(|_| invalid("methods", m)))
        .collect::<Result<Vec<_>, _>>()?;

    Ok(AllowedMethods::new(methods))
}

fn https_enforcement(h: &HttpsConfig) -> HttpsEnforcement {
    let https = match &h.canonical_host {
        Some(host) => HttpsEnforcement::redirect_to(host),
        None => HttpsEnforcement::new(),
    };
    h.exempt_paths
        .iter()
        .flatten()
        .fold(https, |https, path| https.exempt_path(path))
}

fn cross_origin_protection(c: &CrossOriginConfig) -> CrossOriginProtection {
    let protection = c
        .trusted_origins
        .iter()
        .flatten()
        .fold(CrossOriginProtection::new(), |p, origin| {
            p.trusted_origin(origin)
        });
    c.exempt_paths
        .iter()
        .flatten()
        .fold(protection, |p, path| p.insecure_exempt_path(path))
}
