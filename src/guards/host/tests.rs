//! Table-driven tests of host validation, the allow-list and its configuration, and a property
//! test over arbitrary `Host` values.

use http::request::Builder;
use http::{HeaderValue, Version};
use proptest::prelude::*;

use super::*;
use crate::ConfigErrorKind;

/// A request under construction, with a short name for each part the check reads.
struct Req(Builder);

/// An origin-form HTTP/1.1 request, which names its host in `Host` only.
fn req() -> Req {
    Req(Request::builder().uri("/"))
}

impl Req {
    fn host(self, value: &str) -> Self {
        Self(self.0.header(HOST, value))
    }

    fn host_bytes(self, value: &[u8]) -> Self {
        Self(self.0.header(HOST, HeaderValue::from_bytes(value).unwrap()))
    }

    /// An absolute-form `http` target, or an HTTP/2 request's `:scheme` and `:authority`.
    fn http(self, authority: &str) -> Self {
        Self(self.0.uri(format!("http://{authority}/")))
    }

    /// The same with the `https` scheme.
    fn https(self, authority: &str) -> Self {
        Self(self.0.uri(format!("https://{authority}/")))
    }

    fn h2(self) -> Self {
        Self(self.0.version(Version::HTTP_2))
    }

    fn build(self) -> Request<()> {
        self.0.body(()).unwrap()
    }
}

fn hosts(patterns: &[&str]) -> CompiledHosts {
    let list = patterns
        .iter()
        .fold(AllowedHosts::new(), |list, pattern| list.allow(*pattern));
    list.compile().unwrap()
}

