//! Server-sent events cross `SecurityLayer` as they are produced, one frame at a time: an
//! axum `Sse` stream served over loopback reaches a hyper HTTP/1.1 client event by event,
//! with the security headers and without a `Content-Length`, and the layer's response body
//! reports the inner body's `size_hint` and `is_end_stream` unchanged.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use bytes::Bytes;
use futures_util::StreamExt as _;
use futures_util::stream;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Empty, Full};
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tower::{ServiceBuilder, ServiceExt as _, service_fn};
use tower_security::SecurityLayer;

/// How long any one step may take.
const WAIT: Duration = Duration::from_secs(5);

/// A server task; dropping it aborts the task.
struct SseServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for SseServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `/events` behind `strict()` on 127.0.0.1: one SSE stream whose events carry the
/// data sent on the returned channel, produced only when it is sent; the stream ends when
/// the sender is dropped.
async fn serve() -> (SseServer, mpsc::Sender<&'static str>) {
    let (sender, receiver) = mpsc::channel(1);
    // The first request to `/events` takes the channel; there is no second.
    let feed = Arc::new(Mutex::new(Some(receiver)));
    let events = move || {
        let receiver = feed.lock().unwrap().take();
        async move {
            let mut receiver = receiver.expect("one request for /events");
            let events = stream::poll_fn(move |cx| receiver.poll_recv(cx));
            Sse::new(events.map(|data| Ok::<_, Infallible>(Event::default().data(data))))
        }
    };
    let app = Router::new()
        .route("/events", get(events))
        .layer(SecurityLayer::strict());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (SseServer { addr, task }, sender)
}

/// Opens `/events` over HTTP/1.1 and returns the response once its head has arrived.
async fn subscribe(addr: SocketAddr) -> Response<Incoming> {
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (mut sender, connection) = http1::handshake(io).await.unwrap();
    tokio::spawn(connection);
    let request = Request::get("/events")
        .header("host", addr.to_string())
        .header("accept", "text/event-stream")
        .body(Empty::<Bytes>::new())
        .unwrap();

    let response = tokio::time::timeout(WAIT, sender.send_request(request)).await;
    response.expect("no response head within 5 s").unwrap()
}

/// Reads data frames until one whole event (ended by a blank line) has arrived; `None` once
/// the body has ended. Each read waits at most 5 seconds.
async fn next_event(body: &mut Incoming) -> Option<String> {
    let mut event = Vec::new();
    while !event.ends_with(b"\n\n") {
        let frame = tokio::time::timeout(WAIT, body.frame()).await;
        let Some(frame) = frame.expect("no frame within 5 s") else {
            assert!(event.is_empty(), "the body ended inside an event");
            return None;
        };
        let data = frame.unwrap().into_data().expect("only data frames");
        event.extend_from_slice(&data);
    }
    Some(String::from_utf8(event).unwrap())
}

#[tokio::test]
async fn events_arrive_one_by_one_with_security_headers() {
    let (server, sender) = serve().await;
    sender.send("first").await.unwrap();

    let response = subscribe(server.addr).await;
    let (head, mut body) = response.into_parts();
    let first = next_event(&mut body).await;
    // The second event exists only once the first has reached the client: it cannot have
    // been held back to be sent together with it.
    sender.send("second").await.unwrap();
    let second = next_event(&mut body).await;
    drop(sender);
    let end = next_event(&mut body).await;

    assert_eq!(head.status, StatusCode::OK);
    let headers = &head.headers;
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers.contains_key("content-security-policy"));
    assert_eq!(headers.get("content-length"), None);
    assert_eq!(first.as_deref(), Some("data: first\n\n"));
    assert_eq!(second.as_deref(), Some("data: second\n\n"));
    assert_eq!(end, None);
}

/// Answers one request with `body` through `strict()`, in memory.
async fn through_layer<B>(body: B) -> Response<impl Body>
where
    B: Body<Data = Bytes, Error = Infallible> + Clone + Send + 'static,
{
    let app = service_fn(move |_request| {
        let body = body.clone();
        async move { Ok::<_, Infallible>(Response::new(body)) }
    });
    let service = ServiceBuilder::new()
        .layer(SecurityLayer::strict())
        .service(app);
    let request = Request::get("/")
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();

    service.oneshot(request).await.unwrap()
}

#[tokio::test]
async fn size_hint_and_end_of_stream_pass_through() {
    let full = through_layer(Full::from("abc")).await;
    let empty = through_layer(Empty::<Bytes>::new()).await;

    let full = full.body();
    assert_eq!(full.size_hint().exact(), Some(3));
    assert!(!full.is_end_stream());
    let empty = empty.body();
    assert_eq!(empty.size_hint().exact(), Some(0));
    assert!(empty.is_end_stream());
}
