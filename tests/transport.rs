//! Transport facts through the whole layer: the Host check, HTTPS enforcement whose redirects
//! go to the canonical host only, forwarded headers believed from trusted proxies only, and
//! request ids in the response, the handler's extensions and the security events.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::request::Builder;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{ServiceExt, service_fn};
use tower_layer::Layer;
use tower_security::guards::host::AllowedHosts;
use tower_security::transport::https::{ConnectionSecurity, HttpsEnforcement};
use tower_security::transport::proxies::{ClientInfo, PeerAddr, TrustedProxies};
use tower_security::transport::request_id::RequestId;
use tower_security::{Refused, RequestBody, SecurityLayer};

mod common;

use common::Transport;
use common::events::{CapturedEvent, capture};

/// A client outside the trusted network.
const OUTSIDER: &str = "203.0.113.9:4000";
/// A load balancer inside `10.0.0.0/8`.
const PROXY: &str = "10.1.2.3:5000";

/// Every header through which a client could claim another address, scheme or host.
const FORWARDING: [&str; 7] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-real-ip",
    "x-forwarded-port",
    "x-forwarded-prefix",
];

/// What the handler was given, carried back in the response's extensions.
#[derive(Clone, Debug)]
struct Seen {
    headers: HeaderMap,
    client: Option<ClientInfo>,
    id: Option<RequestId>,
}

/// What one request through the layer came to.
#[derive(Debug)]
struct Exchange {
    status: StatusCode,
    headers: HeaderMap,
    refused: Option<Refused>,
    /// `None` when the layer answered without calling the handler.
    seen: Option<Seen>,
    body: Bytes,
}

impl Exchange {
    fn header(&self, name: &str) -> Option<&str> {
        let value = self.headers.get(name)?;
        Some(value.to_str().expect("visible ASCII header value"))
    }

    /// The handler's view of the client; panics if the handler was not called.
    fn client(&self) -> ClientInfo {
        let seen = self.seen.as_ref().expect("the handler was called");
        seen.client
            .expect("the layer gave the handler a ClientInfo")
    }
}

/// Sends `request` through `layer` to a handler that answers `200 done` and reports what it
/// was given.
async fn exchange(layer: &SecurityLayer, request: Request<Full<Bytes>>) -> Exchange {
    let service = layer.layer(service_fn(
        |request: Request<RequestBody<Full<Bytes>>>| async move {
            let extensions = request.extensions();
            let seen = Seen {
                headers: request.headers().clone(),
                client: extensions.get::<ClientInfo>().copied(),
                id: extensions.get::<RequestId>().cloned(),
            };
            let mut response = Response::new(Full::new(Bytes::from_static(b"done")));
            response.extensions_mut().insert(seen);
            Ok::<_, Infallible>(response)
        },
    ));

    let response = service.oneshot(request).await.unwrap();

    let (parts, body) = response.into_parts();
    Exchange {
        status: parts.status,
        refused: parts.extensions.get::<Refused>().copied(),
        seen: parts.extensions.get::<Seen>().cloned(),
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

fn get(uri: &str) -> Builder {
    Request::get(uri)
}

/// A request for `uri` to `app.example.com`, from the peer at `peer`.
fn from_peer(method: Method, uri: &str, peer: &str) -> Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "app.example.com")
        .extension(PeerAddr(peer.parse().unwrap()))
}

fn empty(builder: Builder) -> Request<Full<Bytes>> {
    builder.body(Full::default()).unwrap()
}

/// Panics unless `events` are named `names`, in order, and the last one has `rule` and, if
/// given, `status`; returns the last one.
fn events_named<'a>(
    events: &'a [CapturedEvent],
    names: &[&str],
    rule: &str,
    status: Option<&str>,
    context: &str,
) -> &'a CapturedEvent {
    let got: Vec<_> = events.iter().map(|event| event.field("event")).collect();
    let expected: Vec<_> = names.iter().copied().map(Some).collect();
    assert_eq!(got, expected, "{context}: {events:?}");
    let event = events.last().unwrap();
    assert_eq!(event.field("rule"), Some(rule), "{context}");
    if let Some(status) = status {
        assert_eq!(event.field("status"), Some(status), "{context}");
    }
    event
}

/// Panics unless the HTTPS-only headers are there, or absent, as `transport` requires.
fn assert_https_only_headers(exchange: &Exchange, transport: Transport, context: &str) {
    for (name, expected) in common::fixed_headers(transport) {
        assert_eq!(exchange.header(name), expected, "{context}: {name}");
    }
    let csp = exchange
        .header("content-security-policy")
        .unwrap_or_default();
    assert!(
        common::csp_nonce_for(csp, transport).is_some(),
        "{context}: {csp}"
    );
}

