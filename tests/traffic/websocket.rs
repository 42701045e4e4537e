//! The WebSocket side of the load suite: an echo route and a client that pushes 10 MiB
//! through it while reading the echo, then compares hashes both ways.

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::any;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;

use super::{FNV_OFFSET, HANG, fnv1a, random_bytes, sum_body};

/// The bytes echoed each way.
pub const TOTAL: usize = 10 << 20;
/// Message sizes, taken in turn: around frame and buffer sizes, and larger.
const SIZES: [usize; 6] = [65_536, 1, 4093, 30_000, 131_072, 777];

/// The echo route: every binary message back as it came; the text `done` is answered with the
/// length and hash of every binary byte received.
pub fn routes() -> Router {
    // `any`: the upgrade is a GET over HTTP/1.1 and a CONNECT over HTTP/2.
    Router::new().route("/ws", any(echo))
}

async fn echo(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|mut socket: WebSocket| async move {
        let (mut len, mut hash) = (0, FNV_OFFSET);
        while let Some(Ok(message)) = socket.recv().await {
            let reply = match message {
                Message::Binary(data) => {
                    len += data.len();
                    hash = fnv1a(hash, &data);
                    Message::Binary(data)
                }
                Message::Text(text) if text.as_str() == "done" => {
                    Message::Text(sum_body(len, hash).into())
                }
                _ => continue,
            };
            if socket.send(reply).await.is_err() {
                return;
            }
        }
    })
}

/// What one echo of [`TOTAL`] bytes took.
pub struct Echoed {
    pub messages: usize,
    pub bytes: usize,
}

/// Sends [`TOTAL`] bytes of binary messages on `socket` while reading the echoes, then
/// checks that the server received every byte and that every byte came back.
pub async fn echo_10_mib<S>(socket: WebSocketStream<S>) -> Echoed
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Written from another task while the echoes are read: a server echoing into a full socket
    // stops reading, and a client that only wrote would then wait on it for ever.
    let (mut sink, mut stream) = socket.split();
    let writer = tokio::spawn(async move {
        let (mut sent, mut hash, mut messages) = (0, FNV_OFFSET, 0);
        while sent < TOTAL {
            let len = SIZES[messages % SIZES.len()].min(TOTAL - sent);
            let data = random_bytes(messages as u64, len);
            hash = fnv1a(hash, &data);
            sink.send(tungstenite::Message::binary(data)).await.unwrap();
            sent += len;
            messages += 1;
        }
        sink.send(tungstenite::Message::text("done")).await.unwrap();
        (sink, hash, messages)
    });
    let (mut received, mut hash, mut messages) = (0, FNV_OFFSET, 0);
    let summary = loop {
        let message = timeout(HANG, stream.next()).await.expect("an echo");
        match message.expect("an open socket").expect("a message") {
            tungstenite::Message::Binary(data) => {
                received += data.len();
                hash = fnv1a(hash, &data);
                messages += 1;
            }
            tungstenite::Message::Text(text) => break text.as_str().to_owned(),
            other => panic!("unexpected {other:?}"),
        }
    };
    let (sink, sent_hash, sent_messages) = writer.await.unwrap();
    let mut socket = sink.reunite(stream).unwrap();
    // Over HTTP/2 the server may end the stream (RST_STREAM with NO_ERROR, RFC 9113 §8.1) as
    // soon as it has answered our close frame, before the client has shut its side down, and
    // the client then reports that reset; every byte has been checked by then.
    let _ = socket.close(None).await;
    // The server's close frame, or the stream's end, ends the stream.
    while let Some(Ok(_)) = timeout(HANG, socket.next()).await.expect("a close") {}

    assert_eq!(
        summary,
        sum_body(TOTAL, sent_hash),
        "what the server received"
    );
    assert_eq!(received, TOTAL, "bytes echoed");
    assert_eq!(hash, sent_hash, "the echo differs from what was sent");
    assert_eq!(messages, sent_messages);
    Echoed {
        messages,
        bytes: received,
    }
}
