//! The self-audit through the public API: one row per finding id with the setting that
//! triggers it and the one that fixes it, the presets' and the demo's findings, silencing,
//! refusing, and the build-time log.

use std::time::Duration;

use http::Method;
use tower_security::audit::{self, Audit, Severity};
use tower_security::cookies::{CookiePolicy, SameSite};
use tower_security::cross_origin::CrossOriginProtection;
use tower_security::guards::host::AllowedHosts;
use tower_security::guards::limits::RequestLimits;
use tower_security::guards::method::AllowedMethods;
use tower_security::guards::uri::UriRules;
use tower_security::headers::{
    ContentSecurityPolicy, CrossOriginResourcePolicy, FrameOptions, StrictTransportSecurity,
};
use tower_security::transport::https::HttpsEnforcement;
use tower_security::{ConfigErrorKind, SecurityLayer, SecurityLayerBuilder};
use tracing::Level;

mod common;

// The example's `main` and its helpers are unused here.
#[allow(dead_code)]
#[path = "../examples/server.rs"]
mod server;

/// The configuration the self-audit has nothing to say about: strict, with the service's
/// host named for the Host check and the HTTPS redirect.
fn hardened() -> SecurityLayerBuilder {
    SecurityLayer::builder()
        .allowed_hosts(AllowedHosts::new().allow("app.example.com"))
        .https(HttpsEnforcement::redirect_to("app.example.com"))
}

fn audit_of(builder: SecurityLayerBuilder) -> Audit {
    builder.build().expect("the layer builds").audit()
}

fn ids(audit: &Audit) -> Vec<&'static str> {
    audit.findings().iter().map(|f| f.id()).collect()
}

/// The strict CSP with `directive` replaced by `sources`, or removed when `sources` is empty
/// and `directive` is not a flag.
fn csp_with(directive: &str, sources: &[&str]) -> ContentSecurityPolicy {
    let csp = ContentSecurityPolicy::strict().remove(directive);
    match sources {
        [] => csp,
        sources => csp.directive(directive, sources.iter().copied()),
    }
}

const ONE_YEAR: Duration = Duration::from_secs(31_536_000);
const MIB: u64 = 1 << 20;

/// One way to trigger a finding, and the change that fixes it.
struct Case {
    id: &'static str,
    name: &'static str,
    trigger: fn() -> SecurityLayerBuilder,
    fixed: fn() -> SecurityLayerBuilder,
}

