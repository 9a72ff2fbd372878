#!/usr/bin/env bash
# Create .venv and install troika into it in editable mode.
#   tools/setup.sh          the SDK, its CLI and the compute extra (the demo needs it)
#   tools/setup.sh dev      plus the dev tools, the pinned npm toolchain
#                           (solc-js, OpenZeppelin, anvil), the reference
#                           implementations the tests compare against
#                           (tests/peers) and the Kubo binary
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python="${PYTHON:-python3}"
[[ -x .venv/bin/python ]] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
if [[ "${1:-}" == "dev" ]]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
  npm ci --prefix contracts --no-audit --no-fund --loglevel=error
  npm ci --prefix tests/peers --no-audit --no-fund --loglevel=error
  tools/kubo/build.sh >/dev/null
else
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[compute]'
fi
