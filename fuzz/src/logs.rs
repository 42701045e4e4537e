//! Captures every log record the layer writes, as a `tracing-subscriber` fmt layer formats it,
//! and the name of every security event.
//!
//! The records are checked the way a log pipeline reads them: each must be exactly one line
//! of text with no control character, whatever the request or the application put in the
//! path, the method, a cookie name or a panic message. The event names let a target count
//! the events a run caused, such as `cookie_dropped`.

use std::io;
use std::sync::{Mutex, PoisonError};

use tower_security::events::{self, EventKind};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Every record written since the last [`Run::start`], one entry per event.
static RECORDS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// The `event` field of every security event since the last [`Run::start`].
static EVENT_NAMES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Installs the capturing subscriber for the whole process.
///
/// # Panics
///
/// When another global subscriber was installed first.
pub fn install() {
    // No ANSI colours: their escape sequences are control characters a plain log never has.
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .without_time()
        .with_writer(Capture);
    let subscriber = tracing_subscriber::registry().with(fmt).with(EventNames);
    tracing::subscriber::set_global_default(subscriber)
        .expect("the fuzz harness installs the only global subscriber");
}

/// Hands the fmt layer one [`Record`] per event.
struct Capture;

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Record;

    fn make_writer(&'a self) -> Self::Writer {
        Record(Vec::new())
    }
}

/// The bytes of one formatted event; stored when the fmt layer drops it.
struct Record(Vec<u8>);

impl io::Write for Record {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let record = std::mem::take(&mut self.0);
        lock(&RECORDS).push(record);
    }
}

/// Records the `event` field of every event on the security target.
struct EventNames;

impl<S: Subscriber> Layer<S> for EventNames {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != events::TARGET {
            return;
        }
        let mut name = EventName(None);
        event.record(&mut name);
        if let Some(name) = name.0 {
            lock(&EVENT_NAMES).push(name);
        }
    }
}

/// Reads the `event` field of one event.
struct EventName(Option<String>);

impl Visit for EventName {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "event" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "event" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

/// Locks one of the capture buffers; a panic while one was held aborts the process anyway.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One fuzz run's share of the log: started before the request, finished after the response
/// and its body.
#[derive(Debug)]
pub struct Run {
    /// The event counters when the run started, in the order of [`EventKind::ALL`].
    counted_before: Vec<u64>,
}

/// What one run wrote to the log.
#[derive(Debug)]
pub struct Captured {
    /// Every record, one per event, as the fmt layer formatted it.
    pub records: Vec<Vec<u8>>,
    /// The `event` field of every security event, in order.
    pub event_names: Vec<String>,
}

impl Run {
    /// Forgets whatever earlier runs and the layer's set-up logged.
    pub fn start() -> Self {
        lock(&RECORDS).clear();
        lock(&EVENT_NAMES).clear();
        let counts = events::counters();
        Self {
            counted_before: EventKind::ALL
                .iter()
                .map(|&kind| counts.get(kind))
                .collect(),
        }
    }

    /// Takes the run's records and checks them: one line each, no control character, and,
    /// with the rate limit lifted, every counted event written.
    ///
    /// # Panics
    ///
    /// When a record breaks one of those rules.
    pub fn finish(self) -> Captured {
        let captured = Captured {
            records: std::mem::take(&mut *lock(&RECORDS)),
            event_names: std::mem::take(&mut *lock(&EVENT_NAMES)),
        };
        for record in &captured.records {
            check_record(record);
        }
        let counts = events::counters();
        for (&kind, &before) in EventKind::ALL.iter().zip(&self.counted_before) {
            let counted = counts.get(kind) - before;
            let written = captured.count(kind.name()) as u64;
            assert_eq!(
                counted, written,
                "{kind} events: {counted} counted but {written} written, with no rate limit"
            );
        }
        captured
    }
}

impl Captured {
    /// How many security events named `name` (such as `cookie_dropped`) the run wrote.
    pub fn count(&self, name: &str) -> usize {
        self.event_names.iter().filter(|n| *n == name).count()
    }
}

/// Checks that a record is one line of text: valid UTF-8, a single line feed at its end, and
/// no other control character, nor a Unicode line or paragraph separator, which some log
/// viewers break lines at.
fn check_record(record: &[u8]) {
    let text = std::str::from_utf8(record).expect("a log record is UTF-8");
    let line = text
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("a log record does not end its line: {text:?}"));
    assert!(
        !line
            .chars()
            .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')),
        "a log record holds a control character or a line break: {text:?}"
    );
}