#[tokio::test]
async fn hosts_are_refused_unless_named_once_well_formed_and_allowed() {
    const APP: &[&str] = &["app.example.com"];
    let layer = SecurityLayer::builder()
        .allowed_hosts(
            AllowedHosts::new()
                .allow("app.example.com")
                .allow("*.example.net"),
        )
        .build()
        .unwrap();
    // Name, target, `Host` fields, and the rule that refuses the request (`None`: allowed).
    #[rustfmt::skip]
    let cases: &[(&str, &str, &[&str], Option<&str>)] = &[
        ("missing", "/", &[], Some("host-missing")),
        ("empty", "/", &[""], Some("host-empty")),
        ("duplicate", "/", &[APP[0], APP[0]], Some("host-duplicate")),
        ("userinfo", "/", &["app.example.com@evil.example"], Some("host-malformed")),
        ("path", "/", &["app.example.com/x"], Some("host-malformed")),
        ("port 0", "/", &["app.example.com:0"], Some("host-malformed")),
        ("not listed", "/", &["evil.example"], Some("host-not-allowed")),
        ("listed as a prefix", "/", &["app.example.com.evil.example"], Some("host-not-allowed")),
        ("wildcard's own name", "/", &["example.net"], Some("host-not-allowed")),
        ("exact", "/", APP, None),
        ("exact, other case, final dot", "/", &["APP.Example.com."], None),
        ("wildcard", "/", &["api.example.net"], None),
        ("wildcard, two labels down", "/", &["a.b.example.net"], None),
        ("port", "/", &["app.example.com:8443"], None),
        ("authority only", "https://app.example.com/", &[], None),
        ("authority not listed", "https://evil.example/", &[], Some("host-not-allowed")),
        ("authority with userinfo", "https://x@app.example.com/", &[], Some("host-malformed")),
        ("authority and Host agree", "https://app.example.com:443/", APP, None),
        ("authority and Host differ", "https://evil.example/", APP, Some("host-mismatch")),
        ("authority port differs", "https://app.example.com:8443/", APP, Some("host-mismatch")),
    ];

    for &(name, uri, hosts, refused_by) in cases {
        let mut request = get(uri);
        for host in hosts {
            request = request.header("host", *host);
        }
        let (_guard, log) = capture();

        let exchange = exchange(&layer, empty(request)).await;

        let events = log.security_events();
        match refused_by {
            None => {
                assert_eq!(exchange.status, StatusCode::OK, "{name}");
                assert!(exchange.seen.is_some(), "{name}");
                assert!(events.is_empty(), "{name}: {events:?}");
            }
            Some(rule) => {
                assert_eq!(exchange.status, StatusCode::BAD_REQUEST, "{name}");
                assert_eq!(exchange.refused, Some(Refused::Host), "{name}");
                assert!(exchange.seen.is_none(), "{name}: the handler was called");
                assert_eq!(exchange.body, "Bad Request\n", "{name}");
                events_named(&events, &["host_refused"], rule, Some("400"), name);
            }
        }
    }
}

/// Answers `app.example.com` and `evil.example`, and sends plain HTTP to the first.
fn redirecting() -> SecurityLayer {
    SecurityLayer::builder()
        .allowed_hosts(
            AllowedHosts::new()
                .allow("app.example.com")
                .allow("evil.example"),
        )
        .https(HttpsEnforcement::redirect_to("app.example.com").exempt_path("/health"))
        .build()
        .unwrap()
}

/// A request over a plain-HTTP connection that names `evil.example` in every header a naive
/// redirect would read.
fn plain(method: Method, uri: &str) -> Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example")
        .extension(ConnectionSecurity::PlainHttp)
}