#[test]
fn hosts_are_validated_then_matched_against_the_allow_list() {
    let list = hosts(&[
        "example.com",
        "*.example.com",
        "api.test:8443",
        "secure.test:443",
        "localhost",
        "127.0.0.1",
        "[::1]",
        "xn--bcher-kva.ch",
    ]);
    // One case per line: rustfmt would spread each over five.
    #[rustfmt::skip]
    let cases = [
        // Presence and count.
        ("no Host, no authority", req(), Err(MISSING)),
        ("empty Host", req().host(""), Err(EMPTY)),
        ("two Hosts", req().host("example.com").host("example.com"), Err(DUPLICATE)),
        ("two Hosts, one empty", req().host("").host("example.com"), Err(DUPLICATE)),
        // Malformed values.
        ("userinfo", req().host("good@evil"), Err(MALFORMED)),
        ("userinfo before an allowed host", req().host("evil.com@example.com"), Err(MALFORMED)),
        ("inner space", req().host("example .com"), Err(MALFORMED)),
        ("leading space", req().host(" example.com"), Err(MALFORMED)),
        ("tab", req().host("example.com\t"), Err(MALFORMED)),
        ("slash", req().host("a/b"), Err(MALFORMED)),
        ("backslash", req().host("a\\b"), Err(MALFORMED)),
        ("query", req().host("example.com?x"), Err(MALFORMED)),
        ("fragment", req().host("example.com#x"), Err(MALFORMED)),
        ("percent-encoding", req().host("%2e.example.com"), Err(MALFORMED)),
        ("non-ASCII bytes", req().host_bytes("bücher.ch".as_bytes()), Err(MALFORMED)),
        ("Latin-1 byte", req().host_bytes(b"caf\xe9.example.com"), Err(MALFORMED)),
        ("empty label", req().host("a..example.com"), Err(MALFORMED)),
        ("leading dot", req().host(".example.com"), Err(MALFORMED)),
        ("lone dot", req().host("."), Err(MALFORMED)),
        ("two trailing dots", req().host("example.com.."), Err(MALFORMED)),
        ("empty port", req().host("example.com:"), Err(MALFORMED)),
        ("port too large", req().host("example.com:99999"), Err(MALFORMED)),
        ("port 65536", req().host("example.com:65536"), Err(MALFORMED)),
        ("port 0", req().host("example.com:0"), Err(MALFORMED)),
        ("letter in port", req().host("example.com:8o"), Err(MALFORMED)),
        ("signed port", req().host("example.com:+80"), Err(MALFORMED)),
        ("two ports", req().host("example.com:80:80"), Err(MALFORMED)),
        ("port only", req().host(":80"), Err(MALFORMED)),
        ("unclosed IPv6", req().host("[::1"), Err(MALFORMED)),
        ("not hex IPv6", req().host("[zz::1]"), Err(MALFORMED)),
        ("IPv6 zone", req().host("[fe80::1%25eth0]"), Err(MALFORMED)),
        ("IPv6 without brackets", req().host("::1"), Err(MALFORMED)),
        ("junk after IPv6", req().host("[::1]x"), Err(MALFORMED)),
        ("short IPv4", req().host("127.1"), Err(MALFORMED)),
        ("hex IPv4", req().host("0x7f.0.0.1"), Err(MALFORMED)),
        ("octal-looking IPv4", req().host("0127.0.0.1"), Err(MALFORMED)),
        ("IPv4 out of range", req().host("256.0.0.1"), Err(MALFORMED)),
        ("wildcard sent", req().host("*.example.com"), Err(MALFORMED)),
        // Well-formed hosts that the list allows.
        ("exact name", req().host("example.com"), Ok("example.com")),
        ("exact name, any port", req().host("example.com:8080"), Ok("example.com:8080")),
        ("other case", req().host("EXAMPLE.com"), Ok("EXAMPLE.com")),
        ("trailing dot", req().host("example.com."), Ok("example.com.")),
        ("trailing dot and port", req().host("example.com.:443"), Ok("example.com.:443")),
        ("port with leading zeros", req().host("api.test:08443"), Ok("api.test:08443")),
        ("leading hyphen tolerated", req().host("-a.example.com"), Ok("-a.example.com")),
        ("underscore tolerated", req().host("_dmarc.example.com"), Ok("_dmarc.example.com")),
        ("IPv4", req().host("127.0.0.1"), Ok("127.0.0.1")),
        ("IPv4 with port", req().host("127.0.0.1:3000"), Ok("127.0.0.1:3000")),
        ("IPv6", req().host("[::1]"), Ok("[::1]")),
        ("IPv6 with port", req().host("[::1]:8080"), Ok("[::1]:8080")),
        ("IPv6 written long", req().host("[0:0::1]"), Ok("[0:0::1]")),
        ("punycode", req().host("XN--BCHER-KVA.ch"), Ok("XN--BCHER-KVA.ch")),
        ("localhost", req().host("localhost:5173"), Ok("localhost:5173")),
        // Wildcards: one or more labels below the base, never the base itself.
        ("one label below", req().host("a.example.com"), Ok("a.example.com")),
        ("two labels below", req().host("a.b.example.com"), Ok("a.b.example.com")),
        ("wildcard, other case", req().host("A.Example.COM"), Ok("A.Example.COM")),
        ("suffix without a dot", req().host("badexample.com"), Err(NOT_ALLOWED)),
        ("allowed name as a prefix", req().host("example.com.evil.net"), Err(NOT_ALLOWED)),
        // Ports.
        ("pattern port", req().host("api.test:8443"), Ok("api.test:8443")),
        ("other port", req().host("api.test:9443"), Err(NOT_ALLOWED)),
        ("no port, origin form", req().host("secure.test"), Ok("secure.test")),
        ("no port, https", req().https("secure.test").host("secure.test"), Ok("secure.test")),
        ("no port, http", req().http("secure.test").host("secure.test"), Err(NOT_ALLOWED)),
        ("no port where a port is required", req().host("api.test"), Err(NOT_ALLOWED)),
        // Hosts outside the list.
        ("single label", req().host("evil"), Err(NOT_ALLOWED)),
        ("other name", req().host("evil.com"), Err(NOT_ALLOWED)),
        ("other IPv4", req().host("10.0.0.1"), Err(NOT_ALLOWED)),
        ("other IPv6", req().host("[::2]"), Err(NOT_ALLOWED)),
        ("IPv4-mapped IPv6", req().host("[::ffff:127.0.0.1]"), Err(NOT_ALLOWED)),
        // `Host` and the URI's authority must agree.
        ("absolute form, other Host", req().http("example.com").host("evil.com"), Err(MISMATCH)),
        ("absolute form, same Host", req().http("example.com").host("Example.com"),
            Ok("Example.com")),
        ("absolute form, both outside", req().http("evil.com").host("evil.com"), Err(NOT_ALLOWED)),
        ("authority, other port", req().https("example.com:8443").host("example.com"),
            Err(MISMATCH)),
        ("https, :443 in Host", req().https("example.com").host("example.com:443"),
            Ok("example.com:443")),
        ("https, :443 in authority", req().https("example.com:443").host("example.com"),
            Ok("example.com")),
        ("http, :80 in Host", req().http("example.com").host("example.com:80"),
            Ok("example.com:80")),
        ("https, :80 in Host", req().https("example.com").host("example.com:80"), Err(MISMATCH)),
        ("trailing dot on one side", req().https("example.com").host("example.com."),
            Ok("example.com.")),
        ("IPv6 written two ways", req().http("[::1]").host("[0::1]"), Ok("[0::1]")),
        ("name and address", req().http("localhost").host("127.0.0.1"), Err(MISMATCH)),
        ("userinfo in the authority", req().http("u@example.com").host("example.com"),
            Err(MALFORMED)),
        ("malformed Host, good authority", req().http("example.com").host("a b"), Err(MALFORMED)),
        // HTTP/2 carries the host in `:authority`, which becomes the URI's authority.
        ("HTTP/2 authority only", req().h2().https("a.example.com"), Ok("a.example.com")),
        ("HTTP/2 authority outside", req().h2().https("evil.com"), Err(NOT_ALLOWED)),
        ("HTTP/2 userinfo", req().h2().https("evil.com@example.com"), Err(MALFORMED)),
        ("HTTP/2 other Host", req().h2().https("example.com").host("evil.com"), Err(MISMATCH)),
    ];

    for (name, request, expected) in cases {
        let request = request.build();

        let verdict = list.check(&request).map_err(|refusal| refusal.rule);

        assert_eq!(verdict, expected, "{name}");
    }
}

