//! `SecurityLayer` around a plain tower service served by hyper-util over loopback, spoken to
//! by hyper clients over HTTP/1.1 and HTTP/2 prior knowledge (h2c): every strict header
//! arrives with its exact value and a fresh 24-character base64 nonce, the HTTPS-only ones
//! only where the request was not known to be plain HTTP, fingerprinting headers are stripped,
//! and request and response bodies cross the layer byte for byte, streamed frames and trailers
//! included. `strict()` itself refuses h2c, which is plain HTTP.

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
use hyper::http::request::Builder as RequestBuilder;
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
use common::{STRICT_PERMISSIONS, Transport};

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

    /// What the layer learns of the transport: an HTTP/1.1 request in origin form carries no
    /// scheme, while hyper gives an h2c request the `http` scheme its client sent in
    /// `:scheme`.
    fn transport(self) -> Transport {
        match self {
            Protocol::Http1 => Transport::HttpsOrUnknown,
            Protocol::Http2 => Transport::PlainHttp,
        }
    }

    /// A request for `path` on the server at `addr`, naming the host as each protocol does:
    /// `Host` and an origin-form target over HTTP/1.1, `:scheme` and `:authority` (from an
    /// absolute URI) over HTTP/2.
    fn request(self, method: Method, addr: SocketAddr, path: &str) -> RequestBuilder {
        match self {
            Protocol::Http1 => Request::builder()
                .method(method)
                .uri(path)
                .header("host", addr.to_string()),
            Protocol::Http2 => Request::builder()
                .method(method)
                .uri(format!("http://{addr}{path}")),
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

/// The strict policy without HTTPS enforcement. h2c is plain HTTP: in production the answer
/// to it is a refusal (see `strict_refuses_h2c`), so these tests switch enforcement off to
/// see the rest of the policy at work over both protocols.
fn strict_over_plain_http() -> SecurityLayer {
    SecurityLayer::builder().https(None).build().unwrap()
}

/// Serves `app` behind `layer` on 127.0.0.1 for at most `connections` connections.
async fn serve(layer: SecurityLayer, connections: usize) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = ServiceBuilder::new().layer(layer).service(service_fn(app));
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

fn get(protocol: Protocol, addr: SocketAddr, path: &str) -> Request<Full<Bytes>> {
    protocol
        .request(Method::GET, addr, path)
        .header("te", "trailers")
        .body(Full::default())
        .unwrap()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .map(|value| value.to_str().expect("visible ASCII header value"))
}

/// The nonce of the strict CSP for `protocol`'s transport in `headers`; panics if the CSP is
/// missing or not that one.
fn strict_nonce(headers: &HeaderMap, protocol: Protocol) -> &str {
    let csp = header(headers, "content-security-policy");
    csp.and_then(|csp| common::csp_nonce_for(csp, protocol.transport()))
        .unwrap_or_else(|| panic!("{protocol:?}: not the strict CSP: {csp:?}"))
}

#[tokio::test]
async fn get_carries_every_strict_header_and_the_body() {
    let server = serve(strict_over_plain_http(), 2 * PROTOCOLS.len()).await;

    for protocol in PROTOCOLS {
        let addr = server.addr;
        let (first, first_body, _) = send(addr, protocol, get(protocol, addr, "/")).await;
        let (second, _, _) = send(addr, protocol, get(protocol, addr, "/")).await;

        let context = format!("{protocol:?}");
        assert_eq!(first.status(), StatusCode::OK, "{context}");
        let headers = first.headers();
        for (name, expected) in common::fixed_headers(protocol.transport()) {
            assert_eq!(header(headers, name), expected, "{context}: {name}");
        }
        let id = header(headers, "x-request-id");
        assert!(
            id.is_some_and(common::is_generated_request_id),
            "{context}: {id:?}"
        );
        assert_ne!(header(second.headers(), "x-request-id"), id, "{context}");
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
        let nonce = strict_nonce(headers, protocol);
        assert_eq!(first_body, format!("hello {nonce}"), "{context}");
        assert_ne!(strict_nonce(second.headers(), protocol), nonce, "{context}");
    }
}

#[tokio::test]
async fn posted_body_is_echoed_byte_identical() {
    // 64 KiB of varied bytes: a multiplicative hash of the offset, mixed with the offset.
    let payload: Bytes = (0u32..64 * 1024)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 ^ (i as u8))
        .collect::<Vec<u8>>()
        .into();
    let server = serve(strict_over_plain_http(), PROTOCOLS.len()).await;

    for protocol in PROTOCOLS {
        let request = protocol
            .request(Method::POST, server.addr, "/echo")
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
    let server = serve(strict_over_plain_http(), PROTOCOLS.len()).await;

    for protocol in PROTOCOLS {
        let request = get(protocol, server.addr, "/stream");

        let (response, body, trailers) = send(server.addr, protocol, request).await;

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

#[tokio::test]
async fn strict_refuses_h2c() {
    let server = serve(SecurityLayer::strict(), PROTOCOLS.len()).await;
    let addr = server.addr;

    let (http1, _, _) = send(addr, Protocol::Http1, get(Protocol::Http1, addr, "/")).await;
    let (h2c, body, _) = send(addr, Protocol::Http2, get(Protocol::Http2, addr, "/")).await;

    // Nothing tells the layer an HTTP/1.1 request in origin form is plain: it passes, as it
    // would behind a TLS-terminating proxy. An h2c request says `:scheme http`, and with no
    // canonical host to redirect it to, it is refused.
    assert_eq!(http1.status(), StatusCode::OK);
    assert_eq!(
        header(http1.headers(), common::HSTS.0),
        Some(common::HSTS.1)
    );
    assert_eq!(h2c.status(), StatusCode::FORBIDDEN);
    assert_eq!(body, "Forbidden\n");
    assert_eq!(header(h2c.headers(), "location"), None);
    assert_eq!(header(h2c.headers(), common::HSTS.0), None);
    assert_eq!(header(h2c.headers(), "x-frame-options"), Some("DENY"));
}
