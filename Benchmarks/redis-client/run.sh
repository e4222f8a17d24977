#!/usr/bin/env bash
# Benchmark: RedisClient GET/SET ops/s at 50 concurrent callers, unpipelined and with pipelines
# of 16, side by side with redis-benchmark at the same settings against the same server.
# Goals: ≥ 60 % of redis-benchmark unpipelined, ≥ 50 % pipelined.
# Writes Benchmarks/results/redis-client.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${DURATION:-10}"
concurrency="${CONCURRENCY:-50}"
port="${PORT:-16399}"
dir=$(mktemp -d)

swift build -c release --product redis-client-bench 2>&1 | tail -1
bin="$(swift build -c release --show-bin-path)"
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize no --loglevel warning > /dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping > /dev/null 2>&1 && break; sleep 0.05; done

results=()
for depth in 1 16; do
  requests=$((depth == 1 ? 300000 : 2000000))
  rb=$(redis-benchmark -p "$port" -c "$concurrency" -n "$requests" -P "$depth" -r 100000 -t set,get -q | tr '\r' '\n' | grep 'requests per second' | sed -E 's/^(SET|GET): ([0-9.]+) requests per second.*/\1: \2/')
  ours=$("$bin/redis-client-bench" "redis://127.0.0.1:$port" "$concurrency" "$seconds" "$depth")
  for command in SET GET; do
    theirs=$(echo "$rb" | grep "^$command:" | awk '{print $2}')
    mine=$(echo "$ours" | grep "client $command P$depth" | awk '{print $4}')
    ratio=$(awk -v a="$mine" -v b="$theirs" 'BEGIN { printf "%.0f", 100 * a / b }')
    results+=("$command P$depth: redis-benchmark ${theirs} ops/s, RedisClient ${mine} ops/s (${ratio}%)")
  done
done

mkdir -p Benchmarks/results
{
  echo "# RedisClient vs redis-benchmark — $(date -u +%FT%TZ), $(nproc) cores, $concurrency concurrent callers"
  echo "command: scripts/bench redis-client (redis-benchmark -c $concurrency -P {1,16} -r 100000 -t set,get; redis-client-bench ${seconds}s per command, pool of 4 connections)"
  printf '%s\n' "${results[@]}"
} | tee Benchmarks/results/redis-client.txt
