#!/usr/bin/env bash
# Builds the documentation site into target/site, as CI does: MkDocs with Material, strict
# (a warning fails the build). The build executes the tutorial notebook (a cell that raises
# fails it), checks the examples of the pages against the engine and runs their commands,
# renders the references from the schemas, the C header and the package, copies in the Rust
# API that `cargo doc` left in target/doc, and fails if a page loads anything from, or links
# to, outside the site.
# It needs the wheel that scripts/test-python.sh builds (target/py-wheels), which it installs
# into a virtual environment of its own with the pinned requirements of docs/requirements.txt.
# Usage: bash scripts/docs.sh
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
# The package writes its embedded example to the user's cache; keep this run's in target/.
export XDG_CACHE_HOME="$PWD/target/docs-cache"
# Material prints a notice about MkDocs 2 on every build; it is not about this site.
export NO_MKDOCS_2_WARNING=1
venv=target/docs-venv
requirements=docs/requirements.txt

echo "== docs: environment ($venv)"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
# Reinstall only when the pinned versions change.
stamp="$venv/requirements.sha256"
if ! sha256sum --status -c "$stamp" 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    sha256sum "$requirements" > "$stamp"
fi

# The tutorial's kernel talks to the build over the loopback interface: its warning that the
# connection is not encrypted is not about this use, and would read as a fault of the build.
mkdir -p "$venv/etc/ipython"
echo '{"IPKernelApp": {"log_level": "ERROR"}}' > "$venv/etc/ipython/ipython_kernel_config.json"

echo "== docs: the caas wheel"
wheel=$(ls target/py-wheels/caas-*.whl 2> /dev/null || true)
if [ -z "$wheel" ]; then
    echo "no wheel in target/py-wheels: build it first with bash scripts/test-python.sh" >&2
    exit 1
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"

echo "== docs: site (target/site)"
"$venv/bin/mkdocs" build --strict
