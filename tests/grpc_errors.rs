//! `SecurityLayer` scrubs gRPC errors end to end, between a real tonic server and client over
//! loopback: the `grpc-message` of UNKNOWN, INTERNAL and DATA_LOSS becomes `Internal error`,
//! in the head of a trailers-only answer and in the trailers of a stream, while every other
//! code keeps its message and successful calls keep their payload; a panicking handler is an
//! INTERNAL error that names nothing of the panic, and the server goes on serving.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf as _, BufMut as _, Bytes};
use futures_util::future::BoxFuture;
use futures_util::stream::{self, Iter};
use http::uri::PathAndQuery;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder, Streaming};
use tonic::server::NamedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Code, Status};
use tower::{Service, service_fn};
use tower_security::SecurityLayer;

const UNARY: &str = "/test.Errors/Unary";
const STREAM: &str = "/test.Errors/Stream";

/// The message a successful unary call answers with.
const PAYLOAD: &[u8] = b"user 42: alice";
/// The messages every streaming call sends before it ends.
const STREAMED: [&[u8]; 2] = [b"first", b"second"];
/// What the client is told in place of an internal error's message.
const SCRUBBED: &str = "Internal error";

/// One unary call: the request message is the row's `name`, which tells the server's handler
/// which row's `reply` to play.
struct UnaryCase {
    name: &'static str,
    reply: fn() -> Result<Bytes, Status>,
    expected: Expected,
    /// Text of the reply that must reach the client nowhere. It contains no character that
    /// gRPC percent-encodes, so it can be looked for in the raw header values too.
    secret: Option<&'static str>,
}

enum Expected {
    Payload(&'static [u8]),
    Status(Code, &'static str),
}

const UNARY_CASES: &[UnaryCase] = &[
    UnaryCase {
        name: "ok",
        reply: || Ok(Bytes::from_static(PAYLOAD)),
        expected: Expected::Payload(PAYLOAD),
        secret: None,
    },
    UnaryCase {
        name: "internal",
        reply: || {
            Err(Status::internal(
                "db-7.internal: relation users does not exist",
            ))
        },
        expected: Expected::Status(Code::Internal, SCRUBBED),
        secret: Some("db-7.internal"),
    },
    UnaryCase {
        name: "unknown",
        reply: || Err(Status::unknown("cache-3.internal: eviction loop failed")),
        expected: Expected::Status(Code::Unknown, SCRUBBED),
        secret: Some("cache-3.internal"),
    },
    UnaryCase {
        name: "data loss",
        reply: || Err(Status::data_loss("block 7 of /var/lib/pg/base is corrupt")),
        expected: Expected::Status(Code::DataLoss, SCRUBBED),
        secret: Some("/var/lib/pg/base"),
    },
    UnaryCase {
        name: "not found",
        reply: || Err(Status::not_found("no such user")),
        expected: Expected::Status(Code::NotFound, "no such user"),
        secret: None,
    },
    UnaryCase {
        name: "invalid argument",
        reply: || Err(Status::invalid_argument("bad id")),
        expected: Expected::Status(Code::InvalidArgument, "bad id"),
        secret: None,
    },
    UnaryCase {
        name: "permission denied",
        reply: || Err(Status::permission_denied("admins only")),
        expected: Expected::Status(Code::PermissionDenied, "admins only"),
        secret: None,
    },
    UnaryCase {
        name: "panic",
        reply: || panic!("secret panic text"),
        expected: Expected::Status(Code::Internal, SCRUBBED),
        secret: Some("secret"),
    },
    // On the same connection as the panic: the server must still answer.
    UnaryCase {
        name: "ok after a panic",
        reply: || Ok(Bytes::from_static(PAYLOAD)),
        expected: Expected::Payload(PAYLOAD),
        secret: None,
    },
];

/// One server-streaming call: the request message is the row's `name`; the stream sends
/// [`STREAMED`], then fails with `end`.
struct StreamCase {
    name: &'static str,
    end: fn() -> Status,
    expected: (Code, &'static str),
    secret: Option<&'static str>,
}

const STREAM_CASES: &[StreamCase] = &[
    StreamCase {
        name: "internal",
        end: || Status::internal("secret: replica db-7.internal went away"),
        expected: (Code::Internal, SCRUBBED),
        secret: Some("db-7.internal"),
    },
    StreamCase {
        name: "not found",
        end: || Status::not_found("gone"),
        expected: (Code::NotFound, "gone"),
        secret: None,
    },
];

/// Messages as raw bytes: the tests need gRPC framing and statuses, not protobuf.
#[derive(Clone, Copy, Debug, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// The `test.Errors` service, written as tonic's code generator would write it.
#[derive(Clone, Copy, Debug)]
struct Errors;

impl NamedService for Errors {
    const NAME: &'static str = "test.Errors";
}

impl Service<Request<tonic::body::Body>> for Errors {
    type Response = Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(RawCodec);
            let response = match request.uri().path() {
                UNARY => grpc.unary(service_fn(unary), request).await,
                STREAM => grpc.server_streaming(service_fn(streaming), request).await,
                _ => Status::unimplemented("").into_http(),
            };
            Ok(response)
        })
    }
}

