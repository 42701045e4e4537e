//! Security response headers: typed settings, validation, and the compiled form that the layer
//! applies to every response.
//!
//! The settings here are given to [`SecurityLayerBuilder`](crate::SecurityLayerBuilder); each
//! one is checked and rendered into a [`HeaderValue`] once, when the layer is built. Per
//! request, the layer draws a [`CspNonce`] if the CSP uses one, removes headers that disclose
//! the server's stack, and inserts the pre-rendered values that the response does not already
//! carry.
//!
//! # Example
//!
//! ```
//! use tower_security::headers::{
//!     ContentSecurityPolicy, CrossOriginResourcePolicy, ReferrerPolicy,
//! };
//! use tower_security::SecurityLayer;
//!
//! // Strict, except that other sites of ours may load our images and follow our links.
//! let layer = SecurityLayer::builder()
//!     .cross_origin_resource_policy(CrossOriginResourcePolicy::SameSite)
//!     .referrer_policy(ReferrerPolicy::StrictOriginWhenCrossOrigin)
//!     .content_security_policy_report_only(
//!         ContentSecurityPolicy::strict().directive("require-trusted-types-for", ["'script'"]),
//!     )
//!     .build()?;
//! # drop(layer);
//! # Ok::<(), tower_security::ConfigError>(())
//! ```
//!
//! # Headers the application sets
//!
//! A header the inner service already set is kept, so one route can loosen or tighten the
//! policy (a page that must be framed sends its own `X-Frame-Options`). To make the policy win
//! instead, use [`override_app_headers`](crate::SecurityLayerBuilder::override_app_headers).
//! Headers the policy does not manage, multi-valued ones such as `Vary`, `Link` and
//! `Set-Cookie` included, are never merged, reordered or dropped.

use http::header::{self, Entry};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};

use crate::transport::request_id::X_REQUEST_ID;
use crate::{ConfigError, Control};

mod csp;
mod fingerprint;
mod nonce;
mod permissions;
mod template;
mod values;

pub use self::csp::ContentSecurityPolicy;
pub use self::fingerprint::FINGERPRINT_HEADERS;
pub use self::nonce::CspNonce;
pub use self::permissions::PermissionsPolicy;
pub use self::values::{
    CrossOriginEmbedderPolicy, CrossOriginOpenerPolicy, CrossOriginResourcePolicy, FrameOptions,
    ReferrerPolicy, StrictTransportSecurity, XssProtection,
};

use self::csp::CompiledCsp;

/// The value sent when the response sets no caching header of its own: security responses
/// are often personal, and a shared cache must not keep them (RFC 9111 §5.2.2.5).
const NO_STORE: &str = "no-store, max-age=0";

/// The headers part of a policy, as the builder holds it before validation.
#[derive(Clone, Debug)]
pub(crate) struct HeaderSettings {
    pub(crate) csp: Option<ContentSecurityPolicy>,
    pub(crate) csp_report_only: Option<ContentSecurityPolicy>,
    pub(crate) hsts: Option<StrictTransportSecurity>,
    pub(crate) frame_options: Option<FrameOptions>,
    pub(crate) nosniff: bool,
    pub(crate) referrer_policy: Option<ReferrerPolicy>,
    pub(crate) permissions_policy: Option<PermissionsPolicy>,
    pub(crate) coop: Option<CrossOriginOpenerPolicy>,
    pub(crate) corp: Option<CrossOriginResourcePolicy>,
    pub(crate) coep: Option<CrossOriginEmbedderPolicy>,
    pub(crate) origin_agent_cluster: bool,
    pub(crate) dns_prefetch_off: bool,
    pub(crate) deny_cross_domain_policies: bool,
    pub(crate) no_store_by_default: bool,
    pub(crate) xss_protection: Option<XssProtection>,
    pub(crate) strip_fingerprints: bool,
    pub(crate) strip_extra: Vec<String>,
    pub(crate) override_app_headers: bool,
}