fn cases() -> Vec<Case> {
    let case = |id, name, trigger, fixed| Case {
        id,
        name,
        trigger,
        fixed,
    };
    vec![
        case(
            "TS-DEV-001",
            "development mode",
            || hardened().development_mode(true),
            || hardened().development_mode(false),
        ),
        case(
            "TS-HTTPS-001",
            "HTTPS enforcement off",
            || hardened().https(None),
            hardened,
        ),
        case(
            "TS-HTTPS-002",
            "no canonical host",
            || hardened().https(HttpsEnforcement::new()),
            || hardened().https(HttpsEnforcement::redirect_to("app.example.com")),
        ),
        case(
            "TS-HSTS-001",
            "HSTS off",
            || hardened().hsts(None),
            || hardened().hsts(StrictTransportSecurity::default()),
        ),
        case(
            "TS-HSTS-002",
            "one day",
            || {
                hardened()
                    .hsts(StrictTransportSecurity::default().max_age(Duration::from_secs(86_400)))
            },
            || hardened().hsts(StrictTransportSecurity::default().max_age(ONE_YEAR)),
        ),
        case(
            "TS-HSTS-003",
            "no includeSubDomains",
            || hardened().hsts(StrictTransportSecurity::default().include_subdomains(false)),
            || hardened().hsts(StrictTransportSecurity::default().include_subdomains(true)),
        ),
        case(
            "TS-HOSTS-001",
            "empty list",
            || hardened().allowed_hosts(AllowedHosts::new()),
            || hardened().allowed_hosts(AllowedHosts::new().allow("*.example.com")),
        ),
        case(
            "TS-HOSTS-002",
            "Host check off",
            || hardened().allowed_hosts(None),
            hardened,
        ),
        case(
            "TS-COOKIE-001",
            "secure(false)",
            || hardened().cookies(CookiePolicy::strict().secure(false)),
            || hardened().cookies(CookiePolicy::strict().insecure_plain_http("theme")),
        ),
        case(
            "TS-COOKIE-001",
            "cookie handling off",
            || hardened().cookies(None),
            || hardened().cookies(CookiePolicy::strict()),
        ),
        case(
            "TS-COOKIE-002",
            "http_only(false)",
            || hardened().cookies(CookiePolicy::strict().http_only(false)),
            || hardened().cookies(CookiePolicy::strict().script_readable("csrf_token")),
        ),
        case(
            "TS-COOKIE-003",
            "no SameSite",
            || hardened().cookies(CookiePolicy::strict().same_site(None)),
            || hardened().cookies(CookiePolicy::strict().same_site(SameSite::Lax)),
        ),
        case(
            "TS-CSRF-001",
            "cross-origin protection off",
            || hardened().cross_origin_protection(None),
            || {
                let protection = CrossOriginProtection::new().trusted_origin("https://a.example");
                hardened().cross_origin_protection(protection)
            },
        ),
        case(
            "TS-FRAME-001",
            "no X-Frame-Options, no frame-ancestors",
            || {
                hardened()
                    .frame_options(None)
                    .content_security_policy(csp_with("frame-ancestors", &[]))
            },
            || hardened().frame_options(None),
        ),
        case(
            "TS-FRAME-002",
            "SAMEORIGIN, no frame-ancestors",
            || {
                hardened()
                    .frame_options(FrameOptions::SameOrigin)
                    .content_security_policy(csp_with("frame-ancestors", &[]))
            },
            || {
                hardened()
                    .frame_options(FrameOptions::SameOrigin)
                    .content_security_policy(csp_with("frame-ancestors", &["'self'"]))
            },
        ),
        case(
            "TS-FRAME-003",
            "DENY beside frame-ancestors 'self'",
            || hardened().content_security_policy(csp_with("frame-ancestors", &["'self'"])),
            || hardened().content_security_policy(csp_with("frame-ancestors", &["'none'"])),
        ),
        case(
            "TS-FRAME-003",
            "SAMEORIGIN beside frame-ancestors 'none'",
            || hardened().frame_options(FrameOptions::SameOrigin),
            || {
                hardened()
                    .frame_options(None)
                    .content_security_policy(csp_with("frame-ancestors", &["'self'"]))
            },
        ),
        case(
            "TS-CSP-001",
            "CSP off",
            || hardened().content_security_policy(None),
            || hardened().content_security_policy(ContentSecurityPolicy::strict()),
        ),
        case(
            "TS-CSP-002",
            "'unsafe-inline' without a nonce",
            || {
                hardened()
                    .content_security_policy(csp_with("script-src", &["'self'", "'unsafe-inline'"]))
            },
            || hardened().content_security_policy(csp_with("script-src", &["'self'"])),
        ),
        case(
            "TS-CSP-002",
            "'unsafe-eval' through default-src",
            || {
                let csp = csp_with("script-src", &[])
                    .remove("default-src")
                    .directive("default-src", ["'self'", "'unsafe-eval'"]);
                hardened().content_security_policy(csp)
            },
            || hardened().content_security_policy(csp_with("script-src", &[])),
        ),
        case(
            "TS-CSP-003",
            "nonce beside 'unsafe-inline'",
            || {
                let sources = [
                    ContentSecurityPolicy::NONCE,
                    "'strict-dynamic'",
                    "'unsafe-inline'",
                ];
                hardened().content_security_policy(csp_with("script-src", &sources))
            },
            || {
                let sources = [ContentSecurityPolicy::NONCE, "'strict-dynamic'"];
                hardened().content_security_policy(csp_with("script-src", &sources))
            },
        ),
        case(
            "TS-CSP-003",
            "hash beside 'unsafe-inline' in script-src-elem",
            || {
                let hash = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='";
                let csp = csp_with("script-src-elem", &[hash, "'unsafe-inline'"]);
                hardened().content_security_policy(csp)
            },
            || {
                let hash = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='";
                hardened().content_security_policy(csp_with("script-src-elem", &[hash]))
            },
        ),
        case(
            "TS-CSP-004",
            "report-to by hand",
            || hardened().content_security_policy(csp_with("report-to", &["csp-endpoint"])),
            || {
                let csp = ContentSecurityPolicy::strict().report_to("/csp-reports");
                hardened().content_security_policy(csp)
            },
        ),
        case(
            "TS-CSP-004",
            "report-to by hand in the report-only policy",
            || {
                let csp = csp_with("report-to", &["csp-endpoint"]);
                hardened().content_security_policy_report_only(csp)
            },
            || {
                let csp = ContentSecurityPolicy::strict().report_to("/csp-reports");
                hardened().content_security_policy_report_only(csp)
            },
        ),
        case(
            "TS-CSP-005",
            "upgrade-insecure-requests in development mode",
            || hardened().development_mode(true),
            || {
                hardened()
                    .development_mode(true)
                    .content_security_policy(csp_with("upgrade-insecure-requests", &[]))
            },
        ),
        case(
            "TS-CSP-005",
            "upgrade-insecure-requests without HTTPS enforcement",
            || hardened().https(None),
            hardened,
        ),
        case(
            "TS-COEP-001",
            "require-corp without CORP",
            || hardened().cross_origin_resource_policy(None),
            || hardened().cross_origin_resource_policy(CrossOriginResourcePolicy::SameSite),
        ),
        case(
            "TS-LIMITS-001",
            "no body limit",
            || hardened().request_limits(RequestLimits::strict().max_body_size(None)),
            || hardened().request_limits(RequestLimits::strict().max_body_size(10 * MIB)),
        ),
        case(
            "TS-LIMITS-001",
            "request limits off",
            || hardened().request_limits(None),
            || hardened().request_limits(RequestLimits::strict()),
        ),
        case(
            "TS-LIMITS-002",
            "a 200 MiB upload route",
            || {
                let limits = RequestLimits::strict().max_body_size_for("/upload", 200 * MIB);
                hardened().request_limits(limits)
            },
            || {
                let limits = RequestLimits::strict().max_body_size_for("/upload", 100 * MIB);
                hardened().request_limits(limits)
            },
        ),
        case(
            "TS-METHOD-001",
            "method allow-list off",
            || hardened().allowed_methods(None),
            || hardened().allowed_methods(AllowedMethods::default()),
        ),
        case(
            "TS-METHOD-002",
            "TRACE allowed",
            || hardened().allowed_methods(AllowedMethods::new([Method::GET, Method::TRACE])),
            || hardened().allowed_methods(AllowedMethods::new([Method::GET])),
        ),
        case(
            "TS-METHOD-002",
            "CONNECT allowed",
            || hardened().allowed_methods(AllowedMethods::new([Method::GET, Method::CONNECT])),
            || hardened().allowed_methods(AllowedMethods::new([Method::GET, Method::POST])),
        ),
        case(
            "TS-URI-001",
            "request-target firewall off",
            || hardened().uri_rules(None),
            || hardened().uri_rules(UriRules::strict().max_query_parameters(100)),
        ),
        case(
            "TS-URI-002",
            "a relaxed rule",
            || hardened().uri_rules(UriRules::strict().relax(UriRules::RULES[0])),
            || hardened().uri_rules(UriRules::strict()),
        ),
        case(
            "TS-LOG-001",
            "request ids off",
            || hardened().request_ids(false),
            || hardened().request_ids(true),
        ),
        case(
            "TS-ERROR-001",
            "server errors not scrubbed",
            || hardened().scrub_server_errors(false),
            || {
                hardened()
                    .scrub_server_errors(true)
                    .scrub_client_errors(true)
            },
        ),
    ]
}