#[tokio::test]
async fn plain_http_is_redirected_to_the_canonical_host_only() {
    let layer = redirecting();
    let target = "/account/settings?tab=security&next=%2Fhome%3Fa%3D1";
    // Name, request, status, and where it is sent.
    let cases = [
        ("GET", plain(Method::GET, target), 301, target),
        ("HEAD", plain(Method::HEAD, "/"), 301, "/"),
        (
            "POST",
            plain(Method::POST, "/transfer?to=1"),
            308,
            "/transfer?to=1",
        ),
        ("DELETE", plain(Method::DELETE, "/items/7"), 308, "/items/7"),
        (
            "absolute-form http target, no connection info",
            get("http://evil.example/x?y")
                .header("host", "evil.example")
                .header("x-forwarded-host", "evil.example"),
            301,
            "/x?y",
        ),
        (
            "a path that looks like an authority",
            plain(Method::GET, "//attacker.example/x"),
            301,
            "//attacker.example/x",
        ),
    ];

    for (name, request, status, target) in cases {
        let (_guard, log) = capture();

        let exchange = exchange(&layer, empty(request)).await;

        assert_eq!(exchange.status.as_u16(), status, "{name}");
        let location = format!("https://app.example.com{target}");
        assert_eq!(exchange.header("location"), Some(&*location), "{name}");
        assert_eq!(exchange.refused, Some(Refused::PlainHttp), "{name}");
        assert!(exchange.seen.is_none(), "{name}: the handler was called");
        for (header, value) in &exchange.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            assert!(!value.contains("evil"), "{name}: {header}: {value}");
        }
        assert_eq!(exchange.header(common::HSTS.0), None, "{name}");
        let events = log.security_events();
        let names = ["forwarded_headers_stripped", "https_redirect"];
        let event = events_named(&events, &names, "plain-http", None, name);
        assert_eq!(event.level, tracing::Level::INFO, "{name}");
        assert_eq!(event.field("request_id"), exchange.header("x-request-id"));
    }
}