impl HeaderSettings {
    pub(crate) fn strict() -> Self {
        Self {
            csp: Some(ContentSecurityPolicy::strict()),
            csp_report_only: None,
            hsts: Some(StrictTransportSecurity::default()),
            frame_options: Some(FrameOptions::Deny),
            nosniff: true,
            referrer_policy: Some(ReferrerPolicy::NoReferrer),
            permissions_policy: Some(PermissionsPolicy::strict()),
            coop: Some(CrossOriginOpenerPolicy::SameOrigin),
            corp: Some(CrossOriginResourcePolicy::SameOrigin),
            coep: Some(CrossOriginEmbedderPolicy::RequireCorp),
            origin_agent_cluster: true,
            dns_prefetch_off: true,
            deny_cross_domain_policies: true,
            no_store_by_default: true,
            xss_protection: Some(XssProtection::Disabled),
            strip_fingerprints: true,
            strip_extra: Vec::new(),
            override_app_headers: false,
        }
    }

    pub(crate) fn embeddable() -> Self {
        let csp = ContentSecurityPolicy::new()
            .directive("default-src", ["'self'"])
            .directive(
                "script-src",
                [ContentSecurityPolicy::NONCE, "'strict-dynamic'"],
            )
            .directive(
                "style-src",
                ["'self'", "https:", ContentSecurityPolicy::NONCE],
            )
            .directive("img-src", ["'self'", "https:", "data:"])
            .directive("font-src", ["'self'", "https:", "data:"])
            .directive("media-src", ["'self'", "https:"])
            .directive("connect-src", ["'self'", "https:"])
            .directive("frame-src", ["'self'", "https:"])
            .directive("object-src", ["'none'"])
            .directive("base-uri", ["'none'"])
            .directive("form-action", ["'self'"])
            .directive("frame-ancestors", ["'self'", "https:"])
            .directive("upgrade-insecure-requests", [""; 0]);
        Self {
            csp: Some(csp),
            // X-Frame-Options cannot name other sites; `frame-ancestors` decides instead.
            frame_options: None,
            referrer_policy: Some(ReferrerPolicy::StrictOriginWhenCrossOrigin),
            coop: Some(CrossOriginOpenerPolicy::SameOriginAllowPopups),
            corp: Some(CrossOriginResourcePolicy::CrossOrigin),
            // `require-corp` blocks every third-party asset that does not send CORP.
            coep: None,
            ..Self::strict()
        }
    }