#[test]
fn each_finding_is_reported_by_its_trigger_and_gone_once_fixed() {
    for Case {
        id,
        name,
        trigger,
        fixed,
    } in cases()
    {
        let triggered = audit_of(trigger());
        let fixed = audit_of(fixed());

        assert!(ids(&triggered).contains(&id), "{id} ({name}): {triggered}");
        assert!(!ids(&fixed).contains(&id), "{id} ({name}) fixed: {fixed}");
        let finding = triggered.findings().iter().find(|f| f.id() == id).unwrap();
        let info = audit::catalogue().iter().find(|i| i.id() == id).unwrap();
        assert_eq!(finding.severity(), info.severity(), "{id}");
        assert!(finding.message().starts_with(info.summary()), "{id}");
        assert!(!finding.silenced(), "{id}");
    }
}

#[test]
fn every_catalogue_id_has_a_case() {
    let cases = cases();

    for info in audit::catalogue() {
        assert!(
            cases.iter().any(|case| case.id == info.id()),
            "{} has no row in `cases()`",
            info.id()
        );
    }
}

#[test]
fn the_hardened_configuration_has_no_findings() {
    let audit = audit_of(hardened());

    assert!(audit.is_clean(), "{audit}");
    assert!(audit.findings().is_empty());
    assert!(audit.silenced().is_empty());
    assert_eq!(audit.highest(), None);
    assert_eq!(audit.to_string(), "no findings");
}

#[test]
fn the_presets_name_no_host() {
    for (name, layer) in [
        ("strict", SecurityLayer::strict()),
        ("embeddable", SecurityLayer::embeddable()),
    ] {
        let audit = layer.audit();

        assert_eq!(
            ids(&audit),
            ["TS-HOSTS-001", "TS-HTTPS-002"],
            "{name}: {audit}"
        );
        assert_eq!(audit.highest(), Some(Severity::Medium), "{name}");
    }
}

