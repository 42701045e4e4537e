//! Failing without disclosure: server error bodies are replaced, panics in `call`, in the
//! future and in the body never reach the client or the process, inner errors become a
//! scrubbed 500, and the log gets the details, escaped, while credentials never reach it.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use tower::{Service, ServiceExt, service_fn};
use tower_layer::Layer;
use tower_security::{RequestBody, SecurityLayer};

mod common;

use common::events::capture;

const SECRET: &str = "db-7.internal:5432 password=hunter2";

type AppRequest = Request<RequestBody<Full<Bytes>>>;

fn request(method: Method, accept: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri("/orders/42")
        .header("host", "localhost")
        .header("accept", accept)
        .header("cookie", "session=cookie-secret-value")
        .header("authorization", "Bearer token-secret-value")
        .body(Full::from(format!("body {SECRET}")))
        .unwrap()
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Result<Bytes, String>,
}

async fn send<S, B>(service: S, request: Request<Full<Bytes>>) -> Answer
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let response = service.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|err| err.to_string());
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

fn answering(
    status: StatusCode,
    headers: &'static [(&'static str, &'static str)],
) -> impl Service<AppRequest, Response = Response<Full<Bytes>>, Error = Infallible> + Clone {
    service_fn(move |_: AppRequest| async move {
        let mut response = Response::new(Full::from(format!("stack trace: {SECRET}")));
        *response.status_mut() = status;
        for (name, value) in headers {
            response.headers_mut().insert(*name, value.parse().unwrap());
        }
        Ok::<_, Infallible>(response)
    })
}

#[tokio::test]
async fn server_error_bodies_are_replaced_in_the_clients_format() {
    let headers: &[(&str, &str)] = &[
        ("content-encoding", "gzip"),
        ("content-type", "text/x-python-traceback"),
        ("x-debug-token", "abc123"),
        ("retry-after", "120"),
    ];
    let cases = [
        (
            "500 text",
            StatusCode::INTERNAL_SERVER_ERROR,
            "*/*",
            "text/plain; charset=utf-8",
        ),
        (
            "500 json",
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/json",
            "application/problem+json",
        ),
        (
            "500 html",
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/html",
            "text/html; charset=utf-8",
        ),
        (
            "503 keeps Retry-After",
            StatusCode::SERVICE_UNAVAILABLE,
            "*/*",
            "text/plain; charset=utf-8",
        ),
    ];

    for (name, status, accept, content_type) in cases {
        let (_guard, log) = capture();
        let service = SecurityLayer::strict().layer(answering(status, headers));

        let answer = send(service, request(Method::GET, accept)).await;

        let body = answer.body.unwrap();
        let text = std::str::from_utf8(&body).unwrap();
        let id = answer.headers["x-request-id"].to_str().unwrap();
        assert_eq!(answer.status, status, "{name}");
        assert!(
            !text.contains("db-7") && !text.contains("stack trace"),
            "{name}: {text}"
        );
        assert!(text.contains(id), "{name}: the body names the request id");
        assert_eq!(answer.headers["content-type"], content_type, "{name}");
        assert_eq!(
            answer.headers["content-length"],
            body.len().to_string(),
            "{name}"
        );
        assert!(answer.headers.get("content-encoding").is_none(), "{name}");
        assert!(answer.headers.get("x-debug-token").is_none(), "{name}");
        assert_eq!(answer.headers["retry-after"], "120", "{name}");
        assert_eq!(log.security_event_names(), ["error_scrubbed"], "{name}");
        let event = &log.security_events()[0];
        assert_eq!(event.field("request_id"), Some(id), "{name}");
    }
}

#[tokio::test]
async fn head_and_client_errors() {
    let not_found = || answering(StatusCode::NOT_FOUND, &[]);
    let failing = answering(StatusCode::INTERNAL_SERVER_ERROR, &[]);
    let scrubbing = SecurityLayer::builder()
        .scrub_client_errors(true)
        .build()
        .unwrap();

    let head = send(
        SecurityLayer::strict().layer(failing),
        request(Method::HEAD, "*/*"),
    )
    .await;
    let kept = send(
        SecurityLayer::strict().layer(not_found()),
        request(Method::GET, "*/*"),
    )
    .await;
    let scrubbed = send(scrubbing.layer(not_found()), request(Method::GET, "*/*")).await;

    assert_eq!(head.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(head.body.unwrap().is_empty(), "HEAD answers without a body");
    let kept = String::from_utf8(kept.body.unwrap().to_vec()).unwrap();
    assert!(
        kept.contains("stack trace"),
        "4xx bodies are kept by default"
    );
    let scrubbed = String::from_utf8(scrubbed.body.unwrap().to_vec()).unwrap();
    assert!(
        scrubbed.starts_with("Not Found\nrequest id: "),
        "{scrubbed}"
    );
}

/// A future that is pending once, then panics.
struct PanicsAfterPending(bool);

impl Future for PanicsAfterPending {
    type Output = Result<Response<Full<Bytes>>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if !self.0 {
            self.0 = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        panic!("future panic: {SECRET}")
    }
}

/// A body whose first frame is fine and whose second panics.
struct PanicsOnSecondFrame(u8);

impl Body for PanicsOnSecondFrame {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0 += 1;
        if self.0 == 1 {
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"first")))));
        }
        panic!("body panic: {SECRET}")
    }
}

