#!/usr/bin/env bash
# Benchmark: cache-hit GET /crm/v3/objects/contacts/{id} on the gateway's REST endpoint (caller
# key check, the shared cache, HubSpot's JSON) beside a bare Hummingbird route answering the
# same bytes in the same server configuration (rest-bare-bench), wrk with the same script and
# settings, alternating, in one run. Every answer must be a 200. Goal (issue 17): the gateway
# ≥ 50 % of the bare route's requests/s. Records the gateway's RSS. Writes
# Benchmarks/results/rest.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${DURATION:-10}"
connections="${CONNECTIONS:-64}"
rounds="${ROUNDS:-2}"
http_port="${HTTP_PORT:-18391}"
bare_port="${BARE_PORT:-18392}"
redis_port="${REDIS_PORT:-16599}"
sim_port="${SIM_PORT:-18393}"
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

scratch=(); [ -n "${SCRATCH_PATH:-}" ] && scratch=(--scratch-path "$SCRATCH_PATH")
for product in hubspot-gateway hubspot-sim rest-bare-bench; do
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
HUBSPOT_GATEWAY_HUBSPOT_TOKEN=pat-sim-token \
HUBSPOT_GATEWAY_CALLER_KEYS="bench sha256:$(printf %s "$key" | sha256sum | cut -d' ' -f1) crm.read" \
  "$bin/hubspot-gateway" --host 127.0.0.1 --grpc-port 0 --http-port "$http_port" \
    --hubspot-base-url "http://127.0.0.1:$sim_port" --redis-url "redis://127.0.0.1:$redis_port" --log-level warning \
    > "$work/gateway.out" 2>&1 &
gateway=$!
pids+=($gateway)
for _ in $(seq 200); do grep -q "http listening" "$work/gateway.out" 2>/dev/null && break; sleep 0.05; done

ids=$(curl -sf -H "authorization: Bearer $key" "http://127.0.0.1:$http_port/crm/v3/objects/contacts?limit=20" \
  | python3 -c 'import json, sys; print(",".join(r["id"] for r in json.load(sys.stdin)["results"]))')
# Warm the cache, and keep one answer's bytes for the bare route.
for id in ${ids//,/ }; do
  curl -sf -H "authorization: Bearer $key" "http://127.0.0.1:$http_port/crm/v3/objects/contacts/$id?properties=email,firstname" > "$work/body.json"
done
"$bin/rest-bare-bench" "$bare_port" "$work/body.json" > "$work/bare.out" 2>&1 &
pids+=($!)
for _ in $(seq 200); do grep -q listening "$work/bare.out" 2>/dev/null && break; sleep 0.05; done

load() {  # load PORT -> "rps p50 p99 errors"
  IDS="$ids" KEY="$key" wrk -t2 -c"$connections" -d2s -s Benchmarks/rest/contacts-get.lua "http://127.0.0.1:$1" > /dev/null
  local line; line=$(IDS="$ids" KEY="$key" wrk -t2 -c"$connections" -d"${duration}s" --latency -s Benchmarks/rest/contacts-get.lua \
    "http://127.0.0.1:$1" | grep '^wrk:')
  echo "$line" | sed -E 's/.*rps=([0-9]+) p50_ms=([0-9.]+) p99_ms=([0-9.]+) errors=([0-9]+).*/\1 \2 \3 \4/'
}

lines=()
for round in $(seq "$rounds"); do
  line="bare $round $(load "$bare_port")"; echo "$line"; lines+=("$line")
  line="gateway $round $(load "$http_port")"; echo "$line"; lines+=("$line")
done
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$gateway/status"); peak=$(awk '/^VmHWM/ {print $2}' "/proc/$gateway/status")
for line in "${lines[@]}"; do
  set -- $line
  [ "$6" = 0 ] || { echo "rest: $1 round $2 had $6 non-200 answers or socket errors" >&2; exit 1; }
done

mkdir -p Benchmarks/results
{
  echo "# cache-hit GET /crm/v3/objects/contacts/{id} on the REST endpoint vs a bare Hummingbird route — $(date -u +%FT%TZ), $(nproc) cores, wrk -t2 -c$connections -d${duration}s, 20 hot contacts"
  echo "command: scripts/bench rest (release builds; gateway with redis-server and a separate hubspot-sim)"
  printf '%-8s %-5s %10s %8s %8s\n' service round "req/s" "p50 ms" "p99 ms"
  for line in "${lines[@]}"; do set -- $line; printf '%-8s %-5s %10s %8s %8s\n' "$1" "$2" "$3" "$4" "$5"; done
  printf '%s\n' "${lines[@]}" | awk '$1=="gateway" {a+=$3} $1=="bare" {b+=$3} END {printf "gateway/bare: %.0f %% (goal ≥ 50 %%)\n", 100*a/b}'
  echo "gateway RSS after the runs: $((rss / 1024)) MB (peak $((peak / 1024)) MB)"
} | tee Benchmarks/results/rest.txt
