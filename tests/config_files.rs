//! Configuration from TOML and JSON files and `TOWER_SECURITY_*` variables: every section
//! builds, a file round-trips, and each mistake names its key path or variable.

#![cfg(feature = "serde")]

use tower_security::config::PolicyConfig;
use tower_security::{ConfigErrorKind, SecurityLayer, SecurityLayerBuilder};

const FULL: &str = r#"
methods = ["GET", "HEAD", "POST"]
hosts = ["example.com", "*.example.com"]
trusted_proxies = ["10.0.0.0/8"]
development_mode = false
request_ids = true

[headers]
csp = ["default-src 'self'", "script-src 'nonce' 'strict-dynamic'", "object-src 'none'"]
csp_report_only = ["default-src 'none'"]
csp_report_to = "/csp-reports"
hsts = { max_age = 31536000, include_subdomains = true, preload = true }
frame_options = "SAMEORIGIN"
nosniff = true
referrer_policy = "no-referrer"
permissions_policy = ["camera=()", "fullscreen=(self)"]
coop = "same-origin-allow-popups"
corp = "same-site"
coep = false
origin_agent_cluster = true
dns_prefetch = true
cross_domain = true
no_store = false
xss_protection = "0"
strip_fingerprints = true
strip_headers = ["x-runtime"]
override_app_headers = false

[cookies]
secure = true
http_only = true
same_site = "Lax"
script_readable = ["csrftoken"]
same_site_for = { sso = "None" }
insecure_plain_http = []
signed = []
encrypted = []

[limits]
max_body = 2097152
max_body_for = { "/upload" = 10485760 }
max_header_fields = 80
max_header_bytes = 16384
max_header_value_bytes = 4096

[uri]
relax = ["path-parameter"]
max_target_length = 4096
max_query_length = 2048
max_query_parameters = 64

[https]
canonical_host = "example.com"
exempt_paths = ["/healthz"]

[scrub]
server_errors = true
client_errors = true

[cross_origin]
trusted_origins = ["https://admin.example.com"]
exempt_paths = ["/webhooks"]

[audit]
silence = ["TS-HOSTS-001"]
refuse_at = "critical"
"#;

fn control(layer: &SecurityLayer, name: &str) -> String {
    let controls = layer.controls();
    let control = controls.iter().find(|c| c.name() == name);

    control.map(|c| c.value().to_owned()).unwrap_or_default()
}

#[test]
fn a_document_setting_every_section_builds_and_round_trips() {
    let config = PolicyConfig::from_toml(FULL).unwrap();

    let layer = SecurityLayerBuilder::from_config(&config)
        .unwrap()
        .build()
        .unwrap();
    let again = PolicyConfig::from_toml(&config.to_toml()).unwrap();

    assert_eq!(again, config);
    let hsts = control(&layer, "strict-transport-security");
    assert!(
        hsts.starts_with("max-age=31536000; includeSubDomains; preload"),
        "{hsts}"
    );
    assert_eq!(control(&layer, "x-frame-options"), "SAMEORIGIN");
    assert_eq!(control(&layer, "cross-origin-embedder-policy"), "");
    let controls = format!("{:?}", layer.controls());
    assert!(controls.contains("2097152"), "{controls}");
}

#[test]
fn an_unknown_key_is_named_with_its_path() {
    let err = PolicyConfig::from_toml("[headers]\nhstss = false\n").unwrap_err();

    assert_eq!(err.setting(), "headers.hstss");
    assert_eq!(err.kind(), ConfigErrorKind::UnknownKey);
    assert!(err.to_string().contains("unknown key \"hstss\""), "{err}");
}