#[derive(Clone)]
struct PanicsInCall;

impl Service<AppRequest> for PanicsInCall {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: AppRequest) -> Self::Future {
        if request.uri().path() == "/panic" {
            panic!("call panic: {SECRET}");
        }
        std::future::ready(Ok(Response::new(Full::from("fine"))))
    }
}

#[tokio::test]
async fn panics_never_reach_the_client_and_the_service_keeps_serving() {
    let (_guard, log) = capture();
    let mut in_call = SecurityLayer::strict().layer(PanicsInCall);
    let in_future =
        SecurityLayer::strict().layer(service_fn(|_: AppRequest| PanicsAfterPending(false)));
    let in_body = SecurityLayer::strict().layer(service_fn(|_: AppRequest| async {
        Ok::<_, Infallible>(Response::new(PanicsOnSecondFrame(0)))
    }));
    let mut panicking = request(Method::GET, "*/*");
    *panicking.uri_mut() = "/panic".parse().unwrap();

    let call = send(&mut in_call, panicking).await;
    let after = send(&mut in_call, request(Method::GET, "*/*")).await;
    let future = send(in_future, request(Method::GET, "application/json")).await;
    let response = in_body.oneshot(request(Method::GET, "*/*")).await.unwrap();
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let second = body.frame().await.unwrap();
    let end = body.frame().await;

    for (name, answer) in [("call", &call), ("future", &future)] {
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR, "{name}");
        let text = String::from_utf8(answer.body.clone().unwrap().to_vec()).unwrap();
        assert!(
            !text.contains("panic") && !text.contains("db-7"),
            "{name}: {text}"
        );
        assert!(
            text.contains(answer.headers["x-request-id"].to_str().unwrap()),
            "{name}"
        );
        assert_eq!(
            answer.headers["x-content-type-options"], "nosniff",
            "{name}"
        );
    }
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(after.body.unwrap(), "fine");
    assert_eq!(first, "first");
    let error = second.unwrap_err().to_string();
    assert_eq!(error, "the response body panicked");
    assert!(end.is_none(), "the stream ends after the panic");
    let panics: Vec<_> = log
        .security_events()
        .into_iter()
        .filter(|event| event.field("event") == Some("panic"))
        .collect();
    let places: Vec<_> = panics
        .iter()
        .filter_map(|event| event.field("rule"))
        .collect();
    assert_eq!(places, ["call", "future", "body"]);
    for event in &panics {
        let payload = event.field("detail").unwrap();
        assert!(payload.contains("panic: db-7.internal"), "{payload}");
    }
}

#[tokio::test]
async fn inner_errors_become_a_scrubbed_500() {
    let failing = service_fn(|_: AppRequest| async {
        Err::<Response<Full<Bytes>>, _>(std::io::Error::other(SECRET))
    });

    let answer = send(
        SecurityLayer::strict().layer(failing),
        request(Method::POST, "*/*"),
    )
    .await;

    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    let text = String::from_utf8(answer.body.unwrap().to_vec()).unwrap();
    assert!(
        text.starts_with("Internal Server Error\nrequest id: "),
        "{text}"
    );
}

#[tokio::test]
async fn nothing_secret_reaches_the_client_and_no_credential_reaches_the_log() {
    let (_guard, log) = capture();
    let echo_failure = service_fn(|request: AppRequest| async move {
        let body = request.into_body().collect().await.unwrap().to_bytes();
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = StatusCode::BAD_GATEWAY;
        Ok::<_, Infallible>(response)
    });
    let layer = SecurityLayer::strict();
    let mut panicking = request(Method::GET, "*/*");
    *panicking.uri_mut() = "/panic".parse().unwrap();
    let mut refused = request(Method::TRACE, "*/*");
    refused.headers_mut().insert(
        "x-note",
        "a\u{7}b"
            .parse()
            .unwrap_or(http::HeaderValue::from_static("x")),
    );

    let answers = [
        send(layer.layer(echo_failure), request(Method::POST, "*/*")).await,
        send(layer.layer(PanicsInCall), panicking).await,
        send(layer.layer(answering(StatusCode::OK, &[])), refused).await,
    ];

    for answer in &answers {
        let body = String::from_utf8_lossy(answer.body.as_ref().unwrap()).into_owned();
        let head = format!("{:?}", answer.headers);
        for secret in ["db-7", "hunter2", "cookie-secret", "token-secret", "panic"] {
            assert!(
                !body.contains(secret) && !head.contains(secret),
                "{secret}: {body} {head}"
            );
        }
    }
    let events = log.events();
    assert!(!events.is_empty());
    for event in events {
        for (name, value) in &event.fields {
            assert!(!value.contains("cookie-secret"), "{name}: {value}");
            assert!(!value.contains("token-secret"), "{name}: {value}");
            assert!(!value.chars().any(char::is_control), "{name}: {value:?}");
        }
    }
}
