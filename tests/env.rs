//! Configuration from environment variables, read through `SecurityLayerBuilder::from_vars`
//! from a table (the process environment is never touched): each variable's accepted values
//! and their effect on a cookie, an error naming the variable and its accepted values for
//! anything else, and weak secret keys refused without the key ever being echoed.

use std::collections::HashMap;
use std::convert::Infallible;

use bytes::Bytes;
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use tower::{ServiceExt, service_fn};
use tower_layer::Layer;
use tower_security::cookies::{CookiePolicy, SecretKey};
use tower_security::{
    ConfigError, ConfigErrorKind, RequestBody, SecurityLayer, SecurityLayerBuilder,
};

const SECURE: &str = "SESSION_COOKIE_SECURE";
const HTTPONLY: &str = "SESSION_COOKIE_HTTPONLY";
const SAMESITE: &str = "SESSION_COOKIE_SAMESITE";
const SECRET_KEY: &str = "SECRET_KEY";
const FALLBACKS: &str = "SECRET_KEY_FALLBACKS";

/// Keys that pass every strength rule.
const KEY_A: &str = "p9Vx2kQ7rT4mW8zL1cB6nH3jF5sD0gYaEuIoRyXw";
const KEY_B: &str = "Zq4Lm8Tn2Rv6Xw0Yc3Hb7Jd1Kf5Gs9PaUe";
const KEY_C: &str = "u3Gk8Qw1Zr5Tn9Yb2Hm6Xc0Jv4Lp7Dfe2";

/// The accepted values, as the errors for the boolean variables and `SameSite` list them.
const BOOL_FORM: &str = "true or false (also 1/0, yes/no, on/off)";
const SAME_SITE_FORM: &str = "Strict, Lax or None";

/// The key rules, as the errors state them.
const MISSING: &str = "a secret key, required because cookies are signed or encrypted";
const SHORT: &str = "a key of at least 32 bytes, such as the output of `openssl rand -base64 48`";
const LOW_VARIETY: &str = "a random key; this one uses fewer than 8 distinct characters";
const PATTERN: &str = "a random key; this one repeats a short pattern";
const PLACEHOLDER: &str = "a generated random key, not a placeholder or example value";

/// Variables and their values, standing in for the process environment.
type Vars<'a> = &'a [(&'a str, &'a str)];

/// A lookup over `pairs`, standing in for the process environment.
fn vars(pairs: Vars) -> impl FnMut(&str) -> Option<String> + use<> {
    let table: HashMap<String, String> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    move |name| table.get(name).cloned()
}

fn from_vars(pairs: Vars) -> Result<SecurityLayer, ConfigError> {
    SecurityLayerBuilder::from_vars(vars(pairs))?.build()
}

/// A layer configured by `pairs` that signs the cookie `s`, so that it needs a key.
///
/// Setting the cookie policy replaces the one the session variables made; only the keys, and
/// the setting named when one is missing, come from `pairs`.
fn signing_from_vars(pairs: Vars) -> Result<SecurityLayer, ConfigError> {
    SecurityLayerBuilder::from_vars(vars(pairs))?
        .cookies(CookiePolicy::strict().signed("s"))
        .build()
}

/// Sends one request carrying `cookie` through `layer` to a handler that answers with
/// `set_cookie`; returns the `Cookie` fields the handler saw and the response's `Set-Cookie`
/// fields.
async fn exchange(
    layer: &SecurityLayer,
    cookie: Option<&str>,
    set_cookie: Option<&str>,
) -> (Vec<String>, Vec<String>) {
    let set_cookie = set_cookie.map(|value| HeaderValue::from_str(value).unwrap());
    let service = layer.layer(service_fn(
        move |request: Request<RequestBody<Full<Bytes>>>| {
            let seen: Vec<HeaderValue> =
                request.headers().get_all(COOKIE).iter().cloned().collect();
            let mut response = Response::new(Full::<Bytes>::default());
            if let Some(value) = set_cookie.clone() {
                response.headers_mut().insert(SET_COOKIE, value);
            }
            response.extensions_mut().insert(seen);
            async move { Ok::<_, Infallible>(response) }
        },
    ));
    let mut request = Request::get("/")
        .header("host", "localhost")
        .body(Full::default())
        .unwrap();
    if let Some(cookie) = cookie {
        let value = HeaderValue::from_str(cookie).unwrap();
        request.headers_mut().insert(COOKIE, value);
    }

    let response = service.oneshot(request).await.unwrap();

    let text = |value: &HeaderValue| value.to_str().unwrap().to_owned();
    let seen = response.extensions().get::<Vec<HeaderValue>>().unwrap();
    let set_cookies = response.headers().get_all(SET_COOKIE).iter().map(text);
    (seen.iter().map(text).collect(), set_cookies.collect())
}

