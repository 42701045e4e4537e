//! [`SecurityLayerBuilder`]: every setting of the policy, checked in one place.

use crate::audit::{Audit, AuditSettings, Severity};
use crate::cookies::{CookiePolicy, SameSite, SecretKey};
use crate::cross_origin::CrossOriginProtection;
use crate::guards::host::AllowedHosts;
use crate::guards::limits::RequestLimits;
use crate::guards::method::AllowedMethods;
use crate::guards::uri::UriRules;
use crate::headers::{
    ContentSecurityPolicy, CrossOriginEmbedderPolicy, CrossOriginOpenerPolicy,
    CrossOriginResourcePolicy, FrameOptions, HeaderSettings, PermissionsPolicy, ReferrerPolicy,
    StrictTransportSecurity, XssProtection,
};
use crate::policy::{Policy, ScrubSettings};
use crate::transport::https::HttpsEnforcement;
use crate::transport::proxies::TrustedProxies;
use crate::{ConfigError, SecurityLayer};

/// Builds a [`SecurityLayer`] from a preset and the settings a service needs to change.
///
/// Setters never fail; [`build`](Self::build) checks everything at once and returns the first
/// [`ConfigError`]. A header setting takes its typed value to send it, or `None` to switch
/// the header off; a header with only one sensible value takes a `bool`.
///
/// # Example
///
/// ```
/// use tower_security::headers::{ContentSecurityPolicy, FrameOptions};
/// use tower_security::SecurityLayer;
///
/// let layer = SecurityLayer::builder()
///     .frame_options(FrameOptions::SameOrigin)
///     .content_security_policy(
///         ContentSecurityPolicy::strict()
///             .remove("frame-ancestors")
///             .directive("frame-ancestors", ["'self'"]),
///     )
///     .cross_origin_embedder_policy(None)
///     .build()?;
/// # drop(layer);
/// # Ok::<(), tower_security::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct SecurityLayerBuilder {
    // Crate-visible so that the self-audit's rules read the settings as given.
    pub(crate) headers: HeaderSettings,
    pub(crate) cookies: Option<CookiePolicy>,
    secret_key: Option<SecretKey>,
    fallback_keys: Vec<SecretKey>,
    /// Where the secret key is configured, for the error when it is missing.
    pub(crate) key_setting: &'static str,
    pub(crate) cross_origin: Option<CrossOriginProtection>,
    pub(crate) methods: Option<AllowedMethods>,
    pub(crate) limits: Option<RequestLimits>,
    pub(crate) uri: Option<UriRules>,
    proxies: TrustedProxies,
    pub(crate) hosts: Option<AllowedHosts>,
    pub(crate) https: Option<HttpsEnforcement>,
    pub(crate) development: bool,
    pub(crate) request_ids: bool,
    pub(crate) scrub: ScrubSettings,
    audit: AuditSettings,
}

impl SecurityLayerBuilder {
    /// Starts from [`SecurityLayer::strict`].
    pub fn strict() -> Self {
        Self {
            headers: HeaderSettings::strict(),
            cookies: Some(CookiePolicy::strict()),
            secret_key: None,
            fallback_keys: Vec::new(),
            key_setting: "secret_key",
            cross_origin: Some(CrossOriginProtection::new()),
            methods: Some(AllowedMethods::default()),
            limits: Some(RequestLimits::strict()),
            uri: Some(UriRules::strict()),
            proxies: TrustedProxies::new(),
            hosts: Some(AllowedHosts::new()),
            https: Some(HttpsEnforcement::new()),
            development: false,
            request_ids: true,
            scrub: ScrubSettings {
                server_errors: true,
                client_errors: false,
            },
            audit: AuditSettings::default(),
        }
    }

    /// Starts from [`SecurityLayer::embeddable`].
    pub fn embeddable() -> Self {
        Self {
            headers: HeaderSettings::embeddable(),
            // Inside another site's frame, only `SameSite=None` cookies are sent at all;
            // cross-origin protection still refuses other sites' state-changing requests.
            cookies: Some(CookiePolicy::strict().same_site(SameSite::None)),
            ..Self::strict()
        }
    }

