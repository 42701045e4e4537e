//! Cookies through the layer: every `Set-Cookie` hardened by appending what it lacks, never
//! rewritten or merged; cookies that cannot be made valid dropped with an event that names
//! them but never shows their value; per-cookie exemptions; signed and encrypted cookies
//! sealed on the way out, verified on the way in, removed when forged and re-issued after a
//! key rotation; and secret keys kept out of every `Debug` output.

use std::convert::Infallible;
use std::fmt;

use bytes::Bytes;
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::Full;
use tower::{Service, ServiceExt, service_fn};
use tower_layer::Layer;
use tower_security::cookies::{CookiePolicy, SameSite, SecretKey};
use tower_security::{RequestBody, SecurityLayer, SecurityLayerBuilder};

mod common;
use common::Transport;
use common::events::{CapturedEvent, capture};

/// Two keys that pass every strength rule.
const KEY_A: &str = "p9Vx2kQ7rT4mW8zL1cB6nH3jF5sD0gYaEuIoRyXw";
const KEY_B: &str = "Zq4Lm8Tn2Rv6Xw0Yc3Hb7Jd1Kf5Gs9PaUe";

/// What the strict policy appends to a session cookie sealed from `session=user-42; Path=/`.
const SEALED_SUFFIX: &str = "; Path=/; Secure; HttpOnly; SameSite=Strict";

/// The body of every request and response here.
type Body = Full<Bytes>;

/// The request the application receives: the body, counted against the size limit.
type AppRequest = Request<RequestBody<Body>>;

/// The `Cookie` fields the handler received, carried back in the response's extensions.
#[derive(Clone)]
struct Received(Vec<HeaderValue>);

/// An application that answers every request with these `Set-Cookie` fields, in order, and
/// reports the `Cookie` fields it was given.
fn raw_app(
    set_cookies: Vec<HeaderValue>,
) -> impl Service<AppRequest, Response = Response<Body>, Error = Infallible> + fmt::Debug {
    service_fn(move |request: AppRequest| {
        let received = Received(request.headers().get_all(COOKIE).iter().cloned().collect());
        let mut response = Response::new(Full::default());
        for value in &set_cookies {
            response.headers_mut().append(SET_COOKIE, value.clone());
        }
        response.extensions_mut().insert(received);
        async move { Ok::<_, Infallible>(response) }
    })
}

/// [`raw_app`] with text `Set-Cookie` fields.
fn app(
    set_cookies: &[&str],
) -> impl Service<AppRequest, Response = Response<Body>, Error = Infallible> + fmt::Debug {
    raw_app(
        set_cookies
            .iter()
            .map(|value| HeaderValue::from_str(value).unwrap())
            .collect(),
    )
}

/// A `GET /account` with one `Cookie` field per entry of `cookies`, naming its host as every
/// real client does.
fn get(cookies: &[&str]) -> Request<Body> {
    let mut request = Request::get("/account")
        .header("host", "localhost")
        .body(Full::default())
        .unwrap();
    for cookie in cookies {
        let value = HeaderValue::from_str(cookie).unwrap();
        request.headers_mut().append(COOKIE, value);
    }
    request
}

/// What one request through the layer came to.
struct Exchange {
    /// The `Cookie` fields the handler received.
    received: Vec<String>,
    /// The response's `Set-Cookie` fields, in order.
    set_cookies: Vec<HeaderValue>,
    /// Every response header.
    headers: HeaderMap,
}

impl Exchange {
    /// The `Set-Cookie` fields as text, for cookies written in ASCII.
    fn set_cookie_text(&self) -> Vec<&str> {
        self.set_cookies
            .iter()
            .map(|value| value.to_str().unwrap())
            .collect()
    }
}

/// Sends `request` through `service` and records what the handler saw and what came out.
async fn send<S, B>(service: S, request: Request<Body>) -> Exchange
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Error: fmt::Debug,
{
    let response = service.oneshot(request).await.unwrap();

    let received = response.extensions().get::<Received>().unwrap().0.iter();
    Exchange {
        received: received
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect(),
        set_cookies: response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .cloned()
            .collect(),
        headers: response.headers().clone(),
    }
}