    /// Validates every setting and renders the values sent on each response.
    ///
    /// In `development` mode no HSTS is sent: a browser would then refuse plain HTTP to the
    /// development host, `localhost` included, for the header's whole `max-age`.
    pub(crate) fn compile(&self, development: bool) -> Result<HeaderPolicy, ConfigError> {
        let mut fixed = Vec::with_capacity(16);
        let mut push = |name: HeaderName, value: HeaderValue| fixed.push((name, value));

        // Both policies may report to one URL, which is then one Reporting API endpoint.
        const ENFORCE_GROUP: &str = "csp-endpoint";
        let enforce_url = self
            .csp
            .as_ref()
            .and_then(ContentSecurityPolicy::report_url);
        let report_only_url = self
            .csp_report_only
            .as_ref()
            .and_then(ContentSecurityPolicy::report_url);
        let report_only_group = match report_only_url {
            Some(url) if Some(url) == enforce_url => ENFORCE_GROUP,
            _ => "csp-report-only-endpoint",
        };
        let csp = self
            .csp
            .as_ref()
            .map(|csp| CspPair::compile(csp, "content_security_policy", ENFORCE_GROUP))
            .transpose()?;
        let csp_report_only = self
            .csp_report_only
            .as_ref()
            .map(|csp| {
                CspPair::compile(
                    csp,
                    "content_security_policy_report_only",
                    report_only_group,
                )
            })
            .transpose()?;
        // Browsers read it on HTTPS responses only, so it is sent with HSTS.
        let mut reporting = None;
        let mut endpoints = Vec::with_capacity(2);
        if let Some(url) = enforce_url {
            endpoints.push((ENFORCE_GROUP, url));
        }
        if let Some(url) = report_only_url.filter(|_| report_only_group != ENFORCE_GROUP) {
            endpoints.push((report_only_group, url));
        }
        if !endpoints.is_empty() {
            // Reporting API §3.1: a structured-field dictionary of endpoint names to URLs.
            let value = endpoints
                .iter()
                .map(|(group, url)| format!("{group}=\"{url}\""))
                .collect::<Vec<_>>()
                .join(", ");
            reporting = Some(dynamic(&value, "report_to")?);
        }

        let hsts = match &self.hsts {
            Some(hsts) => Some(dynamic(&hsts.render()?, "hsts")?),
            None => None,
        };
        if let Some(frame) = self.frame_options {
            push(header::X_FRAME_OPTIONS, fixed_value(frame.as_str()));
        }
        if self.nosniff {
            push(header::X_CONTENT_TYPE_OPTIONS, fixed_value("nosniff"));
        }
        if let Some(referrer) = self.referrer_policy {
            push(header::REFERRER_POLICY, fixed_value(referrer.as_str()));
        }
        if let Some(policy) = &self.permissions_policy {
            let value = policy.render()?;
            if !value.is_empty() {
                push(permissions_policy(), dynamic(&value, "permissions_policy")?);
            }
        }
        if let Some(coop) = self.coop {
            push(cross_origin_opener_policy(), fixed_value(coop.as_str()));
        }
        if let Some(corp) = self.corp {
            push(cross_origin_resource_policy(), fixed_value(corp.as_str()));
        }
        if let Some(coep) = self.coep {
            push(cross_origin_embedder_policy(), fixed_value(coep.as_str()));
        }
        if self.origin_agent_cluster {
            // A structured-field boolean (RFC 8941 §3.3.6); HTML §7.1.8.
            push(origin_agent_cluster(), fixed_value("?1"));
        }
        if self.dns_prefetch_off {
            push(header::X_DNS_PREFETCH_CONTROL, fixed_value("off"));
        }
        if self.deny_cross_domain_policies {
            push(x_permitted_cross_domain_policies(), fixed_value("none"));
        }
        if let Some(xss) = self.xss_protection {
            push(header::X_XSS_PROTECTION, fixed_value(xss.as_str()));
        }

        let strip_extra = self
            .strip_extra
            .iter()
            .map(|name| {
                HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    ConfigError::invalid(
                        "strip_header",
                        name,
                        "a header name of letters, digits and `-`",
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let nonce = csp.as_ref().is_some_and(|c| c.https.uses_nonce())
            || csp_report_only
                .as_ref()
                .is_some_and(|c| c.https.uses_nonce());
        let mut policy = HeaderPolicy {
            fixed: fixed.into_boxed_slice(),
            hsts: hsts.filter(|_| !development),
            reporting_endpoints: reporting,
            csp,
            csp_report_only,
            no_store: self.no_store_by_default.then(|| fixed_value(NO_STORE)),
            strip_fingerprints: self.strip_fingerprints,
            strip_extra: strip_extra.into_boxed_slice(),
            override_app_headers: self.override_app_headers,
            nonce,
            request_id_slot: false,
            templates: Default::default(),
        };
        policy.build_templates();
        Ok(policy)
    }
}

/// A value known at compile time: sharing it costs nothing per response.
fn fixed_value(value: &'static str) -> HeaderValue {
    HeaderValue::from_static(value)
}

fn dynamic(value: &str, setting: &str) -> Result<HeaderValue, ConfigError> {
    HeaderValue::from_str(value)
        .map_err(|_| ConfigError::invalid(setting, value, "visible ASCII characters only"))
}

macro_rules! header_names {
    ($($fn_name:ident => $name:literal,)+) => {
        $(
            fn $fn_name() -> HeaderName {
                HeaderName::from_static($name)
            }
        )+
    };
}

header_names! {
    reporting_endpoints => "reporting-endpoints",
    permissions_policy => "permissions-policy",
    cross_origin_opener_policy => "cross-origin-opener-policy",
    cross_origin_resource_policy => "cross-origin-resource-policy",
    cross_origin_embedder_policy => "cross-origin-embedder-policy",
    origin_agent_cluster => "origin-agent-cluster",
    x_permitted_cross_domain_policies => "x-permitted-cross-domain-policies",
}

/// A CSP for HTTPS responses and, when it differs, the one for plain-HTTP responses.
#[derive(Clone, Debug)]
struct CspPair {
    https: CompiledCsp,
    /// Without `upgrade-insecure-requests`: on a plain-HTTP page it would send every
    /// subresource to an HTTPS address the server may not have (CSP: Upgrade Insecure
    /// Requests §3.1).
    plain: Option<CompiledCsp>,
}

impl CspPair {
    fn compile(
        csp: &ContentSecurityPolicy,
        setting: &str,
        group: &str,
    ) -> Result<Self, ConfigError> {
        const UPGRADE: &str = "upgrade-insecure-requests";
        let https = csp.compile(setting, Some(group))?;
        // Without `report-to` too: browsers ignore `Reporting-Endpoints` on plain HTTP, and
        // `report-to` would silence the `report-uri` they do follow (CSP3 §6.5).
        let plain = match (csp.sources(UPGRADE), csp.report_url()) {
            (None, None) => None,
            _ => Some(csp.clone().remove(UPGRADE).compile(setting, None)?),
        };
        Ok(Self { https, plain })
    }

    fn for_transport(&self, https: Option<bool>) -> &CompiledCsp {
        match (&self.plain, https) {
            (Some(plain), Some(false)) => plain,
            _ => &self.https,
        }
    }
}

/// The headers part of a built policy: everything rendered, nothing left to check.
#[derive(Clone, Debug)]
pub(crate) struct HeaderPolicy {
    fixed: Box<[(HeaderName, HeaderValue)]>,
    /// Sent on responses not known to be plain HTTP (RFC 6797 §7.2).
    hsts: Option<HeaderValue>,
    /// Also only on responses not known to be plain HTTP: browsers ignore it elsewhere.
    reporting_endpoints: Option<HeaderValue>,
    csp: Option<CspPair>,
    csp_report_only: Option<CspPair>,
    no_store: Option<HeaderValue>,
    strip_fingerprints: bool,
    strip_extra: Box<[HeaderName]>,
    override_app_headers: bool,
    nonce: bool,
    /// Whether responses get an `X-Request-Id`, so the templates hold a slot for it.
    request_id_slot: bool,
    /// Every header a response gets that does not change from request to request, by
    /// `template_index`: cloning one costs no hashing, where inserting each name would.
    templates: [HeaderMap; 8],
}

impl HeaderPolicy {
    /// The enforced and the report-only CSP, each with its header name, as compiled for a
    /// response whose transport is `https`.
    fn csps(&self, https: Option<bool>) -> impl Iterator<Item = (HeaderName, &CompiledCsp)> {
        [
            (header::CONTENT_SECURITY_POLICY, &self.csp),
            (
                header::CONTENT_SECURITY_POLICY_REPORT_ONLY,
                &self.csp_report_only,
            ),
        ]
        .into_iter()
        .filter_map(move |(name, pair)| Some((name, pair.as_ref()?.for_transport(https))))
    }

    /// Draws this request's nonce, if the policy uses one, and hands it to the handler.
    pub(crate) fn on_request<B>(&self, request: &mut Request<B>) -> Option<CspNonce> {
        if !self.nonce {
            return None;
        }
        let nonce = CspNonce::generate();
        request.extensions_mut().insert(nonce);
        Some(nonce)
    }

    /// Removes disclosing headers and adds the policy's headers to a response. `https` is
    /// what is known of the request's transport.
    /// `request_id` is added as `X-Request-Id` where the response has none.
    pub(crate) fn on_response<B>(
        &self,
        nonce: Option<CspNonce>,
        https: Option<bool>,
        request_id: Option<&HeaderValue>,
        response: &mut Response<B>,
    ) {
        let status = response.status();
        let headers = response.headers_mut();
        if self.strip_fingerprints {
            fingerprint::strip(headers, &self.strip_extra);
        } else if !self.strip_extra.is_empty() {
            for name in self.strip_extra.iter() {
                headers.remove(name);
            }
        }
        // A 304 updates the stored response's headers (RFC 9111 §4.3.4): a fresh nonce there
        // would no longer match the nonce in the cached body, and its scripts would stop.
        let revalidation = status == StatusCode::NOT_MODIFIED;
        if !(self.override_app_headers || revalidation) {
            self.merge(nonce, https, request_id, headers);
            return;
        }
        headers.reserve(self.fixed.len() + 4);
        if let Some(id) = request_id
            && let Entry::Vacant(entry) = headers.entry(X_REQUEST_ID)
        {
            entry.insert(id.clone());
        }

        for (name, value) in self.fixed.iter() {
            self.set(headers, name, || value.clone());
        }
        if let Some(hsts) = self.hsts.as_ref().filter(|_| https != Some(false)) {
            self.set(headers, &header::STRICT_TRANSPORT_SECURITY, || hsts.clone());
        }
        let endpoints = self.reporting_endpoints.as_ref();
        if let Some(endpoints) = endpoints.filter(|_| https != Some(false)) {
            self.set(headers, &reporting_endpoints(), || endpoints.clone());
        }

        for (name, csp) in self.csps(https) {
            if !(revalidation && csp.uses_nonce()) {
                self.set(headers, &name, || csp.value(nonce.as_ref()));
            }
        }

        if let Some(no_store) = &self.no_store {
            let app_decides = revalidation
                || headers.contains_key(header::CACHE_CONTROL)
                || headers.contains_key(header::EXPIRES);
            if !app_decides {
                headers.insert(header::CACHE_CONTROL, no_store.clone());
            }
        }
    }

    /// Lists the header controls this policy applies, in the order they are sent.
    pub(crate) fn describe(&self, out: &mut Vec<Control>) {
        const AREA: &str = "security headers";
        let csps = [
            ("content-security-policy", &self.csp),
            ("content-security-policy-report-only", &self.csp_report_only),
        ];
        for (name, csp) in csps {
            if let Some(csp) = csp {
                out.push(Control::new(AREA, name, csp.https.template()));
            }
        }
        if let Some(hsts) = &self.hsts {
            let value = format!("{} on HTTPS responses", hsts.to_str().unwrap_or_default());
            out.push(Control::new(AREA, "strict-transport-security", value));
        }
        if let Some(endpoints) = &self.reporting_endpoints {
            let value = String::from_utf8_lossy(endpoints.as_bytes());
            let value = format!("{value} on HTTPS responses");
            out.push(Control::new(AREA, "reporting-endpoints", value));
        }
        for (name, value) in self.fixed.iter() {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            out.push(Control::new(AREA, name.as_str(), value));
        }
        if let Some(no_store) = &self.no_store {
            let value = format!(
                "{} where the response sets no Cache-Control or Expires",
                String::from_utf8_lossy(no_store.as_bytes())
            );
            out.push(Control::new(AREA, "cache-control", value));
        }
        let mut stripped = Vec::new();
        if self.strip_fingerprints {
            stripped.push(format!(
                "{} names on OWASP's list",
                fingerprint::FINGERPRINT_HEADERS.len()
            ));
        }
        stripped.extend(self.strip_extra.iter().map(|name| name.as_str().to_owned()));
        if !stripped.is_empty() {
            out.push(Control::new(
                AREA,
                "fingerprinting headers",
                format!("removed: {}", stripped.join(", ")),
            ));
        }
        let conflicts = if self.override_app_headers {
            "the policy's value replaces the application's"
        } else {
            "the application's own value is kept"
        };
        out.push(Control::new(
            AREA,
            "headers the application sets",
            conflicts.to_owned(),
        ));
    }

    fn set(&self, headers: &mut HeaderMap, name: &HeaderName, value: impl FnOnce() -> HeaderValue) {
        if self.override_app_headers {
            headers.insert(name, value());
        } else if let Entry::Vacant(entry) = headers.entry(name) {
            entry.insert(value());
        }
    }
}

#[cfg(test)]
mod tests;
