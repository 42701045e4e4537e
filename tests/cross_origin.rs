//! Cross-origin request protection through the whole layer: which requests reach the
//! application, and what a refused one gets back: `403`, a generic body that echoes nothing
//! from the request, the security headers, and exactly one security event.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{ServiceExt, service_fn};
use tower_layer::Layer;
use tower_security::cross_origin::CrossOriginProtection;
use tower_security::{Refused, RequestBody, SecurityLayer};

mod common;

use common::events::capture;

/// A marker planted in every part of a refused request; it must not come back.
const MARK: &str = "zq9mark";

/// Where a request names the host it is meant for. A request that names none is refused by
/// the Host check before cross-origin protection sees it; `no_host_is_an_origin_mismatch`
/// covers that case with the Host check off.
#[derive(Clone, Copy)]
enum Target {
    /// A `Host` header and a path, as HTTP/1.1 sends them.
    Host(&'static str),
    /// An absolute `https://` URI and no `Host`, as HTTP/2 sends `:authority`.
    Authority(&'static str),
}

struct Case {
    name: &'static str,
    method: Method,
    sec_fetch_site: Option<&'static str>,
    origin: Option<&'static str>,
    target: Target,
    allowed: bool,
}

const fn case(
    name: &'static str,
    method: Method,
    sec_fetch_site: Option<&'static str>,
    origin: Option<&'static str>,
    target: Target,
    allowed: bool,
) -> Case {
    Case {
        name,
        method,
        sec_fetch_site,
        origin,
        target,
        allowed,
    }
}

const HOST: Target = Target::Host("app.example.com");
const AUTHORITY: Target = Target::Authority("app.example.com");
const ELSEWHERE: Target = Target::Authority("evil.example.net");
const SAME: Option<&str> = Some("https://app.example.com");
const OTHER: Option<&str> = Some("https://evil.example.net");
const SIBLING: Option<&str> = Some("https://x.example.com");
const OTHER_PORT: Option<&str> = Some("https://app.example.com:8443");
const PARTNER: Option<&str> = Some("https://partner.example.org");

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    use Method as M;
    vec![
        case("GET cross-site", M::GET, Some("cross-site"), OTHER, HOST, true),
        case("HEAD cross-site", M::HEAD, Some("cross-site"), OTHER, HOST, true),
        case("OPTIONS cross-site", M::OPTIONS, Some("cross-site"), OTHER, HOST, true),
        case("POST same-origin", M::POST, Some("same-origin"), SAME, HOST, true),
        case("POST none (typed URL)", M::POST, Some("none"), None, HOST, true),
        case("POST same-site", M::POST, Some("same-site"), SIBLING, HOST, false),
        case("POST cross-site", M::POST, Some("cross-site"), OTHER, HOST, false),
        case("PUT cross-site", M::PUT, Some("cross-site"), OTHER, HOST, false),
        case("PATCH cross-site", M::PATCH, Some("cross-site"), OTHER, HOST, false),
        case("DELETE cross-site", M::DELETE, Some("cross-site"), OTHER, HOST, false),
        case("POST garbage site", M::POST, Some("zq9mark"), SAME, HOST, false),
        case("POST cross-site, same Origin", M::POST, Some("cross-site"), SAME, HOST, false),
        case("POST old browser, same origin", M::POST, None, SAME, HOST, true),
        case("POST old browser, other origin", M::POST, None, OTHER, HOST, false),
        case("POST old browser, null origin", M::POST, None, Some("null"), HOST, false),
        case("POST old browser, authority only", M::POST, None, SAME, AUTHORITY, true),
        case("POST old browser, other authority", M::POST, None, SAME, ELSEWHERE, false),
        case("POST cross-site, to authority", M::POST, Some("cross-site"), OTHER, AUTHORITY, false),
        case("POST no headers (curl)", M::POST, None, None, HOST, true),
        case("DELETE no headers (API client)", M::DELETE, None, None, AUTHORITY, true),
        case("POST same-origin, port mismatch", M::POST, None, OTHER_PORT, HOST, false),
        case("POST trusted partner", M::POST, Some("cross-site"), PARTNER, HOST, true),
    ]
}

fn layer() -> SecurityLayer {
    SecurityLayer::builder()
        .cross_origin_protection(
            CrossOriginProtection::new().trusted_origin("https://partner.example.org"),
        )
        .build()
        .unwrap()
}

fn request(case: &Case, accept: &str) -> Request<Full<Bytes>> {
    let target = format!("/transfer/{MARK}?to={MARK}");
    let (uri, host) = match case.target {
        Target::Host(host) => (target, Some(host)),
        Target::Authority(authority) => (format!("https://{authority}{target}"), None),
    };
    let mut builder = Request::builder()
        .method(case.method.clone())
        .uri(uri)
        .header("accept", accept)
        .header("x-note", MARK);
    for (name, value) in [
        ("sec-fetch-site", case.sec_fetch_site),
        ("origin", case.origin),
        ("host", host),
    ] {
        if let Some(value) = value {
            builder = builder.header(name, value);
        }
    }
    builder.body(Full::from(MARK)).unwrap()
}

#[tokio::test]
async fn requests_are_judged_and_refusals_are_generic() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let service = layer().layer(service_fn(move |_: Request<RequestBody<Full<Bytes>>>| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"done")))) }
    }));

    for accept in ["text/html", "application/json"] {
        for case in cases() {
            let (_guard, log) = capture();
            let before = calls.load(Ordering::SeqCst);

            let response = service
                .clone()
                .oneshot(request(&case, accept))
                .await
                .unwrap();

            let name = format!("{} ({accept})", case.name);
            let reached = calls.load(Ordering::SeqCst) - before;
            let status = response.status();
            let headers = response.headers().clone();
            let refused = response.extensions().get::<Refused>().copied();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let events = log.security_events();
            assert!(headers.contains_key("content-security-policy"), "{name}");
            if case.allowed {
                assert_eq!(status, StatusCode::OK, "{name}");
                assert_eq!(reached, 1, "{name}");
                assert_eq!(body, "done", "{name}");
                assert!(events.is_empty(), "{name}: {events:?}");
                continue;
            }
            assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
            assert_eq!(reached, 0, "{name}: the application must not be called");
            assert_eq!(refused, Some(Refused::CrossOrigin), "{name}");
            let expected: &[u8] = if accept == "application/json" {
                br#"{"type":"about:blank","title":"Forbidden","status":403}"#
            } else {
                b"Forbidden\n"
            };
            assert_eq!(body, expected, "{name}");
            assert_eq!(
                headers["content-length"],
                expected.len().to_string(),
                "{name}"
            );
            assert!(
                !headers
                    .iter()
                    .any(|(_, v)| v.as_bytes().windows(7).any(|w| w == MARK.as_bytes()))
            );
            assert_eq!(events.len(), 1, "{name}: {events:?}");
            let event = &events[0];
            assert_eq!(event.field("event"), Some("cross_origin_refused"), "{name}");
            assert_eq!(event.field("status"), Some("403"), "{name}");
            assert!(
                matches!(
                    event.field("rule"),
                    Some("sec-fetch-site" | "origin-mismatch")
                ),
                "{name}"
            );
        }
    }
}