#[test]
fn without_an_allow_list_every_well_formed_host_passes() {
    let list = hosts(&[]);
    #[rustfmt::skip]
    let cases = [
        ("single label", req().host("evil"), Ok("evil")),
        ("any name and port", req().host("anything.test:1"), Ok("anything.test:1")),
        ("IPv6", req().host("[2001:db8::1]:65535"), Ok("[2001:db8::1]:65535")),
        ("HTTP/2 authority", req().h2().https("x.test"), Ok("x.test")),
        ("still no Host", req(), Err(MISSING)),
        ("still one Host", req().host("a.test").host("b.test"), Err(DUPLICATE)),
        ("still well formed", req().host("a.test/"), Err(MALFORMED)),
        ("still agreeing", req().http("a.test").host("b.test"), Err(MISMATCH)),
    ];

    for (name, request, expected) in cases {
        let request = request.build();

        let verdict = list.check(&request).map_err(|refusal| refusal.rule);

        assert_eq!(verdict, expected, "{name}");
    }
}

#[test]
fn refusals_have_stable_rule_names() {
    let rules = [MISSING, EMPTY, DUPLICATE, MALFORMED, MISMATCH, NOT_ALLOWED];

    assert_eq!(
        rules,
        [
            "host-missing",
            "host-empty",
            "host-duplicate",
            "host-malformed",
            "host-mismatch",
            "host-not-allowed",
        ]
    );
}

