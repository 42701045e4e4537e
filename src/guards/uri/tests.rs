//! Table-driven tests of the request-target rules, their limits and their configuration.

use std::fmt::Write as _;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::*;
use crate::ConfigErrorKind;

const OK: Result<(), UriRefusal> = Ok(());

/// A `400` refusal by `rule`.
fn bad(rule: &'static str) -> Result<(), UriRefusal> {
    Err(UriRefusal {
        status: StatusCode::BAD_REQUEST,
        rule,
    })
}

/// The `414` refusal.
fn too_long() -> Result<(), UriRefusal> {
    Err(UriRefusal {
        status: StatusCode::URI_TOO_LONG,
        rule: "target-length",
    })
}

fn check(rules: &UriRules, target: &str) -> Result<(), UriRefusal> {
    let uri: Uri = target.parse().unwrap();
    rules.compile().unwrap().check(&uri)
}

/// Every rule relaxed but `keep`.
fn only(keep: &[&str]) -> UriRules {
    let others = UriRules::RULES.iter().filter(|rule| !keep.contains(rule));
    others.fold(UriRules::strict(), |rules, rule| rules.relax(*rule))
}

#[test]
fn path_rules_refuse_every_form() {
    let dot = bad("dot-segment");
    let slash = bad("encoded-slash");
    let backslash = bad("backslash");
    let parameter = bad("path-parameter");
    let control = bad("control-character");
    let escape = bad("invalid-percent-encoding");
    let utf8 = bad("invalid-utf8");
    let separator = bad("unicode-separator");
    let drive = bad("drive-letter");
    // One case per line: rustfmt would spread each over four.
    #[rustfmt::skip]
    let cases = [
        ("dot", "/a/./b", dot),
        ("dot-dot", "/a/../b", dot),
        ("dot-dot first", "/../etc/passwd", dot),
        ("dot last", "/a/.", dot),
        ("dot-dot last", "/a/..", dot),
        ("dot-dot before a query", "/a/..?x=1", dot),
        ("dot-dot, absolute-form", "http://a.test/a/../b", dot),
        ("dot, encoded", "/a/%2e/b", dot),
        ("dot, encoded upper", "/a/%2E/b", dot),
        ("dot-dot, second encoded", "/a/.%2e/b", dot),
        ("dot-dot, first encoded", "/a/%2e./b", dot),
        ("dot-dot, encoded, mixed case", "/a/%2e%2E/b", dot),
        ("dot, double-encoded", "/a/%252e/b", dot),
        ("dot-dot, double-encoded", "/a/%252E%252e", dot),
        ("dot-dot, single and double", "/a/%2e%252e/b", dot),
        ("slash, encoded", "/a%2fb", slash),
        ("slash, encoded upper", "/a%2Fb", slash),
        ("slash, double-encoded", "/a%252fb", slash),
        ("slash, double-encoded upper", "/a%252Fb", slash),
        ("backslash", "/a\\b", backslash),
        ("backslash, encoded", "/a%5cb", backslash),
        ("backslash, encoded upper", "/a%5Cb", backslash),
        ("backslash, double-encoded", "/a%255cb", backslash),
        ("backslash traversal", "/a\\..\\b", backslash),
        ("parameter", "/a;b", parameter),
        ("session id", "/login;jsessionid=1", parameter),
        ("parameter, encoded", "/a%3bb", parameter),
        ("parameter, encoded upper", "/a%3Bb", parameter),
        ("servlet traversal", "/..;/admin", parameter),
        ("NUL, encoded", "/a%00", control),
        ("tab, encoded", "/a%09b", control),
        ("CR LF, encoded", "/a%0d%0aSet-Cookie:x", control),
        ("unit separator, encoded", "/a%1F", control),
        ("DEL, encoded", "/a%7f", control),
        ("first C1, encoded", "/a%c2%80", control),
        ("last C1, encoded", "/a%C2%9F", control),
        ("NEL", "/a\u{85}b", control),
        ("lone percent", "/a%", escape),
        ("one hex digit", "/a%2", escape),
        ("no hex digit", "/a%zz", escape),
        ("second digit not hex", "/a%2g", escape),
        ("percent before an escape", "/%%41", escape),
        ("percent after an escaped percent", "/a%25%", escape),
        ("overlong dot", "/%c0%ae", utf8),
        ("overlong slash, three bytes", "/%e0%80%af", utf8),
        ("surrogate", "/%ed%a0%80", utf8),
        ("beyond U+10FFFF", "/%f4%90%80%80", utf8),
        ("F5 lead", "/%f5%80%80%80", utf8),
        ("lone continuation", "/%80", utf8),
        ("FF", "/%ff", utf8),
        ("cut by the end", "/a%c3", utf8),
        ("cut by a slash", "/%c3/a", utf8),
        ("escape before raw UTF-8", "/%c3é", utf8),
        ("line separator", "/a%e2%80%a8", separator),
        ("paragraph separator", "/a%E2%80%A9", separator),
        ("left-to-right mark", "/a%e2%80%8e", separator),
        ("right-to-left mark", "/a%e2%80%8f", separator),
        ("left-to-right embedding", "/a%e2%80%aa", separator),
        ("right-to-left override", "/a%e2%80%ae", separator),
        ("left-to-right isolate", "/a%e2%81%a6", separator),
        ("pop directional isolate", "/a%e2%81%a9", separator),
        ("Arabic letter mark", "/a%d8%9c", separator),
        ("right-to-left override, raw", "/a\u{202e}b", separator),
        ("drive", "/c:", drive),
        ("drive, upper, with a path", "/C:/windows/win.ini", drive),
        ("drive deeper in the path", "/files/d:/x", drive),
        ("drive and a name", "/c:foo", drive),
        ("drive, encoded", "/%43%3a", drive),
        ("drive, colon encoded", "/c%3A", drive),
    ];

    for (name, target, expected) in cases {
        let verdict = check(&UriRules::strict(), target);

        assert_eq!(verdict, expected, "{name}");
    }
}

