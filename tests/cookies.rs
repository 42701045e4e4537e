//! Cookies through the layer: every `Set-Cookie` hardened by appending what it lacks, never
//! rewritten or merged; cookies that cannot be made valid dropped with an event that names
//! them but never shows their value; and per-cookie exemptions.

use http::header::COOKIE;
use http::{HeaderValue, Request};
use tower::ServiceExt;
use tower_layer::Layer;
use tower_security::cookies::{CookiePolicy, SameSite};
use tower_security::{RequestBody, SecurityLayer};

mod common;
use common::Transport;
use common::cookies::*;
use common::events::capture;

#[tokio::test]
async fn a_plain_session_cookie_gets_secure_httponly_and_samesite() {
    let layer = SecurityLayer::strict();

    let set_cookies = hardened(&layer, &["session=abc123"]).await;

    assert_eq!(
        set_cookies,
        ["session=abc123; Secure; HttpOnly; SameSite=Strict"]
    );
}

#[tokio::test]
async fn realistic_cookies_keep_their_bytes_and_gain_only_what_they_lack() {
    let layer = SecurityLayer::strict();
    let cases = [
        (
            "Path and Domain",
            "id=7; Path=/app; Domain=example.com",
            "id=7; Path=/app; Domain=example.com; Secure; HttpOnly; SameSite=Strict",
        ),
        (
            "Expires with its comma",
            "id=7; Expires=Wed, 21 Oct 2026 07:28:00 GMT",
            "id=7; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Secure; HttpOnly; SameSite=Strict",
        ),
        (
            "Max-Age",
            "id=7; Max-Age=3600",
            "id=7; Max-Age=3600; Secure; HttpOnly; SameSite=Strict",
        ),
        (
            "deletion",
            "id=; Max-Age=0",
            "id=; Max-Age=0; Secure; HttpOnly; SameSite=Strict",
        ),
        (
            "Partitioned and Priority",
            "id=7; Secure; Partitioned; Priority=High",
            "id=7; Secure; Partitioned; Priority=High; HttpOnly; SameSite=Strict",
        ),
        (
            "lowercase attributes",
            "id=7; secure; httponly; path=/",
            "id=7; secure; httponly; path=/; SameSite=Strict",
        ),
        (
            "the application's SameSite=Lax is kept",
            "id=7; SameSite=Lax",
            "id=7; SameSite=Lax; Secure; HttpOnly",
        ),
        (
            "SameSite=None gets Secure",
            "id=7; SameSite=None; HttpOnly",
            "id=7; SameSite=None; HttpOnly; Secure",
        ),
        (
            "already hardened",
            "id=7; Secure; HttpOnly; SameSite=Strict",
            "id=7; Secure; HttpOnly; SameSite=Strict",
        ),
        (
            "__Host- without Path gets Path=/",
            "__Host-id=7",
            "__Host-id=7; Secure; HttpOnly; SameSite=Strict; Path=/",
        ),
        (
            "__Secure- on a narrow path",
            "__Secure-id=7; Path=/app",
            "__Secure-id=7; Path=/app; Secure; HttpOnly; SameSite=Strict",
        ),
        (
            "quoted value",
            "id=\"a b\"",
            "id=\"a b\"; Secure; HttpOnly; SameSite=Strict",
        ),
    ];

    for (name, sent, expected) in cases {
        let set_cookies = hardened(&layer, &[sent]).await;

        assert_eq!(set_cookies, [expected], "{name}");
        assert!(set_cookies[0].starts_with(sent), "{name}: rewritten");
    }
}

#[tokio::test]
async fn several_cookies_keep_count_and_order_and_an_invalid_one_is_dropped() {
    let (_guard, captured) = capture();
    let secret = "Qx7-secret-VALUE-91";
    let host_cookie = format!("__Host-sid={secret}; Path=/; Domain=example.com");
    let sent = [
        "a=1; Path=/",
        "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT",
        host_cookie.as_str(),
        "c=3; SameSite=Lax",
        "d=4; HttpOnly; Secure; SameSite=Strict",
    ];

    let exchange = send(SecurityLayer::strict().layer(app(&sent)), get(&[])).await;

    assert_eq!(
        exchange.set_cookie_text(),
        [
            "a=1; Path=/; Secure; HttpOnly; SameSite=Strict",
            "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Secure; HttpOnly; SameSite=Strict",
            "c=3; SameSite=Lax; Secure; HttpOnly",
            "d=4; HttpOnly; Secure; SameSite=Strict",
        ]
    );
    assert_eq!(captured.security_event_names(), ["cookie_dropped"]);
    let dropped = &captured.security_events()[0];
    assert!(names_cookie(dropped, "__Host-sid"), "{dropped:?}");
    assert_eq!(dropped.field("rule"), Some("host-prefix-domain"));
    assert_eq!(dropped.level, tracing::Level::WARN);
    assert!(
        !captured.mentions(secret),
        "the cookie's value reached a log"
    );
}

