#!/usr/bin/env bash
# Runs every check and test of the project, as CI does: the Rust workspace, then the C
# library and the Python package over the same build, then the documentation site.
# Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== layers"
python3 scripts/check_layers.py

echo "== format"
cargo fmt --all --check

echo "== lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

echo "== tests"
cargo test --workspace --locked

# The C and Python layers reuse the dev-profile build above (one build of DataFusion).
echo "== C"
bash scripts/test-c.sh

echo "== Python"
bash scripts/test-python.sh

# The site installs the wheel that the Python step built, and links the Rust API of `cargo doc`.
echo "== docs site"
bash scripts/docs.sh
