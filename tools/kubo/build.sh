#!/usr/bin/env bash
# Build the pinned Kubo binary once and cache it outside the checkout, keyed by
# version, so a fresh clone on the same machine reuses it. Prints the path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(awk '$1 == "github.com/ipfs/kubo" {print $2}' "$here/go.mod")"
cache="${TROIKA_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/troika}/kubo-$version"
bin="$cache/ipfs"
if [[ -x "$bin" ]] && "$bin" version --number >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi
mkdir -p "$cache"
echo "building Kubo $version into $cache (first run only)" >&2
(cd "$here" && GOFLAGS=-mod=mod go build -trimpath -o "$bin.tmp" github.com/ipfs/kubo/cmd/ipfs)
mv "$bin.tmp" "$bin"
echo "$bin"
