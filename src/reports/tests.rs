//! Table-driven tests of the report reader on browsers' own reports and on hostile input, and
//! of what an event may show of a report.

use proptest::prelude::*;

use super::json::{Invalid, MAX_DEPTH, MAX_REPORTS, Report, read_reports};
use super::*;

/// A Reporting API batch as Chrome sends it: `type` after `body`, a report of another type
/// in the same batch, and a `sample` with an escaped quote.
const CHROME_BATCH: &str = r#"[
  {
    "age": 53531,
    "body": {
      "blockedURL": "inline",
      "columnNumber": 39,
      "disposition": "enforce",
      "documentURL": "https://example.com/csp-report?user=42",
      "effectiveDirective": "script-src-elem",
      "lineNumber": 121,
      "originalPolicy": "default-src 'self'; report-to csp-endpoint",
      "referrer": "https://www.google.com/",
      "sample": "console.log(\"lo\")",
      "sourceFile": "https://example.com/csp-report",
      "statusCode": 200
    },
    "type": "csp-violation",
    "url": "https://example.com/csp-report?user=42",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/127.0.0.0"
  },
  {
    "age": 12,
    "body": {"id": "NavigatorGetUserMedia", "message": "deprecated", "lineNumber": 1},
    "type": "deprecation",
    "url": "https://example.com/",
    "user_agent": "Mozilla/5.0"
  },
  {
    "type": "csp-violation",
    "url": "https://example.com/fonts",
    "body": {
      "blockedURL": "https://fonts.example.net/a.woff2",
      "disposition": "report",
      "effectiveDirective": "font-src",
      "statusCode": 200
    }
  }
]"#;

/// A `report-uri` document as Firefox sends it.
const FIREFOX_REPORT: &str = r#"{"csp-report":{"blocked-uri":"https://evil.example/x.js",
"column-number":1,"disposition":"enforce","document-uri":"https://example.com/signup.html",
"effective-directive":"script-src-elem","line-number":12,
"original-policy":"script-src 'self'; report-uri https://example.com/csp","referrer":"",
"source-file":"https://example.com/signup.html","status-code":200,
"violated-directive":"script-src-elem"}}"#;

/// A `report-uri` document from a CSP Level 2 browser: the violated directive with its
/// sources, and no effective directive.
const CSP2_REPORT: &str = r#"{"csp-report": {"document-uri": "http://example.org/page.html",
"referrer": "http://evil.example.com/", "blocked-uri": "http://evil.example.com/evil.js",
"violated-directive": "script-src 'self' https://apis.example.com",
"original-policy": "script-src 'self' https://apis.example.com; report-uri /csp"}}"#;

fn text<'a>(value: &'a Option<Cow<'_, str>>) -> Option<&'a str> {
    value.as_deref()
}

#[test]
fn chrome_batches_yield_their_csp_violations() {
    let reports = read_reports(CHROME_BATCH.as_bytes()).unwrap();

    assert_eq!(reports.len(), 2);
    let first = &reports[0];
    assert_eq!(
        text(&first.document),
        Some("https://example.com/csp-report?user=42")
    );
    assert_eq!(first.directive(), Some("script-src-elem"));
    assert_eq!(text(&first.blocked), Some("inline"));
    assert_eq!(text(&first.disposition), Some("enforce"));
    assert_eq!(
        text(&first.source_file),
        Some("https://example.com/csp-report")
    );
    assert_eq!(first.line, Some(121));
    // The body has no `documentURL`: the report's `url` stands in.
    assert_eq!(
        text(&reports[1].document),
        Some("https://example.com/fonts")
    );
    assert_eq!(reports[1].directive(), Some("font-src"));
    assert_eq!(text(&reports[1].disposition), Some("report"));
}

#[test]
fn report_uri_documents_yield_one_report() {
    let firefox = read_reports(FIREFOX_REPORT.as_bytes()).unwrap();
    let csp2 = read_reports(CSP2_REPORT.as_bytes()).unwrap();

    assert_eq!(firefox.len(), 1);
    assert_eq!(
        text(&firefox[0].document),
        Some("https://example.com/signup.html")
    );
    assert_eq!(firefox[0].directive(), Some("script-src-elem"));
    assert_eq!(text(&firefox[0].blocked), Some("https://evil.example/x.js"));
    assert_eq!(firefox[0].line, Some(12));
    assert_eq!(csp2.len(), 1);
    assert_eq!(csp2[0].directive(), Some("script-src"));
    assert_eq!(
        text(&csp2[0].violated_directive),
        Some("script-src 'self' https://apis.example.com")
    );
}

