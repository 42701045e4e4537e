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
//! The harness (servers, chromedriver, the browser session and the bounded waits) is in
//! `tests/browser/harness.rs`; this file holds the tests.
//!
//! # Running
//!
//! The tests need `/usr/bin/chromium` and `chromedriver` on the `PATH` (Debian's `chromium`
//! and `chromium-driver`). Without them each test says on stderr why it is skipped and
//! passes, unless `TOWER_SECURITY_BROWSER_TESTS=require` is set, as in CI: then it fails.

use std::time::Duration;

use fantoccini::Locator;

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

#[path = "browser/harness.rs"]
mod harness;
use harness::*;
