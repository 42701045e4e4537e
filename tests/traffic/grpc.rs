//! A gRPC server for the load suite: tonic with the health service (unary `Check`,
//! server-streaming `Watch`) and a hand-made service over a raw-bytes codec, which needs no
//! protobuf schema, generated code or `protoc`, for the client-streaming and bidirectional
//! calls the health service lacks.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf as _, BufMut as _, Bytes};
use futures_util::{Stream, StreamExt as _, stream};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataMap;
use tonic::server::NamedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server as GrpcServer};
use tonic::{Status, Streaming};
use tonic_health::ServingStatus as Reported;
use tonic_health::server::HealthReporter;
use tower_security::SecurityLayer;

use super::{FNV_OFFSET, Server, fnv1a, payload, policy_headers};

/// The name of [`Streams`], which the health service reports as serving.
pub const SERVING: &str = "load.Streams";
/// The paths of [`Streams`]' methods.
pub const DIGEST: &str = "/load.Streams/Digest";
pub const ECHO: &str = "/load.Streams/Echo";
pub const FILL: &str = "/load.Streams/Fill";

/// A gRPC codec for raw bytes: a message is whatever bytes it holds, so no protobuf schema,
/// code generation or `protoc` is needed to stream messages of any size.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawCodec;

#[derive(Debug)]
pub struct RawEncoder;

#[derive(Debug)]
pub struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// A hand-made gRPC service over [`RawCodec`]:
///
/// | method | kind | answer |
/// |---|---|---|
/// | `Digest` | client streaming | the length and hash of each message, 12 bytes each |
/// | `Echo` | bidirectional | each message, prefixed with its index |
/// | `Fill` | server streaming | the messages [`fill_message`] makes for a count and seed |
#[derive(Clone, Debug)]
pub struct Streams;

impl NamedService for Streams {
    const NAME: &'static str = SERVING;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl tower::Service<http::Request<tonic::body::Body>> for Streams {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(RawCodec);
            let response = match request.uri().path() {
                DIGEST => {
                    let digest = tower::service_fn(digest);
                    grpc.client_streaming(digest, request).await
                }
                ECHO => grpc.streaming(tower::service_fn(echo), request).await,
                FILL => {
                    let fill = tower::service_fn(fill);
                    grpc.server_streaming(fill, request).await
                }
                _ => Status::unimplemented("no such method").into_http(),
            };
            Ok(response)
        })
    }
}

/// What `Digest` answers for one message: its length and hash.
pub fn digest_entry(message: &[u8]) -> [u8; 12] {
    let mut entry = [0; 12];
    entry[..4].copy_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    entry[4..].copy_from_slice(&fnv1a(FNV_OFFSET, message).to_be_bytes());
    entry
}

async fn digest(
    request: tonic::Request<Streaming<Bytes>>,
) -> Result<tonic::Response<Bytes>, Status> {
    let mut messages = request.into_inner();
    let mut digests = Vec::new();
    while let Some(message) = messages.message().await? {
        digests.extend_from_slice(&digest_entry(&message));
    }
    Ok(tonic::Response::new(digests.into()))
}

/// What `Echo` answers to message `i`.
pub fn echo_reply(i: u64, message: &[u8]) -> Bytes {
    [&i.to_be_bytes()[..], message].concat().into()
}

async fn echo(
    request: tonic::Request<Streaming<Bytes>>,
) -> Result<tonic::Response<impl Stream<Item = Result<Bytes, Status>> + Send + 'static>, Status> {
    let replies = request
        .into_inner()
        .enumerate()
        .map(|(i, message)| message.map(|message| echo_reply(i as u64, &message)));
    Ok(tonic::Response::new(replies))
}

/// Message `i` of a `Fill` with `seed`.
pub fn fill_message(seed: u64, i: u64) -> Bytes {
    payload(seed + i, SIZES[i as usize % SIZES.len()] * 4)
}

/// A `Fill` request: how many messages, and the seed.
pub fn fill_request(count: u64, seed: u64) -> Bytes {
    [count.to_be_bytes(), seed.to_be_bytes()].concat().into()
}

async fn fill(
    request: tonic::Request<Bytes>,
) -> Result<tonic::Response<impl Stream<Item = Result<Bytes, Status>> + Send + 'static>, Status> {
    let request = request.into_inner();
    let (count, seed) = match <[u8; 16]>::try_from(&request[..]) {
        Ok(fields) => (
            u64::from_be_bytes(fields[..8].try_into().unwrap()),
            u64::from_be_bytes(fields[8..].try_into().unwrap()),
        ),
        Err(_) => return Err(Status::invalid_argument("16 bytes")),
    };
    let messages = stream::iter((0..count).map(move |i| Ok(fill_message(seed, i))));
    Ok(tonic::Response::new(messages))
}

/// gRPC message sizes, taken in turn. A call's request messages must stay under the body
/// limit in all: the layer counts a request stream like any other body.
pub const SIZES: [usize; 6] = [0, 1, 100, 1000, 8000, 16_000];

/// A tonic server with the health service, reporting [`SERVING`] as serving, and [`Streams`]
/// behind `layer`.
pub async fn serve(layer: SecurityLayer) -> (Server, HealthReporter) {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(SERVING, Reported::Serving)
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = GrpcServer::builder()
        .layer(layer)
        .add_service(health)
        .add_service(Streams);
    let task = tokio::spawn(async move {
        router
            .serve_with_incoming(TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    (Server::from_task(addr, task), reporter)
}

/// A channel to the server at `addr`, connected.
pub async fn channel(addr: SocketAddr) -> Channel {
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).unwrap();
    endpoint.connect().await.unwrap()
}

/// Panics unless a gRPC response's metadata carries the policy's headers.
pub fn check_metadata(metadata: &MetadataMap) {
    if let Err(problem) = policy_headers(&metadata.clone().into_headers()) {
        panic!("gRPC metadata: {problem}");
    }
}
