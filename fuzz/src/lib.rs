//! The harness shared by the `tower-security` fuzz targets.
//!
//! Each target turns libFuzzer's bytes into a request, an application and a layer, and checks
//! what leaves the layer. This crate holds what they have in common: the process set-up
//! ([`init`]), a poll loop that drives futures and bodies without a runtime ([`drive`]), the
//! log capture ([`logs`]), a reader of `Set-Cookie` attributes that shares no code with the
//! layer's ([`cookie`]) and the checks every response must pass ([`check_response_headers`]).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::sync::Once;

use http::HeaderMap;

pub mod cookie;
pub mod drive;
pub mod logs;

/// How every panic that a target causes on purpose, inside the application, starts. The
/// panic hook keeps quiet for these and only these.
pub const INTENTIONAL: &str = "fuzz: intentional panic";

/// Panics on purpose, as a broken application would; `detail` is fuzzer data, so the panic
/// message the layer logs is attacker-controlled too.
pub fn intentional_panic(detail: &str) -> ! {
    panic!("{INTENTIONAL}: {detail}")
}

/// Prepares the process once: the panic hook, the log capture, and no rate limit on security
/// events, so that every event a run causes is written and can be counted.
///
/// libfuzzer-sys installs a panic hook that aborts on every panic, even one that is caught:
/// the application panics the layer must catch would each be reported as a crash. The hook
/// installed here returns quietly for [`INTENTIONAL`] panics and hands every other panic to
/// libfuzzer-sys's hook, so a failed assertion still prints its message and aborts at once.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let intentional = info
                .payload_as_str()
                .is_some_and(|message| message.starts_with(INTENTIONAL));
            if !intentional {
                report(info);
            }
        }));
        logs::install();
        tower_security::events::set_rate_limit(None);
    });
}

/// Checks that no response header value can split the response or end it early: no CR, LF or
/// NUL, whatever the application or the request carried.
pub fn check_response_headers(headers: &HeaderMap) {
    for (name, value) in headers {
        let bytes = value.as_bytes();
        assert!(
            !bytes.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)),
            "response header {name} carries CR, LF or NUL: {value:?}"
        );
    }
}
