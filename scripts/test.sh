#!/usr/bin/env bash
# Runs every check and test of the project, as CI does: the Rust workspace, then the C
# library and the Python package over the same build, then the documentation site.
# Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step's header carries the minutes and seconds since the start, so a slow run's log
# shows which step grew.
step() { printf '== %s (at %dm%02ds)\n' "$1" $((SECONDS / 60)) $((SECONDS % 60)); }
trap 'step "end"' EXIT

step "layers"
python3 scripts/check_layers.py

step "format"
cargo fmt --all --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "tests"
cargo test --workspace --locked

# The C and Python layers reuse the dev-profile build above (one build of DataFusion).
step "C"
bash scripts/test-c.sh

step "Python"
# The slowest tests are listed, to keep the run within its budget.
bash scripts/test-python.sh --durations=15

# The site installs the wheel that the Python step built, and links the Rust API of `cargo doc`.
step "docs site"
bash scripts/docs.sh
