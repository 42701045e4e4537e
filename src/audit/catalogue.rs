//! Every finding the self-audit can report, with its severity, fix and mappings.
//!
//! An id is never reused: a rule that is removed leaves a gap, and a rule whose meaning
//! changes gets a new id.

use super::{FindingInfo, Severity};

// The OWASP Top 10 2021 categories, shared with the control table in `crate::controls` so a
// finding and the control it weakens name a category the same way.
pub(crate) const A01: &str = "A01:2021 Broken Access Control";
pub(crate) const A02: &str = "A02:2021 Cryptographic Failures";
pub(crate) const A03: &str = "A03:2021 Injection";
pub(crate) const A04: &str = "A04:2021 Insecure Design";
pub(crate) const A05: &str = "A05:2021 Security Misconfiguration";
pub(crate) const A07: &str = "A07:2021 Identification and Authentication Failures";
pub(crate) const A08: &str = "A08:2021 Software and Data Integrity Failures";
pub(crate) const A09: &str = "A09:2021 Security Logging and Monitoring Failures";

/// Shortens the table below to one line per field.
const fn info(
    id: &'static str,
    severity: Severity,
    summary: &'static str,
    remediation: &'static str,
    (owasp, pci_dss, soc2): (&'static str, &'static str, &'static str),
) -> FindingInfo {
    FindingInfo {
        id,
        severity,
        summary,
        remediation,
        owasp,
        pci_dss,
        soc2,
    }
}

pub(super) static CATALOGUE: [FindingInfo; 29] = [
    info(
        "TS-DEV-001",
        Severity::High,
        "development mode is on: no HTTPS enforcement and no HSTS",
        "build with `development_mode(false)` anywhere but a developer's machine",
        (A05, "4.2.1", "CC6.7"),
    ),
    info(
        "TS-HTTPS-001",
        Severity::High,
        "HTTPS enforcement is off: plain-HTTP requests reach the application",
        "pass `HttpsEnforcement::redirect_to(\"your.host\")` to `https`",
        (A02, "4.2.1", "CC6.7"),
    ),
    info(
        "TS-HTTPS-002",
        Severity::Info,
        "no canonical host: plain HTTP is refused with 403, not redirected to HTTPS",
        "name the canonical host with `HttpsEnforcement::redirect_to`",
        (A05, "4.2.1", "CC6.7"),
    ),
    info(
        "TS-HSTS-001",
        Severity::High,
        "HSTS is off: browsers may still try plain HTTP, where the first request can be \
         intercepted",
        "keep `hsts` at its default, or pass a `StrictTransportSecurity`",
        (A02, "4.2.1", "CC6.7"),
    ),
    info(
        "TS-HSTS-002",
        Severity::Medium,
        "HSTS max-age is under one year",
        "set `StrictTransportSecurity::max_age` to at least 31536000 seconds",
        (A02, "4.2.1", "CC6.7"),
    ),
    info(
        "TS-HSTS-003",
        Severity::Low,
        "HSTS without `includeSubDomains`: a subdomain over plain HTTP can set cookies for \
         this host",
        "keep `StrictTransportSecurity::include_subdomains(true)`",
        (A02, "4.2.1", "CC6.7"),
    ),
    info(
        "TS-HOSTS-001",
        Severity::Medium,
        "no host allow-list: every well-formed Host is answered",
        "name the service's hosts with `AllowedHosts::allow`",
        (A05, "6.4.1", "CC6.6"),
    ),
    info(
        "TS-HOSTS-002",
        Severity::Medium,
        "the Host check is off: malformed and unknown Host headers reach the application",
        "pass an `AllowedHosts` list to `allowed_hosts`",
        (A05, "6.4.1", "CC6.6"),
    ),
    info(
        "TS-COOKIE-001",
        Severity::High,
        "cookies do not get `Secure`: they travel in clear text wherever plain HTTP reaches",
        "keep cookie handling on with `CookiePolicy::secure(true)`; exempt single cookies \
         with `insecure_plain_http`",
        (A02, "4.2.1", "CC6.7"),
    ),
    info(
        "TS-COOKIE-002",
        Severity::Medium,
        "cookies do not get `HttpOnly`: any script injected into a page can read them",
        "keep `CookiePolicy::http_only(true)`; exempt single cookies with `script_readable`",
        (A07, "6.2.4", "CC6.1"),
    ),
    info(
        "TS-COOKIE-003",
        Severity::Medium,
        "cookies get no `SameSite`: requests other sites start may carry them",
        "set `CookiePolicy::same_site(SameSite::Strict)` or `Lax`",
        (A01, "6.2.4", "CC6.1"),
    ),
    info(
        "TS-CSRF-001",
        Severity::Medium,
        "cross-origin protection is off: other sites' state-changing requests reach handlers",
        "keep `cross_origin_protection` on; trust partner origins with `trusted_origin`",
        (A01, "6.2.4", "CC6.6"),
    ),
    info(
        "TS-FRAME-001",
        Severity::Medium,
        "no framing protection: neither X-Frame-Options nor CSP `frame-ancestors` is sent",
        "send `FrameOptions::Deny`, or a CSP `frame-ancestors` naming who may frame the page",
        (A05, "6.2.4", "CC6.6"),
    ),
    info(
        "TS-FRAME-002",
        Severity::Low,
        "X-Frame-Options is SAMEORIGIN and CSP has no `frame-ancestors`",
        "add `frame-ancestors 'self'` to the CSP, or use `FrameOptions::Deny`",
        (A05, "6.2.4", "CC6.6"),
    ),
    info(
        "TS-FRAME-003",
        Severity::Low,
        "X-Frame-Options and CSP `frame-ancestors` disagree: browsers differ in who may frame",
        "pair DENY with `frame-ancestors 'none'`, SAMEORIGIN with `'self'`, or drop \
         X-Frame-Options",
        (A05, "6.2.4", "CC6.6"),
    ),
    info(
        "TS-CSP-001",
        Severity::High,
        "no Content-Security-Policy: an injected script runs",
        "keep `ContentSecurityPolicy::strict()`, or send a policy of your own",
        (A03, "6.4.3", "CC6.8"),
    ),
    info(
        "TS-CSP-002",
        Severity::High,
        "the CSP lets scripts run inline or through `eval`",
        "remove `'unsafe-inline'` and `'unsafe-eval'`; stamp trusted scripts with the nonce",
        (A03, "6.4.3", "CC6.8"),
    ),
    info(
        "TS-CSP-003",
        Severity::Low,
        "a CSP nonce or hash beside `'unsafe-inline'`: CSP Level 1 browsers run every inline \
         script",
        "remove `'unsafe-inline'` from the directive",
        (A03, "6.4.3", "CC6.8"),
    ),
    info(
        "TS-CSP-004",
        Severity::Low,
        "a `report-to` directive without `report_to()`: no Reporting-Endpoints header names \
         the group, so no report is sent",
        "remove the directive and call `ContentSecurityPolicy::report_to(url)`",
        (A09, "11.6.1", "CC7.2"),
    ),
    info(
        "TS-CSP-005",
        Severity::Low,
        "`upgrade-insecure-requests` while plain HTTP is served: on a page whose transport the \
         layer cannot tell, subresources move to HTTPS addresses that may not answer",
        "enforce HTTPS, or remove `upgrade-insecure-requests`",
        (A05, "2.2.6", "CC6.7"),
    ),
    info(
        "TS-COEP-001",
        Severity::Low,
        "Cross-Origin-Embedder-Policy is `require-corp` but no Cross-Origin-Resource-Policy \
         is sent",
        "send `cross_origin_resource_policy`, or drop COEP",
        (A05, "2.2.6", "CC6.6"),
    ),
    info(
        "TS-LIMITS-001",
        Severity::Medium,
        "no request body limit: one request can exhaust memory or disk",
        "keep `RequestLimits::strict()`; raise the limit per route with `max_body_size_for`",
        (A05, "6.4.1", "A1.1"),
    ),
    info(
        "TS-LIMITS-002",
        Severity::Low,
        "a request body limit above 100 MiB",
        "keep large limits to the upload routes that need them, as small as they allow",
        (A05, "6.4.1", "A1.1"),
    ),
    info(
        "TS-METHOD-001",
        Severity::Low,
        "the method allow-list is off: any method, and method-override headers, pass",
        "pass an `AllowedMethods` list to `allowed_methods`",
        (A05, "6.4.1", "CC6.6"),
    ),
    info(
        "TS-METHOD-002",
        Severity::Medium,
        "TRACE or CONNECT is allowed: TRACE echoes credentials, CONNECT opens tunnels",
        "remove TRACE and CONNECT from `AllowedMethods`",
        (A05, "6.4.1", "CC6.6"),
    ),
    info(
        "TS-URI-001",
        Severity::Medium,
        "the request-target firewall is off: traversal and encoded-path tricks reach the \
         application",
        "keep `UriRules::strict()`",
        (A01, "6.4.1", "CC6.6"),
    ),
    info(
        "TS-URI-002",
        Severity::Low,
        "request-target rules are relaxed",
        "relax a rule only for an application that needs it, and check how it decodes paths",
        (A01, "6.4.1", "CC6.6"),
    ),
    info(
        "TS-LOG-001",
        Severity::Low,
        "request ids are off: security events and error answers cannot be correlated",
        "keep `request_ids(true)`",
        (A09, "10.2.1", "CC7.2"),
    ),
    info(
        "TS-ERROR-001",
        Severity::Medium,
        "server-error bodies are not scrubbed: stack traces and internals may reach clients",
        "keep `scrub_server_errors(true)`",
        (A04, "6.2.4", "CC6.1"),
    ),
];
