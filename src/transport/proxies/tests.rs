//! Table-driven tests of the client resolution and of the trusted-proxy configuration.

use http::HeaderValue;
use http::request::Builder;
use proptest::prelude::*;

use super::*;
use crate::ConfigErrorKind;

const PROXY: &str = "10.0.0.2:443";
const STRANGER: &str = "203.0.113.9:40000";

/// A request under construction, with a short name for each input `resolve` reads.
struct Req(Builder);

fn req() -> Req {
    Req(Request::builder().uri("/").header("user-agent", "test"))
}

/// A request from a trusted proxy.
fn proxied() -> Req {
    req().peer(PROXY)
}

/// A request straight from an untrusted client.
fn direct() -> Req {
    req().peer(STRANGER)
}

impl Req {
    fn peer(self, addr: &str) -> Self {
        Self(self.0.extension(PeerAddr(addr.parse().unwrap())))
    }

    fn socket(self, addr: &str) -> Self {
        Self(self.0.extension(addr.parse::<SocketAddr>().unwrap()))
    }

    fn uri(self, uri: &str) -> Self {
        Self(self.0.uri(uri))
    }

    fn header(self, name: &str, value: &str) -> Self {
        Self(self.0.header(name, value))
    }

    fn xff(self, value: &str) -> Self {
        self.header("x-forwarded-for", value)
    }

    fn xfp(self, value: &str) -> Self {
        self.header("x-forwarded-proto", value)
    }

    fn fwd(self, value: &str) -> Self {
        self.header("forwarded", value)
    }

    fn build(self) -> Request<()> {
        self.0.body(()).unwrap()
    }
}

fn proxies() -> CompiledProxies {
    TrustedProxies::new()
        .trust("10.0.0.0/8")
        .trust("192.168.1.7")
        .trust("::1")
        .trust("fd00::/8")
        .compile()
        .unwrap()
}