#[test]
fn ordinary_paths_and_near_misses_pass() {
    #[rustfmt::skip]
    let cases = [
        ("root", "/"),
        ("API call", "/api/v1/users/42?page=2"),
        ("empty segment", "/a//b"),
        ("dot inside", "/a.b"),
        ("dots before a name", "/..a"),
        ("dots after a name", "/a.."),
        ("three dots", "/..."),
        ("dot file", "/.well-known/security.txt"),
        ("encoded dots before a name", "/%2e%2efoo"),
        ("escaped percent", "/a%25b"),
        ("escaped percent before hex", "/%2541"),
        ("escaped percent before one digit", "/%252"),
        ("escaped percent before a non-hex", "/%25zz"),
        ("colon in a name", "/abc:def"),
        ("colon after two letters", "/ab:"),
        ("colon after a digit", "/1:"),
        ("colon first", "/:c"),
        ("encoded letter", "/%41"),
        ("encoded space", "/a%20b"),
        ("encoded tilde", "/a%7e"),
        ("UTF-8, encoded", "/caf%C3%A9"),
        ("UTF-8", "/café"),
        ("emoji, encoded", "/%F0%9F%98%80"),
        ("emoji", "/😀"),
        ("no-break space, after C1", "/%c2%a0"),
        ("zero-width space", "/%e2%80%8b"),
        ("U+2027, before the separators", "/%e2%80%a7"),
        ("U+202F, after the overrides", "/%e2%80%af"),
        ("asterisk-form", "*"),
        ("absolute-form", "http://a.test"),
        ("absolute-form with a query", "http://a.test?x=1"),
        ("empty query", "/?"),
    ];

    for (name, target) in cases {
        let verdict = check(&UriRules::strict(), target);

        assert_eq!(verdict, OK, "{name}");
    }
}

