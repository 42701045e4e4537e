//! The rules: each reads the builder's settings as given and reports catalogue ids, with a
//! detail naming the values at fault where there are several.

use http::Method;

use crate::SecurityLayerBuilder;
use crate::headers::{ContentSecurityPolicy, CrossOriginEmbedderPolicy, FrameOptions};

/// The shortest HSTS `max-age` the audit accepts, and the HSTS preload list's minimum.
const ONE_YEAR: u64 = 31_536_000;

/// The largest body limit the audit accepts without a finding.
const LARGE_BODY: u64 = 100 << 20;

/// The directives that decide whether a script runs: `script-src`, or `default-src` in its
/// absence, and CSP Level 3's `script-src-elem` and `script-src-attr`.
fn script_directives(csp: &ContentSecurityPolicy) -> Vec<(&'static str, &[String])> {
    let main = match csp.sources("script-src") {
        Some(sources) => ("script-src", sources),
        None => match csp.sources("default-src") {
            Some(sources) => ("default-src", sources),
            None => return Vec::new(),
        },
    };
    let mut out = vec![main];
    for name in ["script-src-elem", "script-src-attr"] {
        if let Some(sources) = csp.sources(name) {
            out.push((name, sources));
        }
    }
    out
}

/// A finding: its id and an optional detail appended to the catalogue's summary.
pub(super) type Hit = (&'static str, Option<String>);

/// Runs every rule over `settings`.
pub(super) fn check(settings: &SecurityLayerBuilder) -> Vec<Hit> {
    let mut hits = Vec::new();
    transport(settings, &mut hits);
    input(settings, &mut hits);
    cookies(settings, &mut hits);
    framing(settings, &mut hits);
    csp(settings, &mut hits);
    if !settings.request_ids {
        hits.push(("TS-LOG-001", None));
    }
    if !settings.scrub.server_errors {
        hits.push(("TS-ERROR-001", None));
    }
    hits
}

fn transport(s: &SecurityLayerBuilder, hits: &mut Vec<Hit>) {
    if s.development {
        hits.push(("TS-DEV-001", None));
    }
    match &s.https {
        None => hits.push(("TS-HTTPS-001", None)),
        Some(https) if https.canonical_host().is_none() => hits.push(("TS-HTTPS-002", None)),
        Some(_) => {}
    }
    // `preload` without a year and `includeSubDomains` is refused by `build`, so a built
    // layer never has it; no rule is needed.
    match &s.headers.hsts {
        None => hits.push(("TS-HSTS-001", None)),
        Some(hsts) => {
            let max_age = hsts.max_age_secs();
            if max_age < ONE_YEAR {
                hits.push(("TS-HSTS-002", Some(format!("max-age={max_age}"))));
            }
            if !hsts.includes_subdomains() {
                hits.push(("TS-HSTS-003", None));
            }
        }
    }
}

fn input(s: &SecurityLayerBuilder, hits: &mut Vec<Hit>) {
    match &s.hosts {
        None => hits.push(("TS-HOSTS-002", None)),
        Some(hosts) if hosts.is_empty() => hits.push(("TS-HOSTS-001", None)),
        Some(_) => {}
    }
    if s.cross_origin.is_none() {
        hits.push(("TS-CSRF-001", None));
    }
    match &s.limits {
        None => hits.push((
            "TS-LIMITS-001",
            Some("all request limits are off".to_owned()),
        )),
        Some(limits) => {
            let (default, routes) = limits.body_limits();
            if default.is_none() {
                hits.push(("TS-LIMITS-001", None));
            }
            let large: Vec<String> = default
                .map(|bytes| ("default", bytes))
                .into_iter()
                .chain(
                    routes
                        .iter()
                        .map(|(prefix, bytes)| (prefix.as_str(), *bytes)),
                )
                .filter(|&(_, bytes)| bytes > LARGE_BODY)
                .map(|(scope, bytes)| format!("{scope}: {bytes} bytes"))
                .collect();
            if !large.is_empty() {
                hits.push(("TS-LIMITS-002", Some(large.join(", "))));
            }
        }
    }
    match &s.methods {
        None => hits.push(("TS-METHOD-001", None)),
        Some(methods) => {
            let risky: Vec<&str> = methods
                .methods()
                .iter()
                .filter(|m| **m == Method::TRACE || **m == Method::CONNECT)
                .map(Method::as_str)
                .collect();
            if !risky.is_empty() {
                hits.push(("TS-METHOD-002", Some(risky.join(", "))));
            }
        }
    }
    match &s.uri {
        None => hits.push(("TS-URI-001", None)),
        Some(rules) if !rules.relaxed().is_empty() => {
            hits.push(("TS-URI-002", Some(rules.relaxed().join(", "))));
        }
        Some(_) => {}
    }
}

fn cookies(s: &SecurityLayerBuilder, hits: &mut Vec<Hit>) {
    let Some(policy) = &s.cookies else {
        let detail = "cookie handling is off: no Secure, HttpOnly or SameSite is added";
        hits.push(("TS-COOKIE-001", Some(detail.to_owned())));
        return;
    };
    if !policy.is_secure() {
        hits.push(("TS-COOKIE-001", None));
    }
    if !policy.is_http_only() {
        hits.push(("TS-COOKIE-002", None));
    }
    if policy.default_same_site().is_none() {
        hits.push(("TS-COOKIE-003", None));
    }
}

fn framing(s: &SecurityLayerBuilder, hits: &mut Vec<Hit>) {
    let ancestors = s
        .headers
        .csp
        .as_ref()
        .and_then(|csp| csp.sources("frame-ancestors"));
    let agrees = |expected: &str| ancestors.is_some_and(|a| a.len() == 1 && a[0] == expected);
    match (s.headers.frame_options, ancestors) {
        (None, None) => hits.push(("TS-FRAME-001", None)),
        (Some(FrameOptions::SameOrigin), None) => hits.push(("TS-FRAME-002", None)),
        (Some(FrameOptions::Deny), Some(list)) if !agrees("'none'") => {
            let detail = format!("DENY, frame-ancestors {}", list.join(" "));
            hits.push(("TS-FRAME-003", Some(detail)));
        }
        (Some(FrameOptions::SameOrigin), Some(list)) if !agrees("'self'") => {
            let detail = format!("SAMEORIGIN, frame-ancestors {}", list.join(" "));
            hits.push(("TS-FRAME-003", Some(detail)));
        }
        _ => {}
    }
    if s.headers.coep == Some(CrossOriginEmbedderPolicy::RequireCorp) && s.headers.corp.is_none() {
        hits.push(("TS-COEP-001", None));
    }
}

fn csp(s: &SecurityLayerBuilder, hits: &mut Vec<Hit>) {
    // `report-to` by hand is checked on both policies: reporting is what a report-only
    // policy is for.
    let policies = [&s.headers.csp, &s.headers.csp_report_only];
    let hand_written: Vec<&str> = policies
        .into_iter()
        .zip([
            "Content-Security-Policy",
            "Content-Security-Policy-Report-Only",
        ])
        .filter(|(csp, _)| {
            csp.as_ref()
                .is_some_and(|csp| csp.sources("report-to").is_some() && csp.report_url().is_none())
        })
        .map(|(_, header)| header)
        .collect();
    if !hand_written.is_empty() {
        hits.push(("TS-CSP-004", Some(hand_written.join(", "))));
    }

    let Some(csp) = &s.headers.csp else {
        hits.push(("TS-CSP-001", None));
        return;
    };
    let mut unsafe_sources = Vec::new();
    let mut nonce_beside_inline = Vec::new();
    for (name, sources) in script_directives(csp) {
        let has = |keyword: &str| sources.iter().any(|s| s.eq_ignore_ascii_case(keyword));
        // From CSP Level 2 on, a nonce or a hash makes browsers ignore `'unsafe-inline'`.
        let vouched = sources.iter().any(|s| {
            s == ContentSecurityPolicy::NONCE || s.to_ascii_lowercase().starts_with("'sha")
        });
        if has("'unsafe-inline'") {
            if vouched {
                nonce_beside_inline.push(name);
            } else {
                unsafe_sources.push(format!("{name} 'unsafe-inline'"));
            }
        }
        if has("'unsafe-eval'") {
            unsafe_sources.push(format!("{name} 'unsafe-eval'"));
        }
    }
    if !unsafe_sources.is_empty() {
        hits.push(("TS-CSP-002", Some(unsafe_sources.join(", "))));
    }
    if !nonce_beside_inline.is_empty() {
        hits.push(("TS-CSP-003", Some(nonce_beside_inline.join(", "))));
    }
    if csp.sources("upgrade-insecure-requests").is_some() && (s.development || s.https.is_none()) {
        let why = if s.development {
            "development mode"
        } else {
            "HTTPS enforcement off"
        };
        hits.push(("TS-CSP-005", Some(why.to_owned())));
    }
}
