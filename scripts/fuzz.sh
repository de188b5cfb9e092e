#!/usr/bin/env bash
# Runs caas's fuzz targets coverage-guided, under cargo-fuzz and libFuzzer, seeded with the
# definitions of the conformance cases. Each CI run replays the same targets briefly
# without the fuzzer (`cargo test -p caas-fuzz`); this is for the long runs.
#
# Usage: bash scripts/fuzz.sh [SECONDS_PER_TARGET (default 600)] [TARGET ...]
# Targets: definition, plan, evaluate, stream (see caas-fuzz/src/lib.rs). A finding is written under
# caas-fuzz/fuzz/artifacts/<target>/ and ends the run with a non-zero status; make it a
# conformance case or a unit test. Installs a nightly toolchain (cargo-fuzz's sanitizer
# flags) when there is none, and cargo-fuzz into target/tools. The instrumented build is its own: about 15
# minutes on two cores the first time.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(definition plan evaluate stream)
fi

tools=$PWD/target/tools
if [ ! -x "$tools/bin/cargo-fuzz" ]; then
    cargo install --quiet --locked --root "$tools" cargo-fuzz
fi
# cargo-fuzz's sanitizer flags need a nightly toolchain.
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi

# AddressSanitizer keeps the stack of every allocation in a store that never shrinks: replaying
# the evaluate target's corpus grew RSS from 368 MB to 1.2 GB in 144 runs with full stacks, and
# libFuzzer's 2 GB RSS limit then ends a long run as if caas leaked. Without allocation stacks the
# same replay levels off near 740 MB (the live heap is ~120 MB; a glibc soak is flat). To see the
# stacks of a finding, replay its input with ASAN_OPTIONS unset:
# `cargo +nightly fuzz run --fuzz-dir caas-fuzz/fuzz <target> <artifact>`.
export ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=0}

corpus=$PWD/target/fuzz-corpus
for target in "${targets[@]}"; do
    mkdir -p "$corpus/$target"
    # The seeds: each case's `definition: |` block, dedented.
    for case in tests/conformance/cases/*.yaml; do
        awk '/^definition: \|/ { inside = 1; next }
             inside && /^  / { print substr($0, 3); next }
             inside && /^$/ { print ""; next }
             inside { exit }' "$case" > "$corpus/$target/$(basename "$case" .yaml)"
    done
    echo "== fuzz: $target for $seconds s"
    PATH="$tools/bin:$PATH" cargo +nightly fuzz run --fuzz-dir caas-fuzz/fuzz "$target" \
        "$corpus/$target" -- -max_total_time="$seconds" -print_final_stats=1 \
        2>&1 | tee "target/fuzz-$target.log" | grep -E '^(#[0-9]+.*(pulse|DONE)|stat::|==|SUMMARY)' || true
    grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec' "target/fuzz-$target.log"
    if grep -q 'SUMMARY\|panicked' "target/fuzz-$target.log"; then
        echo "fuzz: $target found a failure; see target/fuzz-$target.log" >&2
        exit 1
    fi
done