#[test]
fn query_rules_refuse_bad_escapes_only() {
    let control = bad("query-control-character");
    let escape = bad("query-invalid-percent-encoding");
    #[rustfmt::skip]
    let cases = [
        ("NUL", "/?a=%00", control),
        ("CR LF", "/?a=%0D%0A", control),
        ("unit separator", "/?a=%1f", control),
        ("DEL", "/?a=%7F", control),
        ("lone percent", "/?a=%", escape),
        ("one hex digit", "/?a=%2", escape),
        ("no hex digit", "/?a=%zz", escape),
        ("encoded slash", "/?next=%2fhome", OK),
        ("dot-dot", "/?file=../x", OK),
        ("C1, not decoded", "/?a=%c2%80", OK),
        ("semicolons", "/?a;b", OK),
        ("backslash", "/?a=b\\c", OK),
        ("escaped percent", "/?a=%25", OK),
        ("UTF-8", "/?q=caf%C3%A9", OK),
    ];

    for (name, target, expected) in cases {
        let verdict = check(&UriRules::strict(), target);

        assert_eq!(verdict, expected, "{name}");
    }
}

#[test]
fn only_origin_and_asterisk_forms_are_valid_targets() {
    let relaxed = UriRules::strict().relax("invalid-target");

    let verdicts = [
        check(&UriRules::strict(), "a.test:443"),
        check(&relaxed, "a.test:443"),
    ];

    assert_eq!(verdicts, [bad("invalid-target"), OK]);
}

#[test]
fn limits_hold_from_both_sides() {
    let path = |length: usize| format!("/{}", "a".repeat(length - 1));
    let query = |length: usize| format!("/?{}", "a".repeat(length));
    let pairs = |count: usize| format!("/?{}", "a&".repeat(count));
    let strict = UriRules::strict();
    let small = UriRules::strict()
        .max_target_length(10)
        .max_query_parameters(2);
    #[rustfmt::skip]
    let cases = [
        ("target, limit - 1", &strict, path(8191), OK),
        ("target at the limit", &strict, path(8192), OK),
        ("target, limit + 1", &strict, path(8193), too_long()),
        ("target over the limit, other rules broken", &strict, path(9000) + "%2f", too_long()),
        ("query, limit - 1", &strict, query(4095), OK),
        ("query at the limit", &strict, query(4096), OK),
        ("query, limit + 1", &strict, query(4097), bad("query-length")),
        ("parameters, limit - 1", &strict, pairs(999), OK),
        ("parameters at the limit", &strict, pairs(1000), OK),
        ("parameters, limit + 1", &strict, pairs(1001), bad("query-parameters")),
        ("small target at the limit", &small, "/123456789".into(), OK),
        ("small target, limit + 1", &small, "/1234567890".into(), too_long()),
        ("scheme and authority count", &small, "http://a.test/".into(), too_long()),
        ("empty pairs do not count", &small, "/?a&&;;b&".into(), OK),
        ("only empty pairs", &small, "/?&&;".into(), OK),
        ("three pairs", &small, "/?a&b;c".into(), bad("query-parameters")),
        ("query length before the path", &strict, query(4097).replace('?', "%2f?"),
            bad("query-length")),
    ];

    for (name, rules, target, expected) in cases {
        let verdict = check(rules, &target);

        assert_eq!(verdict, expected, "{name}");
    }
}

#[test]
fn target_length_is_that_of_the_written_target() {
    let targets = [
        "/",
        "/a?b=c",
        "*",
        "http://a.test",
        "http://a.test?x=1",
        "https://u@a.test:8443/p?q",
        "a.test:443",
    ];

    for target in targets {
        let uri: Uri = target.parse().unwrap();

        assert_eq!(target_length(&uri), uri.to_string().len(), "{target}");
    }
}

#[test]
fn each_rule_can_be_relaxed_on_its_own() {
    #[rustfmt::skip]
    let samples = [
        ("dot-segment", "/a/../b"),
        ("encoded-slash", "/a%2fb"),
        ("backslash", "/a\\b"),
        ("path-parameter", "/a;b"),
        ("control-character", "/a%00"),
        ("invalid-percent-encoding", "/a%zz"),
        ("invalid-utf8", "/%c0%ae"),
        ("unicode-separator", "/a%e2%80%ae"),
        ("drive-letter", "/c:"),
        ("invalid-target", "a.test:443"),
        ("query-control-character", "/?a=%00"),
        ("query-invalid-percent-encoding", "/?a=%"),
    ];

    for rule in UriRules::RULES {
        let (_, target) = samples.iter().find(|(name, _)| name == rule).unwrap();
        let relaxed = UriRules::strict().relax(*rule);

        let verdicts = [check(&UriRules::strict(), target), check(&relaxed, target)];

        assert_eq!(verdicts, [bad(rule), OK], "{rule}");
    }
}

