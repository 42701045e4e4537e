//! Table-driven tests of the cross-origin check and of its configuration.

use http::request::Builder;

use super::Refusal::{CrossSite, OriginMismatch};
use super::*;
use crate::ConfigErrorKind;

/// A request under construction, with a short name for each header the check reads.
struct Req(Builder);

fn req(method: &str) -> Req {
    Req(Request::builder().method(method).uri("/"))
}

fn post() -> Req {
    req("POST")
}

impl Req {
    fn site(self, value: &str) -> Self {
        Self(self.0.header(SEC_FETCH_SITE, value))
    }

    fn origin(self, value: &str) -> Self {
        Self(self.0.header(ORIGIN, value))
    }

    fn host(self, value: &str) -> Self {
        Self(self.0.header(HOST, value))
    }

    fn uri(self, uri: &str) -> Self {
        Self(self.0.uri(uri))
    }

    fn upgrade(self, value: &str) -> Self {
        Self(self.0.header(http::header::UPGRADE, value))
    }

    fn build(self) -> Request<()> {
        self.0.body(()).unwrap()
    }
}

/// The target of an HTTP/2 WebSocket handshake, an extended CONNECT (RFC 8441 §4).
const H2_WS: &str = "https://a.test/ws";

#[test]
fn requests_are_judged_by_method_fetch_metadata_origin_and_host() {
    let protection = CrossOriginProtection::new()
        .trusted_origin("https://partner.test")
        .insecure_exempt_path("/webhooks/stripe")
        .insecure_exempt_path("/hooks/*")
        .compile()
        .unwrap();
    let ours = "https://a.test";
    let evil = "https://evil.test";
    let partner = "https://partner.test";
    // One case per line: rustfmt would spread each over five.
    #[rustfmt::skip]
    let cases = [
        // Safe methods pass whatever their headers say.
        ("GET cross-site", req("GET").site("cross-site").origin(evil), Ok(())),
        ("HEAD cross-site", req("HEAD").site("cross-site").origin(evil), Ok(())),
        ("OPTIONS cross-site", req("OPTIONS").site("cross-site"), Ok(())),
        ("lowercase get is not GET", req("get").site("cross-site"), Err(CrossSite)),
        // A WebSocket handshake carries the user's cookies into a socket: judged as unsafe.
        ("ws cross-site", req("GET").upgrade("websocket").site("cross-site"), Err(CrossSite)),
        ("ws token case", req("GET").upgrade("h2c, WebSocket").origin(evil), Err(OriginMismatch)),
        ("ws same-origin", req("GET").upgrade("websocket").site("same-origin"), Ok(())),
        ("ws same host", req("GET").upgrade("websocket").origin(ours).host("a.test"), Ok(())),
        ("ws no browser", req("GET").upgrade("websocket"), Ok(())),
        ("other upgrade", req("GET").upgrade("h2c").site("cross-site"), Ok(())),
        ("h2 ws cross-site", req("CONNECT").uri(H2_WS).site("cross-site"), Err(CrossSite)),
        ("h2 ws same-origin", req("CONNECT").uri(H2_WS).site("same-origin"), Ok(())),
        // Sec-Fetch-Site decides when present.
        ("POST same-origin", post().site("same-origin"), Ok(())),
        ("POST none", post().site("none"), Ok(())),
        ("POST same-site", post().site("same-site"), Err(CrossSite)),
        ("POST cross-site", post().site("cross-site"), Err(CrossSite)),
        ("POST garbage", post().site("same-origin;x"), Err(CrossSite)),
        ("POST empty", post().site(""), Err(CrossSite)),
        ("POST other case", post().site("Same-Origin"), Err(CrossSite)),
        ("POST repeated", post().site("same-origin").site("same-origin"), Err(CrossSite)),
        ("same-origin, foreign Origin", post().site("same-origin").origin(evil), Ok(())),
        ("PUT same-origin", req("PUT").site("same-origin"), Ok(())),
        ("PUT cross-site", req("PUT").site("cross-site"), Err(CrossSite)),
        ("PATCH none", req("PATCH").site("none"), Ok(())),
        ("PATCH same-site", req("PATCH").site("same-site"), Err(CrossSite)),
        ("DELETE same-origin", req("DELETE").site("same-origin"), Ok(())),
        ("DELETE cross-site", req("DELETE").site("cross-site"), Err(CrossSite)),
        ("PURGE same-origin", req("PURGE").site("same-origin"), Ok(())),
        ("PURGE cross-site", req("PURGE").site("cross-site"), Err(CrossSite)),
        ("PURGE garbage", req("PURGE").site("?1"), Err(CrossSite)),
        // Without Sec-Fetch-Site, Origin is compared with Host.
        ("no Origin", post().host("a.test"), Ok(())),
        ("same host", post().origin(ours).host("a.test"), Ok(())),
        ("same host, other case", post().origin("HTTPS://A.test").host("a.TEST"), Ok(())),
        ("Origin :443, bare Host", post().origin("https://a.test:443").host("a.test"), Ok(())),
        ("Origin :80, bare Host", post().origin("http://a.test:80").host("a.test"), Ok(())),
        ("bare Origin, Host :443", post().origin("https://a.test").host("a.test:443"), Ok(())),
        ("http Origin, Host :443", post().origin("http://a.test").host("a.test:443"),
            Err(OriginMismatch)),
        ("same port", post().origin("https://a.test:8443").host("a.test:8443"), Ok(())),
        ("other port", post().origin("https://a.test:8443").host("a.test:9443"),
            Err(OriginMismatch)),
        ("port on Origin only", post().origin("https://a.test:8443").host("a.test"),
            Err(OriginMismatch)),
        // Host carries no scheme; see the module's `# Limitations`.
        ("scheme-only difference", post().origin("http://a.test").host("a.test"), Ok(())),
        ("IPv6 literal", post().origin("http://[::1]:8080").host("[::1]:8080"), Ok(())),
        ("other host", post().origin(evil).host("a.test"), Err(OriginMismatch)),
        ("subdomain", post().origin("https://b.a.test").host("a.test"), Err(OriginMismatch)),
        ("null Origin", post().origin("null").host("a.test"), Err(OriginMismatch)),
        ("no scheme", post().origin("a.test").host("a.test"), Err(OriginMismatch)),
        ("path", post().origin("https://a.test/").host("a.test"), Err(OriginMismatch)),
        ("userinfo", post().origin("https://u@a.test").host("a.test"), Err(OriginMismatch)),
        ("two Origins", post().origin(ours).origin(ours).host("a.test"), Err(OriginMismatch)),
        ("two Hosts", post().origin(ours).host("a.test").host("a.test"), Err(OriginMismatch)),
        ("HTTP/2 authority", post().uri("https://a.test/").origin(ours), Ok(())),
        ("other authority", post().uri("https://a.test/").origin(evil), Err(OriginMismatch)),
        ("no Host, no authority", post().origin(ours), Err(OriginMismatch)),
        // Exemptions lift a refusal.
        ("trusted", post().site("cross-site").origin(partner), Ok(())),
        ("trusted, case", post().site("cross-site").origin("https://Partner.Test"), Ok(())),
        ("trusted, no Fetch Metadata", post().origin(partner).host("a.test"), Ok(())),
        ("untrusted", post().site("cross-site").origin(evil), Err(CrossSite)),
        ("trusted as a prefix", post().site("cross-site").origin("https://partner.test.evil"),
            Err(CrossSite)),
        ("exempt path", post().uri("/webhooks/stripe").site("cross-site"), Ok(())),
        ("exempt path, query", post().uri("/webhooks/stripe?id=1").site("cross-site"), Ok(())),
        ("exempt path + /", post().uri("/webhooks/stripe/").site("cross-site"), Err(CrossSite)),
        ("prefix child", post().uri("/hooks/a").site("cross-site"), Ok(())),
        ("prefix grandchild", post().uri("/hooks/a/b").origin(evil).host("a.test"), Ok(())),
        ("prefix itself", post().uri("/hooks").site("cross-site"), Err(CrossSite)),
        ("prefix near miss", post().uri("/hooksx").site("cross-site"), Err(CrossSite)),
    ];

    for (name, request, expected) in cases {
        let verdict = protection.check(&request.build());

        assert_eq!(verdict, expected, "{name}");
    }
}