/// The `cookie` field holds the cookie's name, escaped, as the event table documents: a log
/// pipeline matches `cookie="__Host-sid"`, not a Rust `Option` around it.
#[tokio::test]
async fn a_cookie_event_carries_the_documented_fields() {
    let (_guard, captured) = capture();
    let app = app(&["__Host-sid=x1; Path=/app"]);

    let exchange = send(SecurityLayer::strict().layer(app), get(&[])).await;

    let events = captured.security_events();
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.field("event"), Some("cookie_dropped"));
    assert_eq!(event.field("rule"), Some("host-prefix-path"));
    assert_eq!(event.field("method"), Some("GET"));
    assert_eq!(event.field("path"), Some("\"/account\""));
    assert_eq!(event.field("cookie"), Some("\"__Host-sid\""));
    let id = event.field("request_id");
    assert!(id.is_some_and(common::is_generated_request_id), "{id:?}");
    assert_eq!(id, exchange.headers["x-request-id"].to_str().ok());
}

#[tokio::test]
async fn exemptions_withhold_only_the_attribute_they_name() {
    let exempt = CookiePolicy::strict()
        .script_readable("csrf")
        .same_site_for("remember", SameSite::Lax)
        .same_site_for("embed", SameSite::None)
        .insecure_plain_http("dev")
        .insecure_plain_http("__Secure-dev");
    let plain_http = CookiePolicy::strict()
        .secure(false)
        .same_site_for("embed", SameSite::None);
    let both = CookiePolicy::strict()
        .insecure_plain_http("cross")
        .same_site_for("cross", SameSite::None);
    let loose = CookiePolicy::strict().http_only(false).same_site(None);
    let cases = [
        (
            "script_readable: no HttpOnly",
            &exempt,
            "csrf=t0k",
            "csrf=t0k; Secure; SameSite=Strict",
        ),
        (
            "same_site_for Lax",
            &exempt,
            "remember=1",
            "remember=1; Secure; HttpOnly; SameSite=Lax",
        ),
        (
            "the application's own SameSite beats same_site_for",
            &exempt,
            "remember=1; SameSite=Strict",
            "remember=1; SameSite=Strict; Secure; HttpOnly",
        ),
        (
            "same_site_for None",
            &exempt,
            "embed=1",
            "embed=1; Secure; HttpOnly; SameSite=None",
        ),
        (
            "insecure_plain_http: no Secure",
            &exempt,
            "dev=1",
            "dev=1; HttpOnly; SameSite=Strict",
        ),
        (
            "insecure_plain_http cannot strip a __Secure- cookie's Secure",
            &exempt,
            "__Secure-dev=1",
            "__Secure-dev=1; Secure; HttpOnly; SameSite=Strict",
        ),
        (
            "exemptions match whole names only",
            &exempt,
            "csrf2=1",
            "csrf2=1; Secure; HttpOnly; SameSite=Strict",
        ),
        (
            "secure(false)",
            &plain_http,
            "a=1",
            "a=1; HttpOnly; SameSite=Strict",
        ),
        (
            "same_site_for None brings Secure when the policy adds none",
            &plain_http,
            "embed=1",
            "embed=1; Secure; HttpOnly; SameSite=None",
        ),
        (
            "insecure_plain_http cannot strip SameSite=None's Secure",
            &both,
            "cross=1",
            "cross=1; Secure; HttpOnly; SameSite=None",
        ),
        (
            "http_only(false) and same_site(None)",
            &loose,
            "a=1",
            "a=1; Secure",
        ),
    ];

    for (name, policy, sent, expected) in cases {
        let layer = layer_with(policy.clone());

        let set_cookies = hardened(&layer, &[sent]).await;

        assert_eq!(set_cookies, [expected], "{name}");
    }
}

