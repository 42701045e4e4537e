//! Size limits, the method allow-list and the request-target rules through the layer: each
//! limit from both sides, bodies that lie about or hide their length, an endless body,
//! ambiguous targets, and a real HTTP/1.1 client that uploads past the limit and still reads a
//! complete `413`.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use tower::{ServiceExt, service_fn};
use tower_layer::Layer;
use tower_security::guards::limits::RequestLimits;
use tower_security::{Refused, RequestBody, SecurityLayer};

mod common;

use common::events::capture;

const LIMIT: u64 = 1024;

/// A body of `frames` frames of `size` bytes each, or an endless one, with no length hint.
struct Frames {
    size: usize,
    left: Option<usize>,
}

impl Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(left) = &mut self.left {
            if *left == 0 {
                return Poll::Ready(None);
            }
            *left -= 1;
        }
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; self.size])))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// What the handler saw: bytes read before the body ended or failed.
#[derive(Clone, Default)]
struct Seen(Arc<AtomicU64>);

/// A layer with a 1 KiB body limit around a handler that reads the whole body and answers
/// `200` with the byte count, or `500` (as a careless handler would) when reading fails.
async fn upload<B>(body: B, headers: &[(&str, &str)]) -> (Response<Bytes>, u64)
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let seen = Seen::default();
    let counter = seen.clone();
    let layer = SecurityLayer::builder()
        .request_limits(RequestLimits::strict().max_body_size(LIMIT))
        .build()
        .unwrap();
    let service = layer.layer(service_fn(move |request: Request<RequestBody<B>>| {
        let counter = counter.clone();
        async move {
            let mut body = request.into_body();
            let mut status = StatusCode::OK;
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(frame) => {
                        let len = frame.data_ref().map_or(0, Bytes::len) as u64;
                        counter.0.fetch_add(len, Ordering::SeqCst);
                    }
                    Err(_) => {
                        status = StatusCode::INTERNAL_SERVER_ERROR;
                        break;
                    }
                }
            }
            let read = counter.0.load(Ordering::SeqCst).to_string();
            let mut response = Response::new(Full::new(Bytes::from(read)));
            *response.status_mut() = status;
            Ok::<_, Infallible>(response)
        }
    }));
    let mut request = Request::post("/upload").header("host", "localhost");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }

    let response = service.oneshot(request.body(body).unwrap()).await.unwrap();

    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        Response::from_parts(parts, body),
        seen.0.load(Ordering::SeqCst),
    )
}

fn sized(len: u64) -> Full<Bytes> {
    Full::new(Bytes::from(vec![b'y'; len as usize]))
}

#[tokio::test]
async fn content_length_limit_from_both_sides() {
    let cases = [
        ("limit - 1", LIMIT - 1, 200),
        ("limit", LIMIT, 200),
        ("limit + 1", LIMIT + 1, 413),
    ];

    for (name, len, status) in cases {
        let (response, seen) = upload(sized(len), &[("content-length", &len.to_string())]).await;

        assert_eq!(response.status().as_u16(), status, "{name}");
        if status == 413 {
            assert_eq!(seen, 0, "{name}: the application must not be called");
            assert_eq!(response.headers()["connection"], "close", "{name}");
            assert_eq!(response.body(), "Payload Too Large\n", "{name}");
            assert_eq!(response.extensions().get(), Some(&Refused::BodyTooLarge));
        } else {
            assert_eq!(seen, len, "{name}");
        }
    }
}

#[tokio::test]
async fn streamed_bodies_are_counted_and_cut_at_the_limit() {
    let cases = [
        ("1-byte frames, limit", 1, Some(LIMIT as usize), 200, LIMIT),
        (
            "1-byte frames, limit + 1",
            1,
            Some(LIMIT as usize + 1),
            413,
            LIMIT,
        ),
        ("one frame, limit", LIMIT as usize, Some(1), 200, LIMIT),
        ("one huge frame", 64 << 20, Some(1), 413, 0),
        ("endless 1 KiB frames", 1024, None, 413, LIMIT),
        ("endless 1-byte frames", 1, None, 413, LIMIT),
    ];

    for (name, size, frames, status, max_seen) in cases {
        let (log_guard, log) = capture();

        let (response, seen) = upload(Frames { size, left: frames }, &[]).await;

        drop(log_guard);
        assert_eq!(response.status().as_u16(), status, "{name}");
        assert!(seen <= max_seen, "{name}: the application saw {seen} bytes");
        if status == 413 {
            assert_eq!(response.body(), "Payload Too Large\n", "{name}");
            assert_eq!(log.security_event_names(), ["body_too_large"], "{name}");
        }
    }
}

#[tokio::test]
async fn lying_and_conflicting_lengths() {
    // Name, request headers, body length in 1-byte frames, status.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], u64, u16);
    let cases: [Case; 5] = [
        (
            "conflicting",
            &[("content-length", "10"), ("content-length", "11")],
            10,
            400,
        ),
        (
            "list of different",
            &[("content-length", "10, 11")],
            10,
            400,
        ),
        ("not digits", &[("content-length", "ten")], 10, 400),
        ("negative", &[("content-length", "-1")], 10, 400),
        ("claims small, limit + 1 in frames", &[], LIMIT + 1, 413),
    ];

    for (name, headers, len, status) in cases {
        let (response, seen) = upload(
            Frames {
                size: 1,
                left: Some(len as usize),
            },
            headers,
        )
        .await;

        assert_eq!(response.status().as_u16(), status, "{name}");
        if status == 400 {
            assert_eq!(seen, 0, "{name}");
            assert_eq!(response.body(), "Bad Request\n", "{name}");
        }
    }
}

