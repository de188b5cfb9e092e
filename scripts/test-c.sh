#!/usr/bin/env bash
# Checks the C layer: builds libcaas (dev profile), checks that include/caas.h is current and
# compiles as C and C++, builds and runs the C examples, and runs the C conformance runner,
# the C error-path tests and the C assurance tests (explanations, provenance, data quality,
# pseudonyms, reports, audit, run-to-run differences), every C program under valgrind
# memcheck (the conformance runner on a quarter of the cases, after all of them without),
# and the concurrency stress briefly; installs the library into a temporary prefix
# (make install) and builds programs against it through pkg-config and CMake.
#
# Usage: bash scripts/test-c.sh
# Expects the dev profile built by `cargo test --workspace --locked` (it then only compiles
# caas-ffi); installs what it needs with scripts/setup-c.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$SECONDS
# Each step's header carries the seconds since the start, for the budget of the CI run.
step() { echo "== C: $1 (at $((SECONDS - started)) s)"; }

bash scripts/setup-c.sh

out=target/caas-c
bin=$out/bin
mkdir -p "$bin"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Leaks of kind "definite" fail; the threads of the process-wide runtime are still running
# at exit, so their memory is "possibly lost" or "still reachable", which is not a leak.
memcheck=(valgrind --quiet --error-exitcode=1 --leak-check=full --show-leak-kinds=definite
    --errors-for-leak-kinds=definite --suppressions=tests/c/valgrind.supp)
cflags=(-std=c99 -Wall -Wextra -Werror -pedantic -g)

