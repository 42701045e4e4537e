//! The CSP report collector as a service: each report format gives `204` and one
//! `csp_violation` event per report; other methods, media types, oversized and invalid bodies
//! get their status and no event; hostile report values give single-line, truncated events.
//!
//! Identical events (same kind, rule and status) are rate-limited process-wide, and the tests
//! of this file run in parallel: each test uses directives of its own, fewer than ten times.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use tower::ServiceExt as _;
use tower_layer::Layer as _;
use tower_security::SecurityLayer;
use tower_security::reports::CspReportCollector;
use tower_security::transport::proxies::PeerAddr;

mod common;

use common::events::{CapturedEvent, capture};

fn report_request<B>(content_type: &str, body: B) -> Request<B> {
    Request::post("/csp-reports")
        .header("content-type", content_type)
        .body(body)
        .unwrap()
}

fn post(content_type: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    report_request(content_type, Full::new(body.into()))
}

async fn collect<B>(request: Request<B>) -> Response<String>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    CspReportCollector::new().oneshot(request).await.unwrap()
}

/// The `path` field as the log shows it: `Debug`-escaped, in quotes.
fn logged_path(event: &CapturedEvent) -> &str {
    event.field("path").unwrap_or_default()
}

/// A `report-uri` document for `directive` on the page at `url`.
fn csp_report(url: &str, directive: &str) -> String {
    format!(
        r#"{{"csp-report": {{"document-uri": "{url}", "effective-directive": "{directive}",
        "blocked-uri": "https://evil.example/x.js?key=s3cret", "line-number": 3}}}}"#
    )
}

/// A Reporting API element for `directive` on the page at `url`.
fn csp_violation(url: &str, directive: &str) -> String {
    format!(
        r#"{{"age": 10, "type": "csp-violation", "url": "{url}", "user_agent": "Mozilla/5.0",
        "body": {{"documentURL": "{url}", "effectiveDirective": "{directive}",
        "blockedURL": "inline", "disposition": "enforce", "lineNumber": 1}}}}"#
    )
}

#[tokio::test]
async fn each_format_gives_204_and_one_event_per_report() {
    let firefox = csp_report(
        "https://example.com/signup.html?next=%2F",
        "script-src-elem",
    );
    let batch = format!(
        r#"[{}, {{"type": "deprecation", "url": "https://example.com/", "body": {{}}}}, {}]"#,
        csp_violation("https://example.com/gallery#top", "img-src"),
        csp_violation("https://example.com/fonts", "font-src"),
    );
    // A CSP Level 2 browser names the violated directive with its sources.
    let legacy = r#"{"csp-report": {"document-uri": "http://example.com/legacy",
        "violated-directive": "style-src 'self' https://cdn.example.com"}}"#;
    let json_batch = format!(
        "[{}]",
        csp_violation("https://example.com/app", "connect-src")
    );
    let cases = [
        (
            "report-uri",
            "application/csp-report",
            firefox,
            vec![("script-src-elem", "/signup.html")],
        ),
        (
            "Reporting API",
            "application/reports+json",
            batch,
            vec![("img-src", "/gallery"), ("font-src", "/fonts")],
        ),
        (
            "JSON object",
            "application/json",
            legacy.to_owned(),
            vec![("style-src", "/legacy")],
        ),
        (
            "JSON array",
            "application/json; charset=utf-8",
            json_batch,
            vec![("connect-src", "/app")],
        ),
    ];

    for (name, content_type, body, expected) in cases {
        let (_guard, captured) = capture();

        let response = collect(post(content_type, body)).await;

        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{name}");
        assert!(response.body().is_empty(), "{name}");
        let events = captured.security_events();
        let logged: Vec<_> = events
            .iter()
            .map(|event| (event.field("rule").unwrap_or_default(), logged_path(event)))
            .map(|(rule, path)| (rule.to_owned(), path.to_owned()))
            .collect();
        // The log shows the path escaped and quoted, as `Debug` does.
        let expected: Vec<_> = expected
            .into_iter()
            .map(|(rule, path)| (rule.to_owned(), format!("{path:?}")))
            .collect();
        assert_eq!(logged, expected, "{name}");
        for event in &events {
            assert_eq!(event.field("event"), Some("csp_violation"), "{name}");
            assert_eq!(event.field("method"), Some("POST"), "{name}");
            assert_eq!(event.field("status"), None, "{name}");
        }
        // Neither the query nor the blocked URL's token reaches the log.
        assert!(!captured.mentions("s3cret"), "{name}");
        assert!(!captured.mentions("next="), "{name}");
    }
}

