#!/usr/bin/env bash
# A real browser for the console's tests: Debian's `chromium` package and the Python `playwright`
# package in the project's venv (it drives /usr/bin/chromium). Idempotent: a second run only checks.
# Never `playwright install`: its browser download host is not reachable here, and Debian's build is.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV_PYTHON=${VENV_PYTHON:-.venv/bin/python}
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "error: the console's browser tests need Chromium at /usr/bin/chromium (apt-get install chromium)" >&2
    exit 1
  fi
fi
if ! "$VENV_PYTHON" -c "import playwright" 2>/dev/null; then
  # normally already there: playwright is a dev dependency in pyproject.toml
  "$VENV_PYTHON" -m pip install --quiet "playwright>=1.45"
fi
echo "browser ready: $(/usr/bin/chromium --version 2>/dev/null | head -1), playwright $("$VENV_PYTHON" -c 'from importlib.metadata import version; print(version("playwright"))')"
