//! Drives headless Chromium against the demo server of `examples/server.rs` and checks what the
//! browser did under the policy, not only which headers it was sent: which scripts ran,
//! whether the demo rendered inside another site's frame, which cookies script could read,
//! where a forged form post landed, and whether a violation report reached the collector.
//!
//! Each test starts its own pieces, so tests share nothing; they take turns at the browser,
//! since several Chromiums starting at once on a small machine can take longer than any
//! reasonable wait:
//!
//! - the demo router, served on `127.0.0.1:0` by the example's own accept loop and browsed as
//!   `http://localhost:PORT` (or `https://`, with a self-signed certificate, where a test
//!   needs HTTPS);
//! - an "attacker" app without the layer, browsed as `http://127.0.0.1:PORT2`: another site
//!   than `localhost`, yet like it a secure context, so Chromium sends both Fetch Metadata and
//!   keeps `Secure` cookies;
//! - a `chromedriver` child on a port it picks itself, and one Chromium session with a fresh
//!   profile, both ended when the test ends, whether it passed or failed.
//!
//! Every test pairs the effect it proves with a positive control that the same harness must
//! produce, so a harness that loads nothing, runs no script or captures no event fails
//! instead of passing. Every wait is a bounded poll.
//!
//! Security events are captured with `common::events::capture`: `#[tokio::test]` runs the
//! test, both servers and the WebDriver client on one thread, whose default subscriber the
//! capture guard sets for the whole test.
//!
//! # Running
//!
//! The tests need `/usr/bin/chromium` and `chromedriver` on the `PATH` (Debian's `chromium`
//! and `chromium-driver`). Without them each test says on stderr why it is skipped and
//! passes, unless `TOWER_SECURITY_BROWSER_TESTS=require` is set, as in CI: then it fails.

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

mod common;
use common::events::{Captured, CapturedEvent, capture};

// The example's `main` and its helpers are unused here.
#[allow(dead_code)]
#[path = "../examples/server.rs"]
mod server;

/// Where Debian's `chromium` package puts the browser.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Set to `require` to fail, rather than skip, when the browser or its driver is missing.
const REQUIRE_VAR: &str = "TOWER_SECURITY_BROWSER_TESTS";

/// A self-signed certificate and key for `localhost`, made for these tests alone with
/// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 36500
/// -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1`. Nothing trusts it:
/// the browser is told to ignore certificate errors.
const TLS_CERT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/localhost-cert.pem"
);
const TLS_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/localhost-key.pem"
);

/// The longest wait for anything the browser does: a page load, a navigation, a report.
/// Generous for a loaded two-core machine; a passing run waits far less.
const WAIT: Duration = Duration::from_secs(10);

/// One browser at a time, across the tests of this binary (each runs on its own runtime, so
/// the lock is tokio's, which does not depend on one).
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How often a bounded wait looks again.
const POLL: Duration = Duration::from_millis(50);

/// The demo page's text in `#injected-result`, which only the injected script would change.
const INJECTED_BLOCKED: &str = "Injected script was blocked by the CSP.";

/// The form post both origins make to the demo's `/echo`: one hidden field, so the body is
/// `payload=hello` and `/echo` answers `13`. The attacker's page runs it as it loads; on a
/// demo page WebDriver runs it, since the demo's CSP lets only the demo's own scripts run.
const SUBMIT_FORM: &str = r#"function submitForm(action) {
  const form = document.createElement("form");
  form.method = "post";
  form.action = action;
  const field = document.createElement("input");
  field.type = "hidden";
  field.name = "payload";
  field.value = "hello";
  form.append(field);
  document.body.append(form);
  form.submit();
}"#;

// ---------------------------------------------------------------------------------------------
// The tests.

/// Under the CSP only the nonce-stamped script runs. The control: the very same markup,
/// served without the CSP, runs both scripts, so the injected one is valid script that only
/// the policy stops.
#[tokio::test]
async fn only_the_nonce_stamped_script_runs() {
    let Some(harness) = Harness::start("only_the_nonce_stamped_script_runs", Scheme::Http).await
    else {
        return;
    };
    let client = &harness.browser.client;
    // (page, URL, what the injected script's paragraph says after the scripts ran)
    let cases = [
        (
            "the demo, under its CSP",
            harness.demo("/"),
            INJECTED_BLOCKED,
        ),
        (
            "the same markup without a CSP",
            harness.attacker("/copy"),
            "INJECTED SCRIPT RAN",
        ),
    ];

    for (page, url, injected) in cases {
        harness.goto(&url).await;
        let nonce_result = text_of(client, "#nonce-result").await;
        let injected_result = text_of(client, "#injected-result").await;

        assert_eq!(nonce_result, "nonce script ran", "{page}");
        assert_eq!(injected_result, injected, "{page}");
    }
}

