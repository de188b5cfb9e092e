#!/usr/bin/env bash
# The long runs that CI does not make: the differential property test against the
# reference evaluator at 10^5 cases (release profile), then the concurrency stress of the
# Python package and of the C library (tests/soak/: threads × engines × registrations,
# and cancellations from Python). Each fails on the first difference or error.
#
# Usage: bash scripts/soak.sh [CASES (default 100000)] [STRESS_SECONDS (default 300)]
set -euo pipefail
cd "$(dirname "$0")/.."

cases=${1:-100000}
seconds=${2:-300}

echo "== soak: the differential test, $cases cases (release profile)"
started=$SECONDS
PROPTEST_CASES=$cases cargo test --release --locked -p caas-fuzz --test differential
echo "soak: $cases cases in $((SECONDS - started)) s (with the build)"

echo "== soak: the Python package, $seconds s"
CAAS_SETUP_ONLY=1 bash scripts/test-python.sh
target/py-venv/bin/python tests/soak/stress.py --seconds "$seconds" --threads 8 --engines 3

echo "== soak: the C library, $seconds s"
cargo build --locked -p caas-ffi
# libcaas.so's SONAME is libcaas.so.N (caas-ffi/build.rs): the program asks for that name
# at run time, and Cargo writes only libcaas.so.
soname=$(readelf -d target/debug/libcaas.so | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == libcaas.so.* ]] || { echo "target/debug/libcaas.so has no SONAME" >&2; exit 1; }
ln -sfn libcaas.so "target/debug/$soname"
mkdir -p target/caas-c
gcc -std=c99 -Wall -Wextra -Werror -pedantic -g -pthread -Iinclude -Itests/c \
    tests/soak/stress.c tests/c/test_stream.c -o target/caas-c/stress -Ltarget/debug -lcaas \
    -Wl,-rpath,"$PWD/target/debug"
target/caas-c/stress . "$seconds" 8 3
