#!/usr/bin/env bash
# Build the Jaeger v2 all-in-one binary (pinned below) from the Go module proxy into .cache/jaeger/.
# Idempotent: when .cache/jaeger/jaeger-<version> exists it only checks. Cold build ≈ 4 min on 2 idle
# cores (binary ≈ 120 MB); Go's own module/build caches stay at Go's defaults so a rebuild relinks fast.
# Needs Go ≥ 1.24 on PATH (or /usr/local/go/bin). The tests call this when the binary is missing.
set -euo pipefail
cd "$(dirname "$0")"
VERSION=v1.75.0
ROOT=$(cd ../.. && pwd)
OUT="$ROOT/.cache/jaeger"
BIN="$OUT/jaeger-$VERSION"
if [ -x "$BIN" ]; then
  echo "jaeger $VERSION already built: $BIN"
  exit 0
fi
export PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null; then
  echo "error: building Jaeger needs Go (https://go.dev/dl/) on PATH" >&2
  exit 1
fi
mkdir -p "$OUT"
# go.mod/go.sum pin the version; `go get -tool` only runs when they are missing (first setup).
if ! grep -q "github.com/jaegertracing/jaeger $VERSION" go.mod 2>/dev/null; then
  [ -f go.mod ] || go mod init inferstream/scripts/jaeger
  go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$VERSION"
fi
echo "building jaeger $VERSION (cold ≈ 4 min) ..."
go build -trimpath -ldflags "-s -w" -o "$BIN.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
mv "$BIN.tmp" "$BIN"
ln -sf "jaeger-$VERSION" "$OUT/jaeger"
echo "jaeger $VERSION built: $BIN"