#[test]
fn a_bad_value_names_its_path_and_the_expected_form() {
    let cases = [
        (
            "token",
            "[headers]\nframe_options = \"ALLOW\"",
            "headers.frame_options",
            "DENY",
        ),
        (
            "type",
            "[headers]\nhsts = { max_age = \"long\" }",
            "headers.hsts.max_age",
            "seconds",
        ),
        (
            "true switch",
            "[headers]\nhsts = true",
            "headers.hsts",
            "max_age",
        ),
        (
            "list entry",
            "methods = [\"GET\", 3]",
            "methods[1]",
            "HTTP methods",
        ),
        (
            "severity",
            "[audit]\nrefuse_at = \"dire\"",
            "audit.refuse_at",
            "critical",
        ),
        (
            "finding id",
            "[audit]\nsilence = [\"TS-NOPE\"]",
            "audit.silence",
            "catalogue",
        ),
    ];

    for (name, text, setting, expected) in cases {
        let err = PolicyConfig::from_toml(text).unwrap_err();

        assert_eq!(err.setting(), setting, "{name}");
        assert!(err.expected().contains(expected), "{name}: {err}");
    }
}

#[test]
fn a_document_that_is_not_toml_is_refused() {
    let err = PolicyConfig::from_toml("[headers\n").unwrap_err();

    assert_eq!(err.setting(), "toml");
}

#[test]
fn json_reads_the_same_keys() {
    let json = r#"{
        "headers": { "hsts": { "max_age": 300 }, "frame_options": false },
        "limits": { "max_body": false },
        "hosts": ["example.com"]
    }"#;
    let toml = "hosts = [\"example.com\"]\n[headers]\nhsts = { max_age = 300 }\n\
                frame_options = false\n[limits]\nmax_body = false\n";

    let from_json = PolicyConfig::from_json(json).unwrap();

    assert_eq!(from_json, PolicyConfig::from_toml(toml).unwrap());
    let err = PolicyConfig::from_json(r#"{"headers": {"hstss": 1}}"#).unwrap_err();
    assert_eq!(err.setting(), "headers.hstss");
}

/// One good value for every variable of the table in the `config` module docs.
const GOOD: &[(&str, &str)] = &[
    ("HEADERS_CSP", "default-src 'self'; object-src 'none'"),
    ("HEADERS_CSP_REPORT_ONLY", "false"),
    ("HEADERS_CSP_REPORT_TO", "/csp-reports"),
    ("HEADERS_HSTS", "false"),
    ("HEADERS_HSTS_MAX_AGE", "31536000"),
    ("HEADERS_HSTS_INCLUDE_SUBDOMAINS", "yes"),
    ("HEADERS_HSTS_PRELOAD", "off"),
    ("HEADERS_FRAME_OPTIONS", "DENY"),
    ("HEADERS_NOSNIFF", "true"),
    ("HEADERS_REFERRER_POLICY", "same-origin"),
    ("HEADERS_PERMISSIONS_POLICY", "camera=(), fullscreen=(self)"),
    ("HEADERS_COOP", "same-origin"),
    ("HEADERS_CORP", "cross-origin"),
    ("HEADERS_COEP", "credentialless"),
    ("HEADERS_ORIGIN_AGENT_CLUSTER", "1"),
    ("HEADERS_DNS_PREFETCH", "on"),
    ("HEADERS_CROSS_DOMAIN", "true"),
    ("HEADERS_NO_STORE", "false"),
    ("HEADERS_XSS_PROTECTION", "1; mode=block"),
    ("HEADERS_STRIP_FINGERPRINTS", "true"),
    ("HEADERS_STRIP_HEADERS", "x-runtime, x-request-start"),
    ("HEADERS_OVERRIDE_APP_HEADERS", "true"),
    ("COOKIES", "false"),
    ("COOKIES_SECURE", "true"),
    ("COOKIES_HTTP_ONLY", "true"),
    ("COOKIES_SAME_SITE", "Lax"),
    ("COOKIES_SCRIPT_READABLE", "csrftoken"),
    ("COOKIES_SAME_SITE_FOR", "sso=None,prefs=Lax"),
    ("COOKIES_INSECURE_PLAIN_HTTP", "dev"),
    ("COOKIES_SIGNED", "prefs"),
    ("COOKIES_ENCRYPTED", "session"),
    ("LIMITS", "false"),
    ("LIMITS_MAX_BODY", "2097152"),
    ("LIMITS_MAX_BODY_FOR", "/upload=10485760"),
    ("LIMITS_MAX_HEADER_FIELDS", "80"),
    ("LIMITS_MAX_HEADER_BYTES", "16384"),
    ("LIMITS_MAX_HEADER_VALUE_BYTES", "4096"),
    ("URI", "false"),
    ("URI_RELAX", "path-parameter"),
    ("URI_MAX_TARGET_LENGTH", "4096"),
    ("URI_MAX_QUERY_LENGTH", "2048"),
    ("URI_MAX_QUERY_PARAMETERS", "64"),
    ("METHODS", "GET,HEAD,POST"),
    ("HOSTS", "a.example.com,b.example.com"),
    ("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1"),
    ("HTTPS", "false"),
    ("HTTPS_CANONICAL_HOST", "example.com"),
    ("HTTPS_EXEMPT_PATHS", "/healthz"),
    ("DEVELOPMENT_MODE", "false"),
    ("REQUEST_IDS", "true"),
    ("SCRUB_SERVER_ERRORS", "true"),
    ("SCRUB_CLIENT_ERRORS", "false"),
    ("CROSS_ORIGIN", "false"),
    ("CROSS_ORIGIN_TRUSTED_ORIGINS", "https://admin.example.com"),
    ("CROSS_ORIGIN_EXEMPT_PATHS", "/webhooks"),
    ("AUDIT_SILENCE", "TS-HOSTS-001"),
    ("AUDIT_REFUSE_AT", "high"),
];

