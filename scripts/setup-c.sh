#!/usr/bin/env bash
# Installs what the C layer's checks need beyond the Rust toolchain and gcc: the pinned
# cbindgen (into target/tools, so a fresh clone gets the same header generator), valgrind,
# PyYAML (for the conversion of the conformance cases), and cmake and pkg-config (to build
# a program against an installed libcaas both ways), each only if missing.
# Usage: bash scripts/setup-c.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CBINDGEN_VERSION=0.29.4
cbindgen=target/tools/bin/cbindgen
if [[ ! -x $cbindgen ]] || [[ "$($cbindgen --version)" != "cbindgen $CBINDGEN_VERSION" ]]; then
    echo "== installing cbindgen $CBINDGEN_VERSION into target/tools"
    # cbindgen builds in a target folder of its own: installing it never touches the
    # workspace's build of arrow and DataFusion.
    # A debug build: it compiles in a third of the time of a release build, and generating
    # the header takes it a second either way.
    cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --debug --root target/tools
fi

if ! command -v valgrind >/dev/null; then
    echo "== installing valgrind"
    apt-get update
    apt-get install -y valgrind
fi

missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v pkg-config >/dev/null || missing+=(pkg-config)
if ((${#missing[@]})); then
    echo "== installing ${missing[*]}"
    apt-get update
    apt-get install -y "${missing[@]}"
fi

if ! python3 -c "import yaml" 2>/dev/null; then
    echo "== installing PyYAML"
    python3 -m pip install --quiet pyyaml
fi
