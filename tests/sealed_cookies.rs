//! Signed and encrypted cookies through the layer: sealed on the way out, verified on the way
//! in, removed when forged and re-issued after a key rotation; and secret keys kept out of
//! every `Debug` output.

use http::HeaderValue;
use tower_layer::Layer;
use tower_security::cookies::CookiePolicy;
use tower_security::{SecurityLayer, SecurityLayerBuilder};

mod common;
use common::cookies::*;
use common::events::capture;

#[tokio::test]
async fn sealed_cookies_round_trip_and_reach_the_handler_as_plain_values() {
    for (mode, policy, readable) in sealing_modes() {
        let (_guard, captured) = capture();
        let layer = sealing(&policy, KEY_A, &[]);
        let issued = send(layer.layer(app(&["session=user-42; Path=/"])), get(&[])).await;
        let set_cookie = issued.set_cookie_text()[0].to_owned();
        let sealed = value_of(&set_cookie).to_owned();
        let same_field = format!("theme=dark; session={sealed}; lang=en");
        let own_field = format!("session={sealed}");

        let in_one_field = send(layer.layer(app(&[])), get(&[&same_field])).await;
        let in_its_own_field = send(layer.layer(app(&[])), get(&["theme=dark", &own_field])).await;

        assert_eq!(issued.set_cookies.len(), 1, "{mode}");
        assert_eq!(
            set_cookie,
            format!("session={sealed}{SEALED_SUFFIX}"),
            "{mode}"
        );
        assert_ne!(sealed, "user-42", "{mode}");
        assert_eq!(sealed.contains("user-42"), readable, "{mode}");
        assert_eq!(
            in_one_field.received,
            ["theme=dark; session=user-42; lang=en"],
            "{mode}"
        );
        assert_eq!(
            in_its_own_field.received,
            ["theme=dark", "session=user-42"],
            "{mode}"
        );
        assert!(in_one_field.set_cookies.is_empty(), "{mode}: re-issued");
        assert!(in_its_own_field.set_cookies.is_empty(), "{mode}: re-issued");
        assert_eq!(captured.security_events(), [], "{mode}");
    }
}

#[tokio::test]
async fn forged_and_unsigned_values_never_reach_the_handler() {
    for (mode, policy, _) in sealing_modes() {
        let layer = sealing(&policy, KEY_A, &[]);
        let issued = send(layer.layer(app(&["session=user-42"])), get(&[])).await;
        let sealed = value_of(issued.set_cookie_text()[0]).to_owned();
        let tampered = flip(&sealed, 5);
        let cases = [
            (
                "tampered",
                format!("theme=dark; session={tampered}"),
                vec!["theme=dark"],
            ),
            ("unsigned alone", "session=user-42".to_owned(), vec![]),
            (
                "unsigned among others",
                "a=1; session=user-42; b=2".to_owned(),
                vec!["a=1; b=2"],
            ),
            (
                "sealed under another key",
                format!("session={}", value_of(&sealed_under(&policy, KEY_B).await)),
                vec![],
            ),
        ];

        for (name, cookie, expected) in cases {
            let (_guard, captured) = capture();

            let exchange = send(layer.layer(app(&[])), get(&[&cookie])).await;

            assert_eq!(exchange.received, expected, "{mode}, {name}");
            assert_eq!(
                captured.security_event_names(),
                ["cookie_tampered"],
                "{mode}, {name}"
            );
            let event = &captured.security_events()[0];
            assert!(names_cookie(event, "session"), "{mode}, {name}: {event:?}");
            assert_eq!(event.field("rule"), Some("invalid-signature"));
            assert_eq!(event.level, tracing::Level::WARN);
            let value = session_value(&cookie);
            assert!(!captured.mentions(value), "{mode}, {name}: value logged");
            assert!(
                !captured.mentions("user-42"),
                "{mode}, {name}: value logged"
            );
        }
    }
}

/// A nameless cookie (RFC 6265bis §5.6: `Set-Cookie: flag`) is sent back by browsers as just
/// its value (§5.8.3). Verifying a sealed cookie beside it must not turn it into `=flag`.
#[tokio::test]
async fn cookies_the_layer_does_not_seal_are_passed_on_unchanged() {
    let policy = CookiePolicy::strict().encrypted("session");
    let layer = sealing(&policy, KEY_A, &[]);
    let sealed = value_of(&sealed_under(&policy, KEY_A).await).to_owned();
    let cookie = format!("flag; theme=dark; session={sealed}");

    let exchange = send(layer.layer(app(&[])), get(&[&cookie])).await;

    assert_eq!(exchange.received, ["flag; theme=dark; session=user-42"]);
}

