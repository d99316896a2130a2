#!/usr/bin/env bash
# Build the test Kubernetes control plane (kube-apiserver, kube-controller-manager, kubectl v1.37.2 and
# etcd v3.7.3) from the Go module proxy into .cache/kubernetes/bin, and copy KEDA's CRDs (v2.18.3, from its
# Go module) into .cache/kubernetes/crds/keda. Quick when already done; rebuilds only when a pinned
# version below changes. Go's module and build caches stay at Go's defaults (~/go, ~/.cache/go-build).
# A cold build takes ~9 minutes on 2 idle cores (binaries ~315 MB, module cache ~1 GB, build cache ~4 GB).
set -euo pipefail
K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
KEDA_VERSION=v2.18.3
STAMP="kubernetes=$K8S_VERSION etcd=$ETCD_VERSION keda=$KEDA_VERSION"

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="$ROOT/.cache/kubernetes"
BIN="$CACHE/bin"
KEDA_CRDS="$CACHE/crds/keda"

installed() {
  [ -f "$CACHE/VERSION" ] && [ "$(cat "$CACHE/VERSION")" = "$STAMP" ] || return 1
  for b in etcd kube-apiserver kube-controller-manager kubectl; do [ -x "$BIN/$b" ] || return 1; done
  compgen -G "$KEDA_CRDS/*.yaml" >/dev/null
}
if installed; then
  echo "kubernetes: $STAMP already in $BIN"
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "error: building the test API server needs Go >= 1.26 on PATH (https://go.dev/dl/)" >&2
  exit 1
fi

mkdir -p "$BIN" "$KEDA_CRDS"
rm -f "$CACHE/VERSION"
start=$(date +%s)
# -X flags: without them the binaries report version v0.0.0 and kubectl warns about skew.
IFS=. read -r major minor _ <<<"${K8S_VERSION#v}"
LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
-X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor"
echo "kubernetes: building kube-apiserver, kube-controller-manager, kubectl $K8S_VERSION (cold: ~9+ min)"
(cd "$HERE" && go mod download && go build -trimpath -ldflags "$LDFLAGS" -o "$BIN/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kubectl)
echo "kubernetes: building etcd $ETCD_VERSION"
(cd "$HERE/etcd" && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" .)

echo "kubernetes: fetching KEDA $KEDA_VERSION CRDs"
keda_dir="$(cd "$HERE" && go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [ -z "$keda_dir" ] || ! compgen -G "$keda_dir/config/crd/bases/*.yaml" >/dev/null; then
  echo "error: no CRDs found in github.com/kedacore/keda/v2@$KEDA_VERSION" >&2
  exit 1
fi
rm -f "$KEDA_CRDS"/*.yaml
cp "$keda_dir"/config/crd/bases/*.yaml "$KEDA_CRDS/"
chmod u+w "$KEDA_CRDS"/*.yaml

echo "$STAMP" > "$CACHE/VERSION"
echo "kubernetes: installed in $(( $(date +%s) - start )) s into $BIN"
