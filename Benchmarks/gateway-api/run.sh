#!/usr/bin/env bash
# Benchmark: cache-hit GetContact over gRPC through the whole gateway (caller-key check,
# request observation, validation, the in-process and Redis cache) beside the bare echo
# (grpc.testing.TestService/UnaryCall of grpc-interop-server) on the same nghttp2 transport, in
# one run, with h2load (gRPC framing and headers, 10 connections × 100 concurrent streams).
# The gateway runs as in production: a redis-server for the shared cache and limiter, HubSpot
# played by hubspot-sim in its own process. Every response h2load counts must have ended with
# grpc-status 0: the gateway's /metrics and the echo server's exit summary are compared with
# h2load's count. Each server is pinned to core 0 and h2load to core 1 (as grpc-transport does),
# so the two are compared on the same core. Goal: gateway ≥ 75 % of the echo's requests/s.
# Writes Benchmarks/results/gateway-api.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
requests="${REQUESTS:-200000}"
connections="${CONNECTIONS:-10}"
streams="${STREAMS:-100}"
rounds="${ROUNDS:-2}"
grpc_port="${PORT:-50191}"
http_port="${HTTP_PORT:-18191}"
redis_port="${REDIS_PORT:-16399}"
sim_port="${SIM_PORT:-18193}"
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

# SCRATCH_PATH: build in another folder (e.g. .build-bench) while a debug build uses .build.
scratch=(); [ -n "${SCRATCH_PATH:-}" ] && scratch=(--scratch-path "$SCRATCH_PATH")
for product in hubspot-gateway hubspot-sim grpc-interop-server; do
  swift build -c release "${scratch[@]}" --product "$product" 2>&1 | tail -1
done
bin="$(swift build -c release "${scratch[@]}" --show-bin-path)"

redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --loglevel warning > /dev/null &
pids+=($!)
"$bin/hubspot-sim" --port "$sim_port" --seed 100 --daily-limit 0 --log-level warning > "$work/sim.out" &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping > /dev/null 2>&1 && break; sleep 0.05; done
for _ in $(seq 600); do grep -q listening "$work/sim.out" 2>/dev/null && break; sleep 0.1; done

key="bench-key-$RANDOM$RANDOM"
id=$(curl -sf -H "authorization: Bearer pat-sim-token" "http://127.0.0.1:$sim_port/crm/v3/objects/contacts?limit=1" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["results"][0]["id"])')

# Length-prefixed request messages: GetContactRequest { id }, and the transport benchmark's
# SimpleRequest { response_size: 32, payload { body: 32 bytes } }.
python3 - "$work" "$id" <<'PY'
import sys
work, contact = sys.argv[1], sys.argv[2].encode()
def frame(message): return b"\x00" + len(message).to_bytes(4, "big") + message
open(f"{work}/get-contact.bin", "wb").write(frame(b"\x0a" + bytes([len(contact)]) + contact))
body = b"\x12\x20" + b"x" * 32
open(f"{work}/echo.bin", "wb").write(frame(b"\x10\x20" + b"\x1a" + bytes([len(body)]) + body))
PY

percentile() {  # percentile FILE P  (h2load --log-file: start, status, duration µs)
  awk '{print $3}' "$1" | sort -n | awk -v p="$2" '{a[NR]=$1} END {i=int(NR*p/100); if (i<1) i=1; printf "%.2f", a[i]/1000}'
}

ok_get_contacts() {  # GetContact RPCs the gateway ended OK, from its /metrics
  curl -sf "http://127.0.0.1:$http_port/metrics" | python3 -c '
import re, sys
total = 0
for line in sys.stdin:
    if line.startswith("gateway_grpc_requests_total{") and "GetContact\"" in line and "code=\"ok\"" in line:
        total += int(float(line.rsplit(" ", 1)[1]))
print(total)'
}

load() {  # load NAME PATH REQUEST_FILE [HEADER…] -> "rps p50 p99 succeeded"
  local name=$1 path=$2 data=$3; shift 3
  local args=(-c "$connections" -m "$streams" -t 1 -H "content-type: application/grpc" -H "te: trailers" "$@" -d "$data"
    "http://127.0.0.1:$grpc_port$path")
  taskset -c 1 h2load -n 20000 "${args[@]}" > /dev/null  # warm-up
  rm -f "$work/$name.log"  # h2load appends to --log-file: each run's percentiles from its own requests only
  taskset -c 1 h2load -n "$requests" --log-file="$work/$name.log" "${args[@]}" > "$work/$name.out"
  local rps succeeded
  rps=$(grep -oE '[0-9.]+ req/s' "$work/$name.out" | awk '{print $1}')
  succeeded=$(grep -oE '[0-9]+ succeeded' "$work/$name.out" | awk '{print $1}')
  echo "$rps $(percentile "$work/$name.log" 50) $(percentile "$work/$name.log" 99) $succeeded"
}

