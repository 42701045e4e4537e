//! The header policy through the layer: each preset's exact header set, OWASP's recommended
//! headers matched or exceeded, the application's own headers respected, and bad
//! configurations refused at build time.

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{ServiceExt, service_fn};
use tower_layer::Layer;
use tower_security::headers::{ContentSecurityPolicy, XssProtection};
use tower_security::{CspNonce, RequestBody, SecurityLayer};

mod common;
use common::STRICT_PERMISSIONS;

/// Sends `request` through `layer` to a handler that answers with `response`'s status, headers
/// and body, and returns the response with the nonce the handler was given.
async fn run(
    layer: &SecurityLayer,
    request: Request<Full<Bytes>>,
    response: Response<&'static str>,
) -> (Response<Bytes>, Option<CspNonce>) {
    let (parts, body) = response.into_parts();
    let service = layer.layer(service_fn(move |req: Request<RequestBody<Full<Bytes>>>| {
        let nonce = req.extensions().get::<CspNonce>().copied();
        let mut response = Response::from_parts(parts.clone(), Full::new(Bytes::from(body)));
        response.extensions_mut().insert(nonce);
        async move { Ok::<_, Infallible>(response) }
    }));

    let response = service.oneshot(request).await.unwrap();

    let nonce = response
        .extensions()
        .get::<Option<CspNonce>>()
        .copied()
        .flatten();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (Response::from_parts(parts, body), nonce)
}

/// A `GET /` naming its host, as every real client does; without one the layer answers
/// `400`.
fn request() -> Request<Full<Bytes>> {
    Request::get("/")
        .header("host", "localhost")
        .body(Full::default())
        .unwrap()
}

async fn get(layer: &SecurityLayer, response: Response<&'static str>) -> Response<Bytes> {
    run(layer, request(), response).await.0
}

fn ok() -> Response<&'static str> {
    Response::new("hello")
}

/// `name: value` lines of every header, sorted, with the nonce replaced by `N` and a request
/// id of the generated form by `ID`.
fn header_lines(headers: &HeaderMap, nonce: Option<CspNonce>) -> Vec<String> {
    let mut lines: Vec<String> = headers
        .iter()
        .map(|(name, value)| {
            let value = value.to_str().unwrap();
            let value = match nonce {
                Some(nonce) => value.replace(nonce.as_str(), "N"),
                None => value.to_owned(),
            };
            let generated = name == "x-request-id" && common::is_generated_request_id(&value);
            let value = if generated { "ID" } else { &value };
            format!("{name}: {value}")
        })
        .collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn strict_sends_exactly_its_header_set() {
    let (response, nonce) = run(&SecurityLayer::strict(), request(), ok()).await;

    let expected = [
        "cache-control: no-store, max-age=0".to_owned(),
        format!("content-security-policy: {}", common::strict_csp("N")),
        "cross-origin-embedder-policy: require-corp".to_owned(),
        "cross-origin-opener-policy: same-origin".to_owned(),
        "cross-origin-resource-policy: same-origin".to_owned(),
        "origin-agent-cluster: ?1".to_owned(),
        format!("permissions-policy: {STRICT_PERMISSIONS}"),
        "referrer-policy: no-referrer".to_owned(),
        "strict-transport-security: max-age=63072000; includeSubDomains".to_owned(),
        "x-content-type-options: nosniff".to_owned(),
        "x-dns-prefetch-control: off".to_owned(),
        "x-frame-options: DENY".to_owned(),
        "x-permitted-cross-domain-policies: none".to_owned(),
        "x-request-id: ID".to_owned(),
        "x-xss-protection: 0".to_owned(),
    ];
    assert!(nonce.is_some());
    assert_eq!(header_lines(response.headers(), nonce), expected);
    assert_eq!(response.body(), "hello");
}

#[tokio::test]
async fn embeddable_sends_exactly_its_header_set() {
    let (response, nonce) = run(&SecurityLayer::embeddable(), request(), ok()).await;

    let expected = [
        "cache-control: no-store, max-age=0".to_owned(),
        "content-security-policy: default-src 'self'; script-src 'nonce-N' 'strict-dynamic'; \
         style-src 'self' https: 'nonce-N'; img-src 'self' https: data:; \
         font-src 'self' https: data:; media-src 'self' https:; connect-src 'self' https:; \
         frame-src 'self' https:; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'self' https:; upgrade-insecure-requests"
            .to_owned(),
        "cross-origin-opener-policy: same-origin-allow-popups".to_owned(),
        "cross-origin-resource-policy: cross-origin".to_owned(),
        "origin-agent-cluster: ?1".to_owned(),
        format!("permissions-policy: {STRICT_PERMISSIONS}"),
        "referrer-policy: strict-origin-when-cross-origin".to_owned(),
        "strict-transport-security: max-age=63072000; includeSubDomains".to_owned(),
        "x-content-type-options: nosniff".to_owned(),
        "x-dns-prefetch-control: off".to_owned(),
        "x-permitted-cross-domain-policies: none".to_owned(),
        "x-request-id: ID".to_owned(),
        "x-xss-protection: 0".to_owned(),
    ];
    assert_eq!(header_lines(response.headers(), nonce), expected);
}

#[tokio::test]
async fn every_header_can_be_switched_off() {
    let layer = SecurityLayer::builder()
        .content_security_policy(None)
        .hsts(None)
        .frame_options(None)
        .content_type_nosniff(false)
        .referrer_policy(None)
        .permissions_policy(None)
        .cross_origin_opener_policy(None)
        .cross_origin_resource_policy(None)
        .cross_origin_embedder_policy(None)
        .origin_agent_cluster(false)
        .disable_dns_prefetch(false)
        .deny_cross_domain_policies(false)
        .no_store_by_default(false)
        .xss_protection(None)
        .request_ids(false)
        .build()
        .unwrap();

    let (response, nonce) = run(&layer, request(), ok()).await;

    assert!(response.headers().is_empty(), "{:?}", response.headers());
    assert_eq!(nonce, None, "no nonce is drawn when no CSP uses one");
}

/// OWASP Secure Headers Project, `headers_add.json` (2026-07-19), minus `Clear-Site-Data`,
/// which belongs on logout responses only.
const OWASP_ADD: &[(&str, &str)] = &[
    ("cache-control", "no-store, max-age=0"),
    (
        "content-security-policy",
        "default-src 'self'; form-action 'self'; base-uri 'self'; object-src 'none'; \
         frame-ancestors 'none'; upgrade-insecure-requests",
    ),
    ("cross-origin-embedder-policy", "require-corp"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    (
        "permissions-policy",
        "accelerometer=(), autoplay=(), camera=(), cross-origin-isolated=(), \
         display-capture=(), encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), \
         keyboard-map=(), magnetometer=(), microphone=(), midi=(), payment=(), \
         picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), \
         sync-xhr=(self), usb=(), web-share=(), xr-spatial-tracking=(), clipboard-read=(), \
         clipboard-write=(), gamepad=(), hid=(), idle-detection=(), interest-cohort=(), \
         serial=(), unload=()",
    ),
    ("referrer-policy", "no-referrer"),
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-dns-prefetch-control", "off"),
    ("x-frame-options", "deny"),
    ("x-permitted-cross-domain-policies", "none"),
];

fn directives(csp: &str) -> Vec<(String, Vec<String>)> {
    csp.split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut words = d.split_ascii_whitespace().map(str::to_owned);
            (words.next().unwrap(), words.collect())
        })
        .collect()
}

