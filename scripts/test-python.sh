#!/usr/bin/env bash
# Tests the Python package as users get it: builds the wheel with the dev profile (reusing
# the target/debug build of `cargo test --workspace`), installs it into a virtual environment
# with the pinned test dependencies, checks that it imports in a clean environment too, and
# runs ruff, mypy and pytest (the conformance suite in-process and on DuckDB, PostgreSQL and
# Spark through the generated SQL, sources, errors and their categories in Python and C,
# threads, HTML and its screenshots (target/screenshots/), the command line, Ctrl-C, and
# the examples in the package's docstrings).
# It installs Java 17 (for Spark), PostgreSQL and Chromium (for the screenshots of the HTML
# views) when they are absent, and starts a PostgreSQL server of its own for the run
# (scripts/postgres.sh), stopped at the end.
# Usage: bash scripts/test-python.sh [pytest arguments]
# With CAAS_SETUP_ONLY=1, stops once the wheel is installed in the environment (for
# scripts that run the package otherwise, such as scripts/soak.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
# The package writes its embedded example to the user's cache; keep this run's in target/.
export XDG_CACHE_HOME="$PWD/target/py-cache"
venv=target/py-venv
wheels=target/py-wheels
requirements=tests/python/requirements.txt

echo "== python: test environment ($venv)"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
# Reinstall only when the pinned versions change.
stamp="$venv/requirements.sha256"
if ! sha256sum --status -c "$stamp" 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    sha256sum "$requirements" > "$stamp"
fi

echo "== python: wheel (dev profile)"
rm -rf "$wheels"
"$venv/bin/maturin" build --profile dev --locked --interpreter "$venv/bin/python" \
    --out "$wheels" --strip --quiet
wheel=$(ls "$wheels"/caas-*.whl)
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"

if [ "${CAAS_SETUP_ONLY:-}" = 1 ]; then
    exit 0
fi

echo "== python: the wheel in a clean environment"
clean=target/py-clean
"$python" -m venv --clear "$clean"
"$clean/bin/pip" install --quiet --disable-pip-version-check "$wheel"
(cd "$clean" && bin/caas validate "$(bin/python -c 'import caas; print(caas.examples.flu_definition())')" > /dev/null)
echo "caas $("$clean/bin/python" -c 'import caas; print(caas.__version__)') imports and runs"

echo "== python: format, lint and types"
# The documentation site's Python: its build hooks, example programs and tutorial notebook.
docs_python=(docs/hooks docs/examples docs/tutorial)
"$venv/bin/ruff" format --check python tests/python tests/soak examples/python "${docs_python[@]}"
"$venv/bin/ruff" check python tests/python tests/soak examples/python "${docs_python[@]}"
"$venv/bin/mypy" --strict --ignore-missing-imports --cache-dir target/mypy-cache python/caas

echo "== python: the C library (the tests compare the error categories of all front ends)"
cargo build -p caas-ffi --locked --quiet

echo "== python: the engines of the generated SQL"
if ! command -v java > /dev/null; then
    echo "Java is not installed: installing Java 17 for Spark"
    apt-get install -y -q openjdk-17-jre-headless > /dev/null
fi
pgdir=$(mktemp -d /tmp/caas-pg.XXXXXX)
trap 'bash scripts/postgres.sh stop "$pgdir"' EXIT
CAAS_TEST_POSTGRES=$(bash scripts/postgres.sh start "$pgdir")
export CAAS_TEST_POSTGRES
echo "PostgreSQL at $CAAS_TEST_POSTGRES"

echo "== python: the browser of the screenshots"
if ! command -v chromium > /dev/null; then
    echo "Chromium is not installed: installing it for the screenshots of the HTML views"
    apt-get install -y -q chromium > /dev/null
fi

echo "== python: tests"
"$venv/bin/python" -m pytest tests/python --doctest-modules --pyargs caas -p no:cacheprovider "$@"
