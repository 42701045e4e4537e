//! `SecurityLayer::strict()` around a plain tower service served by hyper-util over loopback,
//! spoken to by hyper clients over HTTP/1.1 and HTTP/2 prior knowledge (h2c): every strict
//! header arrives with its exact value and a fresh 24-character base64 nonce, fingerprinting
//! headers are stripped, and request and response bodies cross the layer byte for byte,
//! streamed frames and trailers included.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::client::conn::{http1, http2};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tower::{ServiceBuilder, service_fn};
use tower_security::guards::body::BoxError;
use tower_security::{CspNonce, RequestBody, SecurityLayer};

mod common;
use common::{FIXED_HEADERS, STRICT_PERMISSIONS};

/// The frames `/stream` sends, one at a time, and its trailer.
const STREAM_FRAMES: &[&[u8]] = &[b"first,", b"second,", b"", b"\x00\xff binary,", b"last"];
const STREAM_TRAILER: (&str, &str) = ("x-frames", "5");

#[derive(Clone, Copy, Debug)]
enum Protocol {
    Http1,
    Http2,
}

impl Protocol {
    fn version(self) -> Version {
        match self {
            Protocol::Http1 => Version::HTTP_11,
            Protocol::Http2 => Version::HTTP_2,
        }
    }
}

const PROTOCOLS: [Protocol; 2] = [Protocol::Http1, Protocol::Http2];

/// A response body fed frame by frame from another task.
struct FrameReceiver(mpsc::Receiver<Frame<Bytes>>);

impl Body for FrameReceiver {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.get_mut().0.poll_recv(cx).map(|frame| frame.map(Ok))
    }
}

type ResBody = BoxBody<Bytes, Infallible>;

/// `/` says hello with the request's nonce and a `Server` header the layer must strip,
/// `/echo` returns the request body, `/stream` streams [`STREAM_FRAMES`] and a trailer.
async fn app(request: Request<RequestBody<Incoming>>) -> Result<Response<ResBody>, BoxError> {
    let nonce = request.extensions().get::<CspNonce>().copied();
    let response = match (request.method(), request.uri().path()) {
        (&Method::GET, "/") => {
            let body = format!("hello {}", nonce.map(|n| n.to_string()).unwrap_or_default());
            let mut response = Response::new(Full::from(body).boxed());
            let headers = response.headers_mut();
            headers.insert("server", HeaderValue::from_static("hyper/1.0"));
            headers.insert("x-powered-by", HeaderValue::from_static("tokio"));
            response
        }
        (&Method::POST, "/echo") => {
            let body = request.into_body().collect().await?.to_bytes();
            Response::new(Full::from(body).boxed())
        }
        (&Method::GET, "/stream") => {
            let (sender, receiver) = mpsc::channel(1);
            tokio::spawn(async move {
                for frame in STREAM_FRAMES {
                    let frame = Frame::data(Bytes::from_static(frame));
                    if sender.send(frame).await.is_err() {
                        return;
                    }
                    tokio::task::yield_now().await;
                }
                let mut trailers = HeaderMap::new();
                trailers.insert(STREAM_TRAILER.0, HeaderValue::from_static(STREAM_TRAILER.1));
                let _ = sender.send(Frame::trailers(trailers)).await;
            });
            let mut response = Response::new(FrameReceiver(receiver).boxed());
            // HTTP/1.1 sends only the trailer fields the head announces (RFC 9110 §6.6.2).
            let announced = HeaderValue::from_static(STREAM_TRAILER.0);
            response.headers_mut().insert("trailer", announced);
            response
        }
        _ => {
            let mut response = Response::new(Full::default().boxed());
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    };
    Ok(response)
}

/// A server task; dropping it aborts the task and, with it, every connection it serves.
struct Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `app` behind the strict layer on 127.0.0.1 for at most `connections` connections.
async fn serve(connections: usize) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = ServiceBuilder::new()
        .layer(SecurityLayer::strict())
        .service(service_fn(app));
    let task = tokio::spawn(async move {
        let mut served = JoinSet::new();
        for _ in 0..connections {
            let Ok((stream, _)) = listener.accept().await else {
                break;
            };
            let service = TowerToHyperService::new(service.clone());
            served.spawn(async move {
                let io = TokioIo::new(stream);
                let builder = Builder::new(TokioExecutor::new());
                let _ = builder.serve_connection(io, service).await;
            });
        }
        served.join_all().await;
    });
    Server { addr, task }
}