    /// Sets how every `Set-Cookie` is hardened and which cookies are signed or encrypted, or
    /// switches cookie handling off with `None`.
    pub fn cookies(mut self, policy: impl Into<Option<CookiePolicy>>) -> Self {
        self.cookies = policy.into();
        self
    }

    /// Sets the key that signs and encrypts cookies. Required when
    /// [`CookiePolicy::signed`] or [`CookiePolicy::encrypted`] names a cookie.
    pub fn secret_key(mut self, key: SecretKey) -> Self {
        self.secret_key = Some(key);
        self
    }

    /// Sets the previous keys, newest first: values sealed under them are still accepted, and
    /// re-issued under the current key. Remove a key once every cookie sealed with it has
    /// expired.
    pub fn fallback_secret_keys(mut self, keys: impl IntoIterator<Item = SecretKey>) -> Self {
        self.fallback_keys = keys.into_iter().collect();
        self
    }

    /// Sets cross-origin request protection, or switches it off with `None`. On in both
    /// presets, with no trusted origin and no exempt path.
    pub fn cross_origin_protection(
        mut self,
        protection: impl Into<Option<CrossOriginProtection>>,
    ) -> Self {
        self.cross_origin = protection.into();
        self
    }

    /// Sets `Content-Security-Policy`, or switches it off with `None`.
    pub fn content_security_policy(
        mut self,
        csp: impl Into<Option<ContentSecurityPolicy>>,
    ) -> Self {
        self.headers.csp = csp.into();
        self
    }

    /// Sets `Content-Security-Policy-Report-Only`: a policy browsers check and report on but
    /// do not enforce, to trial a stricter policy beside the enforced one. Off by default.
    pub fn content_security_policy_report_only(
        mut self,
        csp: impl Into<Option<ContentSecurityPolicy>>,
    ) -> Self {
        self.headers.csp_report_only = csp.into();
        self
    }

    /// Sets `Strict-Transport-Security`, or switches it off with `None`.
    pub fn hsts(mut self, hsts: impl Into<Option<StrictTransportSecurity>>) -> Self {
        self.headers.hsts = hsts.into();
        self
    }

    /// Sets `X-Frame-Options`, or switches it off with `None`.
    pub fn frame_options(mut self, frame_options: impl Into<Option<FrameOptions>>) -> Self {
        self.headers.frame_options = frame_options.into();
        self
    }

    /// Sends `X-Content-Type-Options: nosniff`, so browsers trust `Content-Type` rather than
    /// guessing (Fetch §3.6). On by default.
    pub fn content_type_nosniff(mut self, enabled: bool) -> Self {
        self.headers.nosniff = enabled;
        self
    }

    /// Sets `Referrer-Policy`, or switches it off with `None`.
    pub fn referrer_policy(mut self, policy: impl Into<Option<ReferrerPolicy>>) -> Self {
        self.headers.referrer_policy = policy.into();
        self
    }

    /// Sets `Permissions-Policy`, or switches it off with `None`.
    pub fn permissions_policy(mut self, policy: impl Into<Option<PermissionsPolicy>>) -> Self {
        self.headers.permissions_policy = policy.into();
        self
    }

    /// Sets `Cross-Origin-Opener-Policy`, or switches it off with `None`.
    pub fn cross_origin_opener_policy(
        mut self,
        policy: impl Into<Option<CrossOriginOpenerPolicy>>,
    ) -> Self {
        self.headers.coop = policy.into();
        self
    }

    /// Sets `Cross-Origin-Resource-Policy`, or switches it off with `None`.
    pub fn cross_origin_resource_policy(
        mut self,
        policy: impl Into<Option<CrossOriginResourcePolicy>>,
    ) -> Self {
        self.headers.corp = policy.into();
        self
    }

    /// Sets `Cross-Origin-Embedder-Policy`, or switches it off with `None`.
    pub fn cross_origin_embedder_policy(
        mut self,
        policy: impl Into<Option<CrossOriginEmbedderPolicy>>,
    ) -> Self {
        self.headers.coep = policy.into();
        self
    }

    /// Sends `Origin-Agent-Cluster: ?1`, asking the browser to isolate this origin from
    /// same-site pages (HTML §7.1.8). On by default.
    pub fn origin_agent_cluster(mut self, enabled: bool) -> Self {
        self.headers.origin_agent_cluster = enabled;
        self
    }

