#!/usr/bin/env bash
# Create .venv-quix for the Quix Streams peer baseline. It needs its own virtualenv because
# quixstreams 3.28 pins confluent-kafka<2.13 while inferstream uses a newer one.
# Idempotent: a stamp file records what was installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"
venv=".venv-quix"
pkgs="quixstreams==3.28.1 fastavro>=1.9 grpcio>=1.62 grpcio-tools>=1.62 protobuf>=5.27,<7 numpy>=1.26"
stamp="$venv/.installed"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pkgs" ]; then
  echo "$venv: up to date"
  exit 0
fi
echo "$venv: installing $pkgs"
[ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
# shellcheck disable=SC2086
"$venv/bin/pip" install --quiet $pkgs
# The peer calls TF Serving's Predict; it gets its own message classes from the project's .proto copies.
stubs="$venv/peer_stubs"
rm -rf "$stubs" && mkdir -p "$stubs"
protos=src/inferstream/protos/proto
"$venv/bin/python" -m grpc_tools.protoc -I "$protos" --python_out="$stubs" \
  tensorflow/core/framework/types.proto tensorflow/core/framework/resource_handle.proto \
  tensorflow/core/framework/tensor_shape.proto tensorflow/core/framework/tensor.proto \
  tensorflow_serving/apis/model.proto tensorflow_serving/apis/predict.proto
echo "$pkgs" > "$stamp"