/// Sends `request` on a new connection and returns the response with its whole body.
async fn send(
    addr: SocketAddr,
    protocol: Protocol,
    request: Request<Full<Bytes>>,
) -> (Response<()>, Bytes, Option<HeaderMap>) {
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let response = match protocol {
        Protocol::Http1 => {
            let (mut sender, connection) = http1::handshake(io).await.unwrap();
            let connection = tokio::spawn(connection);
            let response = sender.send_request(request).await.unwrap();
            let (parts, body) = response.into_parts();
            let collected = body.collect().await.unwrap();
            drop(sender);
            closed(connection).await;
            (parts, collected)
        }
        Protocol::Http2 => {
            let (mut sender, connection) =
                http2::handshake(TokioExecutor::new(), io).await.unwrap();
            let connection = tokio::spawn(connection);
            let response = sender.send_request(request).await.unwrap();
            let (parts, body) = response.into_parts();
            let collected = body.collect().await.unwrap();
            drop(sender);
            closed(connection).await;
            (parts, collected)
        }
    };
    let (parts, collected) = response;
    assert_eq!(parts.version, protocol.version(), "{protocol:?}");
    let trailers = collected.trailers().cloned();
    (
        Response::from_parts(parts, ()),
        collected.to_bytes(),
        trailers,
    )
}

/// Waits, bounded, for a client connection to close cleanly once its sender is dropped.
async fn closed<E: std::fmt::Debug>(connection: JoinHandle<Result<(), E>>) {
    let closed = tokio::time::timeout(Duration::from_secs(5), connection).await;
    closed.expect("connection did not close").unwrap().unwrap();
}

fn get(uri: &str) -> Request<Full<Bytes>> {
    Request::get(uri)
        .header("te", "trailers")
        .body(Full::default())
        .unwrap()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .map(|value| value.to_str().expect("visible ASCII header value"))
}

/// The nonce of the strict CSP in `headers`; panics if the CSP is missing or not strict.
fn strict_nonce<'a>(headers: &'a HeaderMap, context: &str) -> &'a str {
    let csp = header(headers, "content-security-policy");
    csp.and_then(common::csp_nonce)
        .unwrap_or_else(|| panic!("{context}: not the strict CSP: {csp:?}"))
}

#[tokio::test]
async fn get_carries_every_strict_header_and_the_body() {
    let server = serve(2 * PROTOCOLS.len()).await;

    for protocol in PROTOCOLS {
        let (first, first_body, _) = send(server.addr, protocol, get("/")).await;
        let (second, _, _) = send(server.addr, protocol, get("/")).await;

        let context = format!("{protocol:?}");
        assert_eq!(first.status(), StatusCode::OK, "{context}");
        let headers = first.headers();
        for (name, expected) in FIXED_HEADERS {
            assert_eq!(header(headers, name), Some(*expected), "{context}: {name}");
        }
        assert_eq!(
            header(headers, "cache-control"),
            Some("no-store, max-age=0"),
            "{context}"
        );
        assert_eq!(
            header(headers, "permissions-policy"),
            Some(STRICT_PERMISSIONS),
            "{context}"
        );
        assert_eq!(header(headers, "server"), None, "{context}");
        assert_eq!(header(headers, "x-powered-by"), None, "{context}");
        let nonce = strict_nonce(headers, &context);
        assert_eq!(first_body, format!("hello {nonce}"), "{context}");
        assert_ne!(strict_nonce(second.headers(), &context), nonce, "{context}");
    }
}

#[tokio::test]
async fn posted_body_is_echoed_byte_identical() {
    // 64 KiB of varied bytes: a multiplicative hash of the offset, mixed with the offset.
    let payload: Bytes = (0u32..64 * 1024)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 ^ (i as u8))
        .collect::<Vec<u8>>()
        .into();
    let server = serve(PROTOCOLS.len()).await;

    for protocol in PROTOCOLS {
        let request = Request::post("/echo")
            .body(Full::new(payload.clone()))
            .unwrap();

        let (response, body, _) = send(server.addr, protocol, request).await;

        assert_eq!(response.status(), StatusCode::OK, "{protocol:?}");
        assert_eq!(body.len(), payload.len(), "{protocol:?}");
        assert!(body == payload, "{protocol:?}: echoed body differs");
        assert_eq!(header(response.headers(), "x-frame-options"), Some("DENY"));
    }
}

#[tokio::test]
async fn streamed_frames_and_trailers_arrive_complete() {
    let expected_body: Vec<u8> = STREAM_FRAMES.concat();
    let server = serve(PROTOCOLS.len()).await;

    for protocol in PROTOCOLS {
        let (response, body, trailers) = send(server.addr, protocol, get("/stream")).await;

        assert_eq!(response.status(), StatusCode::OK, "{protocol:?}");
        assert_eq!(body, expected_body, "{protocol:?}");
        let trailers = trailers.unwrap_or_default();
        assert_eq!(
            header(&trailers, STREAM_TRAILER.0),
            Some(STREAM_TRAILER.1),
            "{protocol:?}"
        );
        assert_eq!(
            header(response.headers(), "x-content-type-options"),
            Some("nosniff")
        );
    }
}
