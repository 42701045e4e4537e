//! A WebSocket upgrade on an axum route works through the layer, over a real server: the
//! upgrade handle and `ConnectInfo` reach the handler, and messages flow both ways.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use tokio_tungstenite::tungstenite;
use tower_security::SecurityLayer;
use tower_security::transport::proxies::ClientInfo;

/// Echoes every text message, prefixed with the peer address the handler was given.
async fn echo(
    upgrade: WebSocketUpgrade,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    axum::Extension(client): axum::Extension<ClientInfo>,
) -> Response {
    // With the `axum` feature the layer reads the peer from `ConnectInfo` itself.
    #[cfg(feature = "axum")]
    assert_eq!(client.peer, Some(peer));
    #[cfg(not(feature = "axum"))]
    assert_eq!(client.peer, None);
    upgrade.on_upgrade(move |socket| echo_loop(socket, peer))
}

async fn echo_loop(mut socket: WebSocket, peer: SocketAddr) {
    while let Some(Ok(message)) = socket.recv().await {
        if let Message::Text(text) = message {
            let reply = format!("{}:{}", peer.ip(), text.as_str());
            if socket.send(Message::Text(reply.into())).await.is_err() {
                return;
            }
        }
    }
}

#[tokio::test]
async fn websocket_upgrade_through_the_layer() {
    let app = Router::new()
        .route("/ws", get(echo))
        .layer(SecurityLayer::strict());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, app).await;
    });

    let (mut socket, response) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("the upgrade succeeds");
    use futures_util::{SinkExt as _, StreamExt as _};
    let big = "x".repeat(1 << 20);
    socket
        .send(tungstenite::Message::text("hello"))
        .await
        .unwrap();
    let first = socket.next().await.unwrap().unwrap();
    socket
        .send(tungstenite::Message::text(big.clone()))
        .await
        .unwrap();
    let second = socket.next().await.unwrap().unwrap();
    socket.close(None).await.unwrap();

    server.abort();
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(first.into_text().unwrap().as_str(), "127.0.0.1:hello");
    assert_eq!(
        second.into_text().unwrap().as_str(),
        format!("127.0.0.1:{big}")
    );
}
