//! `SecurityLayer` on a real tonic server (the gRPC health service) over loopback:
//! unary and server-streaming calls still work through the layer, gRPC statuses survive both
//! in a trailers-only error answer and in the trailers of a successful one, the protobuf
//! body is untouched, and the security headers reach the response head. The calls are
//! plaintext h2c, which `strict()` refuses, with or without a host to redirect to: a gRPC
//! client follows no redirect.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http2;
use hyper::header::HeaderMap;
use hyper::http::response::Parts;
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tonic::metadata::MetadataMap;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Code, Streaming};
use tonic_health::ServingStatus as Reported;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_health::server::HealthReporter;
use tower_security::SecurityLayer;
use tower_security::transport::https::HttpsEnforcement;

mod common;
use common::Transport;

const SERVING: &str = "demo.Greeter";
const NOT_SERVING: &str = "demo.Billing";

/// A health server; dropping it aborts the server task.
struct GrpcServer {
    addr: SocketAddr,
    reporter: HealthReporter,
    task: JoinHandle<()>,
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The strict policy without HTTPS enforcement. Plaintext h2c is plain HTTP: in production
/// the answer to it is a refusal (see `strict_refuses_plaintext_grpc`), so these tests switch
/// enforcement off to see the rest of the policy at work on gRPC.
fn strict_over_plaintext() -> SecurityLayer {
    SecurityLayer::builder().https(None).build().unwrap()
}

/// A health server behind `layer` on 127.0.0.1.
async fn serve(layer: SecurityLayer) -> GrpcServer {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(SERVING, Reported::Serving)
        .await;
    reporter
        .set_service_status(NOT_SERVING, Reported::NotServing)
        .await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Server::builder().layer(layer).add_service(health);
    let task = tokio::spawn(async move {
        router
            .serve_with_incoming(TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    GrpcServer {
        addr,
        reporter,
        task,
    }
}

async fn client(addr: SocketAddr) -> HealthClient<Channel> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).unwrap();
    HealthClient::new(endpoint.connect().await.unwrap())
}

fn request(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_owned(),
    }
}

/// Panics unless `metadata` carries the strict headers for a plain-HTTP response (no HSTS,
/// no `upgrade-insecure-requests`) and a generated request id.
fn assert_security_headers(metadata: &MetadataMap, context: &str) {
    let header = |name: &str| metadata.get(name).map(|value| value.to_str().unwrap());
    for (name, expected) in common::fixed_headers(Transport::PlainHttp) {
        assert_eq!(header(name), expected, "{context}: {name}");
    }
    let csp = header("content-security-policy").unwrap_or_default();
    assert!(
        common::csp_nonce_for(csp, Transport::PlainHttp).is_some(),
        "{context}: {csp}"
    );
    let id = header("x-request-id");
    assert!(
        id.is_some_and(common::is_generated_request_id),
        "{context}: {id:?}"
    );
}

/// The next message of a Watch stream, waiting at most 5 seconds for it.
async fn next_status(stream: &mut Streaming<HealthCheckResponse>) -> ServingStatus {
    let message = tokio::time::timeout(Duration::from_secs(5), stream.message()).await;
    let message = message.expect("no message within 5 s").unwrap();
    message.expect("stream ended early").status()
}

#[tokio::test]
async fn unary_check_reports_each_status_with_security_headers() {
    let server = serve(strict_over_plaintext()).await;
    let mut client = client(server.addr).await;
    let cases = [
        ("whole server", "", ServingStatus::Serving),
        ("serving service", SERVING, ServingStatus::Serving),
        ("stopped service", NOT_SERVING, ServingStatus::NotServing),
    ];

    for (name, service, expected) in cases {
        let response = client.check(request(service)).await;

        let response = response.unwrap_or_else(|status| panic!("{name}: {status:?}"));
        assert_security_headers(response.metadata(), name);
        assert_eq!(response.into_inner().status(), expected, "{name}");
    }
}

#[tokio::test]
async fn unknown_service_is_not_found() {
    let server = serve(strict_over_plaintext()).await;
    let mut client = client(server.addr).await;

    let status = client.check(request("demo.Unknown")).await.unwrap_err();

    // tonic answers an error as a trailers-only response: `grpc-status` and `grpc-message`
    // share the response head with the layer's headers, and must survive it.
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.message(), "service not registered");
    assert_security_headers(status.metadata(), "trailers-only error");
}

