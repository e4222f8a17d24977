#!/usr/bin/env bash
# Benchmark: unary gRPC requests/s, latency percentiles and server CPU with h2load, for the
# same grpc.testing.TestService/UnaryCall (32-byte payloads) on four servers, in one run:
#   nghttp2 — this project's GRPCNghttp2Transport under GRPCCore
#   nio     — grpc-swift-nio-transport's HTTP2ServerTransport.Posix (built only here)
#   cpp     — gRPC C++ 1.51, callback API (Debian's libgrpc++)
#   go      — grpc-go 1.33 (Debian's sources, GOPATH mode)
# Two shapes (h2load -c 10 -m 100, and -c 100 -m 10), servers alternating within each round,
# the same warm-up, the server pinned to CPU 0 and h2load to CPU 1. Every response h2load
# counts must have ended with grpc-status 0 (each server counts its OKs). Prints req/s, p50,
# p99, p99.9 and the server's CPU seconds per 100k requests; the ratios to ours are the figures.
# The reference servers need `scripts/setup --bench`. Writes Benchmarks/results/grpc-transport.txt.
set -euo pipefail
cd "$(dirname "$0")"
requests="${REQUESTS:-200000}"
rounds="${ROUNDS:-2}"
port="${PORT:-50190}"
servers=(${SERVERS:-nghttp2 nio cpp go})
shapes=("10 100" "100 10")
work=$(mktemp -d)
stop_server() { [ -s "$work/server.pid" ] && kill "$(cat "$work/server.pid")" 2>/dev/null; rm -f "$work/server.pid"; }
trap 'stop_server || true; rm -rf "$work"' EXIT

swift build -c release 2>&1 | tail -1
swiftbin="$(swift build -c release --show-bin-path)/grpc-bench-server"
./build-peers.sh .build/peers > /dev/null
clock_ticks=$(getconf CLK_TCK)

# SimpleRequest { response_size: 32, payload { body: 32 bytes } }, length-prefixed.
python3 - "$work/request.bin" <<'PY'
import sys
body = b"\x12\x20" + b"x" * 32            # Payload.body
message = b"\x10\x20" + b"\x1a" + bytes([len(body)]) + body
open(sys.argv[1], "wb").write(b"\x00" + len(message).to_bytes(4, "big") + message)
PY

percentile() {  # percentile FILE P  (h2load --log-file: start, status, duration µs)
  awk '{print $3}' "$1" | sort -n | awk -v p="$2" '{a[NR]=$1} END {i=int(NR*p/100); if (i<1) i=1; printf "%.2f", a[i]/1000}'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run_one() {  # run_one SERVER CONNECTIONS STREAMS ROUND
  local name=$1 connections=$2 streams=$3 round=$4
  case "$name" in
    nghttp2|nio) command=("$swiftbin" "$name" "$port") ;;
    cpp) command=(.build/peers/grpc-cpp-bench-server "$port") ;;
    go) command=(.build/peers/grpc-go-bench-server "$port") ;;
  esac
  taskset -c 0 "${command[@]}" > "$work/server.out" 2>&1 &
  local server=$!
  echo "$server" > "$work/server.pid"
  for _ in $(seq 100); do grep -q listening "$work/server.out" 2>/dev/null && break; sleep 0.05; done
  local args=(-c "$connections" -m "$streams" -t 1 -H "content-type: application/grpc" -H "te: trailers" -d "$work/request.bin"
    "http://127.0.0.1:$port/grpc.testing.TestService/UnaryCall")
  taskset -c 1 h2load -n 20000 "${args[@]}" > /dev/null  # warm-up
  # A log file of its own per run (h2load appends to it).
  rm -f "$work/latency.log"
  local before after
  before=$(cpu_ticks "$server")
  taskset -c 1 h2load -n "$requests" --log-file="$work/latency.log" "${args[@]}" > "$work/h2load.out"
  after=$(cpu_ticks "$server")
  [ "$(wc -l < "$work/latency.log")" -eq "$requests" ] || { echo "grpc-transport: the latency log does not hold this run's $requests requests" >&2; exit 1; }
  kill -TERM "$server"; wait "$server" || true
  rm -f "$work/server.pid"
  local rps succeeded ok failed cpu
  rps=$(grep -oE '[0-9.]+ req/s' "$work/h2load.out" | head -1 | awk '{print $1}')
  succeeded=$(grep -oE '[0-9]+ succeeded' "$work/h2load.out" | awk '{print $1}')
  ok=$(grep -oE 'ok=[0-9]+' "$work/server.out" | cut -d= -f2)
  failed=$(grep -oE 'failed=[0-9]+' "$work/server.out" | cut -d= -f2)
  if [ "$failed" != 0 ] || [ "$ok" -lt $((succeeded + 20000)) ]; then
    echo "grpc-transport: $name: h2load counted $succeeded responses but the server ended $ok RPCs with OK and $failed with an error" >&2
    exit 1
  fi
  cpu=$(awk -v t=$((after - before)) -v hz="$clock_ticks" -v n="$requests" 'BEGIN {printf "%.2f", t / hz / n * 100000}')
  echo "$name c${connections}m$streams $round $rps $(percentile "$work/latency.log" 50) $(percentile "$work/latency.log" 99) $(percentile "$work/latency.log" 99.9) $cpu $succeeded"
}

lines=()
for round in $(seq "$rounds"); do
  for shape in "${shapes[@]}"; do
    set -- $shape
    for server in "${servers[@]}"; do
      line=$(run_one "$server" "$1" "$2" "$round")
      echo "$line"
      lines+=("$line")
    done
  done
done

mkdir -p ../results
{
  echo "# gRPC unary UnaryCall (32-byte payloads) — $(date -u +%FT%TZ), $(nproc) cores, server on CPU 0, h2load -t 1 on CPU 1, $requests requests per run after 20,000 warm-up"
  echo "command: scripts/bench grpc-transport   (reference servers: scripts/setup --bench)"
  printf '%-8s %-9s %-5s %10s %8s %8s %9s %14s\n' server shape round "req/s" "p50 ms" "p99 ms" "p99.9 ms" "CPU s/100k"
  for line in "${lines[@]}"; do
    set -- $line
    printf '%-8s %-9s %-5s %10.0f %8s %8s %9s %14s   (%s responses, all grpc-status 0)\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9"
  done
  for shape in c10m100 c100m10; do
    echo "$shape, means over rounds (ratio = ours ÷ theirs):"
    printf '%s\n' "${lines[@]}" | awk -v s="$shape" '$2==s {r[$1]+=$4; c[$1]+=$8; n[$1]++}
      END {for (k in r) printf "  %-8s %10.0f req/s  %6.2f CPU s/100k  ours÷%s %.2f× req/s\n", k, r[k]/n[k], c[k]/n[k], k, r["nghttp2"]/r[k]}'
  done
} | tee ../results/grpc-transport.txt
