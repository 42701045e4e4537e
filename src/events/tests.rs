use std::sync::Mutex;

use super::rate::{Admit, DEFAULT_PER_WINDOW, MAX_PROBES, RateLimiter, SLOTS, WINDOW_MS};
use super::*;

/// Events written per key and window by default.
const BUDGET: u64 = DEFAULT_PER_WINDOW as u64;

/// An event of `kind` and `rule` about a `GET /` from nowhere in particular.
fn event(kind: EventKind, rule: &'static str) -> Event<'static> {
    Event {
        kind,
        rule,
        status: Some(400),
        method: &Method::GET,
        path: "/",
        cookie: None,
        request_id: None,
        client: None,
        detail: None,
    }
}

/// Admits `n` events with `key` at `now_ms` and returns the decisions.
fn admit_n(limiter: &RateLimiter, key: u64, now_ms: u64, n: u64) -> Vec<Admit> {
    (0..n).map(|_| limiter.admit(key, now_ms)).collect()
}

#[test]
fn truncation_keeps_char_boundaries_and_escapes() {
    let long = format!("/{}", "é".repeat(300));

    let shown = format!("{:?}", Truncated(&long, 4));
    let escaped = format!("{:?}", Truncated("/a\"b\n\u{202e}", 100));

    assert_eq!(shown, "\"/ééé\"...");
    assert_eq!(escaped, "\"/a\\\"b\\n\\u{202e}\"");
}

#[test]
fn plain_values_are_written_as_they_are_and_others_escaped() {
    let id = "0af7651916cd43dd8448eb211c80319c";
    let cases = [
        ("method", "GET", 32, "GET"),
        ("request id", id, 64, id),
        ("line break", "a\r\nb", 32, "\"a\\r\\nb\""),
        ("space", "a b", 32, "\"a b\""),
        ("too long", "ABCDEFGHIJ", 4, "\"ABCD\"..."),
    ];

    for (name, value, max, expected) in cases {
        let shown = Plain(value, max).to_string();

        assert_eq!(shown, expected, "{name}");
    }
}

#[test]
fn every_kind_has_a_stable_name() {
    // Log pipelines and alert rules match these names: changing one breaks them.
    let expected = [
        "cross_origin_refused",
        "cookie_dropped",
        "cookie_tampered",
        "cookie_reissued",
        "body_too_large",
        "header_limit",
        "method_refused",
        "invalid_request",
        "path_refused",
        "forwarded_headers_stripped",
        "host_refused",
        "https_redirect",
        "https_required",
        "error_scrubbed",
        "panic",
        "csp_violation",
    ];

    let names: Vec<_> = EventKind::ALL.iter().map(|kind| kind.name()).collect();

    assert_eq!(names, expected);
}

#[test]
fn all_lists_every_kind_once_in_declaration_order() {
    // Exhaustive on purpose: a new kind does not compile here until it is listed, and the
    // assertions below then fail until `ALL` lists it too.
    let last_declared = |kind: EventKind| match kind {
        EventKind::CspViolation => true,
        EventKind::CrossOriginRefused
        | EventKind::CookieDropped
        | EventKind::CookieTampered
        | EventKind::CookieReissued
        | EventKind::BodyTooLarge
        | EventKind::HeaderLimit
        | EventKind::MethodRefused
        | EventKind::InvalidRequest
        | EventKind::PathRefused
        | EventKind::ForwardedHeadersStripped
        | EventKind::HostRefused
        | EventKind::HttpsRedirect
        | EventKind::HttpsRequired
        | EventKind::ErrorScrubbed
        | EventKind::Panic => false,
    };

    let positions: Vec<_> = EventKind::ALL.iter().map(|kind| kind.index()).collect();
    let last = EventKind::ALL.last().copied();

    assert_eq!(positions, (0..EventKind::ALL.len()).collect::<Vec<_>>());
    assert_eq!(last.map(last_declared), Some(true));
}

#[test]
fn a_window_writes_its_budget_then_suppresses() {
    let limiter = RateLimiter::new();
    let key = rate::key(EventKind::MethodRefused, "method-not-allowed", Some(405));

    let first = admit_n(&limiter, key, 5_000, BUDGET);
    let over = admit_n(&limiter, key, 5_999, 3);

    assert!(
        first
            .iter()
            .all(|&admit| admit == Admit::Write { suppressed: 0 })
    );
    assert_eq!(over, [Admit::Suppress; 3]);
}

#[test]
fn the_next_window_writes_again_and_reports_what_was_suppressed() {
    let limiter = RateLimiter::new();
    let key = rate::key(EventKind::PathRefused, "dot-segment", Some(400));
    admit_n(&limiter, key, 0, BUDGET + 7);

    let next = admit_n(&limiter, key, WINDOW_MS, 2);
    let much_later = limiter.admit(key, 3_600 * WINDOW_MS);

    assert_eq!(
        next,
        [
            Admit::Write { suppressed: 7 },
            Admit::Write { suppressed: 0 }
        ]
    );
    assert_eq!(much_later, Admit::Write { suppressed: 0 });
}

#[test]
fn racing_threads_write_exactly_the_budget_and_lose_no_count() {
    let limiter = RateLimiter::new();
    let key = rate::key(EventKind::HeaderLimit, "header-count", Some(431));

    let written: u64 = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let decisions = admit_n(&limiter, key, 0, 10_000);
                    decisions.iter().filter(|&&d| d != Admit::Suppress).count() as u64
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .sum()
    });
    let next = limiter.admit(key, WINDOW_MS);

    assert_eq!(written, BUDGET);
    assert_eq!(
        next,
        Admit::Write {
            suppressed: 80_000 - BUDGET
        }
    );
}

