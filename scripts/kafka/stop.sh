#!/usr/bin/env bash
# Stop the broker started by start.sh (SIGTERM, then SIGKILL after --timeout). --purge deletes its data.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec "${PYTHON:-.venv/bin/python}" -m inferstream.devtools.detached_broker stop "$@"
