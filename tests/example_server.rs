//! Drives the router of `examples/server.rs` in-process, without binding a port. Each request
//! is handed over as the demo's accept loop hands it: naming its host, with the peer's address
//! and whether the connection is TLS in its extensions.

use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;
use tower_security::SecurityLayer;
use tower_security::transport::https::ConnectionSecurity;
use tower_security::transport::proxies::PeerAddr;

mod common;
use common::Transport;

// The example's `main` and its helpers are unused here.
#[allow(dead_code)]
#[path = "../examples/server.rs"]
mod server;

use server::{Command, Config, parse_args};

/// The demo's layer for `config`, with a fixed test key so sealed cookies verify across calls.
fn layer_for(config: &Config) -> SecurityLayer {
    let vars = |name: &str| {
        (name == "SECRET_KEY").then(|| "t3st-K3y/for+the?demo=server*only!".to_owned())
    };
    let (layer, random_key) = server::security_layer(config, vars).unwrap();
    assert!(!random_key, "the test key was not used");
    layer
}

/// The demo's layer as `cargo run --example server` builds it: development mode.
fn demo_layer() -> SecurityLayer {
    layer_for(&Config::default())
}

/// The demo's layer with `--production` and no other argument.
fn production_layer() -> SecurityLayer {
    layer_for(&Config {
        production: true,
        ..Config::default()
    })
}

/// A request for `uri` naming the host the demo answers for by default.
fn request(method: Method, uri: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "localhost")
}