/// What `layer` makes of `Set-Cookie: a=b`.
async fn hardened(layer: &SecurityLayer) -> Vec<String> {
    exchange(layer, None, Some("a=b")).await.1
}

#[tokio::test]
async fn accepted_values_change_the_cookie_as_documented() {
    const ALL: &str = "a=b; Secure; HttpOnly; SameSite=Strict";
    let cases: &[(&str, Vars, &str)] = &[
        ("nothing set", &[], ALL),
        ("SECURE true", &[(SECURE, "true")], ALL),
        (
            "SECURE FALSE",
            &[(SECURE, "FALSE")],
            "a=b; HttpOnly; SameSite=Strict",
        ),
        ("SECURE ' 1 '", &[(SECURE, " 1 ")], ALL),
        ("SECURE yes", &[(SECURE, "yes")], ALL),
        (
            "SECURE off",
            &[(SECURE, "off")],
            "a=b; HttpOnly; SameSite=Strict",
        ),
        (
            "SECURE 0",
            &[(SECURE, "0")],
            "a=b; HttpOnly; SameSite=Strict",
        ),
        ("HTTPONLY On", &[(HTTPONLY, "On")], ALL),
        (
            "HTTPONLY no",
            &[(HTTPONLY, "no")],
            "a=b; Secure; SameSite=Strict",
        ),
        ("SAMESITE Strict", &[(SAMESITE, "Strict")], ALL),
        (
            "SAMESITE lax",
            &[(SAMESITE, "lax")],
            "a=b; Secure; HttpOnly; SameSite=Lax",
        ),
        (
            "SAMESITE NONE with SECURE true",
            &[(SAMESITE, "NONE"), (SECURE, "true")],
            "a=b; Secure; HttpOnly; SameSite=None",
        ),
        (
            "SAMESITE none with SECURE unset",
            &[(SAMESITE, " none ")],
            "a=b; Secure; HttpOnly; SameSite=None",
        ),
        (
            "all three",
            &[(SECURE, "off"), (HTTPONLY, "false"), (SAMESITE, "Lax")],
            "a=b; SameSite=Lax",
        ),
        ("empty SECURE is unset", &[(SECURE, "")], ALL),
        ("blank SAMESITE is unset", &[(SAMESITE, "  ")], ALL),
        (
            "empty SAMESITE beside SECURE false is no conflict",
            &[(SAMESITE, ""), (SECURE, "false")],
            "a=b; HttpOnly; SameSite=Strict",
        ),
        (
            "empty keys are unset",
            &[(SECRET_KEY, ""), (FALLBACKS, " ")],
            ALL,
        ),
    ];

    for (name, pairs, expected) in cases {
        let layer = from_vars(pairs).unwrap_or_else(|err| panic!("{name}: {err}"));

        let set_cookies = hardened(&layer).await;

        assert_eq!(set_cookies, [*expected], "{name}");
    }
}

#[test]
fn other_values_are_refused_with_the_variable_and_its_accepted_values() {
    let conflict = "SESSION_COOKIE_SECURE=true with SameSite=None: browsers refuse a \
                    SameSite=None cookie without Secure";
    let cases: &[(&str, Vars, &str, ConfigErrorKind, String)] = &[
        (
            "SECURE maybe",
            &[(SECURE, "maybe")],
            SECURE,
            ConfigErrorKind::Invalid,
            format!("`{SECURE}`: invalid value \"maybe\"; expected {BOOL_FORM}"),
        ),
        (
            "SECURE 2",
            &[(SECURE, "2")],
            SECURE,
            ConfigErrorKind::Invalid,
            format!("`{SECURE}`: invalid value \"2\"; expected {BOOL_FORM}"),
        ),
        (
            "HTTPONLY maybe",
            &[(HTTPONLY, "maybe")],
            HTTPONLY,
            ConfigErrorKind::Invalid,
            format!("`{HTTPONLY}`: invalid value \"maybe\"; expected {BOOL_FORM}"),
        ),
        (
            "HTTPONLY 2",
            &[(HTTPONLY, " 2 ")],
            HTTPONLY,
            ConfigErrorKind::Invalid,
            format!("`{HTTPONLY}`: invalid value \" 2 \"; expected {BOOL_FORM}"),
        ),
        (
            "SAMESITE Strictest",
            &[(SAMESITE, "Strictest")],
            SAMESITE,
            ConfigErrorKind::Invalid,
            format!("`{SAMESITE}`: invalid value \"Strictest\"; expected {SAME_SITE_FORM}"),
        ),
        (
            "SAMESITE None with SECURE false",
            &[(SAMESITE, "None"), (SECURE, "false")],
            SAMESITE,
            ConfigErrorKind::Conflict,
            format!("`{SAMESITE}`: conflicting values; expected {conflict}"),
        ),
    ];

    for (name, pairs, setting, kind, message) in cases {
        let err = SecurityLayerBuilder::from_vars(vars(pairs)).unwrap_err();

        assert_eq!(err.setting(), *setting, "{name}");
        assert_eq!(err.kind(), *kind, "{name}");
        assert_eq!(err.to_string(), *message, "{name}");
    }
}

