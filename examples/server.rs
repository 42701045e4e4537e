//! A demo axum server behind `SecurityLayer::strict()`.
//!
//! ```text
//! cargo run --example server                   # http://127.0.0.1:8080
//! cargo run --example server -- --port 9090    # or PORT=9090 cargo run --example server
//! cargo run --example server -- --public       # bind 0.0.0.0 (every interface)
//! ```
//!
//! Routes:
//!
//! | route | what it shows |
//! |---|---|
//! | `GET /` | a page whose nonce-stamped `<script>` runs and whose un-nonced one is blocked |
//! | `GET /health` | `{"status":"ok"}` as `application/json` |
//! | `POST /login` | sets naive `session` and `prefs` cookies (`prefs` gets signed), then `303` |
//! | `GET /prefs` | the `prefs` cookie as the handler sees it: verified, or absent when forged |
//! | `POST /echo` | the number of request body bytes read, as text |
//! | `GET /error` | a `500` whose SQL-error body the layer replaces with a generic one |
//! | `GET /panic` | a handler that panics; the client gets a generic `500` |
//! | `POST /csp-reports` | the CSP violation report collector the page's CSP points at |
//! | `GET /metrics` | security-event counters, Prometheus text; loopback clients only |
//!
//! Every response, the router's own `404` and `405` included, carries the strict headers; open
//! `/` in a browser and its console shows the blocked script. Every cookie gets `Secure`,
//! `HttpOnly` and `SameSite=Strict`; a cross-site `POST` is refused with `403`. `/error` and
//! `/panic` answer a generic `500` naming the request id, which the security log on stderr
//! repeats next to the details.
//!
//! `SESSION_COOKIE_SECURE`, `SESSION_COOKIE_HTTPONLY`, `SESSION_COOKIE_SAMESITE` and
//! `SECRET_KEY` adjust the policy (see `SecurityLayerBuilder::from_env`); a bad value stops
//! the server at start-up with the variable's name and the values it accepts.
//!
//! The demo starts in development mode: no HTTPS enforcement and no HSTS, announced at
//! start-up, and it answers for `localhost` and `127.0.0.1` (`--allow-host` adds names).
//! `--production` switches development mode off; with `--tls-cert` and `--tls-key` it also
//! serves HTTPS on 8443 (`--https-port`), and the plain port redirects there, to
//! `--canonical-host` (default `localhost`). Each connection tells the layer whether it is TLS
//! (`ConnectionSecurity`) and who the peer is (`PeerAddr`).

use std::hash::{BuildHasher, RandomState};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rand::Rng as _;
use tokio_rustls::TlsAcceptor;
use tower::Service as _;
use tower_security::cookies::{CookiePolicy, SecretKey};
use tower_security::guards::host::AllowedHosts;
use tower_security::headers::ContentSecurityPolicy;
use tower_security::reports::CspReportCollector;
use tower_security::transport::https::{ConnectionSecurity, HttpsEnforcement};
use tower_security::transport::proxies::ClientInfo;
use tower_security::transport::proxies::PeerAddr;
use tower_security::{ConfigError, CspNonce, SecurityLayer};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

// The command line: `Config`, `Command`, `parse_args` and the usage text.
#[path = "server/cli.rs"]
mod cli;
pub use cli::{Command, Config, USAGE, parse_args};

/// The demo's policy: strict, with the `prefs` cookie signed, adjusted by the session
/// variables of `SecurityLayerBuilder::from_env` read through `vars`.
///
/// Without a `SECRET_KEY`, a random key is made for this run (the second value is `true`):
/// signed cookies then stop verifying when the server restarts.
pub fn security_layer(
    config: &Config,
    mut vars: impl FnMut(&str) -> Option<String>,
) -> Result<(SecurityLayer, bool), ConfigError> {
    let has_key = vars("SECRET_KEY").is_some_and(|key| !key.trim().is_empty());
    let mut hosts = AllowedHosts::new().allow("localhost").allow("127.0.0.1");
    for host in config
        .allow_hosts
        .iter()
        .chain(Some(&config.canonical_host))
    {
        if host != "localhost" && host != "127.0.0.1" {
            hosts = hosts.allow(host.clone());
        }
    }
    let canonical = match config.https_port {
        443 => config.canonical_host.clone(),
        port => format!("{}:{port}", config.canonical_host),
    };
    let mut builder = SecurityLayer::builder()
        .content_security_policy(ContentSecurityPolicy::strict().report_to("/csp-reports"))
        .cookies(CookiePolicy::strict().signed("prefs"))
        .allowed_hosts(hosts)
        .https(HttpsEnforcement::redirect_to(canonical).exempt_path("/health"))
        .development_mode(!config.production)
        .with_vars(vars)?;
    if !has_key {
        builder = builder.secret_key(random_key());
    }
    Ok((builder.build()?, !has_key))
}