#[test]
fn escapes_are_decoded() {
    let cases = [
        ("quote and backslash", r#""a\"b\\c""#, "a\"b\\c"),
        ("solidus", r#""https:\/\/a.test\/""#, "https://a.test/"),
        ("controls", r#""\b\f\n\r\t""#, "\u{8}\u{c}\n\r\t"),
        ("line separator", r#""/\u2028x""#, "/\u{2028}x"),
        ("upper-case hex", r#""\u00E9\u00e9""#, "éé"),
        ("surrogate pair", r#""\ud83d\ude00""#, "😀"),
        ("lone high surrogate", r#""\ud83dx""#, "\u{fffd}x"),
        ("high then non-low", r#""\ud83d\u0041""#, "\u{fffd}A"),
        ("lone low surrogate", r#""\ude00""#, "\u{fffd}"),
        ("NUL", r#""\u0000""#, "\0"),
        ("raw UTF-8 around an escape", r#""é\nü""#, "é\nü"),
        ("no escape", r#""plain""#, "plain"),
    ];

    for (name, literal, expected) in cases {
        let document = format!(r#"{{"csp-report": {{"document-uri": {literal}}}}}"#);

        let reports = read_reports(document.as_bytes());

        let reports = reports.unwrap_or_else(|err| panic!("{name}: {err:?}"));
        assert_eq!(text(&reports[0].document), Some(expected), "{name}");
    }
}

#[test]
fn unescaped_strings_are_borrowed() {
    let reports = read_reports(FIREFOX_REPORT.as_bytes()).unwrap();

    assert!(matches!(reports[0].document, Some(Cow::Borrowed(_))));
}

#[test]
fn fields_of_the_wrong_type_are_ignored() {
    type Check = fn(&Report<'_>) -> bool;
    // One case per line: rustfmt would spread each over several.
    #[rustfmt::skip]
    let cases: [(&str, &str, Check); 6] = [
        ("number for a URL", r#""document-uri": 42"#, |r| r.document.is_none()),
        ("object for a URL", r#""blocked-uri": {"a": "b"}"#, |r| r.blocked.is_none()),
        ("null directive", r#""effective-directive": null"#, |r| r.directive().is_none()),
        ("string line", r#""line-number": "12""#, |r| r.line.is_none()),
        ("fractional line", r#""line-number": 1.5"#, |r| r.line.is_none()),
        ("negative line", r#""line-number": -3"#, |r| r.line.is_none()),
    ];

    for (name, member, check) in cases {
        let document = format!(r#"{{"csp-report": {{{member}, "disposition": "enforce"}}}}"#);

        let reports = read_reports(document.as_bytes());

        let reports = reports.unwrap_or_else(|err| panic!("{name}: {err:?}"));
        assert!(check(&reports[0]), "{name}: {:?}", reports[0]);
        assert_eq!(text(&reports[0].disposition), Some("enforce"), "{name}");
    }
}

#[test]
fn only_the_report_objects_fields_count() {
    let cases = [
        (
            "nested object inside the report",
            r#"{"csp-report": {"x": {"document-uri": "nested"}, "document-uri": "top"}}"#,
            Some("top"),
        ),
        (
            "field beside the report",
            r#"{"document-uri": "outside", "csp-report": {}}"#,
            None,
        ),
        (
            "field of the envelope, not the body",
            r#"[{"type": "csp-violation", "documentURL": "envelope", "body": {}}]"#,
            None,
        ),
        (
            "key after a nested value",
            r#"{"csp-report": {"a": [1, {"b": 2}], "document-uri": "after"}}"#,
            Some("after"),
        ),
        (
            "last duplicate wins",
            r#"{"csp-report": {"document-uri": "one", "document-uri": "two"}}"#,
            Some("two"),
        ),
    ];

    for (name, document, expected) in cases {
        let reports = read_reports(document.as_bytes());

        let reports = reports.unwrap_or_else(|err| panic!("{name}: {err:?}"));
        assert_eq!(text(&reports[0].document), expected, "{name}");
    }
}

#[test]
fn batches_keep_only_csp_violations_with_a_body() {
    // One case per line: rustfmt would spread each over several.
    #[rustfmt::skip]
    let cases = [
        ("empty batch", "[]", 0),
        ("other type", r#"[{"type": "deprecation", "body": {}}]"#, 0),
        ("no type", r#"[{"body": {"documentURL": "x"}}]"#, 0),
        ("no body", r#"[{"type": "csp-violation"}]"#, 0),
        ("body not an object", r#"[{"type": "csp-violation", "body": [1]}]"#, 0),
        ("type not a string", r#"[{"type": 1, "body": {}}]"#, 0),
        ("scalars and arrays skipped", r#"[1, "a", null, [], {}]"#, 0),
        ("one", r#"[{"type": "csp-violation", "body": {}}]"#, 1),
        ("type last", r#"[{"body": {}, "type": "csp-violation"}]"#, 1),
    ];

    for (name, document, count) in cases {
        let reports = read_reports(document.as_bytes());

        assert_eq!(reports.map(|r| r.len()), Ok(count), "{name}");
    }
}

#[test]
fn invalid_documents_are_refused() {
    use Invalid::{NotReports, Syntax, TooDeep};
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(1000), "}".repeat(1000));
    // One case per line: rustfmt would spread each over several.
    #[rustfmt::skip]
    let cases: Vec<(&str, &[u8], Invalid)> = vec![
        ("empty", b"", Syntax),
        ("whitespace", b" \n ", Syntax),
        ("garbage", b"not json", Syntax),
        ("truncated", br#"{"csp-report": {"document-uri": "x"#, Syntax),
        ("unclosed", br#"{"csp-report": {}"#, Syntax),
        ("trailing data", br#"{"csp-report": {}} x"#, Syntax),
        ("two documents", br#"{"csp-report": {}}{"csp-report": {}}"#, Syntax),
        ("trailing comma", br#"{"csp-report": {"a": 1,}}"#, Syntax),
        ("missing colon", br#"{"csp-report" {}}"#, Syntax),
        ("single quotes", br"{'csp-report': {}}", Syntax),
        ("unquoted key", br"{csp-report: {}}", Syntax),
        ("raw newline in string", b"{\"csp-report\": {\"a\": \"x\ny\"}}", Syntax),
        ("unknown escape", br#"{"csp-report": {"a": "\x"}}"#, Syntax),
        ("short unicode escape", br#"{"csp-report": {"a": "\u12"}}"#, Syntax),
        ("bad hex", br#"{"csp-report": {"a": "\u12G4"}}"#, Syntax),
        ("leading zero", br#"{"csp-report": {"a": 01}}"#, Syntax),
        ("bare minus", br#"{"csp-report": {"a": -}}"#, Syntax),
        ("empty fraction", br#"{"csp-report": {"a": 1.}}"#, Syntax),
        ("empty exponent", br#"{"csp-report": {"a": 1e}}"#, Syntax),
        ("NaN", br#"{"csp-report": {"a": NaN}}"#, Syntax),
        ("misspelt literal", br#"{"csp-report": {"a": tru}}"#, Syntax),
        ("mismatched bracket", br#"{"csp-report": {]}"#, Syntax),
        ("invalid UTF-8", b"{\"csp-report\": {\"a\": \"\xff\"}}", Syntax),
        ("deep arrays", deep.as_bytes(), TooDeep),
        ("deep objects", deep_objects.as_bytes(), TooDeep),
        ("bare string", br#""csp-report""#, NotReports),
        ("bare number", b"42", NotReports),
        ("object without a report", br#"{"csp": {}}"#, NotReports),
        ("report not an object", br#"{"csp-report": "x"}"#, NotReports),
        ("report nested too far", br#"{"a": {"csp-report": {}}}"#, NotReports),
    ];

    for (name, body, expected) in cases {
        assert_eq!(read_reports(body), Err(expected), "{name}");
    }
}

#[test]
fn nesting_is_allowed_up_to_the_limit() {
    let at_limit = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    let over = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));

    assert_eq!(read_reports(at_limit.as_bytes()), Ok(Vec::new()));
    assert_eq!(read_reports(over.as_bytes()), Err(Invalid::TooDeep));
}

#[test]
fn a_byte_order_mark_and_whitespace_are_allowed() {
    let document = format!("\u{feff} \t\r\n{FIREFOX_REPORT}\n");

    let reports = read_reports(document.as_bytes());

    assert_eq!(reports.map(|r| r.len()), Ok(1));
}

#[test]
fn every_truncation_of_a_report_is_refused() {
    for document in [CHROME_BATCH, FIREFOX_REPORT, CSP2_REPORT] {
        for cut in 0..document.len() {
            let prefix = &document.as_bytes()[..cut];

            let result = read_reports(prefix);

            assert!(result.is_err(), "{:?}", String::from_utf8_lossy(prefix));
        }
    }
}

#[test]
fn huge_strings_are_read_in_one_pass() {
    let plain = "a".repeat(60_000);
    let escaped = "\\n".repeat(30_000);
    let document =
        format!(r#"{{"csp-report": {{"document-uri": "/{plain}", "blocked-uri": "{escaped}"}}}}"#);

    let reports = read_reports(document.as_bytes()).unwrap();

    assert_eq!(reports[0].document.as_ref().map(|d| d.len()), Some(60_001));
    assert_eq!(reports[0].blocked.as_ref().map(|b| b.len()), Some(30_000));
}

#[test]
fn a_thousand_reports_keep_the_first_twenty() {
    let report = |i: usize| {
        format!(r#"{{"type":"csp-violation","body":{{"documentURL":"https://a.test/{i}"}}}}"#)
    };
    let batch = format!("[{}]", (0..1000).map(report).collect::<Vec<_>>().join(","));

    let reports = read_reports(batch.as_bytes()).unwrap();

    assert_eq!(reports.len(), MAX_REPORTS);
    assert_eq!(text(&reports[0].document), Some("https://a.test/0"));
    assert_eq!(text(&reports[19].document), Some("https://a.test/19"));
}

#[test]
fn a_bad_report_after_the_twentieth_still_fails_the_document() {
    let report = r#"{"type":"csp-violation","body":{}}"#;
    let batch = format!("[{}, {{\"a\": tru}}]", vec![report; 30].join(","));

    assert_eq!(read_reports(batch.as_bytes()), Err(Invalid::Syntax));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = read_reports(&body);
    }

    #[test]
    fn json_like_text_never_panics(body in r#"[\[\]{}",:0-9a-z\\ -]{0,64}"#) {
        let _ = read_reports(body.as_bytes());
    }
}

#[test]
fn rules_name_known_directives_only() {
    let cases = [
        (Some("script-src-elem"), "script-src-elem"),
        (Some("SCRIPT-SRC"), "script-src"),
        (Some("img-src"), "img-src"),
        (Some("frame-ancestors"), "frame-ancestors"),
        (
            Some("require-trusted-types-for"),
            "require-trusted-types-for",
        ),
        (Some("script-src\n"), "other"),
        (Some("x-evil\"directive"), "other"),
        (Some(""), "other"),
        (None, "other"),
    ];

    for (directive, expected) in cases {
        assert_eq!(rule(directive), expected, "{directive:?}");
    }
}

#[test]
fn document_paths_leave_out_host_query_and_fragment() {
    let cases = [
        ("https://example.com/a/b?token=s3cret#frag", "/a/b"),
        ("https://example.com", "/"),
        ("https://example.com?x=1", "/"),
        ("https://user:pw@example.com:8443/p", "/p"),
        ("HTTP://EXAMPLE.COM/Case", "/Case"),
        ("/relative/path?q", "/relative/path"),
        ("//example.com/protocol-relative", "/protocol-relative"),
        ("about:blank", "about:"),
        ("about:srcdoc", "about:"),
        ("data:text/html,<script>alert(1)</script>", "data:"),
        ("blob:https://example.com/5e1d", "blob:"),
        ("javascript:alert(1)", "javascript:"),
        ("not a url", ""),
        ("1http://x/y", ""),
        ("", ""),
    ];

    for (url, expected) in cases {
        assert_eq!(document_path(url), expected, "{url}");
    }
}

#[test]
fn blocked_resources_show_their_origin_only() {
    let cases = [
        (
            "https://evil.example/x.js?key=s3cret",
            "https://evil.example",
        ),
        ("https://evil.example:8443", "https://evil.example:8443"),
        ("https://user:pw@evil.example/x", "https://evil.example"),
        ("wss://socket.example/path#f", "wss://socket.example"),
        ("data:image/png;base64,AAAA", "data:"),
        ("blob:https://example.com/uuid", "blob:"),
        ("inline", "inline"),
        ("eval", "eval"),
        ("wasm-eval", "wasm-eval"),
        ("trusted-types-policy", "trusted-types-policy"),
        ("self", "self"),
        ("Inline", "other"),
        ("in line", "other"),
        ("", "other"),
        ("a-keyword-much-longer-than-any-real-one", "other"),
    ];

    for (blocked, expected) in cases {
        assert_eq!(blocked_origin(blocked), expected, "{blocked}");
    }
}

#[test]
fn report_media_types_are_recognised() {
    type Fields = &'static [(&'static str, &'static str)];
    // One case per line: rustfmt would spread each over several.
    #[rustfmt::skip]
    let cases: [(&str, Fields, bool); 11] = [
        ("csp-report", &[("content-type", "application/csp-report")], true),
        ("reports+json", &[("content-type", "application/reports+json")], true),
        ("json", &[("content-type", "application/json")], true),
        ("charset", &[("content-type", "application/json; charset=utf-8")], true),
        ("case", &[("content-type", "Application/CSP-Report")], true),
        ("identity", &[("content-type", "application/json"), ("content-encoding", "identity")],
            true),
        ("none", &[], false),
        ("text", &[("content-type", "text/plain")], false),
        ("suffix only", &[("content-type", "application/json-seq")], false),
        ("two types", &[("content-type", "application/json"), ("content-type", "text/plain")],
            false),
        ("gzip", &[("content-type", "application/json"), ("content-encoding", "gzip")], false),
    ];

    for (name, fields, expected) in cases {
        let mut headers = HeaderMap::new();
        for &(field, value) in fields {
            let field = HeaderName::from_static(field);
            headers.append(field, HeaderValue::from_static(value));
        }

        assert_eq!(is_report_media_type(&headers), expected, "{name}");
    }
}
