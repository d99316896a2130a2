#!/usr/bin/env bash
# Start a detached single-node KRaft broker on 127.0.0.1 and print its bootstrap servers.
# Options: --port N (default: a free port), --data-dir DIR, --heap 512m.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec "${PYTHON:-.venv/bin/python}" -m inferstream.devtools.detached_broker start "$@"
