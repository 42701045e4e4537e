//! A flood of refused requests through the layer: written ten times a second, counted in
//! full, handed to the hook only when written, and served without growing memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use tower::{ServiceExt, service_fn};
use tower_layer::Layer;
use tower_security::events::{self, EventKind, SecurityEvent};
use tower_security::{RequestBody, SecurityLayer};

mod common;

use common::events::capture;

/// Requests in a flood.
const FLOOD: usize = 10_000;
/// Identical events written per one-second window: the default limit.
const PER_WINDOW: u32 = 10;

/// Counts the bytes each thread holds, so that a test measures its own allocations: a
/// `#[tokio::test]` runs its requests on its own thread.
struct CountingAllocator;

thread_local! {
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

/// Adds `delta` to the current thread's count. A thread being torn down has no count left to
/// keep, and `try_with` then does nothing.
fn track(delta: isize) {
    let _ = LIVE_BYTES.try_with(|live| live.set(live.get() + delta));
}

/// The bytes the current thread has allocated and not freed.
fn live_bytes() -> isize {
    LIVE_BYTES.with(Cell::get)
}

/// A size as a signed count; no allocation reaches `isize::MAX` bytes.
fn signed(size: usize) -> isize {
    isize::try_from(size).unwrap_or(isize::MAX)
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds `GlobalAlloc`'s
// contract; the bookkeeping touches only a const-initialised thread-local `Cell`, which
// neither allocates nor unwinds.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `layout` are `System.alloc`'s.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            track(signed(layout.size()));
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            track(signed(layout.size()));
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator, that is by `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        track(-signed(layout.size()));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller vouches for
        // `new_size`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            track(signed(new_size) - signed(layout.size()));
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// The strict layer around a handler that answers `200`, which no request here reaches.
fn service() -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<impl http_body::Body>,
    Error = Infallible,
    Future = impl Future + Send,
> + Clone {
    SecurityLayer::strict().layer(service_fn(|_: Request<RequestBody<Full<Bytes>>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    }))
}

/// A request the strict layer refuses with `method_refused`, a different path each time, as
/// a scan would send.
fn refused(method: Method, path: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("x-request-id", "\"spoofed\"")
        .body(Full::default())
        .unwrap()
}

/// Sets the default limit, whatever the capture helper chose: these tests are about it.
fn default_limit() {
    drop(capture());
    events::set_rate_limit(Some(PER_WINDOW));
}

/// The events of the flood the process-wide hook was handed.
static HOOKED: AtomicUsize = AtomicUsize::new(0);

#[tokio::test]
async fn a_flood_is_written_ten_times_a_second_and_counted_in_full() {
    default_limit();
    let (_guard, log) = capture();
    events::set_hook(|event: &SecurityEvent<'_>| {
        if event.path().starts_with("/flood/") {
            HOOKED.fetch_add(1, Ordering::Relaxed);
        }
    })
    .unwrap();
    let service = service();
    let counted_before = events::counters().get(EventKind::MethodRefused);
    let started = Instant::now();

    for i in 0..FLOOD {
        let path = format!("/flood/{i}/%0d%0a%1b[31m?q=%00");
        let response = service.clone().oneshot(refused(Method::TRACE, &path)).await;
        assert_eq!(response.unwrap().status(), StatusCode::METHOD_NOT_ALLOWED);
    }
    // The windows the flood touched, at most.
    let windows = started.elapsed().as_secs() + 2;
    // The next window: the first event written there reports what the flood's last window
    // suppressed.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let last = service.oneshot(refused(Method::TRACE, "/flood/last")).await;

    assert_eq!(last.unwrap().status(), StatusCode::METHOD_NOT_ALLOWED);
    let written: Vec<_> = log
        .security_events()
        .into_iter()
        .filter(|event| event.field("event") == Some("method_refused"))
        .collect();
    let suppressed: u64 = written
        .iter()
        .filter_map(|event| event.field("suppressed"))
        .map(|count| count.parse::<u64>().unwrap())
        .sum();
    let written_count = written.len() as u64;
    let most = u64::from(PER_WINDOW) * windows + 1;
    assert!(
        (u64::from(PER_WINDOW)..=most).contains(&written_count),
        "{written_count} events written over at most {windows} windows and one more"
    );
    assert!(
        written
            .iter()
            .any(|event| event.field("suppressed").is_some())
    );
    // Every request of the flood is in the log, written or counted as suppressed.
    assert_eq!(written_count + suppressed, FLOOD as u64 + 1);
    assert_eq!(HOOKED.load(Ordering::Relaxed), written.len());
    let counted = events::counters().get(EventKind::MethodRefused) - counted_before;
    assert!(counted > FLOOD as u64, "{counted} counted");
    for event in log.events() {
        for (name, value) in &event.fields {
            assert!(!value.chars().any(char::is_control), "{name}: {value}");
        }
    }
}

#[tokio::test]
async fn a_flood_leaves_memory_flat() {
    default_limit();
    // Every event written is formatted, as in production, into a sink that keeps nothing.
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let service = service();
    // A method override: refused like TRACE, under another rule, so that the other test's
    // flood keeps its own budget.
    let request = |i: usize| {
        let mut request = refused(Method::POST, &format!("/memory/{i}"));
        let value = http::HeaderValue::from_static("DELETE");
        request
            .headers_mut()
            .insert("x-http-method-override", value);
        request
    };
    for i in 0..1_000 {
        service.clone().oneshot(request(i)).await.unwrap();
    }
    let before = live_bytes();

    for i in 0..FLOOD {
        let response = service.clone().oneshot(request(i)).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }

    let grown = live_bytes() - before;
    assert!(
        grown < 64 * 1024,
        "{grown} bytes still allocated after the flood"
    );
}
