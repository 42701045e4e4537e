//! What a built policy enforces, as a list an operator can log or an auditor can read.
//!
//! # Example
//!
//! ```
//! use tower_security::SecurityLayer;
//!
//! for control in SecurityLayer::strict().controls() {
//!     println!("{}: {} = {}", control.area(), control.name(), control.value());
//! }
//! ```
//!
//! # Compliance mappings
//!
//! Each control also names the builder method that tunes it, the OWASP Top 10 2021 category,
//! PCI-DSS v4.0 requirement and SOC 2 (2017 Trust Services Criteria) item it bears on most
//! directly, and the integration test that proves it works. As with the
//! [self-audit](crate::audit), the mappings are a starting point for an assessor, not a claim
//! of compliance. `cargo run --example report` prints them as a Markdown table.
//!
//! ```
//! use tower_security::SecurityLayer;
//!
//! let controls = SecurityLayer::strict().controls();
//! let csp = controls.iter().find(|c| c.name() == "content-security-policy").unwrap();
//!
//! assert_eq!(csp.setting(), "content_security_policy");
//! assert_eq!(csp.owasp(), "A03:2021 Injection");
//! assert_eq!((csp.pci_dss(), csp.soc2()), ("6.4.3", "CC6.8"));
//! ```

use std::fmt;

use crate::audit::{A01, A02, A03, A04, A05, A07, A08, A09};

/// One active control of a [`SecurityLayer`](crate::SecurityLayer) and its effective setting.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Control {
    area: &'static str,
    name: String,
    value: String,
}

impl Control {
    pub(crate) fn new(area: &'static str, name: &str, value: String) -> Self {
        Self {
            area,
            name: name.to_owned(),
            value,
        }
    }

    /// The policy area, such as `security headers`.
    pub fn area(&self) -> &'static str {
        self.area
    }

    /// The control: a header name, or what the layer does.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The active value. A CSP shows `{nonce}` where each response carries its own nonce.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The [`SecurityLayerBuilder`](crate::SecurityLayerBuilder) method that tunes this
    /// control, such as `content_security_policy`; empty for a control the table does not know.
    pub fn setting(&self) -> &'static str {
        self.mapping().setting
    }

    /// The OWASP Top 10 2021 category, such as `A05:2021 Security Misconfiguration`; empty for
    /// a control the table does not know.
    pub fn owasp(&self) -> &'static str {
        self.mapping().owasp
    }

    /// The PCI-DSS v4.0 requirement, such as `6.4.1`; empty for a control the table does not
    /// know.
    pub fn pci_dss(&self) -> &'static str {
        self.mapping().pci_dss
    }

    /// The SOC 2 Trust Services Criterion, such as `CC6.6`; empty for a control the table does
    /// not know.
    pub fn soc2(&self) -> &'static str {
        self.mapping().soc2
    }

    /// The integration test that proves this control works, as `tests/<file>.rs::<test_fn>`;
    /// empty for a control the table does not know.
    pub fn proven_by(&self) -> &'static str {
        self.mapping().proven_by
    }

    fn mapping(&self) -> Mapping {
        mapping(self.area, &self.name)
    }
}

/// What [`mapping`] knows about one control.
#[derive(Clone, Copy, Default)]
struct Mapping {
    setting: &'static str,
    owasp: &'static str,
    pci_dss: &'static str,
    soc2: &'static str,
    proven_by: &'static str,
}

