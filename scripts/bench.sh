#!/usr/bin/env bash
# Runs the benchmarks module's BenchmarkCycle against every implementation,
# with a throw-away redis-server on 127.0.0.1 for scs-redisstore, prints a
# benchstat table, and draws benchmarks/cycle.svg from the same run.
# Usage: scripts/bench.sh [COUNT] (default 6).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-6}
port=6390
out=${BENCH_OUT:-$PWD/bench.out}

if ! command -v redis-server >/dev/null; then
  echo "installing redis-server" >&2
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
fi
redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize no >/dev/null &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.1
done

echo "$(go version), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" >&2
(cd benchmarks && REDIS_ADDR=127.0.0.1:$port go test -run '^$' -bench '^BenchmarkCycle$' -benchmem -count "$count" .) | tee "$out"
kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
trap - EXIT

go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da "$out"
(cd benchmarks && go run ./chart -o cycle.svg < "$out")
echo "wrote benchmarks/cycle.svg" >&2