#[test]
fn a_relaxed_rule_leaves_the_others_on() {
    #[rustfmt::skip]
    let cases = [
        ("encoded slashes split segments", "encoded-slash", "/a%2f..%2fb", bad("dot-segment")),
        ("backslashes split segments", "backslash", "/a\\..\\b", bad("dot-segment")),
        ("a drive after a backslash", "backslash", "/a\\c:", bad("drive-letter")),
        ("the name before a parameter", "path-parameter", "/..;/admin", bad("dot-segment")),
        ("dots in a parameter", "path-parameter", "/a.;..", OK),
        ("a drive in a parameter", "path-parameter", "/x;c:", OK),
        ("stray percent, then a slash", "invalid-percent-encoding", "/%%2f", bad("encoded-slash")),
        ("stray percent, then dots", "invalid-percent-encoding", "/%zz/..", bad("dot-segment")),
        ("bad UTF-8, then NUL", "invalid-utf8", "/%c0%ae/%00", bad("control-character")),
        ("bad UTF-8, then an override", "invalid-utf8", "/%ff%e2%80%ae", bad("unicode-separator")),
        ("dots, then a slash", "dot-segment", "/../%2f", bad("encoded-slash")),
        ("query after path", "encoded-slash", "/%2f?a=%", bad("query-invalid-percent-encoding")),
    ];

    for (name, relaxed, target, expected) in cases {
        let rules = UriRules::strict().relax(relaxed);

        let verdict = check(&rules, target);

        assert_eq!(verdict, expected, "{name}");
    }
}

#[test]
fn unknown_rule_names_are_refused() {
    let names = [
        "",
        "nope",
        "Encoded-Slash",
        "encoded_slash",
        " encoded-slash",
        "target-length",
        "query-length",
        "query-parameters",
    ];

    for name in names {
        let err = UriRules::strict().relax(name).compile().unwrap_err();

        assert_eq!(err.kind(), ConfigErrorKind::Invalid, "{name:?}");
        assert_eq!(err.setting(), "uri.relax", "{name:?}");
    }
}

#[test]
fn the_error_for_an_unknown_rule_lists_every_rule() {
    let err = UriRules::strict().relax("nope").compile().unwrap_err();

    let text = err.to_string();

    for rule in UriRules::RULES {
        assert!(text.contains(rule), "{rule}");
    }
}

#[test]
fn a_rule_relaxed_twice_is_refused() {
    let rules = UriRules::strict().relax("backslash").relax("backslash");

    let err = rules.compile().unwrap_err();

    assert_eq!(err.kind(), ConfigErrorKind::Duplicate);
    assert_eq!(err.setting(), "uri.relax");
}

#[test]
fn zero_limits_are_refused() {
    let cases = [
        (
            "uri.max_target_length",
            UriRules::strict().max_target_length(0),
        ),
        (
            "uri.max_query_length",
            UriRules::strict().max_query_length(0),
        ),
        (
            "uri.max_query_parameters",
            UriRules::strict().max_query_parameters(0),
        ),
    ];

    for (setting, rules) in cases {
        let err = rules.compile().unwrap_err();

        assert_eq!(err.kind(), ConfigErrorKind::Invalid, "{setting}");
        assert_eq!(err.setting(), setting);
    }
}

#[test]
fn rule_names_are_stable() {
    let limits = [Rule::TargetLength, Rule::QueryLength, Rule::QueryParameters].map(Rule::name);

    assert_eq!(
        UriRules::RULES,
        [
            "dot-segment",
            "encoded-slash",
            "backslash",
            "path-parameter",
            "control-character",
            "invalid-percent-encoding",
            "invalid-utf8",
            "unicode-separator",
            "drive-letter",
            "invalid-target",
            "query-control-character",
            "query-invalid-percent-encoding",
        ]
    );
    assert_eq!(
        limits,
        ["target-length", "query-length", "query-parameters"]
    );
}

