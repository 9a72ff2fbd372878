#!/usr/bin/env bash
# Fuzz troika's byte-level parsers with atheris for SECONDS each (60 by default);
# see tools/fuzz.py. Not part of the test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec .venv/bin/python tools/fuzz.py "${1:-60}" "${@:2}"