/// Shortens the table below to one line per control.
const fn m(
    setting: &'static str,
    (owasp, pci_dss, soc2): (&'static str, &'static str, &'static str),
    proven_by: &'static str,
) -> Mapping {
    Mapping {
        setting,
        owasp,
        pci_dss,
        soc2,
        proven_by,
    }
}

/// The mappings of every control a `describe()` function can list, by area and name. A header
/// the builder sends under a name of the caller's choosing has no entry.
fn mapping(area: &str, name: &str) -> Mapping {
    const HEADERS: &str = "tests/headers.rs::strict_sends_exactly_its_header_set";
    const REPORTS: &str = "tests/headers.rs::report_only_and_reporting_endpoints";
    match (area, name) {
        ("security headers", "content-security-policy") => m(
            "content_security_policy",
            (A03, "6.4.3", "CC6.8"),
            "tests/headers.rs::nonce_is_fresh_per_request_and_matches_the_header",
        ),
        ("security headers", "content-security-policy-report-only") => m(
            "content_security_policy_report_only",
            (A09, "11.6.1", "CC7.2"),
            REPORTS,
        ),
        ("security headers", "reporting-endpoints") => {
            m("content_security_policy", (A09, "11.6.1", "CC7.2"), REPORTS)
        }
        ("security headers", "strict-transport-security") => m(
            "hsts",
            (A02, "4.2.1", "CC6.7"),
            "tests/transport.rs::https_only_headers_follow_the_transport",
        ),
        ("security headers", "x-frame-options") => {
            m("frame_options", (A05, "6.2.4", "CC6.6"), HEADERS)
        }
        ("security headers", "x-content-type-options") => {
            m("content_type_nosniff", (A05, "6.2.4", "CC6.6"), HEADERS)
        }
        ("security headers", "referrer-policy") => {
            m("referrer_policy", (A01, "2.2.6", "CC6.7"), HEADERS)
        }
        ("security headers", "permissions-policy") => {
            m("permissions_policy", (A05, "2.2.6", "CC6.8"), HEADERS)
        }
        ("security headers", "cross-origin-opener-policy") => m(
            "cross_origin_opener_policy",
            (A05, "2.2.6", "CC6.6"),
            HEADERS,
        ),
        ("security headers", "cross-origin-resource-policy") => m(
            "cross_origin_resource_policy",
            (A01, "2.2.6", "CC6.6"),
            HEADERS,
        ),
        ("security headers", "cross-origin-embedder-policy") => m(
            "cross_origin_embedder_policy",
            (A05, "2.2.6", "CC6.6"),
            HEADERS,
        ),
        ("security headers", "origin-agent-cluster") => {
            m("origin_agent_cluster", (A05, "2.2.6", "CC6.6"), HEADERS)
        }
        ("security headers", "x-dns-prefetch-control") => {
            m("disable_dns_prefetch", (A05, "2.2.6", "CC6.7"), HEADERS)
        }
        ("security headers", "x-permitted-cross-domain-policies") => m(
            "deny_cross_domain_policies",
            (A05, "2.2.6", "CC6.6"),
            HEADERS,
        ),
        ("security headers", "x-xss-protection") => {
            m("xss_protection", (A05, "6.2.4", "CC6.8"), HEADERS)
        }
        // CWE-525, a browser cache holding sensitive pages, sits under A04.
        ("security headers", "cache-control") => {
            m("no_store_by_default", (A04, "2.2.6", "CC6.7"), HEADERS)
        }
        ("security headers", "fingerprinting headers") => m(
            "strip_fingerprint_headers",
            (A05, "2.2.6", "CC6.6"),
            "tests/headers.rs::fingerprinting_headers_are_stripped",
        ),
        ("security headers", "headers the application sets") => m(
            "override_app_headers",
            (A05, "2.2.6", "CC6.6"),
            "tests/headers.rs::headers_set_by_the_application_are_kept",
        ),
        ("transport", "development mode") => m(
            "development_mode",
            (A05, "4.2.1", "CC6.7"),
            "tests/example_server.rs::\
             development_mode_serves_plain_http_without_the_https_only_headers",
        ),
        ("transport", "https enforcement") => m(
            "https",
            (A02, "4.2.1", "CC6.7"),
            "tests/transport.rs::plain_http_that_cannot_be_redirected_is_refused",
        ),
        ("transport", "trusted proxies") => m(
            "trusted_proxies",
            (A05, "6.2.4", "CC6.6"),
            "tests/transport.rs::forwarded_headers_from_an_untrusted_peer_are_removed_and_ignored",
        ),
        ("input validation", "hosts") => m(
            "allowed_hosts",
            (A05, "6.4.1", "CC6.6"),
            "tests/transport.rs::hosts_are_refused_unless_named_once_well_formed_and_allowed",
        ),
        ("input validation", "methods") => m(
            "allowed_methods",
            (A05, "6.4.1", "CC6.6"),
            "tests/limits.rs::methods_outside_the_list_get_405_with_allow",
        ),
        ("input validation", "size limits") => m(
            "request_limits",
            (A05, "6.4.1", "A1.1"),
            "tests/limits.rs::content_length_limit_from_both_sides",
        ),
        ("input validation", "request target") => m(
            "uri_rules",
            (A01, "6.4.1", "CC6.6"),
            "tests/limits.rs::ambiguous_request_targets_are_refused",
        ),
        ("security logging", "request ids") => m(
            "request_ids",
            (A09, "10.2.1", "CC7.2"),
            "tests/transport.rs::\
             each_request_gets_an_id_in_the_response_the_handler_and_the_events",
        ),
        ("session security", "set-cookie hardening") => m(
            "cookies",
            (A07, "6.2.4", "CC6.1"),
            "tests/cookies.rs::a_plain_session_cookie_gets_secure_httponly_and_samesite",
        ),
        ("session security", "sealed cookies") => m(
            "secret_key",
            (A08, "6.2.4", "CC6.1"),
            "tests/sealed_cookies.rs::forged_and_unsigned_values_never_reach_the_handler",
        ),
        ("session security", "cross-origin protection") => m(
            "cross_origin_protection",
            (A01, "6.2.4", "CC6.6"),
            "tests/cross_origin.rs::requests_are_judged_and_refusals_are_generic",
        ),
        _ => Mapping::default(),
    }
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} = {}", self.area, self.name, self.value)
    }
}

