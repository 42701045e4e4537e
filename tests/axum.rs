//! `SecurityLayer::strict()` on an axum `Router`: handlers see the request's CSP nonce through
//! the `CspNonce` extractor and `Extension<CspNonce>`, and it is the nonce the response's CSP
//! names; `Router::layer` covers the router's own 404 and 405 answers while `route_layer`
//! covers matched routes only; headers a handler sets are kept, fingerprinting ones are
//! stripped, multi-valued headers pass through unmerged and in order, and every answer
//! carries a generated request id.
#![cfg(feature = "axum")]

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, LINK, SET_COOKIE, VARY};
use axum::http::{HeaderMap, Method, Request, Response, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Extension, Router};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;
use tower_security::{CspNonce, SecurityLayer};

mod common;
use common::{STRICT_PERMISSIONS, Transport};

/// The nonce of the response's CSP if that is the strict CSP; see [`common::csp_nonce`].
fn strict_nonce(headers: &HeaderMap) -> Option<&str> {
    common::csp_nonce(headers.get(CONTENT_SECURITY_POLICY)?.to_str().ok()?)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .map(|value| value.to_str().expect("visible ASCII header value"))
}

fn all_values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .map(|value| value.to_str().expect("visible ASCII header value"))
        .collect()
}

/// Panics with the header's name unless `headers` carry every strict header, and a generated
/// request id: `oneshot` requests carry no scheme, so the layer takes them as HTTPS.
fn assert_strict_headers(headers: &HeaderMap, context: &str) {
    for (name, expected) in common::fixed_headers(Transport::HttpsOrUnknown) {
        assert_eq!(header(headers, name), expected, "{context}: {name}");
    }
    let id = header(headers, "x-request-id");
    assert!(
        id.is_some_and(common::is_generated_request_id),
        "{context}: {id:?}"
    );
    assert_eq!(
        header(headers, "permissions-policy"),
        Some(STRICT_PERMISSIONS),
        "{context}"
    );
    let csp = header(headers, "content-security-policy");
    assert!(strict_nonce(headers).is_some(), "{context}: {csp:?}");
}

/// Sends a request as a browser would, naming the host it is meant for.
async fn send(app: Router, method: Method, uri: &str) -> Response<Body> {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "localhost")
        .body(Body::empty())
        .unwrap();
    app.oneshot(request).await.unwrap()
}

