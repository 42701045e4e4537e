//! Captures the `tracing` events a test emits, so that a test can assert on the layer's
//! security events and prove that no secret reaches a log.
//!
//! [`capture`] installs a subscriber as the current thread's default and returns a guard that
//! removes it when dropped, with a handle that reads what was recorded. A `#[tokio::test]` runs
//! its future on a current-thread runtime, so every event the layer emits while serving the
//! test's requests lands here, and tests running in parallel on other threads do not.
//!
//! ```ignore
//! let (_guard, captured) = common::events::capture();
//! // ... send a request through the layer ...
//! let events = captured.security_events();
//! assert_eq!(events[0].field("event"), Some("cookie_dropped"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, Once, PoisonError};

use tracing::field::{Field, Visit};
use tracing::subscriber::DefaultGuard;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// The target of every security event, spelled out rather than taken from the crate, so that
/// renaming it (which breaks every log pipeline filtering on it) fails the tests.
pub const SECURITY_TARGET: &str = "tower_security::event";

/// The event name of a self-audit finding, logged at build time.
pub const AUDIT_FINDING: &str = "audit_finding";

/// One recorded event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedEvent {
    /// The event's `tracing` target.
    pub target: String,
    /// The event's level.
    pub level: Level,
    /// Every field, `message` included, by name. Text recorded with `record_str` is kept as
    /// is; a value recorded with `?` or `%` is kept as its `Debug` form, quotes included, the
    /// way a log line shows it.
    pub fields: BTreeMap<String, String>,
}

impl CapturedEvent {
    /// The value of the field `name`, if the event has it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// Whether any field of the event contains `needle`.
    pub fn mentions(&self, needle: &str) -> bool {
        self.fields.values().any(|value| value.contains(needle))
    }
}

/// The events recorded since [`capture`] was called, read through its guard's lifetime.
#[derive(Clone, Debug)]
pub struct Captured {
    events: Arc<Mutex<Vec<CapturedEvent>>>,
}

impl Captured {
    /// Every event recorded so far, in order.
    pub fn events(&self) -> Vec<CapturedEvent> {
        // A test that panicked while holding the lock has already failed; read on regardless.
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The events on the security target ([`SECURITY_TARGET`]), in order, without the
    /// self-audit's findings: those are logged when a layer is built, and a preset is built
    /// once per process, in whichever test uses it first.
    pub fn security_events(&self) -> Vec<CapturedEvent> {
        self.events()
            .into_iter()
            .filter(|event| {
                event.target == SECURITY_TARGET && event.field("event") != Some(AUDIT_FINDING)
            })
            .collect()
    }

    /// The self-audit's `audit_finding` events, in order.
    pub fn audit_events(&self) -> Vec<CapturedEvent> {
        self.events()
            .into_iter()
            .filter(|event| {
                event.target == SECURITY_TARGET && event.field("event") == Some(AUDIT_FINDING)
            })
            .collect()
    }

    /// The `event` field of every security event, in order: the stable names such as
    /// `cookie_dropped`.
    pub fn security_event_names(&self) -> Vec<String> {
        self.security_events()
            .iter()
            .map(|event| event.field("event").unwrap_or_default().to_owned())
            .collect()
    }

    /// Whether any field of any event, on any target, contains `needle`.
    pub fn mentions(&self, needle: &str) -> bool {
        self.events().iter().any(|event| event.mentions(needle))
    }
}

/// Records every event on the current thread until the guard is dropped.
#[must_use = "events are recorded only while the guard lives"]
pub fn capture() -> (DefaultGuard, Captured) {
    // `tracing` caches, per callsite, whether any subscriber wants its events, when the
    // callsite is first hit. While exactly one subscriber exists, that answer comes from the
    // default of the thread that hits it: a test on another thread, with no capture, would
    // then switch a callsite off for the test capturing here. A global subscriber that lives
    // for the whole run makes `tracing` ask every subscriber instead; it records nothing.
    static GLOBAL: Once = Once::new();
    GLOBAL.call_once(|| {
        // Only this function sets one, once: it cannot fail.
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
        // The tests assert on every event their requests produce; the rate limit has its
        // own tests, in tests/events.rs, which set it back.
        tower_security::events::set_rate_limit(None);
    });
    let captured = Captured {
        events: Arc::default(),
    };
    let layer = CaptureLayer {
        events: Arc::clone(&captured.events),
    };

    let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));

    (guard, captured)
}

/// The `tracing_subscriber` layer behind [`capture`].
struct CaptureLayer {
    events: Arc<Mutex<Vec<CapturedEvent>>>,
}

impl<S: Subscriber> Layer<S> for CaptureLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut FieldRecorder(&mut fields));
        let metadata = event.metadata();
        let captured = CapturedEvent {
            target: metadata.target().to_owned(),
            level: *metadata.level(),
            fields,
        };

        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(captured);
    }
}

/// Writes each field of an event into a map, as text.
struct FieldRecorder<'a>(&'a mut BTreeMap<String, String>);

impl FieldRecorder<'_> {
    fn insert(&mut self, field: &Field, value: String) {
        self.0.insert(field.name().to_owned(), value);
    }
}

impl Visit for FieldRecorder<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert(field, format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, value.to_owned());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.to_string());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.to_string());
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.insert(field, value.to_string());
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.insert(field, value.to_string());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, value.to_string());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.to_string());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.insert(field, value.to_string());
    }
}
