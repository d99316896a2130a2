#!/usr/bin/env bash
# Build SeaweedFS's `weed` (its S3 gateway, run as `weed mini`, is the real S3-compatible store the
# model-store tests talk to) from the Go module proxy at the version pinned in go.mod, into
# .cache/seaweedfs/weed. Idempotent: does nothing when the cached binary was built from the pinned
# version. Cold build ~4 min on 2 idle cores; Go's module and build caches stay at Go's defaults.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="$root/.cache/seaweedfs"
pin="$(awk '$1=="github.com/seaweedfs/seaweedfs" {print $2}' "$here/go.mod")"
if [ -x "$cache/weed" ] && [ "$(cat "$cache/VERSION" 2>/dev/null)" = "$pin" ]; then
  echo "seaweedfs: present ($pin, $cache/weed)"
  exit 0
fi
GO="$(command -v go || true)"
[ -z "$GO" ] && [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go
if [ -z "$GO" ]; then
  echo "seaweedfs: Go is missing; install Go >= $(awk '$1=="go" {print $2}' "$here/go.mod") from https://go.dev/dl/" >&2
  exit 1
fi
mkdir -p "$cache"
echo "seaweedfs: building weed $pin (a few minutes on a cold cache)"
(cd "$here" && "$GO" build -o "$cache/weed.tmp" github.com/seaweedfs/seaweedfs/weed)
mv "$cache/weed.tmp" "$cache/weed"
echo "$pin" > "$cache/VERSION"
echo "seaweedfs: installed ($pin, $cache/weed)"
