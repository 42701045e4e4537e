//! Per-stack timing distributions and allocation profiles, one stack at a time, with divan.
//!
//! `benches/overhead.rs` is the comparison to read: it interleaves the stacks so they share
//! the machine's state. This benchmark gives each stack's spread and divan's allocation
//! profile (counts and bytes, with growth shown apart). Each sample is one `Service::call`,
//! its future and the response body driven to their ends; the request is built outside.
//!
//! ```text
//! cargo bench --bench layer
//! ```

use divan::{AllocProfiler, Bencher, black_box};
use http::{Request, Response};
use http_body::Body;
use tower::{Layer, Service};
use tower_security::SecurityLayer;

mod support;

use support::{App, Floor, Frames, Scenario, Stripping};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

fn run<S, RB>(bencher: Bencher, mut service: S)
where
    S: Service<Request<Frames>, Response = Response<RB>>,
    S::Error: std::fmt::Debug,
    RB: Body,
{
    bencher
        .with_inputs(|| Scenario::Get.request())
        .bench_local_values(|request| black_box(support::drive(&mut service, request)));
}

#[divan::bench]
fn bare(bencher: Bencher) {
    run(bencher, App);
}

#[divan::bench]
fn floor(bencher: Bencher) {
    let headers = support::headers_sent_by(&support::strict_all());
    run(bencher, Floor::new(App, headers));
}

#[divan::bench]
fn strict(bencher: Bencher) {
    run(bencher, SecurityLayer::strict().layer(App));
}

#[divan::bench]
fn strict_all(bencher: Bencher) {
    run(bencher, support::strict_all().layer(App));
}

#[divan::bench]
fn tower_http(bencher: Bencher) {
    let headers = support::headers_sent_by(&support::strict_all());
    run(
        bencher,
        support::tower_http_stack(App, &headers, Stripping::Scan),
    );
}

#[divan::bench]
fn tower_http_by_name(bencher: Bencher) {
    let headers = support::headers_sent_by(&support::strict_all());
    run(
        bencher,
        support::tower_http_stack(App, &headers, Stripping::ByName),
    );
}