#[tokio::test]
async fn behind_the_layer_events_carry_the_request_id_and_client() {
    let (_guard, captured) = capture();
    let service = SecurityLayer::strict().layer(CspReportCollector::new());
    let peer: SocketAddr = "192.0.2.7:50000".parse().unwrap();
    let mut request = post(
        "application/csp-report",
        csp_report("https://example.com/account", "base-uri"),
    );
    request.extensions_mut().insert(PeerAddr(peer));
    request
        .headers_mut()
        .insert("host", "example.com".parse().unwrap());

    let response = service.oneshot(request).await.unwrap();

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let id = response.headers()["x-request-id"].to_str().unwrap();
    let events = captured.security_events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].field("rule"), Some("base-uri"));
    assert_eq!(events[0].field("request_id"), Some(id));
    assert_eq!(events[0].field("client"), Some("192.0.2.7"));
}

#[tokio::test]
async fn other_methods_get_405_with_allow_post() {
    let (_guard, captured) = capture();
    let body = csp_report("https://example.com/", "script-src");

    for method in [Method::GET, Method::HEAD, Method::PUT, Method::OPTIONS] {
        let mut request = post("application/csp-report", body.clone());
        *request.method_mut() = method.clone();

        let response = collect(request).await;

        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
        assert_eq!(response.headers()["allow"], "POST", "{method}");
        assert!(response.body().is_empty(), "{method}");
    }
    assert!(captured.security_events().is_empty());
}