/// The demo's layer for `config`, with a fixed key.
fn demo_layer(config: &server::Config) -> SecurityLayer {
    let vars = |name: &str| {
        (name == "SECRET_KEY").then(|| "t3st-K3y/for+the?demo=server*only!".to_owned())
    };
    server::security_layer(config, vars).unwrap().0
}

#[test]
fn the_demo_reports_development_mode_only() {
    let development = demo_layer(&server::Config::default()).audit();
    let production = demo_layer(&server::Config {
        production: true,
        ..server::Config::default()
    })
    .audit();

    assert_eq!(
        ids(&development),
        ["TS-DEV-001", "TS-CSP-005"],
        "{development}"
    );
    assert_eq!(development.highest(), Some(Severity::High));
    assert!(production.is_clean(), "{production}");
}

#[test]
fn findings_come_most_severe_first() {
    let audit = audit_of(
        hardened()
            .request_ids(false)
            .hsts(None)
            .allowed_hosts(AllowedHosts::new()),
    );

    assert_eq!(ids(&audit), ["TS-HSTS-001", "TS-HOSTS-001", "TS-LOG-001"]);
    let severities: Vec<Severity> = audit.findings().iter().map(|f| f.severity()).collect();
    assert_eq!(
        severities,
        [Severity::High, Severity::Medium, Severity::Low]
    );
    assert_eq!(audit.to_string().lines().count(), 3);
}

#[test]
fn a_silenced_finding_moves_aside() {
    let audit = audit_of(SecurityLayer::builder().silence_finding("TS-HOSTS-001"));

    assert_eq!(ids(&audit), ["TS-HTTPS-002"]);
    let silenced = &audit.silenced()[0];
    assert_eq!(silenced.id(), "TS-HOSTS-001");
    assert!(silenced.silenced());
    let text = audit.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("[INFO] TS-HTTPS-002 "), "{text}");
    assert!(lines[1].starts_with("[MEDIUM] TS-HOSTS-001 "), "{text}");
    assert!(lines[1].ends_with(" (silenced)"), "{text}");
}

#[test]
fn silencing_every_finding_leaves_a_clean_audit() {
    let audit = audit_of(
        SecurityLayer::builder()
            .silence_finding("TS-HOSTS-001")
            .silence_finding("TS-HTTPS-002"),
    );

    assert!(audit.is_clean());
    assert_eq!(audit.highest(), None);
    assert_eq!(audit.silenced().len(), 2);
}

#[test]
fn an_unknown_silenced_id_is_refused() {
    let err = hardened()
        .silence_finding("TS-HOST-001")
        .build()
        .unwrap_err();

    assert_eq!(err.kind(), ConfigErrorKind::Invalid);
    assert_eq!(err.setting(), "audit.silence");
    assert_eq!(err.expected(), "a finding id such as TS-HOSTS-001");
}

#[test]
fn refuse_findings_at_refuses_development_mode() {
    let development = || hardened().development_mode(true);

    let err = development()
        .refuse_findings_at(Severity::High)
        .build()
        .unwrap_err();
    let accepted = development()
        .silence_finding("TS-DEV-001")
        .refuse_findings_at(Severity::High)
        .build();
    let below = development().refuse_findings_at(Severity::Critical).build();

    assert_eq!(err.kind(), ConfigErrorKind::Audit);
    assert_eq!(err.setting(), "audit");
    assert!(err.to_string().contains("\"TS-DEV-001\""), "{err}");
    assert!(accepted.is_ok());
    assert!(below.is_ok());
}

#[test]
fn refuse_findings_at_names_the_most_severe_finding() {
    let err = SecurityLayer::builder()
        .request_ids(false)
        .hsts(None)
        .refuse_findings_at(Severity::Low)
        .build()
        .unwrap_err();

    assert!(err.to_string().contains("TS-HSTS-001"), "{err}");
}

#[test]
fn refuse_findings_at_builds_the_hardened_configuration() {
    let layer = hardened().refuse_findings_at(Severity::Info).build();

    assert!(layer.is_ok());
}

#[test]
fn build_logs_each_finding_once() {
    let (_guard, captured) = common::events::capture();

    let layer = SecurityLayer::builder()
        .silence_finding("TS-HTTPS-002")
        .build()
        .unwrap();

    let audit = captured.audit_events();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0].level, Level::WARN);
    assert_eq!(audit[0].field("id"), Some("TS-HOSTS-001"));
    assert_eq!(audit[0].field("severity"), Some("medium"));
    assert_eq!(audit[1].level, Level::DEBUG);
    assert_eq!(audit[1].field("id"), Some("TS-HTTPS-002"));
    assert_eq!(audit[1].field("silenced"), Some("true"));
    // Reading the audit logs nothing more.
    drop(layer.audit());
    assert_eq!(captured.audit_events().len(), 2);
}