/// Whether our source list for a directive allows no more than OWASP's does.
fn csp_sources_at_least_as_strict(ours: &[String], theirs: &[String]) -> bool {
    let unsafe_source =
        |s: &String| s.starts_with("'unsafe-") || s == "*" || s == "data:" || s == "https:";
    if ours.iter().any(unsafe_source) {
        return false;
    }
    if theirs == ["'none'"] {
        return ours == ["'none'"];
    }
    // 'none' is tighter than 'self'; a nonce admits only the scripts the page marked.
    ours.iter()
        .all(|s| theirs.contains(s) || s == "'none'" || s.starts_with("'nonce-"))
}

fn permissions(value: &str) -> Vec<(String, String)> {
    value
        .split(',')
        .map(|entry| {
            let (name, allow) = entry.trim().split_once('=').unwrap();
            (name.to_owned(), allow.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn strict_matches_or_exceeds_owasp_recommendations() {
    let response = get(&SecurityLayer::strict(), ok()).await;
    let headers = response.headers();

    for (name, owasp) in OWASP_ADD {
        let ours = headers
            .get(*name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .to_str()
            .unwrap();
        match *name {
            "content-security-policy" => {
                let ours = directives(ours);
                for (directive, theirs) in directives(owasp) {
                    let sources = ours
                        .iter()
                        .find(|(d, _)| *d == directive)
                        .unwrap_or_else(|| panic!("CSP lacks {directive}"));
                    assert!(
                        csp_sources_at_least_as_strict(&sources.1, &theirs),
                        "{directive}: {:?} vs {theirs:?}",
                        sources.1
                    );
                }
                let scripts = &ours.iter().find(|(d, _)| d == "script-src").unwrap().1;
                assert!(scripts.iter().any(|s| s.starts_with("'nonce-")));
                assert!(
                    !ours
                        .iter()
                        .flat_map(|(_, s)| s)
                        .any(|s| s.starts_with("'unsafe-"))
                );
            }
            "permissions-policy" => {
                let ours = permissions(ours);
                for (feature, allow) in permissions(owasp) {
                    let found = ours.iter().find(|(f, _)| *f == feature);
                    let (_, our_allow) = found.unwrap_or_else(|| panic!("{feature} missing"));
                    assert!(
                        our_allow == "()" || *our_allow == allow,
                        "{feature}={our_allow}"
                    );
                }
            }
            "strict-transport-security" => {
                let max_age: u64 = ours
                    .strip_prefix("max-age=")
                    .and_then(|rest| rest.split(';').next())
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(max_age >= 63_072_000, "{ours}");
                assert!(ours.contains("includeSubDomains"), "{ours}");
            }
            _ => assert!(
                ours.eq_ignore_ascii_case(owasp),
                "{name}: {ours} vs {owasp}"
            ),
        }
    }
}

#[tokio::test]
async fn nonce_is_fresh_per_request_and_matches_the_header() {
    let layer = SecurityLayer::strict();
    let mut seen = std::collections::HashSet::new();

    for _ in 0..200 {
        let (response, nonce) = run(&layer, request(), ok()).await;

        let nonce = nonce.unwrap();
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap();
        assert_eq!(common::csp_nonce(csp), Some(nonce.as_str()), "{csp}");
        assert!(seen.insert(nonce), "nonce repeated");
    }
}

#[tokio::test]
async fn headers_set_by_the_application_are_kept() {
    let app = Response::builder()
        .header("x-frame-options", "SAMEORIGIN")
        .header("content-security-policy", "default-src 'none'")
        .header("cache-control", "public, max-age=60")
        .header("referrer-policy", "origin")
        .body("framed")
        .unwrap();

    let response = get(&SecurityLayer::strict(), app).await;

    let headers = response.headers();
    assert_eq!(headers["x-frame-options"], "SAMEORIGIN");
    assert_eq!(headers["content-security-policy"], "default-src 'none'");
    assert_eq!(headers["cache-control"], "public, max-age=60");
    assert_eq!(headers["referrer-policy"], "origin");
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn override_mode_enforces_the_policy_but_not_caching() {
    let layer = SecurityLayer::builder()
        .override_app_headers(true)
        .build()
        .unwrap();
    let app = Response::builder()
        .header("x-frame-options", "SAMEORIGIN")
        .header("x-frame-options", "ALLOWALL")
        .header("content-security-policy", "default-src *")
        .header("cache-control", "public, max-age=60")
        .body("")
        .unwrap();

    let response = get(&layer, app).await;

    let headers = response.headers();
    let frames: Vec<_> = headers.get_all("x-frame-options").iter().collect();
    assert_eq!(frames, ["DENY"]);
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'self'")
    );
    assert_eq!(headers["cache-control"], "public, max-age=60");
}

#[tokio::test]
async fn expires_also_counts_as_a_caching_decision() {
    let app = Response::builder()
        .header("expires", "Thu, 01 Jan 2037 00:00:00 GMT")
        .body("")
        .unwrap();

    let response = get(&SecurityLayer::strict(), app).await;

    assert!(response.headers().get("cache-control").is_none());
}

#[tokio::test]
async fn multi_valued_headers_are_preserved_in_order() {
    let app = Response::builder()
        .header("set-cookie", "a=1; Path=/")
        .header("vary", "accept-encoding")
        .header("set-cookie", "b=2, c=3")
        .header("link", "</a.css>; rel=preload")
        .header("vary", "origin")
        .header("link", "</b.js>; rel=preload")
        .header("set-cookie", "d=4")
        .body("")
        .unwrap();

    let response = get(&SecurityLayer::strict(), app).await;

    let values = |name| -> Vec<&str> {
        response
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    };
    // Each cookie keeps its own field, in order; hardening only appends to it.
    let hardened = "; Secure; HttpOnly; SameSite=Strict";
    assert_eq!(
        values("set-cookie"),
        [
            format!("a=1; Path=/{hardened}"),
            format!("b=2, c=3{hardened}"),
            format!("d=4{hardened}")
        ]
    );
    assert_eq!(values("vary"), ["accept-encoding", "origin"]);
    assert_eq!(
        values("link"),
        ["</a.css>; rel=preload", "</b.js>; rel=preload"]
    );
}

#[tokio::test]
async fn fingerprinting_headers_are_stripped() {
    let app = Response::builder()
        .header("server", "nginx/1.25.3")
        .header("x-powered-by", "Express")
        .header("x-aspnet-version", "4.0.30319")
        .header("x-generator", "Drupal 10")
        .header("x-internal-host", "db-3")
        .header("x-request-id", "abc")
        .body("")
        .unwrap();
    let layer = SecurityLayer::builder()
        .strip_header("X-Internal-Host")
        .build()
        .unwrap();
    let keep = SecurityLayer::builder()
        .strip_fingerprint_headers(false)
        .build()
        .unwrap();

    let stripped = get(&layer, app.clone()).await;
    let kept = get(&keep, app).await;

    for name in [
        "server",
        "x-powered-by",
        "x-aspnet-version",
        "x-generator",
        "x-internal-host",
    ] {
        assert!(stripped.headers().get(name).is_none(), "{name} kept");
    }
    assert_eq!(stripped.headers()["x-request-id"], "abc");
    assert_eq!(kept.headers()["server"], "nginx/1.25.3");
}

#[tokio::test]
async fn head_204_and_304_keep_status_and_empty_body() {
    let layer = SecurityLayer::strict();
    let head = Request::builder()
        .method(Method::HEAD)
        .header("host", "localhost")
        .body(Full::default())
        .unwrap();
    let no_content = Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body("")
        .unwrap();
    let not_modified = Response::builder()
        .status(StatusCode::NOT_MODIFIED)
        .header("etag", "\"v1\"")
        .body("")
        .unwrap();
    let head_response = Response::builder()
        .header("content-length", "5")
        .body("")
        .unwrap();

    let (head, _) = run(&layer, head, head_response).await;
    let no_content = get(&layer, no_content).await;
    let not_modified = get(&layer, not_modified).await;

    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        head.headers()["content-length"],
        "5",
        "HEAD keeps the GET length"
    );
    assert!(head.body().is_empty());
    assert!(head.headers().contains_key("content-security-policy"));

    assert_eq!(no_content.status(), StatusCode::NO_CONTENT);
    assert!(no_content.body().is_empty());
    assert!(no_content.headers().get("content-length").is_none());
    assert!(no_content.headers().contains_key("x-content-type-options"));

    // A 304 refreshes the cached response's headers: no new nonce, no new caching rule.
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    assert!(not_modified.body().is_empty());
    assert_eq!(not_modified.headers()["etag"], "\"v1\"");
    assert!(
        not_modified
            .headers()
            .get("content-security-policy")
            .is_none()
    );
    assert!(not_modified.headers().get("cache-control").is_none());
    assert!(not_modified.headers().get("content-length").is_none());
    assert_eq!(not_modified.headers()["x-frame-options"], "DENY");
}

#[tokio::test]
async fn a_nonce_free_csp_is_sent_on_304_too() {
    let csp = ContentSecurityPolicy::new().directive("default-src", ["'none'"]);
    let layer = SecurityLayer::builder()
        .content_security_policy(csp)
        .build()
        .unwrap();
    let not_modified = Response::builder()
        .status(StatusCode::NOT_MODIFIED)
        .body("")
        .unwrap();

    let response = get(&layer, not_modified).await;

    assert_eq!(
        response.headers()["content-security-policy"],
        "default-src 'none'"
    );
}

#[tokio::test]
async fn report_only_and_reporting_endpoints() {
    let layer = SecurityLayer::builder()
        .content_security_policy(ContentSecurityPolicy::strict().report_to("/csp-reports"))
        .content_security_policy_report_only(
            ContentSecurityPolicy::strict()
                .directive("require-trusted-types-for", ["'script'"])
                .report_to("/csp-reports"),
        )
        .build()
        .unwrap();

    let (response, nonce) = run(&layer, request(), ok()).await;

    let headers = response.headers();
    let nonce = nonce.unwrap();
    let enforced = headers["content-security-policy"].to_str().unwrap();
    let report_only = headers["content-security-policy-report-only"]
        .to_str()
        .unwrap();
    assert!(enforced.ends_with("; report-to csp-endpoint; report-uri /csp-reports"));
    assert!(report_only.contains("require-trusted-types-for 'script'"));
    assert!(
        report_only.contains(&format!("'nonce-{nonce}'")),
        "both share the nonce"
    );
    assert_eq!(
        headers["reporting-endpoints"],
        "csp-endpoint=\"/csp-reports\""
    );
}

#[tokio::test]
async fn xss_protection_can_be_set_to_block_for_legacy_policies() {
    let layer = SecurityLayer::builder()
        .xss_protection(XssProtection::Block)
        .build()
        .unwrap();

    let response = get(&layer, ok()).await;

    assert_eq!(response.headers()["x-xss-protection"], "1; mode=block");
}

#[tokio::test]
async fn request_body_and_response_body_pass_through_untouched() {
    let layer = SecurityLayer::strict();
    let payload: Vec<u8> = (0..65_536u32).map(|i| (i * 7 % 251) as u8).collect();
    let service = layer.layer(service_fn(
        |req: Request<RequestBody<Full<Bytes>>>| async move {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            Ok::<_, Infallible>(Response::new(Full::new(body)))
        },
    ));

    let request = Request::post("/")
        .header("host", "localhost")
        .body(Full::from(payload.clone()))
        .unwrap();

    let response = service.oneshot(request).await.unwrap();

    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, payload);
}