#[cfg(test)]
mod tests {
    use crate::cookies::{CookiePolicy, SecretKey};
    use crate::headers::ContentSecurityPolicy;
    use crate::{Control, SecurityLayer};

    /// The text of every test file the table names.
    const TEST_FILES: [(&str, &str); 7] = [
        ("tests/cookies.rs", include_str!("../tests/cookies.rs")),
        (
            "tests/sealed_cookies.rs",
            include_str!("../tests/sealed_cookies.rs"),
        ),
        (
            "tests/cross_origin.rs",
            include_str!("../tests/cross_origin.rs"),
        ),
        (
            "tests/example_server.rs",
            include_str!("../tests/example_server.rs"),
        ),
        ("tests/headers.rs", include_str!("../tests/headers.rs")),
        ("tests/limits.rs", include_str!("../tests/limits.rs")),
        ("tests/transport.rs", include_str!("../tests/transport.rs")),
    ];

    /// Every control the presets and a development build with every optional control can list.
    fn every_control() -> Vec<Control> {
        let key = SecretKey::new("3f9a1c7e5b2d8f4a6c0e9b3d7f1a5c8e").unwrap();
        let everything = SecurityLayer::builder()
            .development_mode(true)
            .secret_key(key)
            .cookies(CookiePolicy::strict().signed("session"))
            .content_security_policy_report_only(
                ContentSecurityPolicy::strict().report_to("/csp-reports"),
            )
            .build()
            .unwrap();

        [
            SecurityLayer::strict(),
            SecurityLayer::embeddable(),
            everything,
        ]
        .iter()
        .flat_map(SecurityLayer::controls)
        .collect()
    }

    #[test]
    fn every_control_is_mapped_and_proven_by_a_test_that_exists() {
        let controls = every_control();

        for name in [
            "development mode",
            "sealed cookies",
            "content-security-policy-report-only",
        ] {
            assert!(
                controls.iter().any(|c| c.name() == name),
                "{name} not listed"
            );
        }
        for control in &controls {
            let name = control.name();
            for (column, cell) in [
                ("setting", control.setting()),
                ("OWASP", control.owasp()),
                ("PCI-DSS", control.pci_dss()),
                ("SOC 2", control.soc2()),
            ] {
                assert!(!cell.is_empty(), "{name}: no {column}");
            }
            let (file, test) = control
                .proven_by()
                .split_once("::")
                .unwrap_or_else(|| panic!("{name}: proven_by is not `file::test`"));
            let (_, text) = TEST_FILES
                .iter()
                .find(|(path, _)| *path == file)
                .unwrap_or_else(|| panic!("{name}: {file} is not in TEST_FILES"));
            assert!(
                text.contains(&format!("fn {test}(")),
                "{name}: no {file}::{test}"
            );
        }
    }

    #[test]
    fn an_unknown_control_maps_to_empty_strings() {
        let control = Control::new("security headers", "x-custom", "1".to_owned());

        let cells = [
            control.setting(),
            control.owasp(),
            control.pci_dss(),
            control.soc2(),
            control.proven_by(),
        ];

        assert_eq!(cells, [""; 5]);
    }
}