#[tokio::test]
async fn a_rotated_key_still_verifies_and_the_cookie_is_reissued_under_the_new_one() {
    for (mode, policy, readable) in sealing_modes() {
        let (_guard, captured) = capture();
        let rotated = sealing(&policy, KEY_B, &[KEY_A]);
        let current_only = sealing(&policy, KEY_B, &[]);
        let old = format!("session={}", value_of(&sealed_under(&policy, KEY_A).await));

        let during = send(rotated.layer(app(&[])), get(&[&old])).await;
        let reissued = during
            .set_cookie_text()
            .first()
            .copied()
            .unwrap_or_default();
        let fresh = format!("session={}", value_of(reissued));
        let after = send(current_only.layer(app(&[])), get(&[&fresh])).await;
        let set_by_app = send(rotated.layer(app(&["session=user-43"])), get(&[&old])).await;

        assert_eq!(during.received, ["session=user-42"], "{mode}");
        assert_eq!(during.set_cookies.len(), 1, "{mode}");
        assert!(reissued.starts_with("session="), "{mode}: {reissued}");
        assert!(reissued.ends_with(SEALED_SUFFIX), "{mode}: {reissued}");
        assert_eq!(value_of(reissued).contains("user-42"), readable, "{mode}");
        assert_eq!(
            after.received,
            ["session=user-42"],
            "{mode}: not under the new key"
        );
        assert!(after.set_cookies.is_empty(), "{mode}");
        assert_eq!(
            set_by_app.set_cookies.len(),
            1,
            "{mode}: the app's own cookie doubled"
        );
        assert_ne!(
            value_of(set_by_app.set_cookie_text()[0]),
            "user-43",
            "{mode}"
        );
        assert_eq!(
            captured.security_event_names(),
            ["cookie_reissued"; 2],
            "{mode}"
        );
        let event = &captured.security_events()[0];
        assert!(names_cookie(event, "session"), "{mode}: {event:?}");
        assert_eq!(event.field("rule"), Some("old-key"), "{mode}");
        assert_eq!(event.level, tracing::Level::INFO, "{mode}");
        assert!(!captured.mentions("user-42"), "{mode}: value logged");
    }
}

#[tokio::test]
async fn a_sealed_cookie_deletion_is_sent_as_is() {
    let layer = sealing(&CookiePolicy::strict().encrypted("session"), KEY_A, &[]);

    let set_cookies = hardened(&layer, &["session=; Max-Age=0"]).await;

    assert_eq!(
        set_cookies,
        ["session=; Max-Age=0; Secure; HttpOnly; SameSite=Strict"]
    );
}

/// HTTP/2 and HTTP/3 keep a sensitive field out of their header compression tables
/// (RFC 7541 §7.1.3); hardening or sealing a cookie must not lose the application's flag.
#[tokio::test]
async fn set_cookie_values_marked_sensitive_stay_sensitive() {
    let layer = sealing(&CookiePolicy::strict().encrypted("session"), KEY_A, &[]);
    let cases = [
        ("hardened", "theme=dark"),
        ("sealed", "session=user-42"),
        (
            "already hardened",
            "id=1; Secure; HttpOnly; SameSite=Strict",
        ),
    ];

    for (name, sent) in cases {
        let mut value = HeaderValue::from_str(sent).unwrap();
        value.set_sensitive(true);

        let exchange = send(layer.layer(raw_app(vec![value])), get(&[])).await;

        assert_eq!(exchange.set_cookies.len(), 1, "{name}");
        assert!(exchange.set_cookies[0].is_sensitive(), "{name}: flag lost");
    }
}

#[tokio::test]
async fn no_debug_output_shows_a_secret_key() {
    let builder = SecurityLayer::builder()
        .cookies(CookiePolicy::strict().encrypted("session").signed("prefs"))
        .secret_key(key(KEY_A))
        .fallback_secret_keys([key(KEY_B)]);
    let layer = builder.clone().build().unwrap();
    let service = layer.layer(app(&[]));

    let shown = [
        ("key", format!("{:?}", key(KEY_A))),
        ("builder", format!("{builder:?}")),
        ("layer", format!("{layer:?}")),
        ("alternate layer", format!("{layer:#?}")),
        ("service", format!("{service:?}")),
    ];

    assert_eq!(shown[0].1, "SecretKey(<redacted>)");
    assert!(shown[2].1.starts_with("SecurityLayer"), "{}", shown[2].1);
    for (name, text) in &shown {
        for secret in [KEY_A, KEY_B] {
            // The text itself, or its bytes as a derived `Debug` of a byte slice would list them.
            let bytes = format!("{:?}", &secret.as_bytes()[..6]);
            let bytes = bytes.trim_start_matches('[').trim_end_matches(']');
            assert!(!text.contains(secret), "{name}: {text}");
            assert!(!text.contains(&secret[..12]), "{name}: {text}");
            assert!(!text.contains(bytes), "{name}: {text}");
        }
        assert!(
            text.contains("redacted"),
            "{name}: keys not acknowledged: {text}"
        );
    }
}

#[test]
fn a_sealed_cookie_without_a_key_is_refused_at_build_time() {
    let signed = CookiePolicy::strict().signed("s");
    let encrypted = CookiePolicy::strict().encrypted("s");
    let from_vars = || SecurityLayerBuilder::from_vars(|_| None).unwrap();
    let cases = [
        (
            "signed, builder",
            SecurityLayer::builder().cookies(signed.clone()),
            "secret_key",
        ),
        (
            "encrypted, builder",
            SecurityLayer::builder().cookies(encrypted.clone()),
            "secret_key",
        ),
        (
            "signed, from_vars",
            from_vars().cookies(signed),
            "SECRET_KEY",
        ),
        (
            "encrypted, from_vars",
            from_vars().cookies(encrypted),
            "SECRET_KEY",
        ),
    ];

    for (name, builder, setting) in cases {
        let err = builder.build().unwrap_err();

        assert_eq!(err.setting(), setting, "{name}");
        assert_eq!(
            err.expected(),
            "a secret key, required because cookies are signed or encrypted",
            "{name}"
        );
    }
}