    /// Sends `X-DNS-Prefetch-Control: off`, so links on the page do not leak through DNS
    /// look-ups before the user follows them. On by default.
    pub fn disable_dns_prefetch(mut self, enabled: bool) -> Self {
        self.headers.dns_prefetch_off = enabled;
        self
    }

    /// Sends `X-Permitted-Cross-Domain-Policies: none`, so Flash and PDF readers load no
    /// cross-domain policy file from this site. On by default.
    pub fn deny_cross_domain_policies(mut self, enabled: bool) -> Self {
        self.headers.deny_cross_domain_policies = enabled;
        self
    }

    /// Sends `Cache-Control: no-store, max-age=0` on responses that carry neither
    /// `Cache-Control` nor `Expires`, and are not a `304 Not Modified`. On by default.
    ///
    /// A handler that wants a response cached says so with its own `Cache-Control`, which is
    /// always kept.
    pub fn no_store_by_default(mut self, enabled: bool) -> Self {
        self.headers.no_store_by_default = enabled;
        self
    }

    /// Sets `X-XSS-Protection`, or switches it off with `None`. The default is `0`; see
    /// [`XssProtection`] before choosing `1; mode=block`.
    pub fn xss_protection(mut self, value: impl Into<Option<XssProtection>>) -> Self {
        self.headers.xss_protection = value.into();
        self
    }

    /// Removes the headers on OWASP's list of stack-disclosing headers (`Server`,
    /// `X-Powered-By`, `X-AspNet-Version` and 84 more) from every response. On by default.
    pub fn strip_fingerprint_headers(mut self, enabled: bool) -> Self {
        self.headers.strip_fingerprints = enabled;
        self
    }

    /// Also removes the header `name` from every response.
    pub fn strip_header(mut self, name: impl Into<String>) -> Self {
        self.headers
            .strip_extra
            .push(name.into().to_ascii_lowercase());
        self
    }

    /// Makes the policy's value replace one the application set itself.
    ///
    /// Off by default: a header the inner service sets is kept, so one route can tailor it.
    /// On, every header the policy sends is enforced on every response. `Cache-Control` is the
    /// exception: the policy only ever fills it in where the response has no caching headers.
    pub fn override_app_headers(mut self, enabled: bool) -> Self {
        self.headers.override_app_headers = enabled;
        self
    }

    /// Sets the methods the service answers, or lets every method through with `None`.
    pub fn allowed_methods(mut self, methods: impl Into<Option<AllowedMethods>>) -> Self {
        self.methods = methods.into();
        self
    }

    /// Sets the header and body size limits, or removes them all with `None`.
    pub fn request_limits(mut self, limits: impl Into<Option<RequestLimits>>) -> Self {
        self.limits = limits.into();
        self
    }

    /// Sets the request-target firewall, or switches it off with `None`.
    pub fn uri_rules(mut self, rules: impl Into<Option<UriRules>>) -> Self {
        self.uri = rules.into();
        self
    }

    /// Sets the proxies whose forwarded headers are believed. Forwarded headers from any
    /// other peer are removed before the application sees them; by default no one is trusted.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// Sets the hosts the service answers for. Without a list every well-formed `Host` is
    /// accepted; `None` switches the Host check off entirely.
    pub fn allowed_hosts(mut self, hosts: impl Into<Option<AllowedHosts>>) -> Self {
        self.hosts = hosts.into();
        self
    }

    /// Sets where plain-HTTP requests are redirected, or switches HTTPS enforcement off with
    /// `None`. Both presets refuse plain HTTP that they can recognise as such, with nowhere to
    /// redirect it; name the canonical host with [`HttpsEnforcement::redirect_to`].
    pub fn https(mut self, https: impl Into<Option<HttpsEnforcement>>) -> Self {
        self.https = https.into();
        self
    }

    /// Development mode: no HTTPS enforcement and no HSTS, so the service runs over plain
    /// HTTP on a developer's machine. Nothing else is relaxed, and no request can switch it
    /// on. The layer logs a warning when it is built in this mode; the demo server prints it
    /// at start-up.
    pub fn development_mode(mut self, enabled: bool) -> Self {
        self.development = enabled;
        self
    }