/// Posts one gRPC message (without its 5-byte prefix) to `Health/Check` over a raw h2c
/// connection; returns the response head, the whole body and the trailers.
async fn raw_check(addr: SocketAddr, message: &[u8]) -> (Parts, Bytes, Option<HeaderMap>) {
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (mut sender, connection) = http2::handshake(TokioExecutor::new(), io).await.unwrap();
    let connection = tokio::spawn(connection);
    let mut framed = vec![0];
    framed.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(message);
    let call = Request::post(format!("http://{addr}/grpc.health.v1.Health/Check"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from(framed)))
        .unwrap();

    let response = sender.send_request(call).await.unwrap();
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.unwrap();
    connection.abort();

    let trailers = collected.trailers().cloned();
    (parts, collected.to_bytes(), trailers)
}

/// One raw `Health/Check` call and what must come back.
struct RawCase {
    name: &'static str,
    /// The protobuf `HealthCheckRequest`, without gRPC's 5-byte prefix.
    message: Vec<u8>,
    /// `grpc-status` in the response head (a trailers-only answer) or in its trailers.
    head_status: Option<&'static str>,
    trailer_status: Option<&'static str>,
    body: &'static [u8],
}

#[tokio::test]
async fn raw_h2_calls_keep_the_body_and_grpc_status() {
    let server = serve(strict_over_plaintext()).await;
    let cases = [
        RawCase {
            name: "whole server",
            message: Vec::new(),
            head_status: None,
            trailer_status: Some("0"),
            // Prefix, then field 1 (varint) = SERVING (1).
            body: &[0, 0, 0, 0, 2, 0x08, 0x01],
        },
        RawCase {
            name: "unknown service",
            // Field 1 (length-delimited): 0x0a, length, bytes.
            message: [&[0x0a, 12][..], b"demo.Unknown"].concat(),
            head_status: Some("5"),
            trailer_status: None,
            body: &[],
        },
    ];

    for case in cases {
        let (parts, body, trailers) = raw_check(server.addr, &case.message).await;

        let name = case.name;
        assert_eq!(parts.status, StatusCode::OK, "{name}");
        let header = |name: &str| parts.headers.get(name).map(|value| value.to_str().unwrap());
        assert_eq!(header("content-type"), Some("application/grpc"), "{name}");
        assert_eq!(header("grpc-status"), case.head_status, "{name}");
        for (header_name, expected) in common::fixed_headers(Transport::PlainHttp) {
            assert_eq!(header(header_name), expected, "{name}: {header_name}");
        }
        let trailers = trailers.unwrap_or_default();
        let trailer = trailers
            .get("grpc-status")
            .map(|value| value.to_str().unwrap());
        assert_eq!(trailer, case.trailer_status, "{name}");
        assert_eq!(body, case.body, "{name}");
    }
}

#[tokio::test]
async fn watch_streams_each_status_change() {
    let server = serve(strict_over_plaintext()).await;
    let mut client = client(server.addr).await;

    let response = client.watch(request(SERVING)).await.unwrap();
    let metadata = response.metadata().clone();
    let mut stream = response.into_inner();
    let first = next_status(&mut stream).await;
    server
        .reporter
        .set_service_status(SERVING, Reported::NotServing)
        .await;
    let second = next_status(&mut stream).await;

    assert_security_headers(&metadata, "watch");
    assert_eq!(first, ServingStatus::Serving);
    assert_eq!(second, ServingStatus::NotServing);
}

#[tokio::test]
async fn strict_refuses_plaintext_grpc() {
    let strict = serve(SecurityLayer::strict()).await;
    let redirecting = SecurityLayer::builder()
        .https(HttpsEnforcement::redirect_to("grpc.example.com"))
        .build()
        .unwrap();
    let redirecting = serve(redirecting).await;
    let mut client = client(strict.addr).await;

    let status = client.check(request(SERVING)).await.unwrap_err();
    let (refused, body, trailers) = raw_check(strict.addr, &[]).await;
    let (not_redirected, _, _) = raw_check(redirecting.addr, &[]).await;

    // A serving service's check fails with the layer's gRPC-shaped refusal: a trailers-only
    // answer whose `grpc-status` is PERMISSION_DENIED, which the client reports as such.
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    for (name, parts) in [("strict", &refused), ("redirect_to", &not_redirected)] {
        assert_eq!(parts.status, StatusCode::OK, "{name}");
        assert_eq!(parts.headers.get("location"), None, "{name}");
        assert_eq!(parts.headers["grpc-status"], "7", "{name}");
        assert_eq!(parts.headers["content-type"], "application/grpc", "{name}");
        assert_eq!(parts.headers.get(common::HSTS.0), None, "{name}");
    }
    assert!(body.is_empty());
    assert_eq!(trailers, None);
}
