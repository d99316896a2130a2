#!/usr/bin/env bash
# Create one virtualenv per third-party model server the executor tests talk to.
# Each server gets its own virtualenv because their pins (protobuf, grpcio, fastapi, setuptools)
# clash with each other and with inferstream's own. Idempotent: a stamp file per virtualenv
# records what was installed; re-running only installs what is missing or changed.
#   usage: scripts/model_servers/install.sh [mlserver|kserve|seldon ...]   (default: all three)
set -euo pipefail

cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"
KINDS=("$@")
[ ${#KINDS[@]} -eq 0 ] && KINDS=(mlserver kserve seldon)

packages_for() {
  case "$1" in
    # onnxruntime: the fraud models trained here, served by scripts/model_servers/mlserver_onnx_runtime.py
    mlserver) echo "mlserver==1.7.1 mlserver-sklearn==1.7.1 scikit-learn joblib onnxruntime" ;;
    kserve) echo "kserve==0.21.0" ;;
    # seldon-core imports pkg_resources, which setuptools 81 removed.
    seldon) echo "seldon-core==1.18.2 setuptools<81" ;;
    *) echo "unknown model server '$1' (expected mlserver, kserve or seldon)" >&2; exit 2 ;;
  esac
}

for kind in "${KINDS[@]}"; do
  pkgs="$(packages_for "$kind")"
  venv=".venv-$kind"
  stamp="$venv/.installed"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pkgs" ]; then
    echo "$venv: up to date"
    continue
  fi
  echo "$venv: installing $pkgs"
  [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet $pkgs
  echo "$pkgs" > "$stamp"
done