run_echo() {
  taskset -c 0 "$bin/grpc-interop-server" --port "$grpc_port" --log-level warning > "$work/echo.server" 2>&1 &
  local server=$!
  for _ in $(seq 100); do grep -q listening "$work/echo.server" 2>/dev/null && break; sleep 0.05; done
  local result; result=$(load echo /grpc.testing.TestService/UnaryCall "$work/echo.bin")
  kill -TERM "$server"; wait "$server" || true
  local ok failed; ok=$(grep -oE 'ok=[0-9]+' "$work/echo.server" | cut -d= -f2); failed=$(grep -oE 'failed=[0-9]+' "$work/echo.server" | cut -d= -f2)
  set -- $result
  if [ "$failed" != 0 ] || [ "$ok" -lt $(($4 + 20000)) ]; then
    echo "gateway-api: echo: h2load counted $4 responses but the server ended $ok RPCs with OK and $failed with an error" >&2; exit 1
  fi
  echo "$result"
}

run_gateway() {
  HUBSPOT_GATEWAY_HUBSPOT_TOKEN=pat-sim-token \
  HUBSPOT_GATEWAY_CALLER_KEYS="bench sha256:$(printf %s "$key" | sha256sum | cut -d' ' -f1) crm.read" \
    taskset -c 0 "$bin/hubspot-gateway" --host 127.0.0.1 --grpc-port "$grpc_port" --http-port "$http_port" \
      --hubspot-base-url "http://127.0.0.1:$sim_port" --redis-url "redis://127.0.0.1:$redis_port" --log-level warning > "$work/gateway.out" 2>&1 &
  local server=$!
  for _ in $(seq 200); do grep -q "grpc listening" "$work/gateway.out" 2>/dev/null && grep -q "http listening" "$work/gateway.out" && break; sleep 0.05; done
  local idle; idle=$(awk '/^VmRSS/ {print $2}' "/proc/$server/status")
  local result; result=$(load gateway /hubspot.gateway.v1.ContactsService/GetContact "$work/get-contact.bin" -H "authorization: Bearer $key")
  local ok; ok=$(ok_get_contacts)
  local hits; hits=$(curl -sf "http://127.0.0.1:$http_port/metrics" | awk '/^gateway_cache_reads_total\{result="hit"\}/ {print $2}')
  local peak; peak=$(awk '/^VmHWM/ {print $2}' "/proc/$server/status")
  kill -TERM "$server"; wait "$server" || true
  set -- $result
  if [ "$ok" -lt $(($4 + 20000)) ]; then
    echo "gateway-api: gateway: h2load counted $4 responses but the gateway ended only $ok GetContact RPCs with OK" >&2; exit 1
  fi
  echo "$result $hits $((idle / 1024)) $((peak / 1024))"
}

lines=()
for round in $(seq "$rounds"); do
  line="echo $round $(run_echo)"; echo "$line"; lines+=("$line")
  line="gateway $round $(run_gateway)"; echo "$line"; lines+=("$line")
done

mkdir -p Benchmarks/results
{
  echo "# cache-hit GetContact through hubspot-gateway vs the bare echo on the same transport — $(date -u +%FT%TZ), $(nproc) cores, h2load -c $connections -m $streams -t 1 (server on core 0, h2load on core 1), $requests requests per run after 20,000 warm-up"
  echo "command: scripts/bench gateway-api (release builds; gateway with redis-server and a separate hubspot-sim)"
  printf '%-8s %-5s %12s %9s %9s\n' service round "req/s" "p50 ms" "p99 ms"
  for line in "${lines[@]}"; do
    set -- $line
    printf '%-8s %-5s %12.0f %9s %9s   (%s responses, all grpc-status 0%s)\n' "$1" "$2" "$3" "$4" "$5" "$6" "${7:+; cache hits $7; RSS idle $8 MB, peak $9 MB}"
  done
  for service in echo gateway; do
    printf '%s ' "$service"; printf '%s\n' "${lines[@]}" | awk -v t="$service" '$1==t {s+=$3; n++} END {printf "mean %.0f req/s\n", s/n}'
  done
  printf '%s\n' "${lines[@]}" | awk '$1=="gateway" {a+=$3} $1=="echo" {b+=$3} END {printf "gateway/echo: %.0f %% (goal ≥ 75 %%)\n", 100*a/b}'
} | tee Benchmarks/results/gateway-api.txt