#[test]
fn weak_keys_are_refused_without_echoing_them() {
    let weak_fallback = "changeme-7f3a9c1e5b2d8f4a6c0e9b3d7f1a5c8e";
    let with_weak_fallback = format!("{KEY_C}, {weak_fallback}");
    let cases: &[(&str, Vars, &str, &str)] = &[
        ("missing when needed", &[], SECRET_KEY, MISSING),
        ("short", &[(SECRET_KEY, "Zx9!kQ2#mV7$")], SECRET_KEY, SHORT),
        (
            "31 bytes",
            &[(SECRET_KEY, "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0e")],
            SECRET_KEY,
            SHORT,
        ),
        (
            "low variety",
            &[(SECRET_KEY, "abababababababababababcabababababababab")],
            SECRET_KEY,
            LOW_VARIETY,
        ),
        (
            "repeated pattern",
            &[(SECRET_KEY, "Ab3$Xy9!Ab3$Xy9!Ab3$Xy9!Ab3$Xy9!Ab3$")],
            SECRET_KEY,
            PATTERN,
        ),
        (
            "<strong-random-key>",
            &[(SECRET_KEY, "<strong-random-key>")],
            SECRET_KEY,
            SHORT,
        ),
        (
            "<strong-random-key> long enough",
            &[(SECRET_KEY, "<strong-random-key-4f9c2a7e1b8d3f6a>")],
            SECRET_KEY,
            PLACEHOLDER,
        ),
        ("changeme", &[(SECRET_KEY, "changeme")], SECRET_KEY, SHORT),
        (
            "changeme long enough",
            &[(SECRET_KEY, weak_fallback)],
            SECRET_KEY,
            PLACEHOLDER,
        ),
        ("secret", &[(SECRET_KEY, "secret")], SECRET_KEY, SHORT),
        (
            "secret long enough",
            &[(SECRET_KEY, "secret-Qm7Zp2Xv9Lk4Rt8Wn1Bc6Hy3Jd5Fg0")],
            SECRET_KEY,
            PLACEHOLDER,
        ),
        (
            "one weak fallback",
            &[(SECRET_KEY, KEY_A), (FALLBACKS, &with_weak_fallback)],
            FALLBACKS,
            PLACEHOLDER,
        ),
        (
            "one short fallback",
            &[(SECRET_KEY, KEY_A), (FALLBACKS, "Zx9!kQ2#mV7$")],
            FALLBACKS,
            SHORT,
        ),
    ];

    for (name, pairs, setting, rule) in cases {
        let err = signing_from_vars(pairs).unwrap_err();

        assert_eq!(err.setting(), *setting, "{name}");
        assert_eq!(err.expected(), *rule, "{name}");
        let shown = [err.to_string(), format!("{err:?}")];
        let keys = pairs.iter().flat_map(|(_, value)| value.split(','));
        for key in keys.map(str::trim).filter(|key| !key.is_empty()) {
            assert!(
                !shown.iter().any(|text| text.contains(key)),
                "{name}: key echoed"
            );
        }
    }
}

#[test]
fn a_weak_key_is_refused_even_when_no_cookie_is_sealed() {
    let pairs = [(SECRET_KEY, "changeme")];

    let err = from_vars(&pairs).unwrap_err();

    assert_eq!(err.setting(), SECRET_KEY);
}