#[test]
fn a_late_clock_reading_counts_in_the_newer_window() {
    let limiter = RateLimiter::new();
    let key = 42;
    admit_n(&limiter, key, 2 * WINDOW_MS, BUDGET);

    // Read the clock in the previous window, but got to the limiter after the new one began.
    let late = limiter.admit(key, 2 * WINDOW_MS - 1);

    assert_eq!(late, Admit::Suppress);
}

#[test]
fn different_keys_do_not_share_a_budget() {
    let limiter = RateLimiter::new();
    // The same home slot, different keys: the second takes the next slot.
    let (flooded, quiet) = (7, 7 + SLOTS as u64);
    admit_n(&limiter, flooded, 0, 1_000);

    let decisions = admit_n(&limiter, quiet, 0, BUDGET);
    let flooded_next = limiter.admit(flooded, WINDOW_MS);

    assert!(
        decisions
            .iter()
            .all(|&admit| admit == Admit::Write { suppressed: 0 })
    );
    assert_eq!(
        flooded_next,
        Admit::Write {
            suppressed: 1_000 - BUDGET
        }
    );
}

#[test]
fn keys_beyond_the_probe_window_share_their_home_slot() {
    let limiter = RateLimiter::new();
    let home = 3;
    // Fill the home slot and every slot a key with that home may probe.
    for i in 0..MAX_PROBES as u64 {
        limiter.admit(home + i * SLOTS as u64, 0);
    }
    let owner = home;
    let overflow = home + MAX_PROBES as u64 * SLOTS as u64;

    admit_n(&limiter, owner, 0, BUDGET - 1);
    let shared = admit_n(&limiter, overflow, 0, 2);

    assert_eq!(shared, [Admit::Suppress; 2]);
}

#[test]
fn a_lifted_limit_writes_every_event_and_reports_earlier_suppressions() {
    let limiter = RateLimiter::new();
    let key = rate::key(EventKind::HostRefused, "unlisted-host", Some(400));
    admit_n(&limiter, key, 0, BUDGET + 5);

    limiter.set_limit(None);
    let unlimited = admit_n(&limiter, key, 0, 3 * BUDGET);

    assert_eq!(unlimited[0], Admit::Write { suppressed: 5 });
    assert!(
        unlimited[1..]
            .iter()
            .all(|&admit| admit == Admit::Write { suppressed: 0 })
    );
}

#[test]
fn a_lower_limit_applies_from_the_next_event() {
    let limiter = RateLimiter::new();
    let key = rate::key(EventKind::HostRefused, "missing-host", Some(400));
    admit_n(&limiter, key, 0, 3);

    limiter.set_limit(Some(3));
    let same_window = limiter.admit(key, 999);
    limiter.set_limit(Some(0));
    let next_window = limiter.admit(key, WINDOW_MS);

    assert_eq!(same_window, Admit::Suppress);
    assert_eq!(next_window, Admit::Suppress);
}

#[test]
fn the_key_is_kind_rule_and_status() {
    let base = rate::key(EventKind::PathRefused, "dot-segment", Some(400));

    let others = [
        rate::key(EventKind::HostRefused, "dot-segment", Some(400)),
        rate::key(EventKind::PathRefused, "encoded-slash", Some(400)),
        rate::key(EventKind::PathRefused, "dot-segment", Some(414)),
        rate::key(EventKind::PathRefused, "dot-segment", None),
    ];

    assert_eq!(
        base,
        rate::key(EventKind::PathRefused, "dot-segment", Some(400))
    );
    for other in others {
        assert_ne!(base, other);
    }
}

#[test]
fn every_event_is_counted_suppressed_ones_included() {
    // The counters are process-wide and other tests emit events too: compare, at least.
    let before = counters().get(EventKind::CspViolation);

    for _ in 0..100 {
        event(EventKind::CspViolation, "test-counted").emit();
    }

    assert!(counters().get(EventKind::CspViolation) >= before + 100);
}