/// A page on another site cannot frame the demo (`X-Frame-Options: DENY`, `frame-ancestors
/// 'none'`): the frame holds Chromium's error page for a response that forbids it, not the
/// demo. The control: a frame of the attacker's own page, on the same page, renders it.
#[tokio::test]
async fn another_site_cannot_frame_the_demo() {
    let Some(harness) = Harness::start("another_site_cannot_frame_the_demo", Scheme::Http).await
    else {
        return;
    };
    let client = &harness.browser.client;
    harness.goto(&harness.attacker("/frames")).await;
    // (frame, an element its document must hold, Chromium's error code for it, if any)
    let cases = [
        ("#own-frame", "#framed", None),
        // `.error-code` is where Chromium's error page shows the network error.
        (
            "#demo-frame",
            ".error-code",
            Some("ERR_BLOCKED_BY_RESPONSE"),
        ),
    ];

    for (frame, marker, error) in cases {
        let element = client.find(Locator::Css(frame)).await.unwrap();
        element.enter_frame().await.unwrap();
        let document = eventually(&format!("a loaded document in {frame}"), async || {
            let document = client.execute(FRAME_DOCUMENT, vec![]).await.ok()?;
            (!document.is_null()).then_some(document)
        })
        .await;
        client.enter_parent_frame().await.unwrap();

        assert_eq!(
            document["demo"].as_bool(),
            Some(false),
            "{frame}: {document}"
        );
        assert_eq!(
            document["markers"][marker].as_bool(),
            Some(true),
            "{frame}: {document}"
        );
        assert_eq!(document["error"].as_str(), error, "{frame}: {document}");
    }
}

/// What a frame's document is, read from inside it; `null` until it has loaded.
const FRAME_DOCUMENT: &str = r##"
if (document.readyState !== "complete" || location.href === "about:blank") return null;
const errorCode = document.querySelector(".error-code");
return {
  url: location.href,
  demo: document.getElementById("nonce-result") !== null,
  error: errorCode && errorCode.textContent.trim(),
  markers: {
    "#framed": document.querySelector("#framed") !== null,
    ".error-code": errorCode !== null,
  },
};"##;

/// After logging in through the demo's form, script cannot read the session cookie, which
/// the layer made `HttpOnly`. The controls: WebDriver's view of the cookie jar shows the
/// browser holds it, with the attributes the layer added; the browser sends it back; and a
/// cookie that script sets itself is visible to script.
#[tokio::test]
async fn script_cannot_read_the_session_cookie() {
    let Some(harness) = Harness::start("script_cannot_read_the_session_cookie", Scheme::Http).await
    else {
        return;
    };
    let client = &harness.browser.client;
    harness.goto(&harness.demo("/")).await;

    let username = client
        .find(Locator::Css("input[name=username]"))
        .await
        .unwrap();
    username.send_keys("alice").await.unwrap();
    let button = client
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap();
    button.click().await.unwrap();
    let jar = eventually("the login's session cookie in the jar", async || {
        let cookies = client.get_all_cookies().await.ok()?;
        let logged_in = cookies.iter().any(|cookie| cookie.name() == "session");
        logged_in.then_some(cookies)
    })
    .await;
    wait_for_load(client, &harness.demo("/")).await;
    let script_view = client
        .execute(
            "document.cookie = 'probe=visible'; return document.cookie",
            vec![],
        )
        .await
        .unwrap();

    for name in ["session", "prefs"] {
        let cookie = jar.iter().find(|cookie| cookie.name() == name);
        let cookie = cookie.unwrap_or_else(|| panic!("no {name} cookie in the jar: {jar:?}"));
        assert_eq!(cookie.http_only(), Some(true), "{cookie:?}");
        assert_eq!(cookie.secure(), Some(true), "{cookie:?}");
        assert_eq!(
            cookie.same_site(),
            Some(cookie::SameSite::Strict),
            "{cookie:?}"
        );
    }
    // The script's own cookie, and nothing of the login's.
    assert_eq!(script_view.as_str(), Some("probe=visible"));
    harness.goto(&harness.demo("/prefs")).await;
    assert_eq!(
        text_of(client, "body").await,
        "prefs cookie verified: theme-dark"
    );
}