    /// Whether each request gets a [`RequestId`](crate::transport::request_id::RequestId).
    /// On by default.
    pub fn request_ids(mut self, enabled: bool) -> Self {
        self.request_ids = enabled;
        self
    }

    /// Whether the body of a `5xx` response is replaced by a generic one carrying the request
    /// id. On by default; `Retry-After` and the status are kept.
    pub fn scrub_server_errors(mut self, enabled: bool) -> Self {
        self.scrub.server_errors = enabled;
        self
    }

    /// Whether the body of a `4xx` response is replaced too, for frameworks whose rejections
    /// echo parser details. Off by default: many APIs explain client errors on purpose.
    pub fn scrub_client_errors(mut self, enabled: bool) -> Self {
        self.scrub.client_errors = enabled;
        self
    }

    /// Accepts the self-audit finding `id`, such as `"TS-HOSTS-001"`: it is listed in
    /// [`Audit::silenced`](crate::audit::Audit::silenced) rather than
    /// [`Audit::findings`](crate::audit::Audit::findings), logged at `DEBUG` rather than
    /// `WARN`, and never refused by [`refuse_findings_at`](Self::refuse_findings_at).
    ///
    /// An id not in the [catalogue](crate::audit::catalogue) is a [`ConfigError`] at build
    /// time, so a mistyped id cannot go unnoticed.
    pub fn silence_finding(mut self, id: &'static str) -> Self {
        self.audit.silenced.push(id);
        self
    }

    /// Makes [`build`](Self::build) fail while the self-audit reports an unsilenced finding of
    /// `severity` or above, for a deployment pipeline that must not ship a weakened policy.
    /// Off by default: findings are only logged.
    pub fn refuse_findings_at(mut self, severity: Severity) -> Self {
        self.audit.refuse_at = Some(severity);
        self
    }

    /// Checks every setting and compiles the policy, then runs the
    /// [self-audit](crate::audit) and logs each finding.
    ///
    /// # Errors
    ///
    /// The first setting that cannot become a valid, effective header, as a [`ConfigError`]
    /// naming it and the form it expects; an id given to
    /// [`silence_finding`](Self::silence_finding) that names no finding; or, with
    /// [`refuse_findings_at`](Self::refuse_findings_at), the most severe finding at or above
    /// that severity.
    pub fn build(self) -> Result<SecurityLayer, ConfigError> {
        let cookies = self
            .cookies
            .as_ref()
            .map(|cookies| {
                let key = self.secret_key.as_ref();
                cookies.compile(key, &self.fallback_keys, self.key_setting)
            })
            .transpose()?;
        let policy = Policy {
            headers: self
                .headers
                .compile(self.development)?
                .issuing_request_ids(self.request_ids),
            cross_origin: self
                .cross_origin
                .as_ref()
                .map(|c| c.compile())
                .transpose()?,
            methods: self
                .methods
                .as_ref()
                .map(AllowedMethods::compile)
                .transpose()?,
            limits: self
                .limits
                .as_ref()
                .map(RequestLimits::compile)
                .transpose()?,
            uri: self.uri.as_ref().map(UriRules::compile).transpose()?,
            proxies: self.proxies.compile()?,
            hosts: self.hosts.as_ref().map(AllowedHosts::compile).transpose()?,
            https: match self.development {
                true => None,
                false => self
                    .https
                    .as_ref()
                    .map(HttpsEnforcement::compile)
                    .transpose()?,
            },
            development: self.development,
            request_ids: self.request_ids,
            scrub: self.scrub,
            cookies,
            audit: Audit::default(),
        };
        if self.development {
            tracing::warn!(
                target: crate::events::TARGET,
                event = "development_mode",
                "development mode: HTTPS enforcement and HSTS are off"
            );
        }
        let audit = self.audit.run(&self)?;
        Ok(SecurityLayer::from_policy(Policy { audit, ..policy }))
    }

    /// Builds a preset, whose settings are constants covered by the crate's tests.
    pub(crate) fn build_preset(self) -> SecurityLayer {
        match self.build() {
            Ok(layer) => layer,
            Err(err) => unreachable!("a preset failed to build: {err}"),
        }
    }
}

impl Default for SecurityLayerBuilder {
    fn default() -> Self {
        Self::strict()
    }
}