fn row_name(request: &tonic::Request<Bytes>) -> &str {
    std::str::from_utf8(request.get_ref()).unwrap_or_default()
}

/// Plays the reply of the [`UNARY_CASES`] row the request names.
async fn unary(request: tonic::Request<Bytes>) -> Result<tonic::Response<Bytes>, Status> {
    let name = row_name(&request);
    let case = UNARY_CASES.iter().find(|case| case.name == name);
    let case = case.ok_or_else(|| Status::invalid_argument("no such row"))?;

    (case.reply)().map(tonic::Response::new)
}

type Messages = Iter<std::vec::IntoIter<Result<Bytes, Status>>>;

/// Streams [`STREAMED`], then the end of the [`STREAM_CASES`] row the request names.
async fn streaming(request: tonic::Request<Bytes>) -> Result<tonic::Response<Messages>, Status> {
    let name = row_name(&request);
    let case = STREAM_CASES.iter().find(|case| case.name == name);
    let case = case.ok_or_else(|| Status::invalid_argument("no such row"))?;

    let messages = STREAMED
        .iter()
        .map(|&message| Ok(Bytes::from_static(message)));
    let items: Vec<_> = messages.chain([Err((case.end)())]).collect();
    Ok(tonic::Response::new(stream::iter(items)))
}