/// The `Set-Cookie` fields `layer` makes of `set_cookies`.
async fn hardened(layer: &SecurityLayer, set_cookies: &[&str]) -> Vec<String> {
    let exchange = send(layer.layer(app(set_cookies)), get(&[])).await;
    exchange
        .set_cookie_text()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

fn layer_with(cookies: CookiePolicy) -> SecurityLayer {
    SecurityLayer::builder().cookies(cookies).build().unwrap()
}

fn key(text: &str) -> SecretKey {
    SecretKey::new(text).unwrap()
}

/// A layer sealing the cookies `policy` names under `current`, still accepting `fallbacks`.
fn sealing(policy: &CookiePolicy, current: &str, fallbacks: &[&str]) -> SecurityLayer {
    SecurityLayer::builder()
        .cookies(policy.clone())
        .secret_key(key(current))
        .fallback_secret_keys(fallbacks.iter().map(|text| key(text)))
        .build()
        .unwrap()
}

/// The sealing modes, with whether the plain value stays readable in the sealed one.
fn sealing_modes() -> [(&'static str, CookiePolicy, bool); 2] {
    [
        ("signed", CookiePolicy::strict().signed("session"), true),
        (
            "encrypted",
            CookiePolicy::strict().encrypted("session"),
            false,
        ),
    ]
}

/// The `Set-Cookie` a layer with only `current` makes of `session=user-42`.
async fn sealed_under(policy: &CookiePolicy, current: &str) -> String {
    let layer = sealing(policy, current, &[]);
    let issued = send(layer.layer(app(&["session=user-42"])), get(&[])).await;
    issued.set_cookie_text()[0].to_owned()
}

/// The value of a `Set-Cookie` field's cookie-pair.
fn value_of(set_cookie: &str) -> &str {
    let pair = set_cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap().1
}

/// `value` with the ASCII character at `at` replaced by another base64 character.
fn flip(value: &str, at: usize) -> String {
    let replacement = if &value[at..=at] == "A" { "B" } else { "A" };
    format!("{}{replacement}{}", &value[..at], &value[at + 1..])
}

/// The value of the `session` cookie in a `Cookie` field.
fn session_value(cookie: &str) -> &str {
    let pair = cookie.split("; ").find(|pair| pair.starts_with("session="));
    pair.unwrap().trim_start_matches("session=")
}

/// Whether the event's `cookie` field names `name`, escaped the way the log shows it.
fn names_cookie(event: &CapturedEvent, name: &str) -> bool {
    event
        .field("cookie")
        .is_some_and(|cookie| cookie.contains(&format!("{name:?}")))
}

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
async fn sealed_cookies_round_trip_and_reach_the_handler_as_plain_values() {
    for (mode, policy, readable) in sealing_modes() {
        let (_guard, captured) = capture();
        let layer = sealing(&policy, KEY_A, &[]);
        let issued = send(layer.layer(app(&["session=user-42; Path=/"])), get(&[])).await;
        let set_cookie = issued.set_cookie_text()[0].to_owned();
        let sealed = value_of(&set_cookie).to_owned();
        let same_field = format!("theme=dark; session={sealed}; lang=en");
        let own_field = format!("session={sealed}");

        let in_one_field = send(layer.layer(app(&[])), get(&[&same_field])).await;
        let in_its_own_field = send(layer.layer(app(&[])), get(&["theme=dark", &own_field])).await;

        assert_eq!(issued.set_cookies.len(), 1, "{mode}");
        assert_eq!(
            set_cookie,
            format!("session={sealed}{SEALED_SUFFIX}"),
            "{mode}"
        );
        assert_ne!(sealed, "user-42", "{mode}");
        assert_eq!(sealed.contains("user-42"), readable, "{mode}");
        assert_eq!(
            in_one_field.received,
            ["theme=dark; session=user-42; lang=en"],
            "{mode}"
        );
        assert_eq!(
            in_its_own_field.received,
            ["theme=dark", "session=user-42"],
            "{mode}"
        );
        assert!(in_one_field.set_cookies.is_empty(), "{mode}: re-issued");
        assert!(in_its_own_field.set_cookies.is_empty(), "{mode}: re-issued");
        assert_eq!(captured.security_events(), [], "{mode}");
    }
}

#[tokio::test]
async fn forged_and_unsigned_values_never_reach_the_handler() {
    for (mode, policy, _) in sealing_modes() {
        let layer = sealing(&policy, KEY_A, &[]);
        let issued = send(layer.layer(app(&["session=user-42"])), get(&[])).await;
        let sealed = value_of(issued.set_cookie_text()[0]).to_owned();
        let tampered = flip(&sealed, 5);
        let cases = [
            (
                "tampered",
                format!("theme=dark; session={tampered}"),
                vec!["theme=dark"],
            ),
            ("unsigned alone", "session=user-42".to_owned(), vec![]),
            (
                "unsigned among others",
                "a=1; session=user-42; b=2".to_owned(),
                vec!["a=1; b=2"],
            ),
            (
                "sealed under another key",
                format!("session={}", value_of(&sealed_under(&policy, KEY_B).await)),
                vec![],
            ),
        ];

        for (name, cookie, expected) in cases {
            let (_guard, captured) = capture();

            let exchange = send(layer.layer(app(&[])), get(&[&cookie])).await;

            assert_eq!(exchange.received, expected, "{mode}, {name}");
            assert_eq!(
                captured.security_event_names(),
                ["cookie_tampered"],
                "{mode}, {name}"
            );
            let event = &captured.security_events()[0];
            assert!(names_cookie(event, "session"), "{mode}, {name}: {event:?}");
            assert_eq!(event.field("rule"), Some("invalid-signature"));
            assert_eq!(event.level, tracing::Level::WARN);
            let value = session_value(&cookie);
            assert!(!captured.mentions(value), "{mode}, {name}: value logged");
            assert!(
                !captured.mentions("user-42"),
                "{mode}, {name}: value logged"
            );
        }
    }
}

/// A nameless cookie (RFC 6265bis §5.6: `Set-Cookie: flag`) is sent back by browsers as just
/// its value (§5.8.3). Verifying a sealed cookie beside it must not turn it into `=flag`.
#[tokio::test]
async fn cookies_the_layer_does_not_seal_are_passed_on_unchanged() {
    let policy = CookiePolicy::strict().encrypted("session");
    let layer = sealing(&policy, KEY_A, &[]);
    let sealed = value_of(&sealed_under(&policy, KEY_A).await).to_owned();
    let cookie = format!("flag; theme=dark; session={sealed}");

    let exchange = send(layer.layer(app(&[])), get(&[&cookie])).await;

    assert_eq!(exchange.received, ["flag; theme=dark; session=user-42"]);
}

#[tokio::test]
async fn a_rotated_key_still_verifies_and_the_cookie_is_reissued_under_the_new_one() {
    for (mode, policy, readable) in sealing_modes() {
        let (_guard, captured) = capture();
        let rotated = sealing(&policy, KEY_B, &[KEY_A]);
        let current_only = sealing(&policy, KEY_B, &[]);
        let old = format!("session={}", value_of(&sealed_under(&policy, KEY_A).await));

        let during = send(rotated.layer(app(&[])), get(&[&old])).await;
        let reissued = during
            .set_cookie_text()
            .first()
            .copied()
            .unwrap_or_default();
        let fresh = format!("session={}", value_of(reissued));
        let after = send(current_only.layer(app(&[])), get(&[&fresh])).await;
        let set_by_app = send(rotated.layer(app(&["session=user-43"])), get(&[&old])).await;

        assert_eq!(during.received, ["session=user-42"], "{mode}");
        assert_eq!(during.set_cookies.len(), 1, "{mode}");
        assert!(reissued.starts_with("session="), "{mode}: {reissued}");
        assert!(reissued.ends_with(SEALED_SUFFIX), "{mode}: {reissued}");
        assert_eq!(value_of(reissued).contains("user-42"), readable, "{mode}");
        assert_eq!(
            after.received,
            ["session=user-42"],
            "{mode}: not under the new key"
        );
        assert!(after.set_cookies.is_empty(), "{mode}");
        assert_eq!(
            set_by_app.set_cookies.len(),
            1,
            "{mode}: the app's own cookie doubled"
        );
        assert_ne!(
            value_of(set_by_app.set_cookie_text()[0]),
            "user-43",
            "{mode}"
        );
        assert_eq!(
            captured.security_event_names(),
            ["cookie_reissued"; 2],
            "{mode}"
        );
        let event = &captured.security_events()[0];
        assert!(names_cookie(event, "session"), "{mode}: {event:?}");
        assert_eq!(event.field("rule"), Some("old-key"), "{mode}");
        assert_eq!(event.level, tracing::Level::INFO, "{mode}");
        assert!(!captured.mentions("user-42"), "{mode}: value logged");
    }
}

#[tokio::test]
async fn a_sealed_cookie_deletion_is_sent_as_is() {
    let layer = sealing(&CookiePolicy::strict().encrypted("session"), KEY_A, &[]);

    let set_cookies = hardened(&layer, &["session=; Max-Age=0"]).await;

    assert_eq!(
        set_cookies,
        ["session=; Max-Age=0; Secure; HttpOnly; SameSite=Strict"]
    );
}

/// HTTP/2 and HTTP/3 keep a sensitive field out of their header compression tables
/// (RFC 7541 §7.1.3); hardening or sealing a cookie must not lose the application's flag.
#[tokio::test]
async fn set_cookie_values_marked_sensitive_stay_sensitive() {
    let layer = sealing(&CookiePolicy::strict().encrypted("session"), KEY_A, &[]);
    let cases = [
        ("hardened", "theme=dark"),
        ("sealed", "session=user-42"),
        (
            "already hardened",
            "id=1; Secure; HttpOnly; SameSite=Strict",
        ),
    ];

    for (name, sent) in cases {
        let mut value = HeaderValue::from_str(sent).unwrap();
        value.set_sensitive(true);

        let exchange = send(layer.layer(raw_app(vec![value])), get(&[])).await;

        assert_eq!(exchange.set_cookies.len(), 1, "{name}");
        assert!(exchange.set_cookies[0].is_sensitive(), "{name}: flag lost");
    }
}

#[tokio::test]
async fn no_debug_output_shows_a_secret_key() {
    let builder = SecurityLayer::builder()
        .cookies(CookiePolicy::strict().encrypted("session").signed("prefs"))
        .secret_key(key(KEY_A))
        .fallback_secret_keys([key(KEY_B)]);
    let layer = builder.clone().build().unwrap();
    let service = layer.layer(app(&[]));

    let shown = [
        ("key", format!("{:?}", key(KEY_A))),
        ("builder", format!("{builder:?}")),
        ("layer", format!("{layer:?}")),
        ("alternate layer", format!("{layer:#?}")),
        ("service", format!("{service:?}")),
    ];

    assert_eq!(shown[0].1, "SecretKey(<redacted>)");
    assert!(shown[2].1.starts_with("SecurityLayer"), "{}", shown[2].1);
    for (name, text) in &shown {
        for secret in [KEY_A, KEY_B] {
            // The text itself, or its bytes as a derived `Debug` of a byte slice would list them.
            let bytes = format!("{:?}", &secret.as_bytes()[..6]);
            let bytes = bytes.trim_start_matches('[').trim_end_matches(']');
            assert!(!text.contains(secret), "{name}: {text}");
            assert!(!text.contains(&secret[..12]), "{name}: {text}");
            assert!(!text.contains(bytes), "{name}: {text}");
        }
        assert!(
            text.contains("redacted"),
            "{name}: keys not acknowledged: {text}"
        );
    }
}

#[test]
fn a_sealed_cookie_without_a_key_is_refused_at_build_time() {
    let signed = CookiePolicy::strict().signed("s");
    let encrypted = CookiePolicy::strict().encrypted("s");
    let from_vars = || SecurityLayerBuilder::from_vars(|_| None).unwrap();
    let cases = [
        (
            "signed, builder",
            SecurityLayer::builder().cookies(signed.clone()),
            "secret_key",
        ),
        (
            "encrypted, builder",
            SecurityLayer::builder().cookies(encrypted.clone()),
            "secret_key",
        ),
        (
            "signed, from_vars",
            from_vars().cookies(signed),
            "SECRET_KEY",
        ),
        (
            "encrypted, from_vars",
            from_vars().cookies(encrypted),
            "SECRET_KEY",
        ),
    ];

    for (name, builder, setting) in cases {
        let err = builder.build().unwrap_err();

        assert_eq!(err.setting(), setting, "{name}");
        assert_eq!(
            err.expected(),
            "a secret key, required because cookies are signed or encrypted",
            "{name}"
        );
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
