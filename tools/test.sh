#!/usr/bin/env bash
# Set up everything the tests need, then run the whole suite:
# ruff, mypy --strict on troika, pytest with branch coverage (anvil, Kubo and
# the embedded EVM are started by the tests themselves, on loopback).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tools/setup.sh dev
export TROIKA_KUBO="$(tools/kubo/build.sh)"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
.venv/bin/pytest --cov --cov-branch --cov-report=term "$@"
