#!/usr/bin/env bash
# Benchmark: unary gRPC requests/s and latency percentiles with h2load (gRPC framing and
# headers, 10 connections × 100 concurrent streams), for the same GRPCServer and
# grpc.testing.TestService/UnaryCall on two transports, in one run:
#   nghttp2 — this project's GRPCNghttp2Transport
#   nio     — grpc-swift-nio-transport's HTTP2ServerTransport.Posix (built only here)
# Every response h2load counts must have ended with grpc-status 0: the server counts the
# statuses and the run fails if they disagree. Goal: nghttp2 ≥ 1.3× nio req/s, p99 no worse.
# Writes Benchmarks/results/grpc-transport.txt.
set -euo pipefail
cd "$(dirname "$0")"
requests="${REQUESTS:-200000}"
connections="${CONNECTIONS:-10}"
streams="${STREAMS:-100}"
rounds="${ROUNDS:-2}"
port="${PORT:-50190}"
work=$(mktemp -d)
# run_one runs in a command substitution (a subshell): its server's pid reaches this shell only
# through a file. (An earlier `kill "${server:-0}"` here was `kill 0` — SIGTERM to the whole
# process group, this script included — which made a successful run exit 143.)
stop_server() { [ -s "$work/server.pid" ] && kill "$(cat "$work/server.pid")" 2>/dev/null; rm -f "$work/server.pid"; }
trap 'stop_server || true; rm -rf "$work"' EXIT

swift build -c release 2>&1 | tail -1
bin="$(swift build -c release --show-bin-path)/grpc-bench-server"

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

run_one() {  # run_one TRANSPORT ROUND
  local transport=$1 round=$2
  "$bin" "$transport" "$port" > "$work/server.out" 2>&1 &
  server=$!
  echo "$server" > "$work/server.pid"
  for _ in $(seq 100); do grep -q listening "$work/server.out" 2>/dev/null && break; sleep 0.05; done
  local args=(-c "$connections" -m "$streams" -t 1 -H "content-type: application/grpc" -H "te: trailers" -d "$work/request.bin"
    "http://127.0.0.1:$port/grpc.testing.TestService/UnaryCall")
  h2load -n 20000 "${args[@]}" > /dev/null  # warm-up
  # h2load appends to --log-file: a file of its own per run, or every later run's percentiles
  # would include the earlier runs' requests (which once made the nghttp2 rounds after a nio
  # round report nio's p99; Benchmarks/README.md).
  rm -f "$work/latency.log"
  h2load -n "$requests" --log-file="$work/latency.log" "${args[@]}" > "$work/h2load.out"
  [ "$(wc -l < "$work/latency.log")" -eq "$requests" ] || { echo "grpc-transport: the latency log does not hold this run's $requests requests" >&2; exit 1; }
  kill -TERM "$server"; wait "$server" || true
  rm -f "$work/server.pid"
  local rps succeeded ok
  rps=$(grep -oE '[0-9.]+ req/s' "$work/h2load.out" | awk '{print $1}')
  succeeded=$(grep -oE '[0-9]+ succeeded' "$work/h2load.out" | awk '{print $1}')
  ok=$(grep -oE 'ok=[0-9]+' "$work/server.out" | cut -d= -f2)
  failed=$(grep -oE 'failed=[0-9]+' "$work/server.out" | cut -d= -f2)
  if [ "$failed" != 0 ] || [ "$ok" -lt $((succeeded + 20000)) ]; then
    echo "grpc-transport: $transport: h2load counted $succeeded responses but the server ended $ok RPCs with OK and $failed with an error" >&2
    exit 1
  fi
  echo "$transport $round $rps $(percentile "$work/latency.log" 50) $(percentile "$work/latency.log" 99) $succeeded $(percentile "$work/latency.log" 100)"
}

lines=()
for round in $(seq "$rounds"); do
  for transport in nghttp2 nio; do
    line=$(run_one "$transport" "$round")
    echo "$line"
    lines+=("$line")
  done
done

mkdir -p ../results
{
  echo "# gRPC unary UnaryCall (32-byte payloads) — $(date -u +%FT%TZ), $(nproc) cores, h2load -c $connections -m $streams -t 1, $requests requests per run, after 20,000 warm-up"
  echo "command: scripts/bench grpc-transport"
  printf '%-8s %-5s %12s %9s %9s %9s\n' transport round "req/s" "p50 ms" "p99 ms" "max ms"
  for line in "${lines[@]}"; do
    set -- $line
    printf '%-8s %-5s %12.0f %9s %9s %9s   (%s responses, all grpc-status 0)\n' "$1" "$2" "$3" "$4" "$5" "$7" "$6"
  done
  for transport in nghttp2 nio; do
    printf '%s ' "$transport"; printf '%s\n' "${lines[@]}" | awk -v t="$transport" '$1==t {s+=$3; n++} END {printf "mean %.0f req/s\n", s/n}'
  done
  printf '%s\n' "${lines[@]}" | awk '$1=="nghttp2" {a+=$3} $1=="nio" {b+=$3} END {printf "ratio nghttp2/nio: %.2f×\n", a/b}'
} | tee ../results/grpc-transport.txt
