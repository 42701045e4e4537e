//! Process-wide counts of security events by kind, suppressed events included.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::EventKind;

/// The number of kinds, the length of every per-kind table.
const KINDS: usize = EventKind::ALL.len();

/// The name of the counter, in the Prometheus text and through the `metrics` facade.
const METRIC: &str = "tower_security_events_total";

/// One counter per kind, indexed by [`EventKind::index`].
static COUNTS: [AtomicU64; KINDS] = [const { AtomicU64::new(0) }; KINDS];

/// Counts one event of `kind`, and reports it to the `metrics` facade when that feature is on.
pub(super) fn record(kind: EventKind) {
    COUNTS[kind.index()].fetch_add(1, Relaxed);
    #[cfg(feature = "metrics")]
    increment_metric(kind);
}

/// A snapshot of the process-wide event counts: every security event since the process
/// started, by kind, suppressed events included.
///
/// # Example
///
/// ```
/// use tower_security::events::{self, EventKind};
///
/// let counts = events::counters();
/// for (kind, count) in counts.iter().filter(|&(_, count)| count > 0) {
///     println!("{kind}: {count}");
/// }
/// assert_eq!(counts.get(EventKind::HostRefused), 0);
/// ```
pub fn counters() -> EventCounts {
    EventCounts {
        counts: std::array::from_fn(|i| COUNTS[i].load(Relaxed)),
    }
}

/// The event counts [`counters`] read, by kind.
///
/// Each count is read on its own: a snapshot taken while events are emitted may include an
/// event of one kind and miss a simultaneous one of another.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventCounts {
    pub(super) counts: [u64; KINDS],
}

impl EventCounts {
    /// The number of events of `kind`.
    pub fn get(&self, kind: EventKind) -> u64 {
        self.counts[kind.index()]
    }

    /// Every kind with its count, in the order of [`EventKind::ALL`].
    pub fn iter(&self) -> impl Iterator<Item = (EventKind, u64)> {
        EventKind::ALL
            .iter()
            .zip(self.counts)
            .map(|(&kind, n)| (kind, n))
    }

    /// The counts in the [Prometheus text exposition format], one sample per kind, zeros
    /// included, ready to serve from a `/metrics` endpoint:
    ///
    /// ```text
    /// # HELP tower_security_events_total Security events by kind.
    /// # TYPE tower_security_events_total counter
    /// tower_security_events_total{event="cross_origin_refused"} 0
    /// tower_security_events_total{event="cookie_dropped"} 2
    /// ...
    /// ```
    ///
    /// [Prometheus text exposition format]:
    ///     https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
    pub fn to_prometheus(&self) -> String {
        let mut text = String::with_capacity(128 + 64 * KINDS);
        text.push_str("# HELP tower_security_events_total Security events by kind.\n");
        text.push_str("# TYPE tower_security_events_total counter\n");
        for (kind, count) in self.iter() {
            // Writing to a `String` cannot fail.
            let _ = writeln!(text, "{METRIC}{{event=\"{kind}\"}} {count}");
        }

        text
    }
}

impl fmt::Debug for EventCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.iter().map(|(kind, count)| (kind.name(), count));
        f.debug_map().entries(names).finish()
    }
}

/// Increments the `metrics` counter for `kind`.
///
/// Each arm names its label value as a literal, which lets `metrics` keep the labels in a
/// static rather than allocate them for every event; a unit test checks every literal against
/// [`EventKind::name`].
#[cfg(feature = "metrics")]
fn increment_metric(kind: EventKind) {
    macro_rules! increment {
        ($($kind:ident => $name:literal,)*) => {
            match kind {
                $(EventKind::$kind => {
                    metrics::counter!("tower_security_events_total", "event" => $name)
                        .increment(1)
                })*
            }
        };
    }

    increment! {
        CrossOriginRefused => "cross_origin_refused",
        CookieDropped => "cookie_dropped",
        CookieTampered => "cookie_tampered",
        CookieReissued => "cookie_reissued",
        BodyTooLarge => "body_too_large",
        HeaderLimit => "header_limit",
        MethodRefused => "method_refused",
        InvalidRequest => "invalid_request",
        PathRefused => "path_refused",
        ForwardedHeadersStripped => "forwarded_headers_stripped",
        HostRefused => "host_refused",
        HttpsRedirect => "https_redirect",
        HttpsRequired => "https_required",
        ErrorScrubbed => "error_scrubbed",
        Panic => "panic",
        CspViolation => "csp_violation",
    }
}
