#!/usr/bin/env bash
# The main job on the embedded defaults: set up, then show the in-process chain.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tools/setup.sh
exec .venv/bin/troika chain info "$@"
