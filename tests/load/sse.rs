//! Server-sent events through the layer: complete, in order, and each before the next is
//! produced.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Extension, Path};
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use futures_util::Stream;
use tokio::sync::mpsc;

use super::*;

const SUBSCRIBERS: u64 = 8;
const EVENTS: u64 = 200;

/// Per subscriber, the gate its stream waits on before producing each event.
type Gates = Arc<Mutex<HashMap<u64, mpsc::UnboundedReceiver<()>>>>;

/// `GET /events/{subscriber}`: [`EVENTS`] events, each produced only once the subscriber has
/// opened the gate for it, which it does only after receiving the previous one. An event
/// held back anywhere on the way therefore stops the stream, and the test fails on a bounded
/// wait instead of passing late.
async fn events(
    Path(subscriber): Path<u64>,
    Extension(gates): Extension<Gates>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let gate = gates.lock().unwrap().remove(&subscriber);
    let gate = gate.expect("a registered subscriber");
    let events = stream::unfold((gate, 0), move |(mut gate, i)| async move {
        if i == EVENTS {
            return None;
        }
        gate.recv().await?;
        let event = Event::default()
            .id(i.to_string())
            .data(event_data(subscriber, i));
        Some((Ok(event), (gate, i + 1)))
    });
    Sse::new(events)
}

/// The data of event `i` for `subscriber`, long enough to fill more than one TCP segment now
/// and then.
fn event_data(subscriber: u64, i: u64) -> String {
    let filler = "x".repeat((i as usize * 97) % 3000);
    format!("subscriber {subscriber} event {i} {filler}")
}

/// Reads data frames until one whole event (ended by a blank line) has arrived; `None` once
/// the body has ended.
async fn next_event(body: &mut Incoming) -> Option<String> {
    let mut event = Vec::new();
    while !event.ends_with(b"\n\n") {
        let frame = timeout(HANG, body.frame()).await.expect("an event");
        let Some(frame) = frame else {
            assert!(event.is_empty(), "the body ended inside an event");
            return None;
        };
        event.extend_from_slice(&frame.unwrap().into_data().expect("only data frames"));
    }
    Some(String::from_utf8(event).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_sent_events_arrive_whole_in_order_and_one_at_a_time() {
    let gates = Gates::default();
    let app = Router::new()
        .route("/events/{subscriber}", get(events))
        .layer(traffic::layer())
        .layer(Extension(Arc::clone(&gates)));
    let server = traffic::serve(app).await;
    let addr = server.addr;

    let mut subscribers = JoinSet::new();
    for subscriber in 0..SUBSCRIBERS {
        let (open, gate) = mpsc::unbounded_channel();
        gates.lock().unwrap().insert(subscriber, gate);
        let protocol = match subscriber % 2 {
            0 => Protocol::Http1,
            _ => Protocol::Http2,
        };
        subscribers.spawn(async move {
            let mut client = Client::connect(addr, protocol).await;
            let request = protocol
                .request(Method::GET, addr, &format!("/events/{subscriber}"))
                .header("accept", "text/event-stream")
                .body(traffic::full(Bytes::new()))
                .unwrap();
            let response = timeout(HANG, client.open(request)).await;
            let response = response.expect("an answer").unwrap();
            let (head, mut body) = response.into_parts();
            let mut received = Vec::new();
            for _ in 0..EVENTS {
                open.send(()).unwrap();
                received.push(next_event(&mut body).await);
            }
            let end = next_event(&mut body).await;
            client.close().await;
            (subscriber, protocol, head, received, end)
        });
    }
    let subscribers = subscribers.join_all().await;

    let mut bytes = 0;
    for (subscriber, protocol, head, received, end) in &subscribers {
        let context = format!("subscriber {subscriber} over {protocol:?}");
        assert_eq!(head.status, StatusCode::OK, "{context}");
        assert_eq!(
            head.headers["content-type"], "text/event-stream",
            "{context}"
        );
        assert_eq!(head.headers.get("content-length"), None, "{context}");
        check_policy_headers(&head.headers);
        for (i, event) in received.iter().enumerate() {
            let expected = format!("id: {i}\ndata: {}\n\n", event_data(*subscriber, i as u64));
            assert_eq!(
                event.as_deref(),
                Some(expected.as_str()),
                "{context}: event {i}"
            );
            bytes += expected.len();
        }
        assert_eq!(*end, None, "{context}: the stream goes on");
    }
    eprintln!(
        "server-sent events: {SUBSCRIBERS} subscribers (half HTTP/1.1, half h2c) x {EVENTS} \
         events, {bytes} bytes, each event received before the next was produced"
    );
}
