//! The rate limiter behind [`Event::emit`](super::Event::emit): a fixed table of atomics,
//! lock-free and allocation-free, so that a flood of refusals costs each request a few atomic
//! operations and never waits on another.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use super::EventKind;

/// Events written per key and window, unless [`RateLimiter::set_limit`] says otherwise.
pub(super) const DEFAULT_PER_WINDOW: u32 = 10;
/// The length of a window, in milliseconds.
pub(super) const WINDOW_MS: u64 = 1_000;
/// Slots in the table: several times as many as the keys the crate's rules can make (fewer
/// than 100), so that every key finds a slot of its own near its home.
pub(super) const SLOTS: usize = 256;
/// How many slots, from its home on, a key tries before it shares its home slot.
pub(super) const MAX_PROBES: usize = 8;

/// Bits of a slot's state that count the events written in its window: enough for any limit,
/// leaving 32 bits of window number, 136 years of one-second windows.
const COUNT_BITS: u32 = 32;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
/// The limit that means none.
const UNLIMITED: u64 = u64::MAX;

/// The process-wide limiter every event goes through.
pub(super) static LIMITER: RateLimiter = RateLimiter::new();

/// What to do with one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admit {
    /// Write it, reporting how many identical events were suppressed since the last one.
    Write { suppressed: u64 },
    /// Count it, but do not write it.
    Suppress,
}

/// At most a limit of events per key in each fixed window of [`WINDOW_MS`].
///
/// A key is a hash of what makes two events identical. Each key claims a slot the first time
/// it is seen and keeps it for the life of the process: the keys are the crate's own
/// `(kind, rule, status)` triples, a set no request can grow.
pub(super) struct RateLimiter {
    slots: [Slot; SLOTS],
    /// Events written per key and window, or [`UNLIMITED`].
    limit: AtomicU64,
}

struct Slot {
    /// The key that owns the slot, `0` while it is free. Set once.
    key: AtomicU64,
    /// The number of the current window, shifted left by [`COUNT_BITS`], plus the events
    /// written in it.
    state: AtomicU64,
    /// Events suppressed since the last one written.
    suppressed: AtomicU64,
}

impl RateLimiter {
    pub(super) const fn new() -> Self {
        Self {
            slots: [const { Slot::new() }; SLOTS],
            limit: AtomicU64::new(DEFAULT_PER_WINDOW as u64),
        }
    }

    /// Sets the events written per key and window, or lifts the limit with `None`. Takes
    /// effect from the next event on; the counts of the current window are kept.
    pub(super) fn set_limit(&self, per_window: Option<u32>) {
        let limit = per_window.map_or(UNLIMITED, u64::from);
        self.limit.store(limit, Relaxed);
    }

    /// Decides whether the event with `key`, at `now_ms` milliseconds on the limiter's clock,
    /// is written.
    pub(super) fn admit(&self, key: u64, now_ms: u64) -> Admit {
        let slot = self.slot(key);
        let limit = self.limit.load(Relaxed);
        if limit == UNLIMITED {
            // Only a load while nothing is pending: the slot's line stays shared under a flood.
            let suppressed = match slot.suppressed.load(Relaxed) {
                0 => 0,
                _ => slot.suppressed.swap(0, Relaxed),
            };
            return Admit::Write { suppressed };
        }
        let window = now_ms / WINDOW_MS;
        let mut state = slot.state.load(Relaxed);
        loop {
            let (seen, written) = (state >> COUNT_BITS, state & COUNT_MASK);
            // A thread that read the clock just before another may get here just after it:
            // its event then counts in the newer window.
            let (current, written) = match seen < window {
                true => (window, 0),
                false => (seen, written),
            };
            if written >= limit {
                slot.suppressed.fetch_add(1, Relaxed);
                return Admit::Suppress;
            }
            let next = (current << COUNT_BITS) | (written + 1);
            match slot
                .state
                .compare_exchange_weak(state, next, Relaxed, Relaxed)
            {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        // A suppression racing with this swap is reported here or on the next event written:
        // never lost, never counted twice.
        let suppressed = slot.suppressed.swap(0, Relaxed);

        Admit::Write { suppressed }
    }

    /// The slot `key` owns, claiming a free one near its home if it has none yet.
    fn slot(&self, key: u64) -> &Slot {
        // `0` marks a free slot.
        let key = key.max(1);
        let home = (key % SLOTS as u64) as usize;
        for probe in 0..MAX_PROBES {
            let slot = &self.slots[(home + probe) % SLOTS];
            // A plain load first: under a flood, every request finds its key here, and a load
            // keeps the slot's cache line shared between cores.
            let owner = slot.key.load(Relaxed);
            if owner == key {
                return slot;
            }
            if owner == 0 {
                match slot.key.compare_exchange(0, key, Relaxed, Relaxed) {
                    Ok(_) => return slot,
                    Err(owner) if owner == key => return slot,
                    Err(_) => {}
                }
            }
        }

        // Every slot near home belongs to another key: share the home slot's budget.
        &self.slots[home]
    }
}

impl Slot {
    const fn new() -> Self {
        Self {
            key: AtomicU64::new(0),
            state: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }
}

/// The key of an event: a hash of its kind, rule and status, the fields that make two events
/// identical.
pub(super) fn key(kind: EventKind, rule: &str, status: Option<u16>) -> u64 {
    // FNV-1a; `0xff` never occurs in UTF-8, so it separates the parts unambiguously.
    let status = status.unwrap_or(0).to_le_bytes();
    let bytes = kind.name().as_bytes().iter().chain(&[0xff]);
    let bytes = bytes.chain(rule.as_bytes()).chain(&[0xff]).chain(&status);
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // MurmurHash3's finaliser spreads FNV's high bits into the low ones that pick the slot.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;

    hash
}

/// Milliseconds since the first event of the process, on the monotonic clock.
pub(super) fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let elapsed = START.get_or_init(Instant::now).elapsed();

    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}
