#!/usr/bin/env bash
# The main job on the embedded defaults: set up, then run troika demo (identities,
# encrypted dataset NFTs, a federated SecAgg+ training job, payouts) with no network.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tools/setup.sh
exec .venv/bin/troika demo "$@"