#[test]
fn bad_patterns_are_refused() {
    let cases = [
        ("empty", ""),
        ("bare wildcard", "*"),
        ("wildcard over nothing", "*."),
        ("wildcard without a dot", "*example.com"),
        ("inner wildcard", "a.*.com"),
        ("trailing wildcard", "example.*"),
        ("two wildcards", "*.*.example.com"),
        ("wildcard over an address", "*.127.0.0.1"),
        ("wildcard over IPv6", "*.[::1]"),
        ("space", "ex ample.com"),
        ("userinfo", "user@host"),
        ("non-ASCII", "bücher.ch"),
        ("scheme", "https://a.com"),
        ("path", "a.com/"),
        ("port 0", "a.com:0"),
        ("port too large", "a.com:65536"),
        ("empty port", "a.com:"),
        ("empty label", "a..com"),
        ("short IPv4", "127.1"),
        ("unclosed IPv6", "[::1"),
        ("IPv6 without brackets", "::1"),
    ];

    for (name, pattern) in cases {
        let list = AllowedHosts::new().allow(pattern);

        let err = list.compile().unwrap_err();

        assert_eq!(err.kind(), ConfigErrorKind::Invalid, "{name}");
        assert_eq!(err.setting(), "hosts.allow", "{name}");
        assert_eq!(err.expected(), PATTERN_FORM, "{name}");
    }
}

#[test]
fn duplicate_patterns_are_refused_after_normalisation() {
    let cases = [
        ("same case", "example.com", "example.com"),
        ("other case", "example.com", "EXAMPLE.com"),
        ("trailing dot", "example.com", "example.com."),
        ("wildcard", "*.example.com", "*.Example.com"),
        ("IPv6 written two ways", "[::1]:8080", "[0::1]:8080"),
    ];

    for (name, first, second) in cases {
        let list = AllowedHosts::new().allow(first).allow(second);

        let err = list.compile().unwrap_err();

        assert_eq!(err.kind(), ConfigErrorKind::Duplicate, "{name}");
        assert_eq!(err.setting(), "hosts.allow", "{name}");
    }
}

#[test]
fn describe_lists_the_patterns_as_stored() {
    let cases = [
        (vec![], "any well-formed host (no allow-list)"),
        (vec!["Example.COM."], "1 host pattern: example.com"),
        (
            vec![
                "localhost",
                "127.0.0.1",
                "*.Example.com",
                "[0::1]:8080",
                "a.test:8443",
            ],
            "5 host patterns: localhost, 127.0.0.1, *.example.com, [::1]:8080, a.test:8443",
        ),
    ];

    for (patterns, expected) in cases {
        let list = hosts(&patterns);

        let text = list.describe();

        assert_eq!(text, expected);
    }
}

#[test]
fn allowed_hosts_reports_whether_it_is_empty() {
    let empty = AllowedHosts::new();
    let one = AllowedHosts::new().allow("example.com");

    let answers = [empty.is_empty(), one.is_empty()];

    assert_eq!(answers, [true, false]);
}

/// A byte biased towards the characters hosts are made of, so that the property test reaches
/// the accepting paths and not only the parser's first refusal.
fn host_byte() -> impl Strategy<Value = u8> {
    let alphabet = b"exampleEXAMPLE.com.:0123456789[]@-_/ \t%xX";
    prop_oneof![
        4 => prop::sample::select(alphabet.to_vec()),
        1 => any::<u8>(),
    ]
}

/// Arbitrary host values, and the allowed host with arbitrary bytes after it.
fn host_bytes() -> impl Strategy<Value = Vec<u8>> {
    let after_allowed = prop::collection::vec(host_byte(), 0..6)
        .prop_map(|tail| [b"eXample.com".as_slice(), &tail].concat());
    prop_oneof![prop::collection::vec(host_byte(), 0..24), after_allowed]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_host_value_is_judged_without_panic(bytes in host_bytes()) {
        let Ok(value) = HeaderValue::from_bytes(&bytes) else {
            return Ok(());
        };
        let request = Request::builder().header(HOST, value).body(()).unwrap();
        let open = hosts(&[]);
        let strict = hosts(&["example.com"]);

        let _ = open.check(&request);
        let verdict = strict.check(&request);

        if let Ok(sent) = verdict {
            let host = sent.rsplit_once(':').map_or(sent, |(host, _)| host);
            let host = host.strip_suffix('.').unwrap_or(host);
            prop_assert_eq!(host.to_ascii_lowercase(), "example.com");
        }
    }
}
