//! Configuration checked at build time: every invalid setting is refused with a `ConfigError`
//! that names the setting and the expected form, and the fixed setting builds.

use tower_security::headers::{
    ContentSecurityPolicy, CrossOriginEmbedderPolicy, FrameOptions, PermissionsPolicy,
    StrictTransportSecurity,
};
use tower_security::{ConfigErrorKind, SecurityLayer, SecurityLayerBuilder};

#[test]
fn invalid_configurations_are_refused_with_the_setting_named() {
    type Case = (
        &'static str,
        SecurityLayerBuilder,
        &'static str,
        ConfigErrorKind,
    );
    let csp = |directive: &str, source: &str| {
        SecurityLayer::builder().content_security_policy(
            ContentSecurityPolicy::new().directive(directive, [source.to_owned()]),
        )
    };
    let cases: Vec<Case> = vec![
        (
            "CSP semicolon",
            csp("img-src", "a.com; script-src *"),
            "content_security_policy.img-src",
            ConfigErrorKind::Invalid,
        ),
        (
            "CSP comma",
            csp("img-src", "a.com,b.com"),
            "content_security_policy.img-src",
            ConfigErrorKind::Invalid,
        ),
        (
            "CSP CR",
            csp("img-src", "a.com\r"),
            "content_security_policy.img-src",
            ConfigErrorKind::Invalid,
        ),
        (
            "CSP LF",
            csp("img-src", "a.com\nx"),
            "content_security_policy.img-src",
            ConfigErrorKind::Invalid,
        ),
        (
            "CSP non-ASCII",
            csp("img-src", "bücher.example"),
            "content_security_policy.img-src",
            ConfigErrorKind::Invalid,
        ),
        (
            "CSP unquoted self",
            csp("script-src", "self"),
            "content_security_policy.script-src",
            ConfigErrorKind::Invalid,
        ),
        (
            "CSP unquoted none",
            csp("object-src", "none"),
            "content_security_policy.object-src",
            ConfigErrorKind::Invalid,
        ),
        (
            "CSP duplicate directive",
            SecurityLayer::builder().content_security_policy(
                ContentSecurityPolicy::strict().directive("script-src", ["'self'"]),
            ),
            "content_security_policy",
            ConfigErrorKind::Duplicate,
        ),
        (
            "report-only CSP unquoted keyword",
            SecurityLayer::builder().content_security_policy_report_only(
                ContentSecurityPolicy::new().directive("default-src", ["unsafe-inline"]),
            ),
            "content_security_policy_report_only.default-src",
            ConfigErrorKind::Invalid,
        ),
        (
            "HSTS preload, short max-age",
            SecurityLayer::builder().hsts(
                StrictTransportSecurity::default()
                    .max_age(std::time::Duration::from_secs(86_400))
                    .preload(),
            ),
            "hsts.preload",
            ConfigErrorKind::Conflict,
        ),
        (
            "HSTS preload, no includeSubDomains",
            SecurityLayer::builder().hsts(
                StrictTransportSecurity::default()
                    .include_subdomains(false)
                    .preload(),
            ),
            "hsts.preload",
            ConfigErrorKind::Conflict,
        ),
        (
            "empty Permissions-Policy feature",
            SecurityLayer::builder().permissions_policy(PermissionsPolicy::strict().deny("")),
            "permissions_policy",
            ConfigErrorKind::Invalid,
        ),
        (
            "bad strip header",
            SecurityLayer::builder().strip_header("bad header"),
            "strip_header",
            ConfigErrorKind::Invalid,
        ),
    ];

    for (name, builder, setting, kind) in cases {
        let err = builder.build().unwrap_err();

        assert_eq!(err.setting(), setting, "{name}");
        assert_eq!(err.kind(), kind, "{name}");
        assert!(err.to_string().contains(err.expected()), "{name}: {err}");
        assert!(
            !err.to_string().contains('\n') && !err.to_string().contains('\r'),
            "{name}"
        );
    }
}

#[test]
fn the_same_settings_that_fail_can_be_fixed() {
    let ok = [
        SecurityLayer::builder().hsts(StrictTransportSecurity::default().preload()),
        SecurityLayer::builder().frame_options(FrameOptions::SameOrigin),
        SecurityLayer::builder()
            .cross_origin_embedder_policy(CrossOriginEmbedderPolicy::Credentialless),
        SecurityLayer::builder().content_security_policy(
            ContentSecurityPolicy::new().directive("script-src", ["'self'", "https://cdn.example"]),
        ),
    ];

    for builder in ok {
        assert!(builder.build().is_ok());
    }
}

#[test]
fn readme_shows_the_crate_docs_defaults_table() {
    let readme = include_str!("../README.md");
    let table = include_str!("../docs/defaults.md");

    assert!(
        readme.contains(table),
        "README.md and docs/defaults.md disagree"
    );
}

#[test]
fn controls_list_what_the_policy_enforces() {
    let strict = SecurityLayer::strict().controls();
    let without_hsts = SecurityLayer::builder()
        .hsts(None)
        .build()
        .unwrap()
        .controls();

    let find = |controls: &[tower_security::Control], name: &str| {
        controls
            .iter()
            .find(|c| c.name() == name)
            .map(|c| c.value().to_owned())
    };
    for name in [
        "set-cookie hardening",
        "cross-origin protection",
        "methods",
        "size limits",
        "request target",
        "trusted proxies",
    ] {
        assert!(find(&strict, name).is_some(), "{name} missing");
    }
    assert_eq!(
        strict
            .iter()
            .filter(|c| c.area() == "security headers")
            .count(),
        16
    );
    assert!(
        find(&strict, "content-security-policy")
            .unwrap()
            .starts_with("default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic'")
    );
    assert_eq!(find(&strict, "x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(
        find(&strict, "fingerprinting headers").as_deref(),
        Some("removed: 87 names on OWASP's list")
    );
    assert!(find(&without_hsts, "strict-transport-security").is_none());
    assert_eq!(without_hsts.len(), strict.len() - 1);
    assert_eq!(
        find(&strict, "set-cookie hardening").as_deref(),
        Some("Secure, HttpOnly, SameSite=Strict appended where missing")
    );
    assert!(find(&strict, "cross-origin protection").is_some());
}

#[test]
fn security_md_explains_every_audit_finding() {
    let security = include_str!("../SECURITY.md");
    let table = include_str!("../docs/audit.md");

    assert!(
        security.contains(table),
        "SECURITY.md and docs/audit.md disagree"
    );
}