#[tokio::test]
async fn other_media_types_get_415() {
    let (_guard, captured) = capture();
    let body = csp_report("https://example.com/", "script-src");
    let cases = [
        ("text/plain", None),
        ("application/x-www-form-urlencoded", None),
        ("multipart/form-data; boundary=x", None),
        ("application/json", Some("gzip")),
    ];

    for (content_type, encoding) in cases {
        let mut request = post(content_type, body.clone());
        if let Some(encoding) = encoding {
            let encoding = encoding.parse().unwrap();
            request.headers_mut().insert("content-encoding", encoding);
        }

        let response = collect(request).await;

        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
        let accepted = response.headers()["accept-post"].to_str().unwrap();
        assert!(accepted.contains("application/reports+json"), "{accepted}");
        assert!(response.body().is_empty());
    }
    let mut untyped = post("x/y", body);
    untyped.headers_mut().remove("content-type");
    assert_eq!(
        collect(untyped).await.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert!(captured.security_events().is_empty());
}

/// A streamed body of the given frames, with no length hint, counting the frames polled.
struct Frames {
    frames: Box<dyn Iterator<Item = Result<Bytes, &'static str>> + Send>,
    polled: Arc<AtomicUsize>,
}

impl Frames {
    fn new(frames: impl Iterator<Item = Result<Bytes, &'static str>> + Send + 'static) -> Self {
        Self {
            frames: Box::new(frames),
            polled: Arc::default(),
        }
    }

    /// `bytes` in frames of 1 KiB, the last one shorter if need be.
    fn of_kib(bytes: Vec<u8>) -> Self {
        let chunks: Vec<_> = bytes.chunks(1024).map(Bytes::copy_from_slice).collect();
        Self::new(chunks.into_iter().map(Ok))
    }
}

impl Body for Frames {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.polled.fetch_add(1, Ordering::Relaxed);
        let frame = self.frames.next().map(|frame| frame.map(Frame::data));
        Poll::Ready(frame.map(|frame| frame.map_err(Into::into)))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// A valid report padded with whitespace to exactly `len` bytes.
fn padded_report(len: usize) -> Vec<u8> {
    let mut report = csp_report("https://example.com/padded", "object-src").into_bytes();
    report.resize(len, b' ');
    report
}

#[tokio::test]
async fn a_body_at_the_limit_is_read() {
    let (_guard, captured) = capture();

    let response = collect(report_request(
        "application/csp-report",
        Frames::of_kib(padded_report(64 * 1024)),
    ))
    .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(captured.security_event_names(), ["csp_violation"]);
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_and_is_not_read_further() {
    let (_guard, captured) = capture();
    let one_over = Frames::of_kib(padded_report(64 * 1024 + 1));
    let one_over_polled = Arc::clone(&one_over.polled);
    let endless = Frames::new(std::iter::repeat_with(|| Ok(Bytes::from(vec![b' '; 1024]))));
    let endless_polled = Arc::clone(&endless.polled);

    let one_over = collect(report_request("application/csp-report", one_over)).await;
    let endless = collect(report_request("application/reports+json", endless)).await;

    for response in [&one_over, &endless] {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // The rest of an HTTP/1 body is left unread: the connection cannot be reused.
        assert_eq!(response.headers()["connection"], "close");
        assert!(response.body().is_empty());
    }
    // 64 frames fill the limit; the 65th crosses it, and nothing is polled after it.
    assert_eq!(one_over_polled.load(Ordering::Relaxed), 65);
    assert_eq!(endless_polled.load(Ordering::Relaxed), 65);
    assert!(captured.security_events().is_empty());
}

#[tokio::test]
async fn the_limit_is_configurable_and_a_declared_length_is_refused_unread() {
    let (_guard, captured) = capture();
    let collector = CspReportCollector::new().max_body_size(100);
    let report = br#"{"csp-report": {"effective-directive": "sandbox"}}"#;
    let small = [&report[..], &[b' '; 100][report.len()..]].concat();
    let large = [&small[..], b" "].concat();

    let fits = collector
        .clone()
        .oneshot(post("application/csp-report", small));
    let fits = fits.await.unwrap();
    let over = collector.oneshot(post("application/csp-report", large));
    let over = over.await.unwrap();

    assert_eq!(fits.status(), StatusCode::NO_CONTENT);
    assert_eq!(over.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(over.headers()["connection"], "close");
    assert_eq!(captured.security_event_names(), ["csp_violation"]);
}

#[tokio::test]
async fn unreadable_or_invalid_bodies_get_400() {
    let (_guard, captured) = capture();
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    let cases: [(&str, Vec<u8>); 8] = [
        ("empty", Vec::new()),
        ("garbage", b"\x00\x01garbage".to_vec()),
        (
            "not UTF-8",
            b"{\"csp-report\": {\"document-uri\": \"\xff\"}}".to_vec(),
        ),
        (
            "truncated",
            br#"{"csp-report": {"document-uri": "https://exa"#.to_vec(),
        ),
        ("no report", br#"{"report": {}}"#.to_vec()),
        ("a string", br#""csp-report""#.to_vec()),
        ("deep nesting", deep.into_bytes()),
        (
            "form data",
            b"document-uri=https%3A%2F%2Fexample.com".to_vec(),
        ),
    ];

    for (name, body) in cases {
        let response = collect(post("application/csp-report", body)).await;

        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
        assert!(response.body().is_empty(), "{name}");
    }
    let failing = Frames::new([Ok(Bytes::from_static(b"{")), Err("reset")].into_iter());
    let response = collect(report_request("application/csp-report", failing)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(captured.security_events().is_empty());
}

#[tokio::test]
async fn hostile_values_give_one_single_line_truncated_event() {
    let (_guard, captured) = capture();
    let long_path = "a".repeat(10_000);
    let url =
        format!("https://example.com/\\u0000\\n\\r\\u001b[31m\\u202e\\\"/{long_path}?token=s3cret");

    let response = collect(post(
        "application/csp-report",
        csp_report(&url, "\\u001b[31mmedia-src"),
    ))
    .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.body().is_empty());
    let events = captured.security_events();
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    // A directive that is not exactly a name is no rule.
    assert_eq!(event.field("rule"), Some("other"));
    let path = logged_path(event);
    assert!(
        path.starts_with(r#""/\0\n\r\u{1b}[31m\u{202e}\"/aaa"#),
        "{path}"
    );
    assert!(path.ends_with("\"..."), "{path}");
    assert!(path.len() < 300, "{} characters", path.len());
    for (field, value) in &event.fields {
        assert!(!value.chars().any(char::is_control), "{field}: {value:?}");
    }
    assert!(!captured.mentions("s3cret"));
}

#[tokio::test]
async fn at_most_twenty_reports_are_logged_per_request() {
    let (_guard, captured) = capture();
    // Four directives, five times each: under the rate limit of identical events.
    let directives = ["worker-src", "manifest-src", "frame-src", "child-src"];
    let reports: Vec<_> = (0..30)
        .map(|i| csp_violation(&format!("https://example.com/{i}"), directives[i % 4]))
        .collect();
    let batch = format!("[{}]", reports.join(","));

    let response = collect(post("application/reports+json", batch)).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let events = captured.security_events();
    assert_eq!(events.len(), 20);
    assert_eq!(logged_path(&events[19]), r#""/19""#);
}
