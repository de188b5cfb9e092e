#!/usr/bin/env bash
# Runs every check and test of the project, as CI does. Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== format"
cargo fmt --all --check

echo "== lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

echo "== tests"
cargo test --workspace --locked