#[test]
fn describe_names_limits_and_relaxed_rules() {
    let strict = UriRules::strict();
    let relaxed = UriRules::strict()
        .relax("drive-letter")
        .relax("encoded-slash")
        .max_query_parameters(50);

    let lines = [strict, relaxed].map(|rules| rules.compile().unwrap().describe());

    assert_eq!(
        lines,
        [
            "target <= 8192 bytes, query <= 4096 bytes and 1000 parameters; \
             all path and query rules",
            "target <= 8192 bytes, query <= 4096 bytes and 50 parameters; \
             relaxed: encoded-slash, drive-letter",
        ]
    );
}

#[test]
fn default_is_strict() {
    assert_eq!(UriRules::default(), UriRules::strict());
}

/// Paths from pieces that the rules care about and random visible ASCII.
fn visible_path() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &[
        "/", ".", "%", "%2f", "%2F", "%25", "%2e", "\\", ";", ":", "c", "%c3", "%a9", "%00",
    ];
    let piece = prop_oneof![select(PIECES).prop_map(str::to_owned), "[!-~]{1,3}"];
    vec(piece, 0..24).prop_map(|pieces| format!("/{}", pieces.concat()))
}

/// Characters near the ranges the rules refuse, and any other.
fn any_char() -> impl Strategy<Value = char> {
    const NEAR: &[char] = &[
        '\0', '\u{1f}', ' ', '\u{7f}', '\u{80}', '\u{9f}', '\u{a0}', '\u{61c}', '\u{200d}',
        '\u{200e}', '\u{200f}', '\u{2027}', '\u{2028}', '\u{202e}', '\u{202f}', '\u{2065}',
        '\u{2066}', '\u{2069}', '\u{206a}',
    ];
    prop_oneof![select(NEAR), any::<char>()]
}

/// `bytes`, every one percent-encoded.
fn encoded(bytes: &[u8]) -> String {
    bytes.iter().fold(String::from("/"), |mut path, byte| {
        let _ = write!(path, "%{byte:02X}");
        path
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn encoded_slashes_are_always_refused(path in visible_path()) {
        let Ok(uri) = Uri::try_from(path.as_str()) else {
            return Ok(());
        };
        let strict = UriRules::strict().compile().unwrap();
        let slash_only = only(&["encoded-slash"]).compile().unwrap();

        let verdicts = (strict.check(&uri), slash_only.check(&uri));

        if uri.path().to_ascii_lowercase().contains("%2f") {
            prop_assert!(verdicts.0.is_err());
            prop_assert_eq!(verdicts.1, bad("encoded-slash"));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The plain-path shortcut never accepts a path the full pass would refuse.
    #[test]
    fn plain_paths_pass_every_rule(
        path in vec(select(&b"/.-_~aZ9%:;\\"[..]), 0..16)
    ) {
        let rules = UriRules::strict().compile().unwrap();

        if is_plain(&path) {
            prop_assert_eq!(rules.check_escaped_path(&path), Ok(()));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// The incremental decoder agrees with the standard library.
    #[test]
    fn invalid_utf8_is_what_std_refuses(bytes in vec(any::<u8>(), 0..12)) {
        let uri = Uri::try_from(encoded(&bytes)).unwrap();
        let rules = only(&["invalid-utf8"]).compile().unwrap();

        let verdict = rules.check(&uri);

        let expected = match std::str::from_utf8(&bytes) {
            Ok(_) => OK,
            Err(_) => bad("invalid-utf8"),
        };
        prop_assert_eq!(verdict, expected);
    }

    /// The first control character (general category Cc) or separator decides.
    #[test]
    fn decoded_characters_are_judged_one_by_one(chars in vec(any_char(), 0..8)) {
        let text: String = chars.iter().collect();
        let uri = Uri::try_from(encoded(text.as_bytes())).unwrap();
        let rules = only(&["control-character", "unicode-separator"]).compile().unwrap();

        let verdict = rules.check(&uri);

        let first = chars.iter().find_map(|&c| match c {
            c if c.is_control() => Some("control-character"),
            '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' => Some("unicode-separator"),
            _ => None,
        });
        prop_assert_eq!(verdict, first.map_or(OK, bad));
    }
}