step "library (dev profile)"
cargo build -p caas-ffi --locked
lib=$root/target/debug
# The library's SONAME is libcaas.so.N (caas-ffi/build.rs); programs linked against it here
# load it by that name from $lib, where Cargo writes only libcaas.so.
soname=$(readelf -d "$lib/libcaas.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
abi=$(sed -n 's/^#define CAAS_ABI_VERSION \([0-9]*\)$/\1/p' include/caas.h)
if [[ $soname != "libcaas.so.$abi" ]]; then
    echo "libcaas.so's SONAME is '$soname', not libcaas.so.$abi (CAAS_ABI_VERSION)" >&2
    exit 1
fi
ln -sfn libcaas.so "$lib/$soname"

step "include/caas.h is current"
target/tools/bin/cbindgen --quiet --config caas-ffi/cbindgen.toml --crate caas-ffi --output "$tmp/caas.h"
if ! diff -u include/caas.h "$tmp/caas.h"; then
    echo "include/caas.h is stale; regenerate it with:" >&2
    echo "  target/tools/bin/cbindgen --config caas-ffi/cbindgen.toml --crate caas-ffi --output include/caas.h" >&2
    exit 1
fi

step "the header compiles as C and C++, before or after Arrow's declarations"
gcc "${cflags[@]}" -fsyntax-only -x c include/caas.h
g++ -std=c++11 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c++ include/caas.h
# Arrow's own headers declare the structs under the same guards (taken here from ours).
sed -n '/^#ifndef ARROW_C_DATA_INTERFACE/,/^#endif  \/\/ ARROW_C_STREAM_INTERFACE/p' include/caas.h \
    > "$tmp/arrow_abi.h"
printf '#include <stdint.h>\n#include "arrow_abi.h"\n#include "caas.h"\n#include "caas.h"\n' > "$tmp/after.c"
printf '#include "caas.h"\n#include <stdint.h>\n#include "arrow_abi.h"\n' > "$tmp/before.c"
for order in after before; do
    gcc "${cflags[@]}" -fsyntax-only -Iinclude -I"$tmp" "$tmp/$order.c"
    g++ -std=c++11 -Wall -Wextra -Werror -pedantic -fsyntax-only -Iinclude -I"$tmp" -x c++ "$tmp/$order.c"
done

step "examples (shared and static library)"
make -s -C examples/c OUT="$root/$bin" LIBDIR="$lib" all
test "$("${memcheck[@]}" "$bin/minimal")" = "2 members"
echo "minimal: 2 members, as expected"
"${memcheck[@]}" "$bin/quickstart" . > "$tmp/quickstart.txt"
diff -u tests/c/expected/quickstart.txt <(tail -n +2 "$tmp/quickstart.txt")
"$bin/quickstart-static" . > "$tmp/quickstart-static.txt"
diff -u "$tmp/quickstart.txt" "$tmp/quickstart-static.txt"
echo "quickstart: as expected (shared and static)"

# The population is cached under the hash of what generates it, so that a change to the
# generator or the codelists never leaves a stale population behind.
synth_hash=$(cat caas-synth/src/*.rs examples/flu/codelists/* | sha256sum | cut -c1-12)
population=$out/synthetic-5000-seed7-$synth_hash
if [[ ! -f $population/complete ]]; then
    rm -rf "$out"/synthetic-5000-seed7*
    cargo run -q -p caas-core --example flu_demo --locked -- --persons 5000 --seed 7 \
        --data "$root/$population" --out "$root/$population/out" > /dev/null
fi
rm -rf "$out/flu-report" && mkdir -p "$out/flu-report"
"${memcheck[@]}" "$bin/flu" "$population" examples/flu/flu.yaml "$out/flu-report" > "$tmp/flu.csv" 2> "$tmp/flu.err" \
    || { cat "$tmp/flu.err" >&2; exit 1; }
diff -u examples/flu/golden/attrition-5000-seed7.csv "$tmp/flu.csv"
echo "flu: the attrition over Parquet files equals examples/flu/golden/attrition-5000-seed7.csv"
diff -u tests/c/expected/flu-data-quality.txt <(grep '^Data quality' "$tmp/flu.err")
head -n 1 "$out/flu-report/flu-report.md" | grep -qx '# Seasonal influenza vaccination 2025/26 — eligible, not yet vaccinated'
head -c 15 "$out/flu-report/flu-report.html" | grep -qx '<!DOCTYPE html>'
grep -q '<svg xmlns="http://www.w3.org/2000/svg"' "$out/flu-report/flu-funnel.svg"
echo "flu: data-quality summary as tests/c/expected/flu-data-quality.txt; report written to $out/flu-report"
# Without arguments, flu reads the small population checked in for `make -C examples/c run`.
(cd "$tmp" && "$root/$bin/flu" > flu-population.csv 2> flu-population.err) \
    || { cat "$tmp/flu-population.err" >&2; exit 1; }
diff -u tests/c/expected/flu-population.csv "$tmp/flu-population.csv"
echo "flu: the attrition over examples/data/flu-population, run from another folder, as tests/c/expected/flu-population.csv"

step "conformance cases through the C API"
rm -rf "$out/cases"
python3 tests/c/convert_cases.py tests/conformance/cases "$out/cases"
gcc "${cflags[@]}" -Iinclude tests/c/conformance.c tests/c/table_text.c tests/c/json_value.c -o "$bin/conformance" \
    -L"$lib" -lcaas -Wl,-rpath,"$lib"
"$bin/conformance" "$out/cases" | tee "$out/conformance.txt"
# Every case calls the same functions of the library the same way; under memcheck, which
# makes each plan tens of times slower, one case in four (evenly through the suite) checks
# those calls for errors and leaks in a fraction of the time of all of them.
mapfile -t sample < <(awk 'NR % 4 == 1' "$out/cases/index.txt")
"${memcheck[@]}" "$bin/conformance" "$out/cases" "${sample[@]}" > "$out/conformance-memcheck.txt" \
    || { cat "$out/conformance-memcheck.txt" >&2; exit 1; }
echo "under memcheck: $(tail -n 1 "$out/conformance-memcheck.txt")"

step "error paths"
gcc "${cflags[@]}" -pthread -Iinclude tests/c/errors.c tests/c/table_text.c tests/c/test_stream.c \
    -o "$bin/errors" -L"$lib" -lcaas -Wl,-rpath,"$lib"
"${memcheck[@]}" "$bin/errors" .

step "assurance and governance"
gcc "${cflags[@]}" -Iinclude tests/c/assurance.c tests/c/table_text.c tests/c/test_stream.c \
    -o "$bin/assurance" -L"$lib" -lcaas -Wl,-rpath,"$lib"
"${memcheck[@]}" "$bin/assurance" tests/c/assurance

# The soak's concurrency stress (scripts/soak.sh runs it for minutes), briefly and without
# valgrind, which would serialise its threads.
step "concurrency stress, 5 s"
gcc "${cflags[@]}" -pthread -Iinclude -Itests/c tests/soak/stress.c tests/c/test_stream.c \
    -o "$bin/stress" -L"$lib" -lcaas -Wl,-rpath,"$lib"
"$bin/stress" . 5 4 2

# A consumer's view: the library installed into a prefix as a packager would, then a program
# built against it through pkg-config (shared) and through CMake (shared and static), each
# loading the installed library.
step "make install, then pkg-config and CMake"
# The version as Cargo reads it, to check the one the Makefile reads from the manifests.
version=$(cargo pkgid -p caas-ffi | sed 's/.*[#@]//')
prefix=$tmp/prefix
make -s install PREFIX="$prefix" PROFILE=dev > /dev/null
test "$(readlink "$prefix/lib/libcaas.so")" = "$soname"
test "$(readlink "$prefix/lib/$soname")" = "$soname.$version"
test -f "$prefix/lib/$soname.$version" -a -f "$prefix/lib/libcaas.a" -a -f "$prefix/include/caas.h"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
test "$(pkg-config --modversion caas)" = "$version"
# shellcheck disable=SC2046 # pkg-config's flags are meant to be split into words
gcc "${cflags[@]}" tests/c/installed/installed.c -o "$tmp/installed-pc" $(pkg-config --cflags --libs caas) \
    -Wl,-rpath,"$(pkg-config --variable=libdir caas)"
ldd "$tmp/installed-pc" | grep -F "$soname => $prefix/lib/$soname" > /dev/null
test "$("$tmp/installed-pc")" = "caas $version, C ABI $abi"
cmake -S tests/c/installed -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCAAS_VERSION="$version" \
    -DCMAKE_C_FLAGS="${cflags[*]}" > "$tmp/cmake.log" || { cat "$tmp/cmake.log" >&2; exit 1; }
cmake --build "$tmp/cmake" > "$tmp/cmake-build.log" || { cat "$tmp/cmake-build.log" >&2; exit 1; }
ldd "$tmp/cmake/installed" | grep -F "$soname => $prefix/lib/$soname" > /dev/null
test "$("$tmp/cmake/installed")" = "caas $version, C ABI $abi"
test "$("$tmp/cmake/minimal-static")" = "2 members"
if ldd "$tmp/cmake/minimal-static" | grep -F libcaas; then
    echo "minimal-static, linked with caas::caas_static, loads a shared libcaas" >&2
    exit 1
fi
make -s uninstall PREFIX="$prefix" > /dev/null
test -z "$(find "$prefix" -type f -o -type l)"
echo "install: caas $version (SONAME $soname) found through pkg-config and CMake, shared and static"

echo "== C: all checks passed in $((SECONDS - started)) s"