async fn body_text(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn page(nonce: CspNonce, Extension(from_extension): Extension<CspNonce>) -> Html<String> {
    Html(format!(
        r#"<script nonce="{nonce}">go()</script><style nonce="{from_extension}"></style>"#
    ))
}

fn page_app() -> Router {
    Router::new()
        .route("/", get(page))
        .layer(SecurityLayer::strict())
}

#[tokio::test]
async fn handler_nonce_is_the_one_in_the_csp() {
    let app = page_app();

    let response = send(app, Method::GET, "/").await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_strict_headers(response.headers(), "page");
    let nonce = strict_nonce(response.headers()).unwrap().to_owned();
    let body = body_text(response).await;
    assert_eq!(
        body,
        format!(r#"<script nonce="{nonce}">go()</script><style nonce="{nonce}"></style>"#)
    );
}

#[tokio::test]
async fn each_request_gets_a_fresh_nonce() {
    let app = page_app();

    let first = send(app.clone(), Method::GET, "/").await;
    let second = send(app, Method::GET, "/").await;

    let first_nonce = strict_nonce(first.headers()).unwrap().to_owned();
    let second_nonce = strict_nonce(second.headers()).unwrap().to_owned();
    assert_ne!(first_nonce, second_nonce);
    assert!(
        body_text(first)
            .await
            .contains(&format!(r#"nonce="{first_nonce}""#))
    );
    assert!(
        body_text(second)
            .await
            .contains(&format!(r#"nonce="{second_nonce}""#))
    );
}

#[tokio::test]
async fn router_layer_covers_the_routers_own_answers() {
    let app = Router::new()
        .route("/", get(|| async { "hello" }))
        .layer(SecurityLayer::strict());
    let cases = [
        ("matched route", Method::GET, "/", StatusCode::OK),
        (
            "unknown path",
            Method::GET,
            "/missing",
            StatusCode::NOT_FOUND,
        ),
        (
            "wrong method",
            Method::DELETE,
            "/",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];

    for (name, method, uri, status) in cases {
        let response = send(app.clone(), method, uri).await;

        assert_eq!(response.status(), status, "{name}");
        assert_strict_headers(response.headers(), name);
        assert_eq!(
            header(response.headers(), "cache-control"),
            Some("no-store, max-age=0")
        );
    }
}

#[tokio::test]
async fn route_layer_covers_matched_routes_only() {
    let app = Router::new()
        .route("/", get(|| async { "hello" }))
        .route_layer(SecurityLayer::strict());

    let matched = send(app.clone(), Method::GET, "/").await;
    let unmatched = send(app, Method::GET, "/missing").await;

    assert_eq!(matched.status(), StatusCode::OK);
    assert_strict_headers(matched.headers(), "matched route");
    // axum's `route_layer` wraps the routes, not the router's fallback: a request that
    // matches no route is answered `404` around the layer and leaves without the policy.
    // This is why the crate's docs ask for `Router::layer`.
    assert_eq!(unmatched.status(), StatusCode::NOT_FOUND);
    for name in [
        "content-security-policy",
        "x-frame-options",
        "x-content-type-options",
    ] {
        assert_eq!(header(unmatched.headers(), name), None, "{name}");
    }
}

#[tokio::test]
async fn handler_headers_are_kept_and_fingerprints_stripped() {
    let handler = || async {
        let headers = [
            ("x-frame-options", "SAMEORIGIN"),
            ("cache-control", "public, max-age=60"),
            ("server", "secret/1.0"),
            ("x-powered-by", "Express"),
        ];
        (headers, "tailored").into_response()
    };
    let app = Router::new()
        .route("/", get(handler))
        .layer(SecurityLayer::strict());
    let expected = [
        ("x-frame-options", Some("SAMEORIGIN")),
        ("cache-control", Some("public, max-age=60")),
        ("server", None),
        ("x-powered-by", None),
        ("x-content-type-options", Some("nosniff")),
        ("referrer-policy", Some("no-referrer")),
    ];

    let response = send(app, Method::GET, "/").await;

    assert_eq!(response.status(), StatusCode::OK);
    for (name, value) in expected {
        assert_eq!(
            all_values(response.headers(), name),
            Vec::from_iter(value),
            "{name}"
        );
    }
    let csp = header(response.headers(), "content-security-policy");
    assert!(strict_nonce(response.headers()).is_some(), "{csp:?}");
    assert_eq!(body_text(response).await, "tailored");
}

#[tokio::test]
async fn multi_valued_headers_keep_every_value_in_order() {
    let expected = [
        (SET_COOKIE, ["a=1; Path=/; HttpOnly", "b=2; Path=/; Secure"]),
        (VARY, ["accept-encoding", "origin"]),
        (
            LINK,
            [
                "</app.js>; rel=preload; as=script",
                "</app.css>; rel=preload; as=style",
            ],
        ),
    ];
    let values = expected.clone();
    let handler = move || async move {
        let mut builder = Response::builder().header(CACHE_CONTROL, "private");
        for (name, pair) in values {
            for value in pair {
                builder = builder.header(name.clone(), value);
            }
        }
        builder.body(Body::from("cookies")).unwrap()
    };
    let app = Router::new()
        .route("/", get(handler))
        .layer(SecurityLayer::strict());

    let response = send(app, Method::GET, "/").await;

    assert_eq!(response.status(), StatusCode::OK);
    for (name, pair) in &expected {
        let got = all_values(response.headers(), name.as_str());
        if name == SET_COOKIE {
            // Cookies keep their own fields and order; hardening only appends what is missing.
            let hardened = [
                format!("{}; Secure; SameSite=Strict", pair[0]),
                format!("{}; HttpOnly; SameSite=Strict", pair[1]),
            ];
            assert_eq!(got, hardened, "{name}");
        } else {
            assert_eq!(got, pair, "{name}");
        }
    }
    assert_eq!(all_values(response.headers(), "cache-control"), ["private"]);
    assert_strict_headers(response.headers(), "multi-valued");
    assert_eq!(body_text(response).await, "cookies");
}