#[tokio::test]
async fn no_host_is_an_origin_mismatch() {
    // With the Host check off, a request that names no host reaches cross-origin protection,
    // which has nothing to compare its `Origin` with.
    let layer = SecurityLayer::builder()
        .allowed_hosts(None)
        .build()
        .unwrap();
    let service = layer.layer(service_fn(|_: Request<RequestBody<Full<Bytes>>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"done"))))
    }));
    let post = |origin: Option<&str>| {
        let mut request = Request::post("/transfer");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.body(Full::<Bytes>::default()).unwrap()
    };
    let (_guard, log) = capture();

    let old_browser = service.clone().oneshot(post(SAME)).await.unwrap();
    let api_client = service.oneshot(post(None)).await.unwrap();

    assert_eq!(old_browser.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        old_browser.extensions().get::<Refused>(),
        Some(&Refused::CrossOrigin)
    );
    assert_eq!(api_client.status(), StatusCode::OK);
    let events = log.security_events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].field("event"), Some("cross_origin_refused"));
    assert_eq!(events[0].field("rule"), Some("origin-mismatch"));
}

#[tokio::test]
async fn protection_can_be_switched_off() {
    let layer = SecurityLayer::builder()
        .cross_origin_protection(None)
        .build()
        .unwrap();
    let service = layer.layer(service_fn(|_: Request<RequestBody<Full<Bytes>>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"done"))))
    }));
    let forged = &cases()[6];

    let response = service.oneshot(request(forged, "text/html")).await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn exempt_paths_pass_and_near_misses_do_not() {
    let layer = SecurityLayer::builder()
        .cross_origin_protection(CrossOriginProtection::new().insecure_exempt_path("/hooks/*"))
        .build()
        .unwrap();
    let service = layer.layer(service_fn(|_: Request<RequestBody<Full<Bytes>>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"done"))))
    }));
    let post = |path: &str| {
        Request::post(path)
            .header("host", "app.example.com")
            .header("sec-fetch-site", "cross-site")
            .body(Full::<Bytes>::default())
            .unwrap()
    };

    let hook = service
        .clone()
        .oneshot(post("/hooks/github"))
        .await
        .unwrap();
    let near = service.oneshot(post("/hooksx")).await.unwrap();

    assert_eq!(hook.status(), StatusCode::OK);
    assert_eq!(near.status(), StatusCode::FORBIDDEN);
}