/// A form on another site that posts to the demo lands on the layer's generic `403`, and the
/// refusal is logged. The control: the same form, posted from a demo page, reaches `/echo`.
#[tokio::test]
async fn a_cross_site_form_post_is_refused() {
    let Some(harness) = Harness::start("a_cross_site_form_post_is_refused", Scheme::Http).await
    else {
        return;
    };
    let client = &harness.browser.client;
    let echo = harness.demo("/echo");
    // The attacker's page posts the form as it loads; the demo's CSP stops page script, so
    // WebDriver posts it there.
    let post_from_script = format!("{SUBMIT_FORM}\nsubmitForm(arguments[0]);");
    let cases = [
        FormPost {
            origin: "same-origin",
            page: harness.demo("/"),
            script: Some(&post_from_script),
            shows: "13",
            status: 200,
            refusals: 0,
        },
        FormPost {
            origin: "cross-site",
            page: harness.attacker("/forge"),
            script: None,
            shows: "Forbidden",
            status: 403,
            refusals: 1,
        },
    ];

    for case in cases {
        harness.goto(&case.page).await;
        if let Some(script) = case.script {
            let action = vec![echo.clone().into()];
            client.execute(script, action).await.unwrap();
        }
        wait_for_load(client, &echo).await;

        let origin = case.origin;
        assert_eq!(text_of(client, "body").await, case.shows, "{origin}");
        assert_eq!(navigation_status(client).await, case.status, "{origin}");
        let refused = harness.events("cross_origin_refused");
        assert_eq!(refused.len(), case.refusals, "{origin}: {refused:#?}");
    }
    let refused = &harness.events("cross_origin_refused")[0];
    assert_eq!(refused.field("method"), Some("POST"));
    assert_eq!(refused.field("path"), Some(r#""/echo""#));
    assert_eq!(refused.field("status"), Some("403"));
}

/// A form post to the demo's `/echo` and what the browser shows after it.
struct FormPost<'a> {
    /// Where the form is, as Fetch Metadata names it.
    origin: &'static str,
    /// The page the form is on.
    page: String,
    /// The script that posts the form, when the page does not post it itself.
    script: Option<&'a str>,
    /// The text of the page the browser lands on.
    shows: &'static str,
    /// That page's status.
    status: u64,
    /// The `cross_origin_refused` events logged by then.
    refusals: usize,
}

/// The demo page's injected script violates the CSP, and Chromium reports it through the
/// Reporting API (`report-to`, `Reporting-Endpoints`): the report reaches the collector and
/// comes out as a `csp_violation` event naming the directive and the page. Over HTTPS, since
/// Chromium takes `Reporting-Endpoints` only from HTTPS responses.
#[tokio::test]
async fn chromium_reports_the_blocked_script_over_https() {
    blocked_script_is_reported(
        "chromium_reports_the_blocked_script_over_https",
        Scheme::Https,
    )
    .await;
}

/// The same over plain HTTP, where the demo runs by default. Chromium ignores
/// `Reporting-Endpoints` on a plain-HTTP response, and a policy with `report-to` has its
/// `report-uri` ignored (CSP3, "Report a violation"), so the layer sends plain-HTTP responses
/// `report-uri` alone; with `report-to` there, no report would arrive.
#[tokio::test]
async fn chromium_reports_the_blocked_script_over_plain_http() {
    blocked_script_is_reported(
        "chromium_reports_the_blocked_script_over_plain_http",
        Scheme::Http,
    )
    .await;
}

/// Loads the demo page over `scheme` and waits for the report of its injected script. The
/// control: the page's own script ran, so the page loaded with its scripts on.
async fn blocked_script_is_reported(test: &str, scheme: Scheme) {
    let Some(harness) = Harness::start(test, scheme).await else {
        return;
    };
    let client = &harness.browser.client;

    harness.goto(&harness.demo("/")).await;
    let nonce_result = text_of(client, "#nonce-result").await;
    let injected_result = text_of(client, "#injected-result").await;
    let report = eventually("csp_violation event", async || {
        harness.events("csp_violation").into_iter().next()
    })
    .await;

    assert_eq!(nonce_result, "nonce script ran");
    assert_eq!(injected_result, INJECTED_BLOCKED);
    assert_eq!(report.field("rule"), Some("script-src-elem"), "{report:#?}");
    assert_eq!(report.field("path"), Some(r#""/""#), "{report:#?}");
}

// ---------------------------------------------------------------------------------------------
// The harness.

/// How the demo is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    /// Plain HTTP, as `cargo run --example server` serves it.
    Http,
    /// HTTPS with the test certificate ([`TLS_CERT`]).
    Https,
}

/// Everything one test drives: the browser, the two servers, and the captured events.
///
/// Fields drop in order: the browser first, while the servers still answer it, then the
/// demo's accept loop is told to stop, and the capture guard goes last.
struct Harness {
    browser: Browser,
    demo_origin: String,
    attacker_origin: String,
    captured: Captured,
    _stop_demo: watch::Sender<bool>,
    _events: DefaultGuard,
    /// Held for the whole test; dropped after the browser, which is declared before it.
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Harness {
    /// Starts the servers and a browser session, or returns `None`, after saying why on stderr,
    /// when the browser is not installed and the environment does not require it.
    async fn start(test: &str, scheme: Scheme) -> Option<Self> {
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
    fn demo(&self, path: &str) -> String {
        format!("{}{path}", self.demo_origin)
    }

    /// The URL of `path` on the attacker's site.
    fn attacker(&self, path: &str) -> String {
        format!("{}{path}", self.attacker_origin)
    }

    /// Loads `url` in the top-level window, waiting for its `load` event.
    async fn goto(&self, url: &str) {
        let client = &self.browser.client;
        client
            .goto(url)
            .await
            .unwrap_or_else(|err| panic!("cannot load {url}: {err}"));
    }

    /// The security events named `name` captured so far, in order.
    fn events(&self, name: &str) -> Vec<CapturedEvent> {
        let events = self.captured.security_events().into_iter();
        events
            .filter(|event| event.field("event") == Some(name))
            .collect()
    }
}

/// The attacker's site: no security layer, and pages aimed at the demo on `demo_origin`.
fn attacker_app(demo_origin: &str, demo_app: Router) -> Router {
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
async fn demo_markup(demo_app: Router) -> Html<String> {
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
struct Tools {
    chromedriver: PathBuf,
}

impl Tools {
    /// Finds the browser and its driver. When one is missing, fails if the environment
    /// requires the browser tests, and otherwise says on stderr that `test` is skipped.
    fn find(test: &str) -> Option<Self> {
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
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A Chromium session through its own `chromedriver`.
///
/// Fields drop in order: the client, then the driver, which ends the browser, then the
/// profile directory, no longer in use by then.
struct Browser {
    client: Client,
    _driver: Driver,
    _profile: TempDir,
}

impl Browser {
    async fn open(tools: &Tools) -> Self {
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
fn chromium_capabilities(profile: &Path) -> Capabilities {
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
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// Starts `chromedriver` on a port of its choosing and waits until it says which: no
    /// window between picking a free port and binding it.
    fn start(path: &Path) -> Self {
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
fn request_shutdown(port: u16) -> std::io::Result<()> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let request = format!("GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    // The answer comes once the browsers are closed; what it says does not matter.
    let _ = stream.read(&mut [0; 512])?;
    Ok(())
}

/// A directory under the system's temporary directory, removed with its contents on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> Self {
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

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// Reading what the browser did.

/// Polls `probe` until it yields a value, for at most [`WAIT`]; then panics naming `what`.
async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
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
async fn wait_for_load(client: &Client, url: &str) {
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
async fn navigation_status(client: &Client) -> u64 {
    let script = r#"return performance.getEntriesByType("navigation")[0].responseStatus"#;
    let status = client.execute(script, vec![]).await.unwrap();
    status
        .as_u64()
        .unwrap_or_else(|| panic!("no status: {status}"))
}

/// The rendered text of the element `css` selects in the current document.
async fn text_of(client: &Client, css: &str) -> String {
    let element = client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|err| panic!("no {css} in the page: {err}"));
    element.text().await.unwrap()
}
