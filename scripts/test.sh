#!/bin/sh
# Install newsdedup with its test extra into ./.venv and run the whole test suite (lint included).
# Needs only python3 (3.11+) on PATH. Extra servers the tests need (redis, chromium) are started
# and stopped by the tests themselves.
set -eu
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
# System packages some tests need: a real redis-server for the shared-state backend and
# headless chromium for the report's browser test. Installed
# with apt when missing and possible; the tests that need them skip with a clear message if not.
need=""
command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
command -v chromium >/dev/null 2>&1 || need="$need chromium"
if [ -n "$need" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need) >/dev/null 2>&1 \
        || echo "note: could not install$need; tests that need it will be skipped" >&2
fi
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
.venv/bin/python -m ruff check src tests examples benchmarks
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit "$status"
