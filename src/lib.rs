//! A web security policy for any Tower HTTP service, in one layer.
//!
//! `tower-security` gives an axum `Router`, a hyper service or a tonic server the controls a
//! written security policy (OWASP, PCI-DSS, SOC 2) asks of every web service, with strict
//! defaults and a builder that refuses a weak or broken setting when the layer is built, not
//! when a request arrives.
//!
//! ```
//! use axum::{routing::get, Router};
//! use tower_security::SecurityLayer;
//!
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(SecurityLayer::strict());
//! ```
//!
//! Every response now carries a strict Content Security Policy with a fresh nonce, HSTS,
//! framing, MIME-sniffing, referrer, permissions and cross-origin isolation headers, and no
//! header that discloses the server's stack. Every cookie the application sets leaves with
//! `Secure`, `HttpOnly` and `SameSite=Strict`, and a state-changing request that another site
//! started is refused with `403` ([`cross_origin`]). Requests pass size limits, a
//! request-target firewall and method and `Host` checks ([`guards`]); plain HTTP is sent to
//! HTTPS ([`transport`]); server errors and panics answer generically ([`scrub`]). Each
//! security decision is a `tracing` event ([`events`]), rate-limited, counted, and handed to
//! an optional alerting hook. [`SecurityLayer::audit`] lists each setting that weakens the
//! policy, with a stable id, a fix and its compliance mappings ([`audit`]).
//!
//! # Defaults
//!
#![doc = include_str!("../docs/defaults.md")]
//!
//! Each header is tuned or switched off with [`SecurityLayerBuilder`];
//! [`SecurityLayer::embeddable`] is a preset for pages that other sites frame or that load
//! third-party assets. A header the application sets itself is kept, so a route can tailor
//! one ([`SecurityLayerBuilder::override_app_headers`] makes the policy win instead).
//!
//! # The CSP nonce
//!
//! The strict policy allows a script only if it carries the request's nonce. The layer puts
//! it in the request's extensions as a [`CspNonce`] (with the `axum` feature, also an
//! extractor); stamp it on the `<script>` and `<style>` elements the page trusts:
//!
//! ```
//! use axum::{response::Html, Extension};
//! use tower_security::CspNonce;
//!
//! async fn page(Extension(nonce): Extension<CspNonce>) -> Html<String> {
//!     Html(format!(r#"<script nonce="{nonce}">document.title = "ready"</script>"#))
//! }
//! ```
//!
//! # Session security
//!
//! [`cookies::CookiePolicy`] decides what every `Set-Cookie` gets, which cookies scripts may
//! read, and which are signed or encrypted under a checked [`cookies::SecretKey`]. The same
//! settings come from the environment variables enterprise policies name:
//!
//! ```
//! use tower_security::SecurityLayerBuilder;
//!
//! // In production: `SecurityLayer::from_env()?`, reading the process environment.
//! let vars = |name: &str| match name {
//!     "SESSION_COOKIE_SAMESITE" => Some("Lax".to_owned()),
//!     "SECRET_KEY" => Some("k8#Pz2!qW5@rT9$uY3%iO7^pA1&sD6*f".to_owned()),
//!     _ => None,
//! };
//! let layer = SecurityLayerBuilder::from_vars(vars)?.build()?;
//! # drop(layer);
//! # Ok::<(), tower_security::ConfigError>(())
//! ```
//!
//! # Quick start: hyper
//!
//! ```no_run
//! use std::convert::Infallible;
//!
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use hyper_util::rt::{TokioExecutor, TokioIo};
//! use hyper_util::server::conn::auto::Builder;
//! use hyper_util::service::TowerToHyperService;
//! use tower::{service_fn, ServiceBuilder};
//! use tower_security::{RequestBody, SecurityLayer};
//!
//! // The layer hands the service a `RequestBody`: the body, counted against the size limit.
//! async fn hello(_: Request<RequestBody<Incoming>>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     Ok(Response::new(Full::from("hello")))
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let service = ServiceBuilder::new()
//!         .layer(SecurityLayer::strict())
//!         .service(service_fn(hello));
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     loop {
//!         let (stream, _) = listener.accept().await?;
//!         let service = TowerToHyperService::new(service.clone());
//!         tokio::spawn(async move {
//!             let io = TokioIo::new(stream);
//!             let _ = Builder::new(TokioExecutor::new()).serve_connection(io, service).await;
//!         });
//!     }
//! }
//! ```
//!
//! # Quick start: tonic
//!
//! gRPC responses keep their status, body and trailers; the layer adds its headers to the
//! response head, where browsers and proxies see them.
//!
//! ```no_run
//! use tonic::transport::Server;
//! use tower_security::SecurityLayer;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let (_reporter, health) = tonic_health::server::health_reporter();
//!     Server::builder()
//!         .layer(SecurityLayer::strict())
//!         .add_service(health)
//!         .serve("127.0.0.1:50051".parse()?)
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! # Ordering
//!
//! Layers run from the outside in on the request and from the inside out on the response.
//! With axum's `Router::layer` or tower's `ServiceBuilder`, put `SecurityLayer`:
//!
//! - **inside** request-id, tracing and metrics layers (tower-http's `SetRequestIdLayer`,
//!   `TraceLayer`), so they observe the final response, headers included;
//! - **outside** `CorsLayer`, so preflight answers get the security headers too, and outside
//!   compression, timeouts and every handler-level layer, so nothing can answer around it;
//! - **outside** request decompression (tower-http's `RequestDecompressionLayer`): the body
//!   limit counts the bytes on the wire, and a decompression layer needs its own limit;
//! - on the whole router with [`Router::layer`], not `route_layer`: `route_layer` skips the
//!   router's own `404` and `405` answers, which then leave without the policy.
//!
//! ```
//! use axum::{routing::get, Router};
//! use tower::ServiceBuilder;
//! use tower_security::SecurityLayer;
//!
//! let app: Router = Router::new().route("/", get(|| async { "hello" })).layer(
//!     ServiceBuilder::new()
//!         // .layer(TraceLayer::new_for_http())   outermost: sees the final response
//!         .layer(SecurityLayer::strict()),
//!         // .layer(CorsLayer::permissive())      inside: preflights get the headers
//! );
//! ```
//!
//! # Limitations
//!
//! - A request whose transport nothing tells (no [`transport::https::ConnectionSecurity`], no
//!   trusted proxy, no URI scheme) is taken as HTTPS: it gets HSTS and is not redirected.
//! - A CSP and, with a nonce-based CSP, a fresh nonce go on every response, HTML or not; for
//!   an API this costs a few hundred bytes per response and protects nothing.
//! - The nonce comes from `rand`'s thread-local generator, which reseeds itself from the
//!   operating system every 64 KiB of output and panics if the operating system's generator
//!   fails at that moment. On Linux that happens only before the kernel's entropy pool is
//!   first initialised.
//! - A cookie verified with an old key is re-issued with `Path=/` and no expiry, unless the
//!   application sets it again itself (see [`cookies`]).
//! - A response's header names do not keep the order the application gave them: the policy's
//!   headers come first, then the application's (one name's values keep their order). HTTP
//!   gives the order of different names no meaning (RFC 9110 §5.3).
//! - Each request gets three request extensions ([`CspNonce`],
//!   [`transport::proxies::ClientInfo`] and [`transport::request_id::RequestId`]), which
//!   costs five allocations when nothing else has used the request's extensions yet.
//!
//! # Feature flags
//!
//! | feature | what it adds |
//! |---|---|
//! | `axum` | [`CspNonce`] as an axum extractor; the peer address read from axum's `ConnectInfo` |
//! | `metrics` | each security event increments `tower_security_events_total` ([`events`]) |
//! | `serde` | [`config::PolicyConfig`] read from TOML and JSON files, and written as TOML |
//!
//! [`Router::layer`]: https://docs.rs/axum/latest/axum/struct.Router.html#method.layer

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod audit;
mod body;
mod builder;
pub mod config;
mod controls;
pub mod cookies;
pub mod cross_origin;
mod env;
mod error;
pub mod events;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod extract;
pub mod guards;
pub mod headers;
mod layer;
mod policy;
mod reject;
pub mod reports;
pub mod scrub;
mod service;
pub mod transport;

pub use crate::body::{BodyPanicked, ResponseBody};
pub use crate::builder::SecurityLayerBuilder;
pub use crate::controls::Control;
pub use crate::error::{ConfigError, ConfigErrorKind};
pub use crate::guards::body::RequestBody;
pub use crate::headers::CspNonce;
pub use crate::layer::SecurityLayer;
pub use crate::reject::Refused;
pub use crate::service::{ResponseFuture, Security};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