/// What a row expects: the client's address, `https`, `via_trusted_proxy`, `stripped`.
type Expected = (Option<&'static str>, Option<bool>, bool, bool);

const fn untrusted(addr: Option<&'static str>, stripped: bool) -> Expected {
    (addr, None, false, stripped)
}

const fn client(addr: &'static str) -> Expected {
    (Some(addr), None, true, false)
}

const fn scheme(https: Option<bool>) -> Expected {
    (Some("203.0.113.7"), https, true, false)
}

#[test]
fn the_client_is_resolved_through_trusted_proxies_only() {
    let proxies = proxies();
    let peer = Some("10.0.0.2");
    let stranger = Some("203.0.113.9");
    // One case per line: rustfmt would spread each over several.
    #[rustfmt::skip]
    let cases = [
        // Without a peer address nothing is trusted.
        ("no peer, no headers", req(), untrusted(None, false)),
        ("no peer, spoofed XFF", req().xff("1.2.3.4"), untrusted(None, true)),
        ("no peer, spoofed Forwarded", req().fwd("for=1.2.3.4"), untrusted(None, true)),
        ("no peer, https URI", req().uri("https://a.test/"), (None, Some(true), false, false)),
        // An untrusted peer is the client, and its forwarding headers are removed.
        ("untrusted, no headers", direct(), untrusted(stranger, false)),
        ("untrusted, spoofed XFF", direct().xff("1.2.3.4"), untrusted(stranger, true)),
        ("untrusted, spoofed XFP", direct().xfp("https"), untrusted(stranger, true)),
        ("untrusted, spoofed Forwarded", direct().fwd("for=1.2.3.4;proto=https"),
            untrusted(stranger, true)),
        ("untrusted, X-Real-IP", direct().header("x-real-ip", "1.2.3.4"),
            untrusted(stranger, true)),
        ("untrusted, X-Forwarded-Host", direct().header("x-forwarded-host", "evil.test"),
            untrusted(stranger, true)),
        ("untrusted, X-Forwarded-Port", direct().header("x-forwarded-port", "443"),
            untrusted(stranger, true)),
        ("untrusted, X-Forwarded-Prefix", direct().header("x-forwarded-prefix", "/admin"),
            untrusted(stranger, true)),
        ("untrusted, http URI, spoofed XFP", direct().uri("http://a.test/").xfp("https"),
            (stranger, Some(false), false, true)),
        ("untrusted neighbour of a host entry", req().peer("192.168.1.8:1").xff("1.2.3.4"),
            untrusted(Some("192.168.1.8"), true)),
        ("untrusted IPv4-mapped peer", req().peer("[::ffff:203.0.113.9]:1").xff("1.2.3.4"),
            untrusted(stranger, true)),
        // X-Forwarded-For is walked from the right while the hop is trusted.
        ("trusted, no headers", proxied(), client("10.0.0.2")),
        ("one hop", proxied().xff("203.0.113.7"), client("203.0.113.7")),
        ("through another proxy", proxied().xff("203.0.113.7, 10.0.0.9"), client("203.0.113.7")),
        ("spoofed leftmost", proxied().xff("6.6.6.6, 203.0.113.7, 10.0.0.9"),
            client("203.0.113.7")),
        ("spoofed trusted leftmost", proxied().xff("10.0.0.5, 203.0.113.7"),
            client("203.0.113.7")),
        ("all trusted", proxied().xff("10.0.0.8, 10.0.0.9"), client("10.0.0.8")),
        ("malformed in the middle", proxied().xff("203.0.113.7, unknown, 10.0.0.9"),
            client("10.0.0.9")),
        ("malformed next to the peer", proxied().xff("203.0.113.7, garbage"), client("10.0.0.2")),
        ("malformed left of the client", proxied().xff("garbage, 203.0.113.7"),
            client("203.0.113.7")),
        ("empty elements", proxied().xff(" , 203.0.113.7,,\t"), client("203.0.113.7")),
        ("two fields, in order", proxied().xff("203.0.113.7").xff("10.0.0.9"),
            client("203.0.113.7")),
        ("two fields, spoof first", proxied().xff("6.6.6.6").xff("203.0.113.7"),
            client("203.0.113.7")),
        ("IPv4 with port", proxied().xff("203.0.113.7:5678"), client("203.0.113.7")),
        ("IPv4, port out of range", proxied().xff("203.0.113.7:65536"), client("10.0.0.2")),
        ("IPv4, empty port", proxied().xff("203.0.113.7:"), client("10.0.0.2")),
        ("bare IPv6", proxied().xff("2001:db8::1"), client("2001:db8::1")),
        ("bracketed IPv6", proxied().xff("[2001:db8::1]"), client("2001:db8::1")),
        ("bracketed IPv6 with port", proxied().xff("[2001:db8::1]:4711"), client("2001:db8::1")),
        ("IPv4-mapped hop", proxied().xff("::ffff:203.0.113.7"), client("203.0.113.7")),
        ("IPv4-mapped trusted hop", proxied().xff("203.0.113.7, ::ffff:10.0.0.9"),
            client("203.0.113.7")),
        ("zone index", proxied().xff("fe80::1%eth0"), client("10.0.0.2")),
        ("host name", proxied().xff("client.example"), client("10.0.0.2")),
        // Forwarded (RFC 7239) is walked the same way.
        ("Forwarded", proxied().fwd("for=203.0.113.7"), client("203.0.113.7")),
        ("Forwarded chain", proxied().fwd("for=203.0.113.7, for=10.0.0.9"),
            client("203.0.113.7")),
        ("Forwarded in two fields", proxied().fwd("for=203.0.113.7").fwd("for=10.0.0.9"),
            client("203.0.113.7")),
        ("Forwarded IPv6 with port", proxied().fwd(r#"for="[2001:db8::1]:4711""#),
            client("2001:db8::1")),
        ("Forwarded IPv4 with port", proxied().fwd(r#"for="203.0.113.7:80""#),
            client("203.0.113.7")),
        ("Forwarded obfuscated port", proxied().fwd(r#"for="203.0.113.7:_p1""#),
            client("203.0.113.7")),
        ("Forwarded names in any case", proxied().fwd("For=203.0.113.7;BY=10.0.0.2"),
            client("203.0.113.7")),
        ("Forwarded other pairs", proxied().fwd("by=_lb;for=203.0.113.7;host=a.test"),
            client("203.0.113.7")),
        ("Forwarded OWS around pairs", proxied().fwd("for=203.0.113.7 ; proto=http"),
            (Some("203.0.113.7"), Some(false), true, false)),
        ("Forwarded unknown", proxied().fwd("for=unknown"), client("10.0.0.2")),
        ("Forwarded obfuscated node", proxied().fwd("for=_hidden, for=10.0.0.9"),
            client("10.0.0.9")),
        ("Forwarded without for", proxied().fwd("by=10.0.0.2"), client("10.0.0.2")),
        ("Forwarded comma in quotes", proxied().fwd(r#"for=203.0.113.7;x="a,b""#),
            client("203.0.113.7")),
        ("Forwarded unterminated quote", proxied().fwd(r#"for=203.0.113.7, for="10.0.0.9"#),
            client("10.0.0.2")),
        ("Forwarded for twice", proxied().fwd("for=203.0.113.7;for=6.6.6.6"),
            client("10.0.0.2")),
        ("Forwarded escaped address", proxied().fwd(r#"for="\203.0.113.7""#),
            client("10.0.0.2")),
        ("Forwarded unquoted IPv6", proxied().fwd("for=[2001:db8::1]"), client("10.0.0.2")),
        ("Forwarded no value", proxied().fwd("for="), client("10.0.0.2")),
        ("Forwarded no equals", proxied().fwd("for"), client("10.0.0.2")),
        // Both headers: followed together while they agree.
        ("both agree", proxied().xff("203.0.113.7").fwd("for=203.0.113.7"),
            client("203.0.113.7")),
        ("both disagree", proxied().xff("203.0.113.7").fwd("for=6.6.6.6"), client("10.0.0.2")),
        ("Forwarded spoof behind XFF proxy", proxied().fwd("for=6.6.6.6").xff("203.0.113.7"),
            client("10.0.0.2")),
        ("XFF longer", proxied().xff("203.0.113.7, 10.0.0.9").fwd("for=10.0.0.9"),
            client("203.0.113.7")),
        ("disagree further left", proxied().xff("6.6.6.6, 10.0.0.9").fwd("for=7.7, for=10.0.0.9"),
            client("10.0.0.9")),
        // The scheme: the URI's, else the nearest trusted proxy's.
        ("XFP https", proxied().xff("203.0.113.7").xfp("https"), scheme(Some(true))),
        ("XFP HTTP", proxied().xff("203.0.113.7").xfp("HTTP"), scheme(Some(false))),
        ("XFP rightmost", proxied().xff("203.0.113.7").xfp("http, https"), scheme(Some(true))),
        ("XFP rightmost field", proxied().xff("203.0.113.7").xfp("https").xfp("http"),
            scheme(Some(false))),
        ("XFP invalid", proxied().xff("203.0.113.7").xfp("ftp"), scheme(None)),
        ("XFP invalid rightmost", proxied().xff("203.0.113.7").xfp("https, wss"), scheme(None)),
        ("XFP with spaces inside", proxied().xff("203.0.113.7").xfp("ht tps"), scheme(None)),
        ("Forwarded proto", proxied().fwd("for=203.0.113.7;proto=https"), scheme(Some(true))),
        ("Forwarded quoted proto", proxied().fwd(r#"for=203.0.113.7;proto="HTTPS""#),
            scheme(Some(true))),
        ("Forwarded proto only last", proxied().fwd("for=203.0.113.7;proto=https, for=10.0.0.9"),
            (Some("203.0.113.7"), None, true, false)),
        ("protos agree", proxied().fwd("for=203.0.113.7;proto=https").xfp("https"),
            scheme(Some(true))),
        ("protos disagree", proxied().fwd("for=203.0.113.7;proto=http").xfp("https"),
            scheme(None)),
        ("XFP beats the proxy's h2c scheme",
            proxied().uri("http://a.test/").xff("203.0.113.7").xfp("https"), scheme(Some(true))),
        ("URI scheme without XFP", proxied().uri("http://a.test/").xff("203.0.113.7"),
            scheme(Some(false))),
        ("URI https", proxied().uri("https://a.test/").xff("203.0.113.7"), scheme(Some(true))),
        ("other URI scheme", proxied().uri("ftp://a.test/").xff("203.0.113.7").xfp("https"),
            scheme(Some(true))),
        // Peers of every trusted form, and where the peer is read from.
        ("IPv4-mapped trusted peer", req().peer("[::ffff:10.0.0.2]:1").xff("203.0.113.7"),
            client("203.0.113.7")),
        ("IPv6 loopback peer", req().peer("[::1]:1").xff("203.0.113.7"), client("203.0.113.7")),
        ("IPv6 network peer", req().peer("[fd12::5]:1").xff("203.0.113.7"),
            client("203.0.113.7")),
        ("single-host peer", req().peer("192.168.1.7:1").xff("203.0.113.7"),
            client("203.0.113.7")),
        ("bare SocketAddr", req().socket(PROXY).xff("203.0.113.7"), client("203.0.113.7")),
        ("PeerAddr wins", req().peer(STRANGER).socket(PROXY).xff("1.2.3.4"),
            untrusted(stranger, true)),
        ("trusted peer, no XFF", proxied().xfp("https"), (peer, Some(true), true, false)),
    ];

    for (name, request, (addr, https, via_trusted_proxy, stripped)) in cases {
        let mut request = request.build();
        let peer = peer_addr(request.extensions());
        let headers_before = request.headers().clone();

        let resolved = proxies.resolve(&mut request);

        let expected = ClientInfo {
            addr: addr.map(|addr| addr.parse().unwrap()),
            peer,
            https,
            via_trusted_proxy,
        };
        assert_eq!(
            resolved,
            Resolved {
                client: expected,
                stripped
            },
            "{name}"
        );
        let headers = request.headers();
        if via_trusted_proxy {
            assert_eq!(*headers, headers_before, "{name}: trusted headers kept");
        } else {
            let left = FORWARDING_HEADERS
                .iter()
                .filter(|h| headers.contains_key(*h))
                .count();
            assert_eq!(left, 0, "{name}: forwarding headers removed");
            assert!(
                headers.contains_key("user-agent"),
                "{name}: other headers kept"
            );
        }
    }
}

#[test]
fn without_trusted_proxies_every_forwarding_header_is_removed() {
    let proxies = TrustedProxies::new().compile().unwrap();
    let mut request = req()
        .peer(PROXY)
        .xff("1.2.3.4")
        .xff("5.6.7.8")
        .fwd("for=1.2.3.4")
        .build();

    let resolved = proxies.resolve(&mut request);

    assert!(resolved.stripped);
    assert_eq!(resolved.client.addr, Some("10.0.0.2".parse().unwrap()));
    assert_eq!(request.headers().len(), 1);
}

#[test]
fn networks_hold_the_addresses_in_their_prefix() {
    #[rustfmt::skip]
    let cases = [
        ("10.0.0.0/8", "10.0.0.0", true),
        ("10.0.0.0/8", "10.255.255.255", true),
        ("10.0.0.0/8", "11.0.0.0", false),
        ("10.0.0.0/8", "9.255.255.255", false),
        ("10.0.0.0/8", "::ffff:10.0.0.1", true),
        ("10.0.0.0/8", "::a00:1", false),
        ("::ffff:10.0.0.0/104", "10.1.2.3", true),
        ("0.0.0.0/1", "127.255.255.255", true),
        ("0.0.0.0/1", "128.0.0.0", false),
        ("192.168.1.7", "192.168.1.7", true),
        ("192.168.1.7", "192.168.1.6", false),
        ("192.168.1.6/31", "192.168.1.7", true),
        ("::1", "::1", true),
        ("::1", "::2", false),
        ("::1", "127.0.0.1", false),
        ("fd00::/8", "fdff:ffff::1", true),
        ("fd00::/8", "fe00::", false),
        ("8000::/1", "ffff::", true),
        ("8000::/1", "7fff::", false),
    ];

    for (network, ip, expected) in cases {
        let proxies = TrustedProxies::new().trust(network).compile().unwrap();
        let ip: IpAddr = ip.parse().unwrap();

        let trusted = proxies.trusts(ip.to_canonical());

        assert_eq!(trusted, expected, "{network} holds {ip}");
    }
}

#[test]
fn networks_are_stored_in_one_spelling() {
    #[rustfmt::skip]
    let cases = [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.0.0.0/08", "10.0.0.0/8"),
        ("192.168.1.7", "192.168.1.7/32"),
        ("::1", "::1/128"),
        ("fd00::/8", "fd00::/8"),
        ("FD00:0::/8", "fd00::/8"),
        ("::ffff:10.0.0.1", "10.0.0.1/32"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("0.0.0.0/1", "0.0.0.0/1"),
        ("8000::/1", "8000::/1"),
    ];

    for (given, stored) in cases {
        let proxies = TrustedProxies::new().trust(given);

        let compiled = proxies.compile().unwrap();

        assert_eq!(compiled.networks.len(), 1, "{given}");
        assert!(
            compiled.describe().contains(&format!(" {stored};")),
            "{given}"
        );
    }
}

#[test]
fn bad_networks_are_refused() {
    #[rustfmt::skip]
    let cases = [
        ("IPv4 prefix too long", "10.0.0.0/33", "such as 192.168.1.7"),
        ("IPv6 prefix too long", "::/129", "such as 192.168.1.7"),
        ("huge prefix", "10.0.0.0/4294967304", "such as 192.168.1.7"),
        ("garbage", "abc", "such as 192.168.1.7"),
        ("empty", "", "such as 192.168.1.7"),
        ("empty prefix", "10.0.0.0/", "such as 192.168.1.7"),
        ("signed prefix", "10.0.0.0/+8", "such as 192.168.1.7"),
        ("two prefixes", "10.0.0.0/8/8", "such as 192.168.1.7"),
        ("space", " 10.0.0.1", "such as 192.168.1.7"),
        ("host name", "localhost", "such as 192.168.1.7"),
        ("brackets", "[::1]", "such as 192.168.1.7"),
        ("port", "10.0.0.1:80", "such as 192.168.1.7"),
        ("zone index", "fe80::1%eth0", "such as 192.168.1.7"),
        ("leading zero octet", "010.0.0.1", "such as 192.168.1.7"),
        ("short IPv4", "10.1", "such as 192.168.1.7"),
        ("host bits", "10.0.0.1/8", "no bits set after the prefix"),
        ("IPv6 host bits", "fd00::1/8", "no bits set after the prefix"),
        ("every IPv4", "0.0.0.0/0", "lets any client forge its address"),
        ("every IPv6", "::/0", "lets any client forge its address"),
        ("every mapped IPv4", "::ffff:0:0/96", "lets any client forge its address"),
        ("holds every mapped IPv4", "::/64", "lets any client forge its address"),
    ];

    for (name, entry, expected) in cases {
        let proxies = TrustedProxies::new().trust("10.0.0.0/8").trust(entry);

        let err = proxies.compile().unwrap_err();

        assert_eq!(err.kind(), ConfigErrorKind::Invalid, "{name}");
        assert_eq!(err.setting(), "trusted_proxies", "{name}");
        assert!(err.to_string().contains(expected), "{name}: {err}");
    }
}

#[test]
fn duplicates_are_refused_after_normalisation() {
    let cases = [
        ("same text", "10.0.0.0/8", "10.0.0.0/8"),
        ("implicit /32", "10.0.0.1", "10.0.0.1/32"),
        ("IPv4-mapped", "::ffff:10.0.0.1", "10.0.0.1"),
        ("IPv6 case", "fd00::/8", "FD00::/8"),
    ];

    for (name, first, second) in cases {
        let proxies = TrustedProxies::new().trust(first).trust(second);

        let err = proxies.compile().unwrap_err();

        assert_eq!(err.kind(), ConfigErrorKind::Duplicate, "{name}");
        assert_eq!(err.setting(), "trusted_proxies", "{name}");
    }
}

#[test]
fn the_summary_names_the_trusted_networks() {
    let none = TrustedProxies::new().compile().unwrap();

    let summaries = [none.describe(), proxies().describe()];

    assert_eq!(
        summaries[0],
        "no trusted proxies: forwarded headers removed from every request"
    );
    assert!(
        summaries[1].contains("sent by 10.0.0.0/8, 192.168.1.7/32, ::1/128, fd00::/8;"),
        "{}",
        summaries[1]
    );
}

/// Forwarding header values: addresses, ports, separators, quotes and some odd bytes.
fn forwarded_value() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"for=".to_vec()),
        Just(b"proto=".to_vec()),
        Just(b"https".to_vec()),
        Just(b"unknown".to_vec()),
        Just(b"10.0.0.9".to_vec()),
        Just(b"203.0.113.7".to_vec()),
        Just(b"::ffff:10.0.0.1".to_vec()),
        Just(b"[2001:db8::1]".to_vec()),
        Just(b":4711".to_vec()),
        Just(b"_obf".to_vec()),
        prop::sample::select(b",;=\"\\[]: \t".to_vec()).prop_map(|b| vec![b]),
        "[0-9a-fA-F.:]{1,8}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 1..3),
    ];
    prop::collection::vec(piece, 0..10).prop_map(|pieces| pieces.concat())
}

fn with_headers(peer: Option<&str>, xff: &[u8], forwarded: &[u8], proto: &[u8]) -> Request<()> {
    let mut request = Request::new(());
    if let Some(peer) = peer {
        request
            .extensions_mut()
            .insert(PeerAddr(peer.parse().unwrap()));
    }
    let headers = [
        (X_FORWARDED_FOR, xff),
        (FORWARDED, forwarded),
        (X_FORWARDED_PROTO, proto),
    ];
    for (name, value) in headers {
        // Bytes a header value cannot hold never reach a service.
        if let Ok(value) = HeaderValue::from_bytes(value) {
            request.headers_mut().append(name, value);
        }
    }
    request
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn untrusted_peers_never_choose_their_address(
        xff in forwarded_value(),
        forwarded in forwarded_value(),
        proto in forwarded_value(),
    ) {
        let proxies = proxies();
        let mut from_stranger = with_headers(Some(STRANGER), &xff, &forwarded, &proto);
        let mut from_nobody = with_headers(None, &xff, &forwarded, &proto);
        let mut from_proxy = with_headers(Some(PROXY), &xff, &forwarded, &proto);
        let had_headers = !from_stranger.headers().is_empty();

        let stranger = proxies.resolve(&mut from_stranger);
        let nobody = proxies.resolve(&mut from_nobody);
        let proxy = proxies.resolve(&mut from_proxy);

        prop_assert_eq!(stranger.client.addr, Some("203.0.113.9".parse().unwrap()));
        prop_assert_eq!(stranger.client.https, None);
        prop_assert_eq!(stranger.stripped, had_headers);
        prop_assert!(from_stranger.headers().is_empty());
        prop_assert_eq!(nobody.client.addr, None);
        prop_assert_eq!(nobody.stripped, had_headers);
        prop_assert!(from_nobody.headers().is_empty());
        prop_assert!(proxy.client.addr.is_some());
        prop_assert!(proxy.client.via_trusted_proxy);
        prop_assert!(!proxy.stripped);
    }
}

/// `strip_forwarding_headers` skips names without the `x-` prefix, other than `forwarded`:
/// a forwarding name added to the list must keep to that form.
#[test]
fn every_forwarding_name_passes_the_prefix_filter() {
    for name in &FORWARDING_HEADERS {
        let name = name.as_str();
        assert!(name.starts_with("x-") || name == "forwarded", "{name}");
    }
}
