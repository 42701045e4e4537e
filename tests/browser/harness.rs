//! The browser suite's harness: the demo and attacker servers, chromedriver and one
//! Chromium session per test, and the bounded waits that read what the browser did.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use axum::response::Html;
use axum::routing::get;
use fantoccini::wd::{Capabilities, TimeoutConfiguration};
use fantoccini::{Client, ClientBuilder, Locator};
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt as _;
use tower_security::transport::https::ConnectionSecurity;
use tower_security::transport::proxies::PeerAddr;
use tracing::subscriber::DefaultGuard;

use super::*;

/// How the demo is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scheme {
    /// Plain HTTP, as `cargo run --example server` serves it.
    Http,
    /// HTTPS with the test certificate ([`TLS_CERT`]).
    Https,
}

/// Everything one test drives: the browser, the two servers, and the captured events.
///
/// Fields drop in order: the browser first, while the servers still answer it, then the
/// demo's accept loop is told to stop, and the capture guard goes last.
pub(super) struct Harness {
    pub(super) browser: Browser,
    pub(super) demo_origin: String,
    pub(super) attacker_origin: String,
    pub(super) captured: Captured,
    pub(super) _stop_demo: watch::Sender<bool>,
    pub(super) _events: DefaultGuard,
    /// Held for the whole test; dropped after the browser, which is declared before it.
    pub(super) _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Harness {
    /// Starts the servers and a browser session, or returns `None`, after saying why on stderr,
    /// when the browser is not installed and the environment does not require it.
    pub(super) async fn start(test: &str, scheme: Scheme) -> Option<Self> {
        let tools = Tools::find(test)?;
        let turn = ONE_BROWSER.lock().await;
        let (events, captured) = capture();

        let config = server::Config::default();
        let (layer, _random_key) =
            server::security_layer(&config, |_| None).expect("the demo's policy builds");
        let app = server::app(layer);
        let demo = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let demo_port = demo.local_addr().unwrap().port();
        let (tls, demo_origin) = match scheme {
            Scheme::Http => (None, format!("http://localhost:{demo_port}")),
            Scheme::Https => {
                let acceptor = server::tls_acceptor(TLS_CERT, TLS_KEY).unwrap();
                (Some(acceptor), format!("https://localhost:{demo_port}"))
            }
        };
        // The sender lives in the harness: the accept loop stops once it is dropped.
        let (stop_demo, stopped) = watch::channel(false);
        tokio::spawn(server::serve(demo, tls, app.clone(), stopped));

        let attacker = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let attacker_port = attacker.local_addr().unwrap().port();
        let attacker_app = attacker_app(&demo_origin, app);
        tokio::spawn(async move { axum::serve(attacker, attacker_app).await });

        let browser = Browser::open(&tools).await;
        Some(Self {
            browser,
            demo_origin,
            attacker_origin: format!("http://127.0.0.1:{attacker_port}"),
            captured,
            _stop_demo: stop_demo,
            _events: events,
            _turn: turn,
        })
    }

    /// The URL of `path` on the demo, under the name a browser would use for it.
    pub(super) fn demo(&self, path: &str) -> String {
        format!("{}{path}", self.demo_origin)
    }

    /// The URL of `path` on the attacker's site.
    pub(super) fn attacker(&self, path: &str) -> String {
        format!("{}{path}", self.attacker_origin)
    }

    /// Loads `url` in the top-level window, waiting for its `load` event.
    pub(super) async fn goto(&self, url: &str) {
        let client = &self.browser.client;
        client
            .goto(url)
            .await
            .unwrap_or_else(|err| panic!("cannot load {url}: {err}"));
    }

    /// The security events named `name` captured so far, in order.
    pub(super) fn events(&self, name: &str) -> Vec<CapturedEvent> {
        let events = self.captured.security_events().into_iter();
        events
            .filter(|event| event.field("event") == Some(name))
            .collect()
    }
}

/// The attacker's site: no security layer, and pages aimed at the demo on `demo_origin`.
pub(super) fn attacker_app(demo_origin: &str, demo_app: Router) -> Router {
    let frames = format!(
        r#"<!doctype html>
<title>attacker: frames</title>
<iframe id="demo-frame" src="{demo_origin}/"></iframe>
<iframe id="own-frame" src="/framed"></iframe>
"#
    );
    let forge = format!(
        r#"<!doctype html>
<title>attacker: forged post</title>
<body>
<script>
{SUBMIT_FORM}
submitForm("{demo_origin}/echo");
</script>
</body>
"#
    );
    let framed = r#"<!doctype html><p id="framed">the attacker's own page</p>"#;
    Router::new()
        .route("/frames", get(Html(frames)))
        .route("/framed", get(Html(framed)))
        .route("/forge", get(Html(forge)))
        .route("/copy", get(move || demo_markup(demo_app.clone())))
}

/// The demo page's markup, nonces and all, as the demo renders it, to be served without the
/// demo's headers.
pub(super) async fn demo_markup(demo_app: Router) -> Html<String> {
    let mut request = Request::get("/")
        .header(header::HOST, "localhost")
        .body(Body::empty())
        .unwrap();
    let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    request.extensions_mut().insert(PeerAddr(peer));
    request
        .extensions_mut()
        .insert(ConnectionSecurity::PlainHttp);

    let response = match demo_app.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Html(String::from_utf8(body.to_vec()).unwrap())
}

/// The installed browser driver; the browser itself is at [`CHROMIUM`].
pub(super) struct Tools {
    pub(super) chromedriver: PathBuf,
}

impl Tools {
    /// Finds the browser and its driver. When one is missing, fails if the environment
    /// requires the browser tests, and otherwise says on stderr that `test` is skipped.
    pub(super) fn find(test: &str) -> Option<Self> {
        let chromedriver = on_path("chromedriver");
        let missing = match (&chromedriver, Path::new(CHROMIUM).is_file()) {
            (_, false) => format!("{CHROMIUM} does not exist"),
            (None, true) => "chromedriver is not on the PATH".to_owned(),
            (Some(_), true) => return chromedriver.map(|chromedriver| Self { chromedriver }),
        };
        let hint = "Debian's chromium and chromium-driver packages provide both";
        if std::env::var(REQUIRE_VAR).is_ok_and(|value| value == "require") {
            panic!("{test}: {missing}, and {REQUIRE_VAR}=require ({hint})");
        }
        // Written to stderr itself: libtest captures `eprintln!` of a passing test, and a skip
        // should be seen.
        let _ = writeln!(
            std::io::stderr(),
            "skipping {test}: {missing} ({hint}; {REQUIRE_VAR}=require makes this fail)"
        );
        None
    }
}

/// The first file called `name` in a directory of the `PATH`.
pub(super) fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A Chromium session through its own `chromedriver`.
///
/// Fields drop in order: the client, then the driver, which ends the browser, then the
/// profile directory, no longer in use by then.
pub(super) struct Browser {
    pub(super) client: Client,
    pub(super) _driver: Driver,
    pub(super) _profile: TempDir,
}

impl Browser {
    pub(super) async fn open(tools: &Tools) -> Self {
        let driver = Driver::start(&tools.chromedriver);
        let profile = TempDir::new("chromium-profile");
        // chromedriver listens on loopback only: plain HTTP, no TLS stack needed.
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(chromium_capabilities(profile.path()))
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .unwrap_or_else(|err| panic!("cannot open a Chromium session: {err}"));
        // WebDriver's default page-load timeout is five minutes; a test should fail sooner.
        let timeouts = TimeoutConfiguration::new(Some(WAIT), Some(WAIT), None);
        client.update_timeouts(timeouts).await.unwrap();
        Self {
            client,
            _driver: driver,
            _profile: profile,
        }
    }
}

/// A fresh headless Chromium that reports quickly and talks to nothing but the test's servers.
pub(super) fn chromium_capabilities(profile: &Path) -> Capabilities {
    let args = [
        "--headless",
        // Containers and CI run as root, where Chromium's sandbox cannot start.
        "--no-sandbox",
        "--disable-gpu",
        // No update checks, sync, field trials or QUIC probes: the only traffic is the test's.
        "--disable-background-networking",
        "--disable-quic",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        // The Reporting API batches reports for a minute; this sends them within ~100 ms.
        "--short-reporting-delay",
        // The HTTPS demo's certificate is self-signed (`TLS_CERT`).
        "--ignore-certificate-errors",
    ];
    let profile = format!("--user-data-dir={}", profile.display());
    let args: Vec<String> = args
        .into_iter()
        .map(str::to_owned)
        .chain([profile])
        .collect();
    let mut options = Capabilities::new();
    options.insert("binary".to_owned(), CHROMIUM.into());
    options.insert("args".to_owned(), args.into());
    let mut capabilities = Capabilities::new();
    capabilities.insert("browserName".to_owned(), "chrome".into());
    capabilities.insert("goog:chromeOptions".to_owned(), options.into());
    capabilities
}

/// A `chromedriver` child process, ended on drop together with the browser it started.
pub(super) struct Driver {
    pub(super) child: Child,
    pub(super) port: u16,
}

impl Driver {
    /// Starts `chromedriver` on a port of its choosing and waits until it says which: no
    /// window between picking a free port and binding it.
    pub(super) fn start(path: &Path) -> Self {
        let mut child = Command::new(path)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", path.display()));
        let stdout = child.stdout.take().expect("stdout is piped");
        // From here on, a failure still ends the child, through `Drop`.
        let mut driver = Self { child, port: 0 };

        // The thread reads until the driver exits, so the driver never blocks on a full pipe.
        let (announce, announced) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let port = line
                    .strip_prefix("ChromeDriver was started successfully on port ")
                    .and_then(|rest| rest.trim_end_matches('.').parse::<u16>().ok());
                if let Some(port) = port {
                    let _ = announce.send(port);
                }
            }
        });
        driver.port = announced
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("chromedriver did not announce its port within {WAIT:?}"));
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // `/shutdown` makes chromedriver quit the browsers it started, then exit: killing the
        // driver alone would leave the browser running. Blocking, since a drop cannot await
        // and this must also run while a failed test unwinds.
        if self.port != 0 {
            let _ = request_shutdown(self.port);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(POLL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asks the chromedriver on `port` to shut down, and waits for its answer.
pub(super) fn request_shutdown(port: u16) -> std::io::Result<()> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let request = format!("GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    // The answer comes once the browsers are closed; what it says does not matter.
    let _ = stream.read(&mut [0; 512])?;
    Ok(())
}

/// A directory under the system's temporary directory, removed with its contents on drop.
pub(super) struct TempDir(PathBuf);

impl TempDir {
    pub(super) fn new(prefix: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "tower-security-{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", path.display()));
        Self(path)
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// Reading what the browser did.

/// Polls `probe` until it yields a value, for at most [`WAIT`]; then panics naming `what`.
pub(super) async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "no {what} within {WAIT:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the top-level document is `url` and has loaded.
pub(super) async fn wait_for_load(client: &Client, url: &str) {
    eventually(&format!("load of {url}"), async || {
        let current = client.current_url().await.ok()?;
        let state = client.execute("return document.readyState", vec![]).await;
        let loaded = state.ok()?.as_str() == Some("complete");
        (current.as_str() == url && loaded).then_some(())
    })
    .await;
}

/// The HTTP status of the response the top-level document came from, as the browser saw it
/// (Navigation Timing's `responseStatus`).
pub(super) async fn navigation_status(client: &Client) -> u64 {
    let script = r#"return performance.getEntriesByType("navigation")[0].responseStatus"#;
    let status = client.execute(script, vec![]).await.unwrap();
    status
        .as_u64()
        .unwrap_or_else(|| panic!("no status: {status}"))
}

/// The rendered text of the element `css` selects in the current document.
pub(super) async fn text_of(client: &Client, css: &str) -> String {
    let element = client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|err| panic!("no {css} in the page: {err}"));
    element.text().await.unwrap()
}
