//! Unit tests of the header policy: compilation, the response template and the merge.

use super::*;

#[test]
fn strict_compiles_with_a_nonce() {
    let policy = HeaderSettings::strict().compile(false).unwrap();

    assert!(policy.nonce);
    assert_eq!(policy.fixed.len(), 11);
    assert!(policy.hsts.is_some());
    assert!(policy.reporting_endpoints.is_none());
}

/// The template path and the header-by-header path must give the same headers; only the
/// order of different names may differ, which carries no meaning (RFC 9110 §5.3).
#[test]
fn merged_response_keeps_every_app_field_and_adds_the_rest() {
    let policy = HeaderSettings::strict().compile(false).unwrap();
    let mut response = Response::new(());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    headers.append(
        header::LINK,
        HeaderValue::from_static("</a.css>; rel=preload"),
    );
    headers.append(
        header::LINK,
        HeaderValue::from_static("</b.js>; rel=preload"),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    headers.insert(header::SERVER, HeaderValue::from_static("nginx/1.25"));
    let id = HeaderValue::from_static("abc");
    let nonce = CspNonce::generate();

    policy.on_response(Some(nonce), None, Some(&id), &mut response);

    let headers = response.headers();
    let links: Vec<_> = headers.get_all(header::LINK).iter().collect();
    assert_eq!(links, ["</a.css>; rel=preload", "</b.js>; rel=preload"]);
    assert_eq!(headers.get_all(header::X_FRAME_OPTIONS).iter().count(), 1);
    assert_eq!(headers[header::X_FRAME_OPTIONS], "SAMEORIGIN");
    assert_eq!(headers[header::CONTENT_TYPE], "text/html");
    assert_eq!(headers[X_REQUEST_ID], "abc");
    assert!(!headers.contains_key(header::SERVER));
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains(&format!("'nonce-{nonce}'")), "{csp}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store, max-age=0");
    assert!(headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
    for (name, value) in policy
        .fixed
        .iter()
        .filter(|(n, _)| n != header::X_FRAME_OPTIONS)
    {
        assert_eq!(
            headers.get_all(name).iter().collect::<Vec<_>>(),
            [value],
            "{name}"
        );
    }
    // Every name once, but `Link`, which the application sent twice.
    assert_eq!(headers.len(), headers.keys_len() + 1);
}

#[test]
fn merged_plain_http_response_has_neither_hsts_nor_upgrade() {
    let policy = HeaderSettings::strict().compile(false).unwrap();
    let mut response = Response::new(());
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60"),
    );

    policy.on_response(Some(CspNonce::generate()), Some(false), None, &mut response);

    let headers = response.headers();
    assert!(!headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(!csp.contains("upgrade-insecure-requests"), "{csp}");
    assert_eq!(headers.get_all(header::CACHE_CONTROL).iter().count(), 1);
    assert_eq!(headers[header::CACHE_CONTROL], "max-age=60");
    assert!(!headers.contains_key(X_REQUEST_ID));
}

/// Browsers ignore `Reporting-Endpoints` on plain HTTP, and `report-to` would make them
/// ignore `report-uri`: plain-HTTP responses report by `report-uri` alone.
#[test]
fn plain_http_reports_by_report_uri_alone() {
    let settings = HeaderSettings {
        csp: Some(ContentSecurityPolicy::strict().report_to("/csp")),
        ..HeaderSettings::strict()
    };
    let policy = settings.compile(false).unwrap();
    let cases = [
        ("https", None, true),
        ("plain, merged", Some(false), false),
        ("unknown", None, true),
    ];

    for (name, https, reporting_api) in cases {
        let mut response = Response::new(());
        policy.on_response(Some(CspNonce::generate()), https, None, &mut response);

        let headers = response.headers();
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.ends_with("report-uri /csp"), "{name}: {csp}");
        assert_eq!(csp.contains("report-to"), reporting_api, "{name}: {csp}");
        assert_eq!(
            headers.contains_key("reporting-endpoints"),
            reporting_api,
            "{name}"
        );
    }
}

#[test]
fn report_urls_become_one_reporting_endpoint_each() {
    let cases = [
        ("shared URL", "/csp", "/csp", r#"csp-endpoint="/csp""#),
        (
            "distinct URLs",
            "/a",
            "/b",
            r#"csp-endpoint="/a", csp-report-only-endpoint="/b""#,
        ),
    ];

    for (name, enforced, report_only, expected) in cases {
        let settings = HeaderSettings {
            csp: Some(ContentSecurityPolicy::strict().report_to(enforced)),
            csp_report_only: Some(ContentSecurityPolicy::strict().report_to(report_only)),
            ..HeaderSettings::strict()
        };

        let policy = settings.compile(false).unwrap();

        let endpoints = policy.reporting_endpoints.as_ref();
        assert_eq!(
            endpoints.map(|v| v.to_str().unwrap()),
            Some(expected),
            "{name}"
        );
    }
}

#[test]
fn invalid_strip_header_name_is_refused() {
    let settings = HeaderSettings {
        strip_extra: vec!["x bad".into()],
        ..HeaderSettings::strict()
    };

    let err = settings.compile(false).unwrap_err();

    assert_eq!(err.setting(), "strip_header");
}

/// The templates' slots (for `Content-Type`, the request id and a CSP with a nonce) are
/// filled by the application's value where it sent one, by the policy's otherwise, and never
/// go out empty.
#[test]
fn template_slots_never_leak_and_the_application_wins() {
    let mut settings = HeaderSettings::strict();
    settings.csp_report_only = Some(ContentSecurityPolicy::strict());
    let policy = settings.compile(false).unwrap().issuing_request_ids(true);
    let app_fields: [(HeaderName, &str); 4] = [
        (header::CONTENT_TYPE, "text/plain"),
        (X_REQUEST_ID, "app-id"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'self'"),
        (
            header::CONTENT_SECURITY_POLICY_REPORT_ONLY,
            "img-src 'none'",
        ),
    ];
    // Every subset of the fields, with and without a request id from the policy.
    for subset in 0..16u8 {
        for request_id in [Some(HeaderValue::from_static("ours")), None] {
            let mut response = Response::new(());
            for (i, (name, value)) in app_fields.iter().enumerate() {
                if subset & (1 << i) != 0 {
                    response
                        .headers_mut()
                        .insert(name, HeaderValue::from_static(value));
                }
            }
            let nonce = CspNonce::generate();

            policy.on_response(Some(nonce), None, request_id.as_ref(), &mut response);

            let headers = response.headers();
            let case = format!("subset {subset:04b}, request id {request_id:?}");
            assert!(
                headers.values().all(|v| !v.is_empty()),
                "{case}: {headers:?}"
            );
            assert_eq!(headers.len(), headers.keys_len(), "{case}");
            for (i, (name, value)) in app_fields.iter().enumerate() {
                let sent = headers.get(name).map(|v| v.to_str().unwrap());
                if subset & (1 << i) != 0 {
                    assert_eq!(sent, Some(*value), "{case}: {name}");
                    continue;
                }
                match i {
                    0 => assert_eq!(sent, None, "{case}"),
                    1 => assert_eq!(sent, request_id.as_ref().map(|_| "ours"), "{case}"),
                    _ => {
                        let csp = sent.unwrap_or_else(|| panic!("{case}: no {name}"));
                        assert!(csp.contains(&format!("'nonce-{nonce}'")), "{case}: {csp}");
                    }
                }
            }
        }
    }
}
