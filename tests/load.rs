//! `SecurityLayer` under concurrent load on a real hyper server, spoken to by real clients:
//!
//! - many HTTP/1.1 and many h2c clients at once get every answer complete, uncorrupted and
//!   meant for them (bodies checked byte for byte or by hash, request id and nonce matched
//!   between head and body), with the policy's headers on each;
//! - pipelined HTTP/1.1 requests on one connection are answered in order, a refusal among
//!   them included, and a body refused unread ends the connection cleanly after its answer;
//! - 10 MiB of WebSocket messages echo intact both ways, over an HTTP/1.1 upgrade and over
//!   HTTP/2 extended CONNECT (RFC 8441);
//! - server-sent events arrive complete, in order, and each before the next is produced;
//! - gRPC unary, server-streaming, client-streaming and bidirectional calls through a tonic
//!   server carry every message intact.
//!
//! The server-sent events and gRPC tests are in `tests/load/`.
//!
//! Each test prints its figures. Nothing here measures time: a bounded wait only turns a
//! hang into a failure.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use futures_util::stream;
use http::{Method, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;

mod common;
mod traffic;

use traffic::websocket::{self, echo_10_mib};
use traffic::{Answer, Client, HANG, Protocol, ReqBody, payload};

// ---------------------------------------------------------------------------------------
// Many clients at once

const CONNECTIONS: usize = 16;
const REQUESTS_PER_CONNECTION: usize = 200;
/// Requests in flight at once on one h2c connection.
const STREAMS_PER_CONNECTION: usize = 8;
/// Request body sizes, taken in turn: empty, tiny, around a frame or buffer size, large.
const BODY_SIZES: [usize; 8] = [0, 1, 17, 1000, 4096, 16_385, 65_536, 250_000];

/// What one request of the load sends, and so what its answer must be.
enum Planned {
    Item(u64),
    /// `POST /echo`, with a declared length or streamed without one.
    Echo(Bytes, bool),
    /// `POST /sum`, streamed in 4 KiB frames.
    Sum(Bytes),
}

impl Planned {
    /// The `n`th request of the load: a GET and three kinds of upload, in turn.
    fn nth(n: u64) -> Planned {
        let size = BODY_SIZES[(n / 4) as usize % BODY_SIZES.len()];
        match n % 4 {
            0 => Planned::Item(n),
            1 => Planned::Echo(payload(n, size), false),
            2 => Planned::Echo(payload(n, size), true),
            _ => Planned::Sum(payload(n, size)),
        }
    }

    fn request(&self, protocol: Protocol, addr: SocketAddr) -> http::Request<ReqBody> {
        let (method, target, body) = match self {
            Planned::Item(n) => (
                Method::GET,
                format!("/item/{n}"),
                traffic::full(Bytes::new()),
            ),
            Planned::Echo(data, false) => {
                (Method::POST, "/echo".into(), traffic::full(data.clone()))
            }
            Planned::Echo(data, true) => (
                Method::POST,
                "/echo".into(),
                traffic::streamed(data.clone(), 16 * 1024),
            ),
            Planned::Sum(data) => (
                Method::POST,
                "/sum".into(),
                traffic::streamed(data.clone(), 4096),
            ),
        };
        protocol.request(method, addr, &target).body(body).unwrap()
    }

    fn check(&self, answer: &Answer) -> Result<(), String> {
        match self {
            Planned::Item(n) => answer.check_item(*n),
            Planned::Echo(data, _) => answer.check_echo(data),
            Planned::Sum(data) => answer.check_sum(data),
        }
    }

    fn uploaded(&self) -> usize {
        match self {
            Planned::Item(_) => 0,
            Planned::Echo(data, _) | Planned::Sum(data) => data.len(),
        }
    }
}

/// Bytes up and down, and requests answered.
#[derive(Default)]
struct Tally {
    requests: usize,
    up: usize,
    down: usize,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.requests += other.requests;
        self.up += other.up;
        self.down += other.down;
    }
}

