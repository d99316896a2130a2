#!/usr/bin/env bash
# The multi-host test (tests/deploy/test_multi_host.py) makes hosts out of Linux network namespaces with
# `ip netns`, veth pairs and a bridge: it needs iproute2's `ip` and root (as CI runs). Idempotent: a
# second run only checks.
set -euo pipefail
if ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's iproute2 ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null
  else
    echo "error: the multi-host test needs iproute2's ip with netns support (apt-get install iproute2)" >&2
    exit 1
  fi
fi
if [ "$(id -u)" != 0 ]; then
  echo "warning: the multi-host test makes network namespaces and needs root; it fails when run as $(id -un)" >&2
fi
echo "network namespaces ready: $(ip -V)"