/// Sends `request` to the demo behind `layer`, as its listener for `security` hands it over.
async fn send_over(
    layer: SecurityLayer,
    security: ConnectionSecurity,
    request: Request<Body>,
) -> Response<Body> {
    let mut request = request;
    let peer = PeerAddr(([127, 0, 0, 1], 50_000).into());
    request.extensions_mut().insert(peer);
    request.extensions_mut().insert(security);

    match server::app(layer).oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Sends `request` to the demo in development mode over its plain-HTTP listener.
async fn send(request: Request<Body>) -> Response<Body> {
    send_over(demo_layer(), ConnectionSecurity::PlainHttp, request).await
}

async fn get(uri: &str) -> Response<Body> {
    send(request(Method::GET, uri).body(Body::empty()).unwrap()).await
}

async fn body_text(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn header_str(response: &Response<Body>, name: header::HeaderName) -> &str {
    response.headers()[name].to_str().unwrap()
}

/// What the demo adds to the strict CSP on a plain-HTTP response: reports go to its collector
/// by `report-uri` alone, since browsers ignore `Reporting-Endpoints` there.
const DEMO_REPORTING: &str = "; report-uri /csp-reports";

/// The nonce of the demo's CSP (strict, reporting to `/csp-reports`) for a plain-HTTP
/// response; panics if `csp` is not that one.
fn strict_nonce(csp: &str) -> &str {
    csp.strip_suffix(DEMO_REPORTING)
        .and_then(|strict| common::csp_nonce_for(strict, Transport::PlainHttp))
        .unwrap_or_else(|| panic!("not the demo's CSP for plain HTTP: {csp:?}"))
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
    let request = request(Method::POST, "/echo").body(Body::from(vec![b'x'; 64 * 1024]));

    let response = send(request.unwrap()).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "65536");
}

#[tokio::test]
async fn login_sets_hardened_cookies_and_the_signed_one_round_trips() {
    let login = send(request(Method::POST, "/login").body(Body::empty()).unwrap()).await;
    let cookies: Vec<String> = login
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let prefs = cookies[1].split(';').next().unwrap().to_owned();
    let forged = prefs.replace("theme-dark", "theme-lite");
    let with = |cookie: &str| {
        let request = request(Method::GET, "/prefs").header(header::COOKIE, cookie);
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
    let request = request(Method::POST, "/login")
        .header("sec-fetch-site", "cross-site")
        .body(Body::empty());

    let response = send(request.unwrap()).await;

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    assert_eq!(body_text(response).await, "Forbidden\n");
}

#[tokio::test]
async fn error_and_panic_answer_a_generic_500_naming_the_request_id() {
    for path in ["/error", "/panic"] {
        let response = get(path).await;

        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}"
        );
        let id = header_str(&response, "x-request-id".parse().unwrap()).to_owned();
        let body = body_text(response).await;
        assert_eq!(
            body,
            format!("Internal Server Error\nrequest id: {id}\n"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn metrics_answer_loopback_clients_only() {
    let from = |peer: [u8; 4]| {
        let mut request = request(Method::GET, "/metrics")
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(PeerAddr((peer, 50_000).into()));
        request
    };

    let local = server::app(demo_layer())
        .oneshot(from([127, 0, 0, 1]))
        .await
        .unwrap();
    let remote = server::app(demo_layer())
        .oneshot(from([192, 0, 2, 7]))
        .await
        .unwrap();

    assert_eq!(local.status(), StatusCode::OK);
    assert!(
        body_text(local)
            .await
            .contains("# TYPE tower_security_events_total counter")
    );
    assert_eq!(remote.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn csp_reports_are_collected() {
    let report = concat!(
        r#"{"csp-report":{"document-uri":"http://localhost/","#,
        r#""violated-directive":"script-src-elem","blocked-uri":"inline"}}"#
    );
    let request = request(Method::POST, "/csp-reports")
        .header(header::CONTENT_TYPE, "application/csp-report")
        .body(Body::from(report))
        .unwrap();

    let response = send(request).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
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

#[tokio::test]
async fn development_mode_serves_plain_http_without_the_https_only_headers() {
    let response = get("/").await;

    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    for (name, expected) in common::fixed_headers(Transport::PlainHttp) {
        let sent = headers.get(name).map(|value| value.to_str().unwrap());
        assert_eq!(sent, expected, "{name}");
    }
    let id = headers["x-request-id"].to_str().unwrap();
    assert!(common::is_generated_request_id(id), "{id}");
}

#[tokio::test]
async fn production_mode_sends_plain_http_to_the_https_port() {
    let plain = |method: Method, uri: &str| {
        let request = request(method, uri).body(Body::empty()).unwrap();
        send_over(production_layer(), ConnectionSecurity::PlainHttp, request)
    };
    let cases = [
        (Method::GET, "/prefs?a=1", StatusCode::MOVED_PERMANENTLY),
        (Method::HEAD, "/", StatusCode::MOVED_PERMANENTLY),
        (Method::POST, "/login", StatusCode::PERMANENT_REDIRECT),
    ];

    for (method, uri, status) in cases {
        let response = plain(method.clone(), uri).await;

        assert_eq!(response.status(), status, "{method} {uri}");
        let location = format!("https://localhost:8443{uri}");
        assert_eq!(header_str(&response, header::LOCATION), location);
        assert!(response.headers().get(header::SET_COOKIE).is_none());
        assert!(response.headers().get(common::HSTS.0).is_none());
    }
}

#[tokio::test]
async fn production_mode_answers_health_over_plain_http_and_pages_over_tls() {
    let health = request(Method::GET, "/health").body(Body::empty()).unwrap();
    let page = request(Method::GET, "/").body(Body::empty()).unwrap();

    let health = send_over(production_layer(), ConnectionSecurity::PlainHttp, health).await;
    let page = send_over(production_layer(), ConnectionSecurity::Tls, page).await;

    // A load balancer's health check stays on plain HTTP; it gets no HSTS there.
    assert_eq!(health.status(), StatusCode::OK);
    assert!(health.headers().get(common::HSTS.0).is_none());
    assert_eq!(page.status(), StatusCode::OK);
    for (name, expected) in common::fixed_headers(Transport::HttpsOrUnknown) {
        let sent = page
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap());
        assert_eq!(sent, expected, "{name}");
    }
    // Over HTTPS the Reporting API is used too, and `report-uri` stays for older browsers.
    let csp = header_str(&page, header::CONTENT_SECURITY_POLICY);
    let strict = csp.strip_suffix("; report-to csp-endpoint; report-uri /csp-reports");
    assert!(strict.and_then(common::csp_nonce).is_some(), "{csp}");
    assert_eq!(
        page.headers()["reporting-endpoints"],
        "csp-endpoint=\"/csp-reports\""
    );
    assert!(health.headers().get("reporting-endpoints").is_none());
}

#[tokio::test]
async fn only_the_configured_hosts_are_answered() {
    let config = Config {
        allow_hosts: vec!["demo.example".to_owned()],
        canonical_host: "www.example.org".to_owned(),
        ..Config::default()
    };
    let cases = [
        ("localhost:8080", StatusCode::OK),
        ("127.0.0.1:8080", StatusCode::OK),
        ("demo.example", StatusCode::OK),
        ("www.example.org", StatusCode::OK),
        ("evil.example", StatusCode::BAD_REQUEST),
        ("demo.example.evil.example", StatusCode::BAD_REQUEST),
    ];

    for (host, status) in cases {
        let request = Request::get("/health").header(header::HOST, host);
        let request = request.body(Body::empty()).unwrap();

        let response = send_over(layer_for(&config), ConnectionSecurity::PlainHttp, request).await;

        assert_eq!(response.status(), status, "{host}");
    }
}

#[test]
fn arguments_choose_the_listeners_and_the_policy() {
    let parse = |args: &[&str], env: Option<&str>| {
        parse_args(args.iter().map(|a| a.to_string()), env.map(str::to_owned))
    };
    let defaults = Config {
        port: 8080,
        public: false,
        allow_hosts: Vec::new(),
        production: false,
        tls: None,
        https_port: 8443,
        canonical_host: "localhost".to_owned(),
    };
    let serve = |config: Config| Ok(Command::Serve(config));
    let production = Config {
        production: true,
        tls: Some(("c.pem".to_owned(), "k.pem".to_owned())),
        https_port: 443,
        canonical_host: "www.example.org".to_owned(),
        ..defaults.clone()
    };

    assert_eq!(Config::default(), defaults);
    assert_eq!(parse(&[], None), serve(defaults.clone()));
    assert_eq!(
        parse(&[], Some("9091")),
        serve(Config {
            port: 9091,
            ..defaults.clone()
        })
    );
    assert_eq!(
        parse(&["--port", "9090"], Some("9091")),
        serve(Config {
            port: 9090,
            ..defaults.clone()
        })
    );
    assert_eq!(
        parse(&["--port=9090", "--public"], None),
        serve(Config {
            port: 9090,
            public: true,
            ..defaults.clone()
        })
    );
    assert_eq!(
        parse(
            &["--allow-host", "a.example", "--allow-host=b.example"],
            None
        ),
        serve(Config {
            allow_hosts: vec!["a.example".to_owned(), "b.example".to_owned()],
            ..defaults.clone()
        })
    );
    assert_eq!(
        parse(
            &[
                "--production",
                "--tls-cert",
                "c.pem",
                "--tls-key=k.pem",
                "--https-port",
                "443",
                "--canonical-host",
                "www.example.org",
            ],
            None
        ),
        serve(production)
    );
    assert_eq!(parse(&["--help"], None), Ok(Command::Help));
    assert_eq!(
        parse(&["--health-check"], None),
        Ok(Command::HealthCheck(8080))
    );
    assert_eq!(
        parse(&["--health-check", "--port", "9090"], Some("9091")),
        Ok(Command::HealthCheck(9090))
    );
    for args in [
        &["--bogus"][..],
        &["--port"],
        &["--port", "70000"],
        &["--https-port", "https"],
        &["--canonical-host"],
        &["--tls-cert", "c.pem", "--tls-key", "k.pem"],
        &["--production", "--tls-cert", "c.pem"],
        &["--production", "--tls-key", "k.pem"],
    ] {
        assert!(parse(args, None).is_err(), "{args:?}");
    }
    assert!(parse(&[], Some("eighty")).is_err());
}

/// The probe the container's `HEALTHCHECK` runs (`server --health-check`) passes against the
/// production demo over plain HTTP, where every other path is redirected, and fails when
/// nothing listens.
#[tokio::test]
async fn health_check_probe_passes_in_production_and_fails_without_a_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(server::serve(
        listener,
        None,
        server::app(production_layer()),
        stopped,
    ));

    let healthy = server::probe_health(port).await;
    stop.send(true).unwrap();
    server.await.unwrap();
    let closed = server::probe_health(port).await;

    assert_eq!(healthy, Ok(()));
    assert!(closed.is_err(), "{closed:?}");
}