/// Runs [`CONNECTIONS`] connections of [`REQUESTS_PER_CONNECTION`] requests each against the
/// shared application; h2c connections carry [`STREAMS_PER_CONNECTION`] requests at a time.
async fn hammer(protocol: Protocol) {
    let server = traffic::serve(traffic::routes().layer(traffic::layer())).await;
    let addr = server.addr;
    let started = Instant::now();

    let mut connections = JoinSet::new();
    for c in 0..CONNECTIONS {
        let first = (c * REQUESTS_PER_CONNECTION) as u64;
        connections.spawn(async move {
            let mut client = Client::connect(addr, protocol).await;
            let mut tally = Tally::default();
            match protocol {
                Protocol::Http1 => {
                    for n in first..first + REQUESTS_PER_CONNECTION as u64 {
                        tally.add(one(&mut client, addr, n).await);
                    }
                }
                Protocol::Http2 => {
                    let per_stream = REQUESTS_PER_CONNECTION / STREAMS_PER_CONNECTION;
                    let mut streams = JoinSet::new();
                    for s in 0..STREAMS_PER_CONNECTION {
                        let mut lane = Client::from_h2_sender(client.h2_sender());
                        let first = first + (s * per_stream) as u64;
                        streams.spawn(async move {
                            let mut tally = Tally::default();
                            for n in first..first + per_stream as u64 {
                                tally.add(one(&mut lane, addr, n).await);
                            }
                            tally
                        });
                    }
                    for stream in streams.join_all().await {
                        tally.add(stream);
                    }
                }
            }
            client.close().await;
            tally
        });
    }
    let mut tally = Tally::default();
    for connection in connections.join_all().await {
        tally.add(connection);
    }

    assert_eq!(tally.requests, CONNECTIONS * REQUESTS_PER_CONNECTION);
    eprintln!(
        "{protocol:?}: {} connections x {} requests: {} answers checked, {} bytes up, {} bytes \
         down, in {:.2?} (debug builds are slow; not a benchmark)",
        CONNECTIONS,
        REQUESTS_PER_CONNECTION,
        tally.requests,
        tally.up,
        tally.down,
        started.elapsed()
    );
}