/// 32 random bytes from the operating system's generator, in hex.
fn random_key() -> SecretKey {
    loop {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        // A random key passes every strength rule but for an astronomically unlikely run.
        if let Ok(key) = SecretKey::new(hex) {
            return key;
        }
    }
}

/// The demo application: every route, wrapped in `layer`.
///
/// `Router::layer` (not `route_layer`) so the router's own `404` and `405` get the headers.
pub fn app(layer: SecurityLayer) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/health", get(health))
        .route("/login", post(login))
        .route("/prefs", get(prefs))
        .route("/echo", post(echo))
        .route("/error", get(error))
        .route("/panic", get(panic_handler))
        .route_service("/csp-reports", CspReportCollector::new())
        .route("/metrics", get(metrics))
        .layer(layer)
}

/// The demo page. Only the elements stamped with this request's nonce may run.
async fn index(Extension(nonce): Extension<CspNonce>) -> Html<String> {
    Html(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tower-security demo</title>
<style nonce="{nonce}">
  body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; }}
  .ok {{ color: #15803d; }}
  .blocked {{ color: #b91c1c; }}
</style>
</head>
<body>
<h1>tower-security demo</h1>
<p>Every response from this server carries a strict Content Security Policy with a fresh
nonce. Scripts and styles stamped with the nonce run; anything else is blocked.</p>
<p id="nonce-result">Nonce script did not run (is JavaScript off?)</p>
<p id="injected-result" class="blocked">Injected script was blocked by the CSP.</p>
<form method="post" action="/login">
  <label>Username <input name="username" autocomplete="username" required></label>
  <button type="submit">Log in</button>
</form>
<script nonce="{nonce}">
  const ok = document.getElementById("nonce-result");
  ok.textContent = "nonce script ran";
  ok.className = "ok";
</script>
<script>
  // No nonce: stands in for an injected payload. The CSP stops it from running.
  document.getElementById("injected-result").textContent = "INJECTED SCRIPT RAN";
</script>
</body>
</html>
"#
    ))
}

/// A liveness probe.
async fn health() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
}

/// Sets two cookies the naive way, with no attributes, and sends the browser home: the
/// layer hardens both and signs `prefs`.
async fn login() -> Response {
    // Demo only: a real session id comes from a CSPRNG and is stored server-side.
    let id = RandomState::new().hash_one(std::time::SystemTime::now());
    (
        AppendHeaders([
            (header::SET_COOKIE, format!("session={id:016x}")),
            (header::SET_COOKIE, "prefs=theme-dark".to_owned()),
        ]),
        Redirect::to("/"),
    )
        .into_response()
}

/// Shows the `prefs` cookie as the handler receives it: the plain value when its signature
/// verified, nothing when it was missing, unsigned or tampered with.
async fn prefs(headers: HeaderMap) -> String {
    let prefs = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix("prefs="))
        .next();
    match prefs {
        Some("theme-dark") => "prefs cookie verified: theme-dark\n".to_owned(),
        Some(_) => "prefs cookie verified, with an unexpected value\n".to_owned(),
        None => "no valid prefs cookie (log in first)\n".to_owned(),
    }
}

/// Reads the whole body (axum's default limit: 2 MB) and answers with its length.
async fn echo(body: Bytes) -> String {
    body.len().to_string()
}

/// A failure whose message leaks internal details, as careless handlers do. The layer replaces
/// the body with a generic one that carries the request id.
async fn error() -> (StatusCode, &'static str) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "ERROR: relation \"users\" does not exist at db-primary.internal.example:5432 \
         (SQLSTATE 42P01)",
    )
}

/// Panics. The layer catches it: the client gets a generic 500 with the request id, and the
/// panic message goes to the security log under the same id.
async fn panic_handler() -> &'static str {
    panic!("demo panic: the handler gave up")
}

