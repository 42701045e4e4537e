//! A minimal HTTP/1.1 server for the end-to-end comparison: one stack from
//! `benches/support/mod.rs` over hyper, on a single-threaded runtime so its CPU time per
//! request is easy to read. `benches/e2e.py` starts one per stack and drives them with wrk.
//!
//! ```text
//! cargo bench --bench e2e_server -- --serve strict_all --port 3001
//! ```
//!
//! Without `--serve` it prints how to use it and exits, so a plain `cargo bench` does not
//! block on it.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::{Layer, Service};
use tower_security::SecurityLayer;

mod support;

use support::{App, Floor, Stripping};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|arg| arg == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let Some(stack) = value("--serve") else {
        println!("the end-to-end server: run `python3 benches/e2e.py`");
        return;
    };
    let port: u16 = value("--port")
        .and_then(|port| port.parse().ok())
        .unwrap_or(3000);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let headers = support::headers_sent_by(&support::strict_all());
    runtime.block_on(async move {
        match stack.as_str() {
            "bare" => serve(addr, App).await,
            "floor" => serve(addr, Floor::new(App, headers)).await,
            "strict" => serve(addr, SecurityLayer::strict().layer(App)).await,
            "strict_all" => serve(addr, support::strict_all().layer(App)).await,
            "tower_http" => {
                let stack = support::tower_http_stack(App, &headers, Stripping::Scan);
                serve(addr, stack).await
            }
            "tower_http_by_name" => {
                let stack = support::tower_http_stack(App, &headers, Stripping::ByName);
                serve(addr, stack).await
            }
            other => panic!("no stack named {other}"),
        }
    });
}

async fn serve<S, B>(addr: SocketAddr, service: S)
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind(addr).await.expect("the port is free");
    println!("listening on http://{addr}");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