#[tokio::test]
async fn plain_http_that_cannot_be_redirected_is_refused() {
    let refusing = SecurityLayer::builder()
        .https(HttpsEnforcement::new())
        .build()
        .unwrap();
    let grpc = plain(Method::POST, "/pkg.Service/Call").header("content-type", "application/grpc");
    let grpc_proto =
        plain(Method::POST, "/pkg.Service/Call").header("content-type", "application/grpc+proto");
    let no_canonical = plain(Method::GET, "/");
    let cases = [
        ("gRPC", redirecting(), grpc),
        ("gRPC with a subtype", redirecting(), grpc_proto),
        ("no canonical host", refusing, no_canonical),
    ];

    for (name, layer, request) in cases {
        let (_guard, log) = capture();

        let exchange = exchange(&layer, empty(request)).await;

        // gRPC clients read a trailers-only answer: HTTP 200, `grpc-status` 7
        // (PERMISSION_DENIED). Everyone else gets a 403.
        let grpc = name.starts_with("gRPC");
        let status = if grpc {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(exchange.status, status, "{name}");
        if grpc {
            assert_eq!(exchange.header("grpc-status"), Some("7"), "{name}");
        }
        assert_eq!(exchange.refused, Some(Refused::PlainHttp), "{name}");
        assert_eq!(exchange.header("location"), None, "{name}");
        assert_eq!(exchange.header(common::HSTS.0), None, "{name}");
        assert!(exchange.seen.is_none(), "{name}: the handler was called");
        let events = log.security_events();
        let names = ["forwarded_headers_stripped", "https_required"];
        let event = events_named(&events, &names, "plain-http", Some("403"), name);
        assert_eq!(event.level, tracing::Level::WARN, "{name}");
    }
}

#[tokio::test]
async fn an_unlisted_host_is_refused_before_any_redirect() {
    let request = get("/")
        .header("host", "other.example")
        .extension(ConnectionSecurity::PlainHttp);

    let exchange = exchange(&redirecting(), empty(request)).await;

    assert_eq!(exchange.status, StatusCode::BAD_REQUEST);
    assert_eq!(exchange.refused, Some(Refused::Host));
    assert_eq!(exchange.header("location"), None);
}

#[tokio::test]
async fn https_only_headers_follow_the_transport() {
    let development = SecurityLayer::builder()
        .https(HttpsEnforcement::redirect_to("app.example.com"))
        .development_mode(true)
        .build()
        .unwrap();
    let on = |security| {
        get("/page")
            .header("host", "app.example.com")
            .extension(security)
    };
    let unknown = get("/page").header("host", "app.example.com");
    let cases = [
        (
            "exempt path over plain HTTP",
            redirecting(),
            plain(Method::GET, "/health"),
            Transport::PlainHttp,
        ),
        (
            "TLS",
            redirecting(),
            on(ConnectionSecurity::Tls),
            Transport::HttpsOrUnknown,
        ),
        (
            "nothing tells",
            redirecting(),
            unknown,
            Transport::HttpsOrUnknown,
        ),
        (
            "development mode over plain HTTP",
            development.clone(),
            on(ConnectionSecurity::PlainHttp),
            Transport::PlainHttp,
        ),
    ];

    for (name, layer, request, transport) in cases {
        let exchange = exchange(&layer, empty(request)).await;

        assert_eq!(exchange.status, StatusCode::OK, "{name}");
        assert_eq!(exchange.body, "done", "{name}");
        assert_https_only_headers(&exchange, transport, name);
    }

    // Development mode sends no HSTS at all, so a developer's browser never pins it.
    let over_tls = exchange(&development, empty(on(ConnectionSecurity::Tls))).await;
    assert_eq!(over_tls.status, StatusCode::OK);
    assert_eq!(over_tls.header(common::HSTS.0), None);
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_removed_and_ignored() {
    let layer = SecurityLayer::builder()
        .trusted_proxies(TrustedProxies::new().trust("10.0.0.0/8"))
        .https(HttpsEnforcement::redirect_to("app.example.com"))
        .build()
        .unwrap();
    let spoofed = from_peer(Method::GET, "/whoami", OUTSIDER)
        .header("x-forwarded-for", "1.2.3.4")
        .header("x-forwarded-proto", "http")
        .header("forwarded", "for=1.2.3.4;proto=http")
        .header("x-real-ip", "1.2.3.4")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-port", "80")
        .header("x-forwarded-prefix", "/admin");
    let (_guard, log) = capture();

    let exchange = exchange(&layer, empty(spoofed)).await;

    // The claimed `http` is ignored: nothing else tells, so the request is taken as HTTPS.
    assert_eq!(exchange.status, StatusCode::OK);
    let seen = exchange.seen.as_ref().unwrap();
    for name in FORWARDING {
        assert_eq!(seen.headers.get(name), None, "{name} reached the handler");
    }
    assert_eq!(seen.headers["host"], "app.example.com");
    let client = exchange.client();
    let outsider: SocketAddr = OUTSIDER.parse().unwrap();
    assert_eq!(client.addr, Some(outsider.ip()));
    assert_eq!(client.peer, Some(outsider));
    assert!(!client.via_trusted_proxy);
    assert_eq!(client.https, None);
    assert_eq!(exchange.header(common::HSTS.0), Some(common::HSTS.1));
    let events = log.security_events();
    let names = ["forwarded_headers_stripped"];
    let event = events_named(&events, &names, "untrusted-peer", None, "spoofed");
    assert_eq!(event.level, tracing::Level::INFO);
    assert_eq!(event.field("request_id"), exchange.header("x-request-id"));
    assert!(!log.mentions("1.2.3.4"), "a spoofed value reached a log");
}

#[tokio::test]
async fn a_request_without_forwarded_headers_emits_no_event() {
    let layer = SecurityLayer::builder()
        .trusted_proxies(TrustedProxies::new().trust("10.0.0.0/8"))
        .build()
        .unwrap();
    let (_guard, log) = capture();

    let outsider = exchange(&layer, empty(from_peer(Method::GET, "/", OUTSIDER))).await;
    let proxy = exchange(&layer, empty(from_peer(Method::GET, "/", PROXY))).await;

    assert_eq!(outsider.status, StatusCode::OK);
    assert_eq!(proxy.status, StatusCode::OK);
    // A trusted proxy that forwards nothing is itself the client.
    let proxy_ip = PROXY.parse::<SocketAddr>().unwrap().ip();
    assert_eq!(proxy.client().addr, Some(proxy_ip));
    assert!(proxy.client().via_trusted_proxy);
    assert_eq!(log.security_events(), []);
}

#[tokio::test]
async fn a_trusted_proxy_tells_the_client_and_its_scheme() {
    let proxies = || TrustedProxies::new().trust("10.0.0.0/8");
    let layer = SecurityLayer::builder()
        .trusted_proxies(proxies())
        .https(HttpsEnforcement::redirect_to("app.example.com"))
        .build()
        .unwrap();
    let not_enforcing = SecurityLayer::builder()
        .trusted_proxies(proxies())
        .https(None)
        .build()
        .unwrap();
    let forwarded = |proto: &str| {
        from_peer(Method::GET, "/orders?page=2", PROXY)
            .header("x-forwarded-for", "198.51.100.7")
            .header("x-forwarded-proto", proto)
            // The proxy reaches this service over plain TCP, as behind most load balancers.
            .extension(ConnectionSecurity::PlainHttp)
    };
    let (_guard, log) = capture();

    let plain = exchange(&layer, empty(forwarded("http"))).await;
    let observed = exchange(&not_enforcing, empty(forwarded("http"))).await;
    let secure = exchange(&layer, empty(forwarded("https"))).await;

    assert_eq!(plain.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        plain.header("location"),
        Some("https://app.example.com/orders?page=2")
    );
    assert_eq!(observed.status, StatusCode::OK);
    let client = observed.client();
    assert_eq!(client.addr, Some([198, 51, 100, 7].into()));
    assert_eq!(client.https, Some(false));
    assert_https_only_headers(&observed, Transport::PlainHttp, "forwarded http");
    assert_eq!(secure.status, StatusCode::OK);
    let client = secure.client();
    assert_eq!(client.addr, Some([198, 51, 100, 7].into()));
    assert_eq!(client.peer, Some(PROXY.parse().unwrap()));
    assert!(client.via_trusted_proxy);
    assert_eq!(client.https, Some(true));
    let seen = &secure.seen.as_ref().unwrap().headers;
    assert_eq!(
        seen["x-forwarded-for"], "198.51.100.7",
        "trusted headers are kept"
    );
    assert_https_only_headers(&secure, Transport::HttpsOrUnknown, "forwarded https");
    assert_eq!(log.security_event_names(), ["https_redirect"]);
}

#[tokio::test]
async fn each_request_gets_an_id_in_the_response_the_handler_and_the_events() {
    let layer = SecurityLayer::strict();
    let (_guard, log) = capture();

    let first = exchange(&layer, empty(get("/").header("host", "localhost"))).await;
    let second = exchange(&layer, empty(get("/").header("host", "localhost"))).await;
    let trace = Request::builder().method(Method::TRACE).uri("/");
    let refused = exchange(&layer, empty(trace.header("host", "localhost"))).await;

    let id = first.header("x-request-id").unwrap();
    assert!(common::is_generated_request_id(id), "{id}");
    let handed = first.seen.as_ref().and_then(|seen| seen.id.as_ref());
    assert_eq!(handed.map(RequestId::as_str), Some(id));
    assert_ne!(second.header("x-request-id"), Some(id));
    assert_eq!(refused.status, StatusCode::METHOD_NOT_ALLOWED);
    let refused_id = refused.header("x-request-id").unwrap();
    assert!(common::is_generated_request_id(refused_id), "{refused_id}");
    let events = log.security_events();
    let names = ["method_refused"];
    let event = events_named(&events, &names, "method-not-allowed", Some("405"), "TRACE");
    assert_eq!(event.field("request_id"), Some(refused_id));
}

#[tokio::test]
async fn a_request_id_is_taken_from_trusted_proxies_only_and_only_when_plain() {
    let layer = SecurityLayer::builder()
        .trusted_proxies(TrustedProxies::new().trust("10.0.0.0/8"))
        .build()
        .unwrap();
    let longest = "a".repeat(64);
    let too_long = "a".repeat(65);
    // Name, peer, `X-Request-Id`, and whether it is kept.
    let cases = [
        ("untrusted", OUTSIDER, "abc-123", false),
        ("trusted", PROXY, "abc-123", true),
        ("trusted, every allowed character", PROXY, "Az09._-", true),
        ("trusted, 64 characters", PROXY, &*longest, true),
        ("trusted, 65 characters", PROXY, &*too_long, false),
        ("trusted, space", PROXY, "abc 123", false),
        ("trusted, slash", PROXY, "abc/123", false),
        ("trusted, markup", PROXY, "<script>", false),
        ("trusted, empty", PROXY, "", false),
    ];

    for (name, peer, sent, kept) in cases {
        let request = from_peer(Method::GET, "/", peer).header("x-request-id", sent);

        let exchange = exchange(&layer, empty(request)).await;

        let id = exchange.header("x-request-id").unwrap();
        if kept {
            assert_eq!(id, sent, "{name}");
        } else {
            assert!(common::is_generated_request_id(id), "{name}: {id}");
        }
        let handed = exchange.seen.as_ref().unwrap().id.as_ref();
        assert_eq!(handed.map(RequestId::as_str), Some(id), "{name}");
    }
}

#[tokio::test]
async fn request_ids_can_be_switched_off() {
    let layer = SecurityLayer::builder().request_ids(false).build().unwrap();

    let exchange = exchange(&layer, empty(get("/").header("host", "localhost"))).await;

    assert_eq!(exchange.status, StatusCode::OK);
    assert_eq!(exchange.header("x-request-id"), None);
    assert!(exchange.seen.as_ref().unwrap().id.is_none());
}
