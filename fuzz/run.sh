#!/usr/bin/env bash
# Runs the fuzz targets one after another, each for a bounded time.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# SECONDS is the fuzzing time of each target (600 by default); the targets default to all
# three. One target at a time, on one core. A crash stops that target, leaves its input in
# fuzz/artifacts/TARGET/ and makes the script exit non-zero once the other targets have run.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-600}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(request set_cookie target_and_host)
fi

if ! command -v cargo-fuzz >/dev/null; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 1
fi
# cargo-fuzz passes nightly-only flags (-Z sanitizer=address and the coverage options) to
# rustc; RUSTC_BOOTSTRAP=1 lets a stable toolchain accept them.
export RUSTC_BOOTSTRAP=1

failed=()
for target in "${targets[@]}"; do
    echo "== $target: ${seconds}s"
    cargo fuzz build "$target"
    # A run that takes 30 s has hung: the targets bound every poll loop far below that.
    if ! cargo fuzz run "$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1; then
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "found crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
