#!/usr/bin/env bash
# Runs the end-to-end comparison of cookie sessions and server-side stores
# (benchmarks/compare): each implementation a real HTTP server in a process
# of its own, a real redis-server and a throw-away PostgreSQL cluster, all on
# 127.0.0.1, and the bytes a browser's requests cost on the wire over TLS
# with HTTP/1.1 and HTTP/2. Full mode takes about 10 minutes and writes
# benchmarks/results/compare-DATE[-TAG].{md,json} and its SVG charts; -quick
# takes under 2 minutes and writes to a temporary directory.
# Usage: scripts/compare.sh [-quick] [-out DIR] [-tag TAG]
# On a shared machine, keep other measurements off it:
#   flock /tmp/bench.lock scripts/compare.sh
set -euo pipefail
cd "$(dirname "$0")/../benchmarks"

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v taskset >/dev/null || missing+=(util-linux)
if ! command -v initdb >/dev/null && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  missing+=(postgresql)
  # The comparison makes its own throw-away cluster: keep the package from
  # making and starting one of its own.
  mkdir -p /etc/postgresql-common
  echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  apt-get update -qq
  apt-get install -y -qq -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
fi
bin=$(mktemp -d)
go build -o "$bin/compare" ./compare
# The comparison stops what it starts, by PID, and its children die with
# it; this trap stops the comparison itself when the script is interrupted.
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$bin"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
COMPARE_COMMAND=$(echo scripts/compare.sh "$@") "$bin/compare" "$@" &
pid=$!
wait "$pid"