/// The security-event counters in the Prometheus text format, for loopback clients only: the
/// counts tell an attacker which probes were noticed.
async fn metrics(Extension(client): Extension<ClientInfo>) -> Response {
    let loopback = client.peer.is_some_and(|peer| peer.ip().is_loopback());
    if !loopback {
        return StatusCode::NOT_FOUND.into_response();
    }
    let text = tower_security::events::counters().to_prometheus();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Resolves on Ctrl-C, or on SIGTERM on unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            eprintln!("cannot listen for Ctrl-C: {err}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(err) => {
                eprintln!("cannot listen for SIGTERM: {err}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    println!("shutting down");
}

/// One `GET /health` to the server on `127.0.0.1:port`: `Ok` on a `200` within two seconds,
/// otherwise why not. `/health` is exempt from the HTTPS redirect, so this works in
/// production mode too.
pub async fn probe_health(port: u16) -> Result<(), String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let probe = async {
        let mut stream = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
        let request = "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        stream.write_all(request.as_bytes()).await?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await?;
        Ok::<_, std::io::Error>(head)
    };
    match tokio::time::timeout(std::time::Duration::from_secs(2), probe).await {
        Ok(Ok(head)) if &head == b"HTTP/1.1 200" => Ok(()),
        Ok(Ok(head)) => Err(format!(
            "/health answered `{}`",
            String::from_utf8_lossy(&head)
        )),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("no answer within 2 s".to_owned()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1), std::env::var("PORT").ok()) {
        Ok(Command::Serve(config)) => config,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::HealthCheck(port)) => {
            return match probe_health(port).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(reason) => {
                    eprintln!("unhealthy: {reason}");
                    ExitCode::FAILURE
                }
            };
        }
        Err(reason) => {
            eprintln!("error: {reason}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (layer, random_key) = match security_layer(&config, |name| std::env::var(name).ok()) {
        Ok(built) => built,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    let tls = match config
        .tls
        .as_ref()
        .map(|(cert, key)| tls_acceptor(cert, key))
    {
        Some(Ok(acceptor)) => Some(acceptor),
        Some(Err(reason)) => {
            eprintln!("error: {reason}");
            return ExitCode::from(2);
        }
        None => None,
    };
    let ip = if config.public {
        Ipv4Addr::UNSPECIFIED
    } else {
        Ipv4Addr::LOCALHOST
    };
    let mut ports = vec![(config.port, None)];
    if let Some(acceptor) = tls {
        ports.push((config.https_port, Some(acceptor)));
    }
    let mut listeners = Vec::new();
    for (port, tls) in ports {
        let requested = SocketAddr::from((ip, port));
        match tokio::net::TcpListener::bind(requested).await {
            Ok(listener) => listeners.push((listener, tls)),
            Err(err) => {
                eprintln!("error: cannot listen on {requested}: {err}");
                return ExitCode::FAILURE;
            }
        }
    }

    // Security events on stderr, one line each; everything else at WARN and above.
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target(tower_security::events::TARGET, tracing::Level::INFO)
        .with_default(tracing::Level::WARN);
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter)
        .init();

    if !config.production {
        println!(
            "*** DEVELOPMENT MODE: no HTTPS enforcement, no HSTS. Use --production to deploy. ***"
        );
    }
    // One line per active control, read from the layer itself so the log cannot drift from
    // what is enforced.
    for control in layer.controls() {
        println!("{control}");
    }
    // The self-audit: what a reviewer would flag in this configuration.
    println!("{}", layer.audit());
    if random_key {
        println!("SECRET_KEY is not set: signed cookies use a random key for this run only");
    }
    if config.public {
        println!("warning: --public binds every interface; this is a demo, not a real service");
    }

    let app = app(layer);
    let shutdown = tokio::sync::watch::channel(false);
    let mut servers = tokio::task::JoinSet::new();
    for (listener, tls) in listeners {
        // With `--port 0` the system picks the port; show the one actually bound.
        if let Ok(addr) = listener.local_addr() {
            let scheme = if tls.is_some() { "https" } else { "http" };
            println!("listening on {scheme}://{addr}");
        }
        servers.spawn(serve(listener, tls, app.clone(), shutdown.1.clone()));
    }
    shutdown_signal().await;
    let _ = shutdown.0.send(true);
    while servers.join_next().await.is_some() {}
    ExitCode::SUCCESS
}

/// Accepts connections until `shutdown` turns true, then lets open ones finish (at most 10
/// seconds). Each request learns its peer and whether its connection is TLS, which the layer
/// uses for HTTPS enforcement and the client's identity.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, say: back off rather than spin.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let security = match tls {
            Some(_) => ConnectionSecurity::Tls,
            None => ConnectionSecurity::PlainHttp,
        };
        let app = app.clone();
        let service = tower::service_fn(move |mut request: axum::http::Request<Incoming>| {
            request.extensions_mut().insert(PeerAddr(peer));
            request.extensions_mut().insert(security);
            app.clone().call(request)
        });
        let builder = Builder::new(TokioExecutor::new());
        match &tls {
            None => {
                let io = TokioIo::new(stream);
                let connection =
                    builder.serve_connection_with_upgrades(io, TowerToHyperService::new(service));
                let connection = graceful.watch(connection.into_owned());
                tokio::spawn(connection);
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let io = TokioIo::new(stream);
                    let connection = builder
                        .serve_connection_with_upgrades(io, TowerToHyperService::new(service));
                    let _ = watcher.watch(connection.into_owned()).await;
                });
            }
        }
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), graceful.shutdown()).await;
}

/// A TLS acceptor for the PEM certificate chain and private key at these paths.
pub fn tls_acceptor(cert: &str, key: &str) -> Result<TlsAcceptor, String> {
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| format!("cannot read certificates from {cert}: {err}"))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|err| format!("cannot read a private key from {key}: {err}"))?;
    let provider = tokio_rustls::rustls::crypto::ring::default_provider();
    let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider.into())
        .with_safe_default_protocol_versions()
        .map_err(|err| format!("TLS: {err}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|err| format!("TLS: {err}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(std::sync::Arc::new(config)))
}