#[tokio::test]
async fn a_good_key_and_fallbacks_build_and_old_keys_still_verify() {
    let old = signing_from_vars(&[(SECRET_KEY, KEY_A)]).unwrap();
    let (_, issued) = exchange(&old, None, Some("s=user-42")).await;
    let cookie = issued[0].split(';').next().unwrap().to_owned();
    let fallbacks = [
        ("one fallback", KEY_A.to_owned()),
        ("two, with spaces", format!(" {KEY_C} , {KEY_A} ")),
        ("empty entries skipped", format!("{KEY_A},,")),
    ];

    for (name, list) in fallbacks {
        let pairs = [(SECRET_KEY, KEY_B), (FALLBACKS, list.as_str())];
        let rotated = signing_from_vars(&pairs).unwrap_or_else(|err| panic!("{name}: {err}"));

        let (seen, reissued) = exchange(&rotated, Some(&cookie), None).await;

        assert_eq!(seen, ["s=user-42"], "{name}");
        assert_eq!(reissued.len(), 1, "{name}: not re-issued under SECRET_KEY");
        assert_ne!(
            reissued[0].split(';').next(),
            Some(cookie.as_str()),
            "{name}"
        );
    }
}

/// Rotating moves the current key into `SECRET_KEY_FALLBACKS`. Values ignore surrounding
/// spaces (the `from_env` table), and the fallbacks are trimmed, so a key written with them
/// must seal and verify the same in either variable, or every session dies at rotation.
#[tokio::test]
async fn a_key_verifies_the_same_after_moving_to_the_fallbacks() {
    let written = [
        ("as generated", KEY_A.to_owned()),
        ("with surrounding spaces", format!(" {KEY_A} ")),
    ];

    for (name, key) in written {
        let before = signing_from_vars(&[(SECRET_KEY, &key)]).unwrap();
        let after = signing_from_vars(&[(SECRET_KEY, KEY_B), (FALLBACKS, &key)]).unwrap();
        let (_, issued) = exchange(&before, None, Some("s=user-42")).await;
        let cookie = issued[0].split(';').next().unwrap().to_owned();

        let (seen, _) = exchange(&after, Some(&cookie), None).await;

        assert_eq!(seen, ["s=user-42"], "{name}");
    }
}

#[tokio::test]
async fn the_key_from_the_environment_is_the_key_given_to_the_builder() {
    let from_env = signing_from_vars(&[(SECRET_KEY, KEY_A)]).unwrap();
    let direct = SecurityLayer::builder()
        .cookies(CookiePolicy::strict().signed("s"))
        .secret_key(SecretKey::new(KEY_A).unwrap())
        .build()
        .unwrap();
    let (_, issued) = exchange(&from_env, None, Some("s=user-42")).await;
    let cookie = issued[0].split(';').next().unwrap().to_owned();

    let (seen, reissued) = exchange(&direct, Some(&cookie), None).await;

    assert_eq!(seen, ["s=user-42"]);
    assert_eq!(reissued, Vec::<String>::new());
}

#[test]
fn from_vars_reads_every_setting_and_the_session_variables_win() {
    let vars = |name: &str| match name {
        "TOWER_SECURITY_HEADERS_FRAME_OPTIONS" => Some("SAMEORIGIN".to_owned()),
        "TOWER_SECURITY_HOSTS" => Some("app.example.com".to_owned()),
        "SESSION_COOKIE_SAMESITE" => Some("Lax".to_owned()),
        _ => None,
    };
    let bad = |name: &str| {
        (name == "TOWER_SECURITY_HEADERS_FRAME_OPTIONS").then(|| "ALLOWALL".to_owned())
    };

    let layer = SecurityLayerBuilder::from_vars(vars)
        .unwrap()
        .build()
        .unwrap();
    let err = SecurityLayerBuilder::from_vars(bad).unwrap_err();

    let controls = layer.controls();
    let value = |name: &str| {
        controls
            .iter()
            .find(|c| c.name() == name)
            .map(|c| c.value())
    };
    assert_eq!(value("x-frame-options"), Some("SAMEORIGIN"));
    assert!(value("hosts").unwrap().contains("app.example.com"));
    assert!(
        value("set-cookie hardening")
            .unwrap()
            .contains("SameSite=Lax")
    );
    assert_eq!(err.setting(), "TOWER_SECURITY_HEADERS_FRAME_OPTIONS");
}
