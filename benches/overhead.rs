//! What the layer costs per request, against a bare service, the floor and the tower-http
//! stack a team would otherwise build, measured interleaved in one run.
//!
//! ```text
//! cargo bench --bench overhead                      # the report
//! cargo bench --bench overhead -- --rounds 400      # a longer, steadier run
//! cargo bench --bench overhead -- --profile strict_all get 200000
//!                                                   # one stack alone, for callgrind or perf
//! ```
//!
//! Only the service call is timed: requests are built before a batch's clock starts. Each
//! round runs one batch of every stack, in an order that rotates from round to round, so all
//! of them see the same state of a noisy machine; the report gives, per stack, the median
//! over rounds of its time per request minus the bare service's in the same round. A counting
//! allocator reports allocations (including reallocations) per request beside the timings.
//!
//! The stacks are described in `benches/support/mod.rs`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::Request;
use http::Response;
use http_body::Body;
use tower::{Layer, Service};
use tower_security::SecurityLayer;

mod support;

use support::{App, Floor, Frames, Scenario, Stripping};

/// Counts calls into the allocator. The benchmark is single-threaded, so a plain load and
/// store keep the count exact without the cost of an atomic read-modify-write in the timing.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

fn count() {
    ALLOCATIONS.store(ALLOCATIONS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// One stack under test, able to run a batch of requests.
trait Stack {
    fn name(&self) -> &'static str;
    /// Runs `n` requests of `scenario`; returns the time they took and the allocations made.
    fn batch(&mut self, scenario: Scenario, n: usize) -> (Duration, u64);
}

struct Measured<S> {
    name: &'static str,
    service: S,
    requests: Vec<Request<Frames>>,
}

impl<S, RB> Stack for Measured<S>
where
    S: Service<Request<Frames>, Response = Response<RB>>,
    S::Error: std::fmt::Debug,
    RB: Body,
{
    fn name(&self) -> &'static str {
        self.name
    }

    fn batch(&mut self, scenario: Scenario, n: usize) -> (Duration, u64) {
        self.requests.clear();
        self.requests.extend((0..n).map(|_| scenario.request()));
        let mut seen = 0;
        let allocations = ALLOCATIONS.load(Ordering::Relaxed);
        let start = Instant::now();
        for request in self.requests.drain(..) {
            seen += support::drive(&mut self.service, request);
        }
        let elapsed = start.elapsed();
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations;
        black_box(seen);
        (elapsed, allocations)
    }
}

fn measured<S>(name: &'static str, service: S) -> Box<dyn Stack>
where
    Measured<S>: Stack + 'static,
{
    Box::new(Measured {
        name,
        service,
        requests: Vec::new(),
    })
}

fn stacks() -> Vec<Box<dyn Stack>> {
    let all = support::strict_all();
    let headers = support::headers_sent_by(&all);
    vec![
        measured("bare", App),
        measured("floor", Floor::new(App, headers.clone())),
        measured("strict", SecurityLayer::strict().layer(App)),
        measured("strict_all", all.layer(App)),
        measured(
            "tower_http",
            support::tower_http_stack(App, &headers, Stripping::Scan),
        ),
        measured(
            "tower_http_by_name",
            support::tower_http_stack(App, &headers, Stripping::ByName),
        ),
    ]
}

struct Options {
    rounds: usize,
    batch: usize,
    profile: Option<(String, Scenario, usize)>,
}

fn options() -> Options {
    let mut options = Options {
        rounds: 200,
        batch: 500,
        profile: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut args = args.iter().map(String::as_str);
    while let Some(arg) = args.next() {
        match arg {
            "--rounds" => options.rounds = number(args.next()),
            "--batch" => options.batch = number(args.next()),
            "--profile" => {
                let name = args.next().unwrap_or("strict_all").to_owned();
                let scenario = match args.next() {
                    Some("post") => Scenario::Post,
                    _ => Scenario::Get,
                };
                options.profile = Some((name, scenario, number(args.next())));
            }
            // `cargo bench` passes `--bench`; a filter or other flags mean nothing here.
            _ => {}
        }
    }
    options
}

fn number(arg: Option<&str>) -> usize {
    arg.and_then(|a| a.replace('_', "").parse().ok())
        .unwrap_or_else(|| panic!("expected a number, got {arg:?}"))
}

fn main() {
    let options = options();
    let mut stacks = stacks();
    if let Some((name, scenario, n)) = &options.profile {
        let stack = stacks
            .iter_mut()
            .find(|stack| stack.name() == name)
            .unwrap_or_else(|| panic!("no stack named {name}"));
        let (elapsed, allocations) = stack.batch(*scenario, *n);
        println!(
            "{name} {}: {n} requests, {:.0} ns and {:.2} allocations each",
            scenario.name(),
            elapsed.as_nanos() as f64 / *n as f64,
            allocations as f64 / *n as f64
        );
        return;
    }

    println!(
        "{} rounds of {} requests per stack, interleaved; overhead is the median over rounds \
         of (stack - bare) in the same round",
        options.rounds, options.batch
    );
    for scenario in [Scenario::Get, Scenario::Post] {
        report(scenario, &mut stacks, &options);
    }
}

fn report(scenario: Scenario, stacks: &mut [Box<dyn Stack>], options: &Options) {
    let count = stacks.len();
    // Warm caches, the allocator and lazily built state before anything is recorded.
    for stack in stacks.iter_mut() {
        stack.batch(scenario, options.batch);
    }
    let mut per_request = vec![Vec::with_capacity(options.rounds); count];
    let mut allocations = vec![u64::MAX; count];
    for round in 0..options.rounds {
        for k in 0..count {
            let i = (round + k) % count;
            let (elapsed, allocated) = stacks[i].batch(scenario, options.batch);
            per_request[i].push(elapsed.as_nanos() as f64 / options.batch as f64);
            allocations[i] = allocations[i].min(allocated);
        }
    }

    let overhead: Vec<f64> = (0..count)
        .map(|i| {
            let mut paired: Vec<f64> = per_request[i]
                .iter()
                .zip(&per_request[0])
                .map(|(stack, bare)| stack - bare)
                .collect();
            median(&mut paired)
        })
        .collect();
    let index = |name: &str| {
        stacks
            .iter()
            .position(|stack| stack.name() == name)
            .unwrap_or_else(|| panic!("no stack named {name}"))
    };
    let (floor, peer, by_name) = (
        index("floor"),
        index("tower_http"),
        index("tower_http_by_name"),
    );

    println!("\n{}", scenario.name());
    println!(
        "{:<19} {:>8} {:>9} {:>7} {:>8} {:>11} {:>10}",
        "stack", "ns/req", "overhead", "allocs", "/ floor", "/ tower_http", "/ by_name"
    );
    for i in 0..count {
        let time = median(&mut per_request[i].clone());
        let allocs = allocations[i] as f64 / options.batch as f64;
        let ratio = |to: usize| {
            if i == 0 {
                String::from("-")
            } else {
                format!("{:.2}", overhead[i] / overhead[to])
            }
        };
        println!(
            "{:<19} {:>8.0} {:>+9.0} {:>7.2} {:>8} {:>11} {:>10}",
            stacks[i].name(),
            time,
            overhead[i],
            allocs,
            ratio(floor),
            ratio(peer),
            ratio(by_name)
        );
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