#[test]
fn refusals_have_stable_rule_names() {
    let rules = [CrossSite.rule(), OriginMismatch.rule()];

    assert_eq!(rules, ["sec-fetch-site", "origin-mismatch"]);
}

#[test]
fn trusted_origins_are_stored_as_browsers_send_them() {
    let cases = [
        ("https://a.test", "https://a.test"),
        ("HTTPS://A.Test", "https://a.test"),
        ("https://a.test:443", "https://a.test"),
        ("http://a.test:80", "http://a.test"),
        ("https://a.test:8443", "https://a.test:8443"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("https://xn--bcher-kva.ch", "https://xn--bcher-kva.ch"),
    ];

    for (given, stored) in cases {
        let protection = CrossOriginProtection::new().trusted_origin(given);

        let compiled = protection.compile().unwrap();

        assert_eq!(&*compiled.trusted_origins, [Box::from(stored)], "{given}");
    }
}

#[test]
fn bad_trusted_origins_are_refused() {
    let cases = [
        ("no scheme", "a.test"),
        ("ftp", "ftp://a.test"),
        ("path", "https://a.test/app"),
        ("trailing slash", "https://a.test/"),
        ("query", "https://a.test?x=1"),
        ("fragment", "https://a.test#top"),
        ("userinfo", "https://u:p@a.test"),
        ("space", "https://a .example"),
        ("leading space", " https://a.test"),
        ("non-ASCII", "https://bücher.ch"),
        ("empty", ""),
        ("no host", "https://"),
        ("empty port", "https://a.test:"),
        ("huge port", "https://a.test:65536"),
        ("signed port", "https://a.test:+1"),
        ("null", "null"),
    ];

    for (name, origin) in cases {
        let protection = CrossOriginProtection::new().trusted_origin(origin);

        let err = protection.compile().unwrap_err();

        assert_eq!(err.kind(), ConfigErrorKind::Invalid, "{name}");
        assert_eq!(err.setting(), "cross_origin.trusted_origin", "{name}");
        assert!(err.to_string().contains("(scheme and host only)"), "{name}");
    }
}

#[test]
fn bad_exempt_paths_are_refused() {
    let cases = [
        ("empty", ""),
        ("relative", "hooks"),
        ("space", "/a b"),
        ("query", "/a?b"),
        ("fragment", "/a#b"),
        ("non-ASCII", "/ü"),
        ("everything", "/*"),
        ("star without slash", "/hooks*"),
        ("inner star", "/a/*/b"),
    ];

    for (name, path) in cases {
        let protection = CrossOriginProtection::new().insecure_exempt_path(path);

        let err = protection.compile().unwrap_err();

        assert_eq!(err.kind(), ConfigErrorKind::Invalid, "{name}");
        assert_eq!(err.setting(), "cross_origin.exempt_path", "{name}");
    }
}

#[test]
fn duplicates_are_refused_after_normalisation() {
    let origins = CrossOriginProtection::new()
        .trusted_origin("https://a.test")
        .trusted_origin("HTTPS://A.test:443");
    let paths = CrossOriginProtection::new()
        .insecure_exempt_path("/hooks/*")
        .insecure_exempt_path("/hooks/*");

    let errors = [origins.compile(), paths.compile()].map(Result::unwrap_err);

    assert_eq!(
        errors.each_ref().map(ConfigError::kind),
        [ConfigErrorKind::Duplicate; 2]
    );
}

#[test]
fn good_exempt_paths_are_accepted() {
    let protection = CrossOriginProtection::new()
        .insecure_exempt_path("/")
        .insecure_exempt_path("/webhooks/stripe")
        .insecure_exempt_path("/hooks/*")
        .insecure_exempt_path("/a:b/c-d_e.f~");

    let compiled = protection.compile().unwrap();

    assert_eq!(compiled.exact_paths.len(), 3);
    assert_eq!(&*compiled.path_prefixes, [Box::from("/hooks/")]);
}