fn one(name: &str, value: &str) -> impl FnMut(&str) -> Option<String> {
    let name = format!("TOWER_SECURITY_{name}");
    let value = value.to_owned();
    move |n: &str| (n == name).then(|| value.clone())
}

#[test]
fn each_variable_of_the_table_accepts_a_good_value() {
    let docs = include_str!("../docs/configuration.md");
    let documented = docs.matches("| `TOWER_SECURITY_").count();

    for (name, value) in GOOD {
        let result = PolicyConfig::from_vars(one(name, value));

        let config = result.unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_ne!(config, PolicyConfig::default(), "{name} was not read");
        assert!(docs.contains(&format!("`TOWER_SECURITY_{name}`")), "{name}");
    }
    assert_eq!(GOOD.len(), documented);
}

#[test]
fn a_bad_value_of_each_type_names_the_variable() {
    let cases = [
        ("bool", "HEADERS_NOSNIFF", "maybe", "\"maybe\""),
        (
            "number",
            "HEADERS_HSTS_MAX_AGE",
            "a year",
            "number of seconds",
        ),
        ("list entry", "METHODS", "GET,B@D", "\"B@D\""),
        (
            "enum",
            "HEADERS_FRAME_OPTIONS",
            "ALLOW",
            "DENY or SAMEORIGIN",
        ),
        ("section switch", "COOKIES", "on", "or false"),
        (
            "map entry",
            "LIMITS_MAX_BODY_FOR",
            "/upload",
            "path prefixes",
        ),
        (
            "map value",
            "COOKIES_SAME_SITE_FOR",
            "sso=Loose",
            "Strict, Lax or None",
        ),
    ];

    for (kind, name, value, shown) in cases {
        let err = PolicyConfig::from_vars(one(name, value)).unwrap_err();

        assert_eq!(err.setting(), format!("TOWER_SECURITY_{name}"), "{kind}");
        assert!(err.to_string().contains(shown), "{kind}: {err}");
    }
}

#[test]
fn variables_and_files_build_the_same_layer() {
    let vars = |name: &str| match name {
        "TOWER_SECURITY_HEADERS_HSTS_MAX_AGE" => Some("300".to_owned()),
        "TOWER_SECURITY_HOSTS" => Some("example.com".to_owned()),
        _ => None,
    };

    let from_vars = PolicyConfig::from_vars(vars).unwrap();

    let toml = "hosts = [\"example.com\"]\n[headers.hsts]\nmax_age = 300\n";
    assert_eq!(from_vars, PolicyConfig::from_toml(toml).unwrap());
}