/// Sends request `n` on `client`; panics unless its answer is the right one. Returns its share
/// of the figures.
async fn one(client: &mut Client, addr: SocketAddr, n: u64) -> Tally {
    let planned = Planned::nth(n);
    let answer = timeout(HANG, client.send(planned.request(client.protocol, addr))).await;
    let answer = answer.unwrap_or_else(|_| panic!("request {n}: no answer"));
    let answer = answer.unwrap_or_else(|e| panic!("request {n}: {e}"));
    if let Err(problem) = planned.check(&answer) {
        panic!("request {n}: {problem}");
    }
    Tally {
        requests: 1,
        up: planned.uploaded(),
        down: answer.body.len(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_http1_clients_each_get_their_whole_answers() {
    hammer(Protocol::Http1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_h2c_clients_each_get_their_whole_answers() {
    hammer(Protocol::Http2).await;
}

// ---------------------------------------------------------------------------------------
// HTTP/1.1 pipelining

const PIPELINED: usize = 96;
/// Bodies of the pipelined uploads, taken in turn.
const PIPELINED_SIZES: [usize; 5] = [0, 5, 700, 2048, 9000];

/// The answer a pipelined request must get.
enum Due {
    Item(u64),
    Echo(Bytes),
    Sum(Bytes),
    Refusal(StatusCode),
}

/// The `i`th pipelined request as it goes on the wire, and its due answer. Among uploads and
/// downloads: a dot-segment target and a TRACE, which the layer refuses without closing, since
/// neither carries a body.
fn pipelined(i: usize) -> (Vec<u8>, Due) {
    let n = i as u64;
    let data = payload(n, PIPELINED_SIZES[(i / 6) % PIPELINED_SIZES.len()]);
    let head = |line: &str| format!("{line} HTTP/1.1\r\nhost: 127.0.0.1\r\n");
    match i % 6 {
        0 | 3 => (
            format!("{}\r\n", head(&format!("GET /item/{n}"))).into_bytes(),
            Due::Item(n),
        ),
        1 => {
            let mut wire = format!(
                "{}content-length: {}\r\n\r\n",
                head("POST /echo"),
                data.len()
            )
            .into_bytes();
            wire.extend_from_slice(&data);
            (wire, Due::Echo(data))
        }
        2 => {
            let mut wire =
                format!("{}transfer-encoding: chunked\r\n\r\n", head("POST /sum")).into_bytes();
            for chunk in data.chunks(1000) {
                wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                wire.extend_from_slice(chunk);
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(b"0\r\n\r\n");
            (wire, Due::Sum(data))
        }
        4 => (
            format!("{}\r\n", head("GET /a/../b")).into_bytes(),
            Due::Refusal(StatusCode::BAD_REQUEST),
        ),
        _ => (
            format!("{}\r\n", head("TRACE /item/1")).into_bytes(),
            Due::Refusal(StatusCode::METHOD_NOT_ALLOWED),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order() {
    let server = traffic::serve(traffic::routes().layer(traffic::layer())).await;
    let (requests, dues): (Vec<_>, Vec<_>) = (0..PIPELINED).map(pipelined).unzip();
    let mut wire = requests.concat();
    // Last, an upload over the limit whose body never comes: the layer answers 413 at once and
    // closes, since the body is left unread.
    wire.extend_from_slice(
        b"POST /echo HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 2000000\r\n\r\n",
    );
    let written = wire.len();
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (read, mut write) = stream.into_split();

    // Written from another task while the answers are read, so that neither side can fill
    // its buffers and wait for the other. The write half stays open: a half-closed
    // connection may be closed by the server before it has answered everything.
    let writer = tokio::spawn(async move {
        write.write_all(&wire).await.unwrap();
        write
    });
    let mut reader = BufReader::new(read);
    let mut answers = Vec::new();
    for i in 0..=PIPELINED {
        let answer = timeout(HANG, traffic::wire::read_response(&mut reader)).await;
        let answer = answer.unwrap_or_else(|_| panic!("answer {i}: none"));
        answers.push(answer.unwrap_or_else(|| panic!("answer {i}: the connection closed")));
    }
    let mut rest = Vec::new();
    let end = timeout(HANG, reader.read_to_end(&mut rest)).await;
    let write = writer.await.unwrap();
    drop(write);

    let read: usize = answers.iter().map(|a| a.body.len()).sum();
    for (i, (answer, due)) in answers.iter().zip(&dues).enumerate() {
        let checked = match due {
            Due::Item(n) => answer.check_item(*n),
            Due::Echo(data) => answer.check_echo(data),
            Due::Sum(data) => answer.check_sum(data),
            Due::Refusal(status) => answer.check_refusal(*status),
        };
        if let Err(problem) = checked {
            panic!("answer {i}: {problem}");
        }
    }
    let last = &answers[PIPELINED];
    last.check_refusal(StatusCode::PAYLOAD_TOO_LARGE).unwrap();
    assert_eq!(last.header("connection"), Some("close"));
    let end = end.expect("the server did not close after the 413");
    end.expect("a clean close, not a reset");
    assert!(
        rest.is_empty(),
        "{} bytes after the last answer",
        rest.len()
    );
    eprintln!(
        "pipelining: {} requests ({written} bytes) written back to back on one connection, {} \
         answers read in order ({read} body bytes), then a clean close",
        PIPELINED + 1,
        answers.len()
    );
}

// ---------------------------------------------------------------------------------------
// WebSocket echo, over an HTTP/1.1 upgrade and over HTTP/2 extended CONNECT

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_echo_of_10_mib_over_an_http1_upgrade() {
    let server = traffic::serve(websocket::routes().layer(traffic::layer())).await;
    let stream = TcpStream::connect(server.addr).await.unwrap();

    let url = format!("ws://{}/ws", server.addr);
    let (socket, response) = tokio_tungstenite::client_async(url, stream).await.unwrap();
    let echoed = echo_10_mib(socket).await;

    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    check_policy_headers(response.headers());
    eprintln!(
        "WebSocket over HTTP/1.1: {} bytes in {} messages each way, hashes equal",
        echoed.bytes, echoed.messages
    );
}

/// Opens `/ws` with an extended CONNECT (RFC 8441 §4) on a new h2c connection, with the
/// extra `headers` a browser would add.
async fn connect_websocket(
    addr: SocketAddr,
    headers: &[(&str, &str)],
) -> (Client, http::Response<Incoming>) {
    let mut client = Client::connect(addr, Protocol::Http2).await;
    let mut request = Protocol::Http2
        .request(Method::CONNECT, addr, "/ws")
        .extension(hyper::ext::Protocol::from_static("websocket"))
        .header("sec-websocket-version", "13");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(traffic::full(Bytes::new())).unwrap();
    let response = timeout(HANG, client.open(request)).await;
    (client, response.expect("an answer").unwrap())
}

/// Asks for a tunnel with a classic CONNECT, whose target is an authority alone (RFC 9110
/// §9.3.6), on a new h2c connection.
async fn connect_tunnel(addr: SocketAddr) -> (Client, http::Response<Incoming>) {
    let mut client = Client::connect(addr, Protocol::Http2).await;
    let request = http::Request::builder()
        .method(Method::CONNECT)
        .uri(addr.to_string())
        .body(traffic::full(Bytes::new()))
        .unwrap();
    let response = timeout(HANG, client.open(request)).await;
    (client, response.expect("an answer").unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_echo_of_10_mib_over_h2_extended_connect() {
    let server = traffic::serve(websocket::routes().layer(traffic::layer())).await;

    let (client, mut response) = connect_websocket(server.addr, &[]).await;
    let upgraded = timeout(HANG, hyper::upgrade::on(&mut response)).await;
    let io = TokioIo::new(upgraded.expect("an upgrade").unwrap());
    let socket = WebSocketStream::from_raw_socket(io, Role::Client, None).await;
    let echoed = echo_10_mib(socket).await;
    client.close().await;
    let cross_site = [("origin", "https://evil.example")];
    let (forged_client, forged) = connect_websocket(server.addr, &cross_site).await;
    let (tunnel_client, tunnel) = connect_tunnel(server.addr).await;
    forged_client.close().await;
    tunnel_client.close().await;

    // RFC 8441 §5: a 2xx answer opens the tunnel. The default allow-list lets the HTTP/2
    // handshake through as it lets the HTTP/1.1 one, a GET.
    assert_eq!(response.status(), StatusCode::OK);
    check_policy_headers(response.headers());
    // Another site's page cannot open a socket with the user's cookies.
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // A tunnel to another host still needs CONNECT in the list.
    assert_eq!(tunnel.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        !tunnel.headers()["allow"]
            .to_str()
            .unwrap()
            .contains("CONNECT")
    );
    eprintln!(
        "WebSocket over HTTP/2 extended CONNECT: {} bytes in {} messages each way, hashes \
         equal; a cross-site handshake refused with 403, a tunnel with 405",
        echoed.bytes, echoed.messages
    );
}

/// Panics unless `headers` carry the policy's headers ([`traffic::policy_headers`]).
fn check_policy_headers(headers: &http::HeaderMap) {
    if let Err(problem) = traffic::policy_headers(headers) {
        panic!("{problem}");
    }
}

#[path = "load/sse.rs"]
mod sse;

#[path = "load/tonic_calls.rs"]
mod tonic_calls;