#[tokio::test]
async fn a_second_layer_changes_nothing() {
    let exempt = layer_with(
        CookiePolicy::strict()
            .script_readable("csrf")
            .same_site_for("remember", SameSite::Lax)
            .insecure_plain_http("dev"),
    );
    let sent = [
        "session=abc123",
        "__Host-id=1",
        "a=b; samesite=lax",
        "c=d; SameSite=None",
        "e=f; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Partitioned",
        "csrf=t0k",
        "remember=1",
        "dev=1",
    ];
    let layers = [
        ("strict", SecurityLayer::strict()),
        ("with exemptions", exempt),
    ];

    for (name, layer) in layers {
        let once = send(layer.layer(app(&sent)), get(&[])).await;
        // The inner layer hands the app a body wrapped twice; unwrap the outer one.
        let inner = app(&sent).map_request(|request: Request<RequestBody<RequestBody<Body>>>| {
            request.map(RequestBody::into_inner)
        });
        let twice = send(layer.layer(layer.layer(inner)), get(&[])).await;

        assert_ne!(once.set_cookie_text(), sent, "{name}: nothing hardened");
        assert_eq!(twice.set_cookie_text(), once.set_cookie_text(), "{name}");
    }
}

#[tokio::test]
async fn malformed_set_cookie_values_never_panic_and_the_headers_still_go_out() {
    let strict = SecurityLayer::strict();
    let session = sealing(&CookiePolicy::strict().encrypted("session"), KEY_A, &[]);
    // Name, layer, field sent, field expected out (none when dropped), security events.
    type Case<'a> = (
        &'a str,
        &'a SecurityLayer,
        &'a [u8],
        Option<&'a [u8]>,
        &'a [&'a str],
    );
    let cases: [Case; 7] = [
        ("empty", &strict, b"", None, &["cookie_dropped"]),
        ("only spaces", &strict, b"   ", None, &["cookie_dropped"]),
        (
            "only semicolons",
            &strict,
            b";;;",
            Some(b";;;; Secure; HttpOnly; SameSite=Strict"),
            &[],
        ),
        (
            "obs-text value",
            &strict,
            b"a=\x80\xff; Path=/",
            Some(b"a=\x80\xff; Path=/; Secure; HttpOnly; SameSite=Strict"),
            &[],
        ),
        (
            "obs-text name",
            &strict,
            b"\xfe\xff=1",
            Some(b"\xfe\xff=1; Secure; HttpOnly; SameSite=Strict"),
            &[],
        ),
        (
            "obs-text only",
            &strict,
            b"\x80\x81\xff",
            Some(b"\x80\x81\xff; Secure; HttpOnly; SameSite=Strict"),
            &[],
        ),
        (
            "obs-text in a value to encrypt",
            &session,
            b"session=\xc3\x28",
            None,
            &["cookie_dropped"],
        ),
    ];

    for (name, layer, sent, expected, events) in cases {
        let (_guard, captured) = capture();
        let value = HeaderValue::from_bytes(sent).unwrap();

        let exchange = send(layer.layer(raw_app(vec![value])), get(&[])).await;

        let set_cookies: Vec<&[u8]> = exchange.set_cookies.iter().map(|v| v.as_bytes()).collect();
        assert_eq!(set_cookies, Vec::from_iter(expected), "{name}");
        assert_eq!(captured.security_event_names(), events, "{name}");
        for (header, value) in common::fixed_headers(Transport::HttpsOrUnknown) {
            let sent = exchange.headers.get(header).map(|v| v.to_str().unwrap());
            assert_eq!(sent, value, "{name}: {header}");
        }
        assert!(
            exchange.headers.contains_key("content-security-policy"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn malformed_cookie_headers_never_panic_and_a_malformed_sealed_value_is_removed() {
    let layer = sealing(&CookiePolicy::strict().signed("session"), KEY_A, &[]);
    let cases: [(&str, &[u8], &[&str]); 4] = [
        ("obs-text value", b"session=\x80\xff; a=1", &["a=1"]),
        ("empty value", b"session=; a=1", &["a=1"]),
        ("only semicolons around it", b";;session=x;;", &[]),
        (
            "a nameless cookie whose value is the name",
            b"session",
            &["session"],
        ),
    ];

    for (name, cookie, expected) in cases {
        let mut request = get(&[]);
        let value = HeaderValue::from_bytes(cookie).unwrap();
        request.headers_mut().append(COOKIE, value);

        let exchange = send(layer.layer(app(&[])), request).await;

        assert_eq!(exchange.received, *expected, "{name}");
        assert_eq!(exchange.headers["x-frame-options"], "DENY", "{name}");
    }
}
