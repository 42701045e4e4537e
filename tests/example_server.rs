//! Drives the router of `examples/server.rs` in-process, without binding a port.

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

mod common;

// The example's `main` and its helpers are unused here.
#[allow(dead_code)]
#[path = "../examples/server.rs"]
mod server;

use server::{Command, Config, parse_args};

/// The demo's layer with a fixed test key, so sealed cookies verify across calls.
fn demo_layer() -> tower_security::SecurityLayer {
    let vars = |name: &str| {
        (name == "SECRET_KEY").then(|| "t3st-K3y/for+the?demo=server*only!".to_owned())
    };
    server::security_layer(vars).unwrap().0
}

async fn send(request: Request<Body>) -> Response<Body> {
    match server::app(demo_layer()).oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

async fn get(uri: &str) -> Response<Body> {
    send(Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn body_text(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn header_str(response: &Response<Body>, name: header::HeaderName) -> &str {
    response.headers()[name].to_str().unwrap()
}

/// The nonce of a strict CSP value; panics if the value is not the strict CSP.
fn strict_nonce(csp: &str) -> &str {
    common::csp_nonce(csp).unwrap_or_else(|| panic!("not the strict CSP: {csp:?}"))
}

#[tokio::test]
async fn index_stamps_the_csp_nonce_on_its_script_and_style() {
    let response = get("/").await;

    assert_eq!(response.status(), StatusCode::OK);
    let csp = header_str(&response, header::CONTENT_SECURITY_POLICY).to_owned();
    assert!(csp.contains("'strict-dynamic'"), "{csp}");
    assert!(!response.headers().contains_key(header::SERVER));
    assert_eq!(header_str(&response, header::X_FRAME_OPTIONS), "DENY");
    let nonce = strict_nonce(&csp).to_owned();
    let body = body_text(response).await;
    assert!(body.starts_with("<!doctype html>"));
    assert!(
        body.contains(&format!(r#"<script nonce="{nonce}">"#)),
        "{body}"
    );
    assert!(
        body.contains(&format!(r#"<style nonce="{nonce}">"#)),
        "{body}"
    );
    // The stand-in for an injected payload: a script without the nonce.
    assert_eq!(body.matches("<script>").count(), 1, "{body}");
    assert!(body.contains("INJECTED SCRIPT RAN"));
    assert!(body.contains(r#"id="nonce-result""#) && body.contains(r#"id="injected-result""#));
    assert!(body.contains(r#"<form method="post" action="/login">"#));
}

#[tokio::test]
async fn every_request_gets_a_fresh_nonce() {
    let first = get("/").await;
    let second = get("/").await;

    let first = strict_nonce(header_str(&first, header::CONTENT_SECURITY_POLICY)).to_owned();
    let second = strict_nonce(header_str(&second, header::CONTENT_SECURITY_POLICY)).to_owned();
    assert_ne!(first, second);
}

#[tokio::test]
async fn health_is_exact_json() {
    let response = get("/health").await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header_str(&response, header::CONTENT_TYPE),
        "application/json"
    );
    assert_eq!(body_text(response).await, r#"{"status":"ok"}"#);
}

#[tokio::test]
async fn echo_counts_the_body_bytes() {
    let request = Request::post("/echo").body(Body::from(vec![b'x'; 64 * 1024]));

    let response = send(request.unwrap()).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "65536");
}

#[tokio::test]
async fn login_sets_hardened_cookies_and_the_signed_one_round_trips() {
    let login = send(Request::post("/login").body(Body::empty()).unwrap()).await;
    let cookies: Vec<String> = login
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let prefs = cookies[1].split(';').next().unwrap().to_owned();
    let forged = prefs.replace("theme-dark", "theme-lite");
    let with = |cookie: &str| {
        let request = Request::get("/prefs").header(header::COOKIE, cookie);
        send(request.body(Body::empty()).unwrap())
    };

    let verified = body_text(with(&prefs).await).await;
    let refused = body_text(with(&forged).await).await;
    let unsigned = body_text(with("prefs=theme-dark").await).await;

    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(cookies.len(), 2);
    let session = &cookies[0];
    let id = session.strip_prefix("session=").unwrap();
    assert_eq!(
        id.len(),
        16 + "; Secure; HttpOnly; SameSite=Strict".len(),
        "{session}"
    );
    assert!(
        session.ends_with("; Secure; HttpOnly; SameSite=Strict"),
        "{session}"
    );
    assert!(cookies[1].ends_with("theme-dark; Secure; HttpOnly; SameSite=Strict"));
    assert_ne!(prefs, "prefs=theme-dark", "the layer signs the value");
    assert_eq!(verified, "prefs cookie verified: theme-dark\n");
    assert_eq!(refused, "no valid prefs cookie (log in first)\n");
    assert_eq!(unsigned, "no valid prefs cookie (log in first)\n");
}

#[tokio::test]
async fn cross_site_login_is_refused() {
    let request = Request::post("/login")
        .header("sec-fetch-site", "cross-site")
        .body(Body::empty());

    let response = send(request.unwrap()).await;

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    assert_eq!(body_text(response).await, "Forbidden\n");
}

#[tokio::test]
async fn error_answers_500_and_404_gets_the_headers() {
    let error = get("/error").await;
    let missing = get("/no-such-page").await;

    assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        missing
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY)
    );
}

#[test]
fn arguments_choose_the_port_and_interface() {
    let parse = |args: &[&str], env: Option<&str>| {
        parse_args(args.iter().map(|a| a.to_string()), env.map(str::to_owned))
    };
    let serve = |port, public| Ok(Command::Serve(Config { port, public }));

    assert_eq!(parse(&[], None), serve(8080, false));
    assert_eq!(parse(&[], Some("9091")), serve(9091, false));
    assert_eq!(parse(&["--port", "9090"], Some("9091")), serve(9090, false));
    assert_eq!(parse(&["--port=9090", "--public"], None), serve(9090, true));
    assert_eq!(parse(&["--help"], None), Ok(Command::Help));
    assert!(parse(&["--bogus"], None).is_err());
    assert!(parse(&["--port"], None).is_err());
    assert!(parse(&["--port", "70000"], None).is_err());
    assert!(parse(&[], Some("eighty")).is_err());
}
