#!/usr/bin/env bash
# Install nginx from Debian for the benchmark's proxy mode (the role Ambassador played in the
# original). Idempotent: does nothing when an nginx binary with the gRPC proxy module is present.
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  echo "nginx: present ($(/usr/sbin/nginx -v 2>&1 || nginx -v 2>&1))"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "nginx is missing and this is not root: run 'sudo apt-get install -y nginx-light'" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq nginx-light >/dev/null
# The package may start a system-wide nginx on port 80; the benchmark runs its own instances.
if command -v service >/dev/null 2>&1; then service nginx stop >/dev/null 2>&1 || true; fi
echo "nginx: installed ($(/usr/sbin/nginx -v 2>&1))"