#[test]
fn counts_render_in_the_prometheus_text_format() {
    let mut counts = EventCounts {
        counts: [0; EventKind::ALL.len()],
    };
    counts.counts[EventKind::HostRefused.index()] = 3;
    counts.counts[EventKind::Panic.index()] = 12_345_678_901;

    let text = counts.to_prometheus();

    assert_eq!(
        text,
        "# HELP tower_security_events_total Security events by kind.\n\
         # TYPE tower_security_events_total counter\n\
         tower_security_events_total{event=\"cross_origin_refused\"} 0\n\
         tower_security_events_total{event=\"cookie_dropped\"} 0\n\
         tower_security_events_total{event=\"cookie_tampered\"} 0\n\
         tower_security_events_total{event=\"cookie_reissued\"} 0\n\
         tower_security_events_total{event=\"body_too_large\"} 0\n\
         tower_security_events_total{event=\"header_limit\"} 0\n\
         tower_security_events_total{event=\"method_refused\"} 0\n\
         tower_security_events_total{event=\"invalid_request\"} 0\n\
         tower_security_events_total{event=\"path_refused\"} 0\n\
         tower_security_events_total{event=\"forwarded_headers_stripped\"} 0\n\
         tower_security_events_total{event=\"host_refused\"} 3\n\
         tower_security_events_total{event=\"https_redirect\"} 0\n\
         tower_security_events_total{event=\"https_required\"} 0\n\
         tower_security_events_total{event=\"error_scrubbed\"} 0\n\
         tower_security_events_total{event=\"panic\"} 12345678901\n\
         tower_security_events_total{event=\"csp_violation\"} 0\n"
    );
    assert_eq!(counts.get(EventKind::HostRefused), 3);
}

#[test]
fn the_hook_sees_written_events_only_and_is_set_once() {
    // The only test that sets the process-wide hook; it keeps the events of its own rule.
    static SEEN: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    let first = set_hook(|event| {
        if event.rule() == "test-hook" {
            SEEN.lock().unwrap().push(event.suppressed());
        }
    });
    let second = set_hook(|_| {});

    for _ in 0..100 {
        event(EventKind::CspViolation, "test-hook").emit();
    }

    let seen = SEEN.lock().unwrap().clone();
    // Ten in one window; twenty at most if the loop straddled two.
    assert!((10..=20).contains(&seen.len()), "{} events", seen.len());
    assert_eq!(first, Ok(()));
    assert_eq!(second, Err(HookAlreadySet));
}

#[test]
fn the_hook_gets_a_truncated_view_of_the_event() {
    let seen = Mutex::new(None);
    let hook = |event: &SecurityEvent<'_>| {
        let cookie = event.cookie_name().map(Cow::into_owned);
        let view = (
            event.kind(),
            event.status(),
            event.path().chars().count(),
            cookie,
        );
        *seen.lock().unwrap() = Some((view, event.client(), event.request_id().map(str::to_owned)));
    };
    let path = format!("/{}", "é".repeat(300));
    let mut cookie = vec![0xff];
    cookie.extend_from_slice(&[b'n'; 100]);
    let client = Some(IpAddr::from([192, 0, 2, 7]));
    let event = Event {
        cookie: Some(&cookie),
        path: &path,
        request_id: Some("id-1"),
        client,
        ..event(EventKind::CookieTampered, "invalid-signature")
    };

    call_hook(&hook, &SecurityEvent::new(&event, 0));

    let expected_cookie = format!("\u{fffd}{}", "n".repeat(63));
    let view = (
        EventKind::CookieTampered,
        Some(StatusCode::BAD_REQUEST),
        256,
        Some(expected_cookie),
    );
    let id = Some("id-1".to_owned());
    assert_eq!(*seen.lock().unwrap(), Some((view, client, id)));
}

#[test]
fn a_panicking_hook_does_not_reach_the_request() {
    let hook = |_: &SecurityEvent<'_>| panic!("a bug in the application's hook");
    let event = event(EventKind::HostRefused, "test-panicking-hook");

    call_hook(&hook, &SecurityEvent::new(&event, 0));
    call_hook(&hook, &SecurityEvent::new(&event, 0));
}

#[cfg(feature = "metrics")]
#[test]
fn the_metrics_counter_is_labelled_with_the_kind_name() {
    use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString};

    /// A counter's name and labels.
    type Entry = (String, Vec<(String, String)>);

    /// Records the name and labels of every counter registered.
    #[derive(Default)]
    struct Keys(Mutex<Vec<Entry>>);

    impl Recorder for Keys {
        fn describe_counter(&self, _: KeyName, _: Option<metrics::Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<metrics::Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<metrics::Unit>, _: SharedString) {}

        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let labels = key.labels();
            let labels = labels.map(|label| (label.key().to_owned(), label.value().to_owned()));
            let entry = (key.name().to_owned(), labels.collect());
            self.0.lock().unwrap().push(entry);
            Counter::noop()
        }

        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }

        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }
    let recorder = Keys::default();

    metrics::with_local_recorder(&recorder, || {
        for &kind in EventKind::ALL {
            counters::record(kind);
        }
    });

    let expected: Vec<_> = EventKind::ALL
        .iter()
        .map(|kind| {
            let label = ("event".to_owned(), kind.name().to_owned());
            ("tower_security_events_total".to_owned(), vec![label])
        })
        .collect();
    assert_eq!(recorder.0.into_inner().unwrap(), expected);
}
