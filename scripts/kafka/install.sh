#!/usr/bin/env bash
# Copy the Apache Kafka broker's jars from Maven Central into .cache/kafka/libs (skipped when present).
# Needs Java 17+ and Maven; on a Debian machine without them (as root) they are installed first.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v mvn >/dev/null || ! command -v java >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven openjdk-17-jre-headless >/dev/null
  else
    echo "error: the Kafka broker needs Java 17+ and Maven (mvn) on PATH" >&2
    exit 1
  fi
fi
exec "${VENV_PYTHON:-.venv/bin/python}" -m inferstream.devtools.detached_broker install "$@"