/// A server task; dropping it aborts the task.
struct GrpcServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `test.Errors` behind the strict policy on 127.0.0.1, without HTTPS enforcement:
/// these calls are plaintext h2c, which is plain HTTP and which `strict()` refuses.
async fn serve() -> GrpcServer {
    let layer = SecurityLayer::builder().https(None).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Server::builder().layer(layer).add_service(Errors);
    let task = tokio::spawn(async move {
        router
            .serve_with_incoming(TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    GrpcServer { addr, task }
}

async fn client(addr: SocketAddr) -> tonic::client::Grpc<Channel> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).unwrap();
    tonic::client::Grpc::new(endpoint.connect().await.unwrap())
}

/// Makes a `Unary` call with `message`, waiting at most 5 seconds for the answer.
async fn call_unary(
    client: &mut tonic::client::Grpc<Channel>,
    message: &str,
) -> Result<Bytes, Status> {
    let request = tonic::Request::new(Bytes::copy_from_slice(message.as_bytes()));
    let call = async {
        client.ready().await.unwrap();
        let path = PathAndQuery::from_static(UNARY);
        client.unary(request, path, RawCodec).await
    };

    let response = tokio::time::timeout(Duration::from_secs(5), call).await;
    response
        .expect("no answer within 5 s")
        .map(tonic::Response::into_inner)
}

/// Opens a `Stream` call with `message`, waiting at most 5 seconds for the response head.
async fn call_stream(client: &mut tonic::client::Grpc<Channel>, message: &str) -> Streaming<Bytes> {
    let request = tonic::Request::new(Bytes::copy_from_slice(message.as_bytes()));
    let call = async {
        client.ready().await.unwrap();
        let path = PathAndQuery::from_static(STREAM);
        client.server_streaming(request, path, RawCodec).await
    };

    let response = tokio::time::timeout(Duration::from_secs(5), call).await;
    response
        .expect("no answer within 5 s")
        .unwrap()
        .into_inner()
}

/// The next message of a stream, or how it ended, waiting at most 5 seconds for it.
async fn next_message(stream: &mut Streaming<Bytes>) -> Result<Option<Bytes>, Status> {
    let message = tokio::time::timeout(Duration::from_secs(5), stream.message()).await;
    message.expect("no message within 5 s")
}

/// Panics unless `status` is `code` with exactly `message`, and unless `secret` (if any) is
/// absent from its message, details and metadata alike.
fn assert_status(status: &Status, (code, message): (Code, &str), secret: Option<&str>, name: &str) {
    assert_eq!(status.code(), code, "{name}: {status:?}");
    assert_eq!(status.message(), message, "{name}");
    let Some(secret) = secret else {
        return;
    };
    let contains = |bytes: &[u8]| bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
    assert!(!status.message().contains(secret), "{name}: message");
    assert!(!contains(status.details()), "{name}: details");
    let metadata = status.metadata().clone().into_headers();
    for (header, value) in &metadata {
        assert!(!contains(value.as_bytes()), "{name}: metadata {header}");
    }
    assert!(
        !format!("{status:?}").contains(secret),
        "{name}: {status:?}"
    );
}

#[tokio::test]
async fn unary_errors_are_scrubbed_by_code() {
    let server = serve().await;
    let mut client = client(server.addr).await;

    for case in UNARY_CASES {
        let answer = call_unary(&mut client, case.name).await;

        let name = case.name;
        match (&case.expected, answer) {
            (Expected::Payload(payload), Ok(message)) => assert_eq!(message, payload, "{name}"),
            (&Expected::Status(code, message), Err(status)) => {
                assert_status(&status, (code, message), case.secret, name);
            }
            (_, answer) => panic!("{name}: unexpected answer {answer:?}"),
        }
    }
}

#[tokio::test]
async fn stream_errors_in_trailers_are_scrubbed_by_code() {
    let server = serve().await;
    let mut client = client(server.addr).await;

    for case in STREAM_CASES {
        let mut stream = call_stream(&mut client, case.name).await;
        let first = next_message(&mut stream).await;
        let second = next_message(&mut stream).await;
        let end = next_message(&mut stream).await;

        let name = case.name;
        assert_eq!(first.unwrap().as_deref(), Some(STREAMED[0]), "{name}");
        assert_eq!(second.unwrap().as_deref(), Some(STREAMED[1]), "{name}");
        let status = end.expect_err("the stream ends with its status");
        assert_status(&status, case.expected, case.secret, name);
    }
}

/// Posts one gRPC message to `path` over a raw h2c connection; returns the response head,
/// the whole body and the trailers (empty if none came).
async fn raw_call(
    addr: SocketAddr,
    path: &str,
    message: &[u8],
) -> (Response<()>, Bytes, HeaderMap) {
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (mut sender, connection) = http2::handshake(TokioExecutor::new(), io).await.unwrap();
    let connection = tokio::spawn(connection);
    let call = Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from(framed(message))))
        .unwrap();

    let exchange = async {
        let response = sender.send_request(call).await.unwrap();
        let (parts, body) = response.into_parts();
        (parts, body.collect().await.unwrap())
    };
    let (parts, collected) = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .expect("no answer within 5 s");
    connection.abort();

    let trailers = collected.trailers().cloned().unwrap_or_default();
    (
        Response::from_parts(parts, ()),
        collected.to_bytes(),
        trailers,
    )
}

/// gRPC's 5-byte prefix (uncompressed, big-endian length) followed by `message`.
fn framed(message: &[u8]) -> Vec<u8> {
    let length = u32::try_from(message.len()).unwrap().to_be_bytes();
    [&[0][..], &length, message].concat()
}

#[tokio::test]
async fn raw_h2_error_statuses_carry_the_generic_message() {
    let server = serve().await;

    let (unary, unary_body, unary_trailers) = raw_call(server.addr, UNARY, b"internal").await;
    let (stream, stream_body, trailers) = raw_call(server.addr, STREAM, b"internal").await;

    // A unary error is a trailers-only answer: the status is in the response head.
    assert_eq!(unary.status(), StatusCode::OK);
    assert_eq!(unary.headers()["grpc-status"], "13");
    assert_eq!(unary.headers()["grpc-message"], SCRUBBED);
    assert_eq!(unary.headers()["x-content-type-options"], "nosniff");
    assert!(unary_body.is_empty());
    assert!(unary_trailers.is_empty(), "{unary_trailers:?}");
    // A stream's status follows its messages, in the trailers.
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers().get("grpc-status"), None);
    assert_eq!(stream.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        stream_body,
        [framed(STREAMED[0]), framed(STREAMED[1])].concat()
    );
    assert_eq!(trailers["grpc-status"], "13");
    assert_eq!(trailers["grpc-message"], SCRUBBED);
    assert_eq!(trailers.get_all("grpc-message").iter().count(), 1);
}
