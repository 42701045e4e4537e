//! gRPC through a tonic server behind the layer: unary, server-, client- and bidirectional
//! streaming calls carry every message intact.

use http::uri::PathAndQuery;
use tokio::sync::mpsc;
use tonic::Streaming;
use tonic_health::ServingStatus as Reported;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use super::*;
use crate::traffic::grpc::{self, RawCodec, SERVING};

const UNARY_CLIENTS: usize = 8;
const UNARY_CALLS: usize = 50;
const WATCH_CHANGES: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_unary_and_server_streaming_calls_through_tonic() {
    let (server, reporter) = grpc::serve(traffic::layer()).await;
    let channel = grpc::channel(server.addr).await;

    // Unary: many concurrent Checks multiplexed on one connection.
    let mut clients = JoinSet::new();
    for _ in 0..UNARY_CLIENTS {
        let mut client = HealthClient::new(channel.clone());
        clients.spawn(async move {
            for _ in 0..UNARY_CALLS {
                let request = HealthCheckRequest {
                    service: SERVING.to_owned(),
                };
                let response = timeout(HANG, client.check(request))
                    .await
                    .expect("an answer");
                let response = response.unwrap();
                grpc::check_metadata(response.metadata());
                assert_eq!(response.into_inner().status(), ServingStatus::Serving);
            }
        });
    }
    clients.join_all().await;

    // Server streaming, health's Watch: each change is waited for before the next is made,
    // since Watch reports the latest status and may skip one that was overtaken.
    let mut health = HealthClient::new(channel.clone());
    let request = HealthCheckRequest {
        service: SERVING.to_owned(),
    };
    let response = health.watch(request).await.unwrap();
    grpc::check_metadata(response.metadata());
    let mut watch = response.into_inner();
    let mut statuses = vec![next_status(&mut watch).await];
    for change in 0..WATCH_CHANGES {
        let (reported, expected) = match change % 2 {
            0 => (Reported::NotServing, ServingStatus::NotServing),
            _ => (Reported::Serving, ServingStatus::Serving),
        };
        reporter.set_service_status(SERVING, reported).await;
        let status = next_status(&mut watch).await;
        assert_eq!(status, expected, "change {change}");
        statuses.push(status);
    }

    // Server streaming, raw: 300 messages of up to 64 KiB.
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    timeout(HANG, grpc.ready()).await.unwrap().unwrap();
    let (count, seed) = (300, 7);
    let path = PathAndQuery::from_static(grpc::FILL);
    let request = tonic::Request::new(grpc::fill_request(count, seed));
    let response = grpc
        .server_streaming(request, path, RawCodec)
        .await
        .unwrap();
    grpc::check_metadata(response.metadata());
    let mut messages = response.into_inner();
    let mut filled = 0;
    for i in 0..count {
        let message = timeout(HANG, messages.message()).await.expect("a message");
        let message = message.unwrap().expect("more messages");
        assert!(message == grpc::fill_message(seed, i), "message {i}");
        filled += message.len();
    }
    assert_eq!(messages.message().await.unwrap(), None);

    assert_eq!(statuses[0], ServingStatus::Serving);
    eprintln!(
        "gRPC: {} unary Checks on one channel from {UNARY_CLIENTS} clients, a Watch that \
         reported {} statuses in order, a server stream of {count} messages ({filled} bytes)",
        UNARY_CLIENTS * UNARY_CALLS,
        statuses.len()
    );
}

async fn next_status(stream: &mut Streaming<HealthCheckResponse>) -> ServingStatus {
    let message = timeout(HANG, stream.message()).await.expect("a status");
    message.unwrap().expect("the stream goes on").status()
}

const DIGEST_CALLS: usize = 4;
const DIGEST_MESSAGES: usize = 64;
const ECHO_MESSAGES: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_client_and_bidirectional_streaming_calls_through_tonic() {
    let (server, _reporter) = grpc::serve(traffic::layer()).await;
    let channel = grpc::channel(server.addr).await;
    let message = |call: usize, i: usize| {
        payload((call * 1000 + i) as u64, grpc::SIZES[i % grpc::SIZES.len()])
    };

    // Client streaming: concurrent calls, each answered with a digest of every message.
    let mut calls = JoinSet::new();
    for call in 0..DIGEST_CALLS {
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        calls.spawn(async move {
            let sent: Vec<Bytes> = (0..DIGEST_MESSAGES).map(|i| message(call, i)).collect();
            timeout(HANG, grpc.ready()).await.unwrap().unwrap();
            let path = PathAndQuery::from_static(grpc::DIGEST);
            let request = tonic::Request::new(stream::iter(sent.clone()));
            let response = timeout(HANG, grpc.client_streaming(request, path, RawCodec)).await;
            let response = response.expect("an answer").unwrap();
            grpc::check_metadata(response.metadata());
            let expected: Vec<u8> = sent.iter().flat_map(|m| grpc::digest_entry(m)).collect();
            assert!(
                response.into_inner() == expected,
                "call {call}: digests differ"
            );
            sent.iter().map(Bytes::len).sum::<usize>()
        });
    }
    let digested: usize = calls.join_all().await.into_iter().sum();

    // Bidirectional, in lockstep: each message is sent only once the previous reply has
    // arrived, so neither direction can be held back until the call ends.
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    timeout(HANG, grpc.ready()).await.unwrap().unwrap();
    let (outbound, mut queue) = mpsc::channel::<Bytes>(1);
    let requests = stream::poll_fn(move |cx| queue.poll_recv(cx));
    outbound.send(message(100, 0)).await.unwrap();
    let path = PathAndQuery::from_static(grpc::ECHO);
    let call = grpc.streaming(tonic::Request::new(requests), path, RawCodec);
    let response = timeout(HANG, call).await.expect("an answer").unwrap();
    grpc::check_metadata(response.metadata());
    let mut replies = response.into_inner();
    let mut echoed = 0;
    for i in 0..ECHO_MESSAGES {
        let reply = timeout(HANG, replies.message()).await.expect("a reply");
        let reply = reply.unwrap().expect("more replies");
        assert!(
            reply == grpc::echo_reply(i as u64, &message(100, i)),
            "reply {i}"
        );
        echoed += reply.len();
        if i + 1 < ECHO_MESSAGES {
            outbound.send(message(100, i + 1)).await.unwrap();
        }
    }
    drop(outbound);
    assert_eq!(
        timeout(HANG, replies.message()).await.unwrap().unwrap(),
        None
    );

    // Bidirectional, free-running: every message sent at once, the replies read afterwards.
    let sent: Vec<Bytes> = (0..ECHO_MESSAGES).map(|i| message(200, i)).collect();
    let path = PathAndQuery::from_static(grpc::ECHO);
    let request = tonic::Request::new(stream::iter(sent.clone()));
    timeout(HANG, grpc.ready()).await.unwrap().unwrap();
    let response = grpc.streaming(request, path, RawCodec).await.unwrap();
    let mut replies = response.into_inner();
    for (i, message) in sent.iter().enumerate() {
        let reply = timeout(HANG, replies.message()).await.expect("a reply");
        let reply = reply.unwrap().expect("more replies");
        assert!(
            reply == grpc::echo_reply(i as u64, message),
            "free-running reply {i}"
        );
        echoed += reply.len();
    }
    assert_eq!(replies.message().await.unwrap(), None);

    eprintln!(
        "gRPC: {DIGEST_CALLS} concurrent client streams of {DIGEST_MESSAGES} messages \
         ({digested} bytes) digested intact; {} bidirectional messages echoed intact ({echoed} \
         bytes), half in lockstep",
        2 * ECHO_MESSAGES
    );
}