#[tokio::test]
async fn header_limits_give_431() {
    let layer = SecurityLayer::strict();
    let service = layer.layer(service_fn(|_: Request<RequestBody<Full<Bytes>>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    }));
    // `count` fields in all, the first of them `Host`, which every request needs.
    let with = |count: usize, value_len: usize| {
        let mut request = Request::get("/").header("host", "localhost");
        for i in 1..count {
            request = request.header(format!("x-h{i}"), "v".repeat(value_len));
        }
        request.body(Full::<Bytes>::default()).unwrap()
    };
    let cases = [
        ("100 fields", with(100, 1), 200),
        ("101 fields", with(101, 1), 431),
        ("8 KiB value", with(2, 8 << 10), 200),
        ("8 KiB + 1 value", with(2, (8 << 10) + 1), 431),
        ("32 KiB in all", with(5, 8 << 10), 431),
        ("just under 32 KiB", with(4, 8 << 10), 200),
    ];

    for (name, request, status) in cases {
        let response = service.clone().oneshot(request).await.unwrap();

        assert_eq!(response.status().as_u16(), status, "{name}");
    }
}

#[tokio::test]
async fn methods_outside_the_list_get_405_with_allow() {
    let service =
        SecurityLayer::strict().layer(service_fn(|_: Request<RequestBody<Full<Bytes>>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        }));
    let request = |method: &str, header: Option<(&str, &str)>| {
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .header("host", "localhost");
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        request.uri("/").body(Full::<Bytes>::default()).unwrap()
    };
    let cases = [
        ("GET", request("GET", None), 200),
        ("TRACE", request("TRACE", None), 405),
        ("PROPFIND", request("PROPFIND", None), 405),
        (
            "override",
            request("POST", Some(("x-http-method-override", "DELETE"))),
            400,
        ),
    ];

    for (name, request, status) in cases {
        let response = service.clone().oneshot(request).await.unwrap();

        assert_eq!(response.status().as_u16(), status, "{name}");
        if status == 405 {
            let allow = response.headers().get("allow");
            let expected = HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
            assert_eq!(allow, Some(&expected), "{name}");
        }
    }
}

#[tokio::test]
async fn ambiguous_request_targets_are_refused() {
    let service =
        SecurityLayer::strict().layer(service_fn(|_: Request<RequestBody<Full<Bytes>>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        }));
    let long = format!("/{}", "a".repeat(9000));
    let cases = [
        ("plain", "/files/report.pdf?page=2", 200),
        ("dot segment", "/static/%2e%2e/admin", 400),
        ("encoded slash", "/a/..%2fb", 400),
        ("path parameter", "/..;/admin", 400),
        ("control character", "/a%00b", 400),
        ("over 8 KiB", long.as_str(), 414),
    ];

    for (name, target, status) in cases {
        let request = Request::builder()
            .uri(target)
            .header("host", "localhost")
            .body(Full::<Bytes>::default())
            .unwrap();

        let response = service.clone().oneshot(request).await.unwrap();

        assert_eq!(response.status().as_u16(), status, "{name}");
    }
}

/// A real hyper HTTP/1.1 server with a 1 KiB body limit, whose handler reads the whole body.
async fn serve() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let layer = SecurityLayer::builder()
        .request_limits(RequestLimits::strict().max_body_size(LIMIT))
        .build()
        .unwrap();
    let service = layer.layer(service_fn(
        |request: Request<RequestBody<hyper::body::Incoming>>| async move {
            let read = request
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().len());
            let body = read.map_or_else(|_| "failed".to_owned(), |n| n.to_string());
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
        },
    ));
    let server = tokio::spawn(async move {
        // Bounded: the tests here open a handful of connections.
        for _ in 0..8 {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let io = TokioIo::new(stream);
                let _ = Builder::new(TokioExecutor::new())
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    (addr, server)
}

/// Sends `head` and then `body`, and reads until the server closes the connection.
async fn exchange(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer and close before taking the whole body; that is the point.
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut response),
    );
    let _ = read
        .await
        .expect("the server answers and closes within 5 s");
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn a_real_client_uploading_past_the_limit_reads_a_complete_413() {
    let (addr, server) = serve().await;
    let declared = "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\
                    Expect: 100-continue\r\n\r\n";
    let chunked = "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let chunks: Vec<u8> = (0..LIMIT / 64 + 2)
        .flat_map(|_| [b"40\r\n".as_slice(), &[b'z'; 64], b"\r\n"].concat())
        .collect();

    let early = exchange(addr, declared, b"").await;
    let counted = exchange(addr, chunked, &chunks).await;

    server.abort();
    for (name, response) in [("declared length", &early), ("chunked", &counted)] {
        assert!(
            response.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
            "{name}: {response}"
        );
        assert!(
            response.contains("\r\nconnection: close\r\n"),
            "{name}: {response}"
        );
        assert!(
            response.contains("\r\ncontent-length: 18\r\n"),
            "{name}: {response}"
        );
        assert!(
            response.ends_with("\r\n\r\nPayload Too Large\n"),
            "{name}: {response}"
        );
        assert!(
            !response.contains("100 Continue"),
            "{name}: body was never asked for"
        );
    }
}
