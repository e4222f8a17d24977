#!/usr/bin/env bash
# Benchmark: the change feed.
# 1. Ingest: signed HubSpot deliveries of 100 events each (unique event ids, signature v3 made
#    per request) sent open-loop at rising rates to one gateway replica's webhook intake
#    (verify, parse, deduplicate and append in Redis, then answer), beside a Hummingbird route
#    on the same path that reads the body and answers 200 without work. Per rate: events/s
#    accepted, p50 and p99 of the delivery's round trip. Goal: ≥ 20,000 events/s accepted per
#    replica with p99 < 100 ms.
# 2. End to end: 1,000 events/s for 10 s; a grpcio subscriber measures webhook sent → event
#    delivered. Goal: p99 < 50 ms.
# 3. Invalidation: a webhook to one of three replicas → none of them serves the old value.
# Writes Benchmarks/results/change-feed.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${SECONDS_PER_RATE:-10}"
rates="${RATES:-10000 20000 40000 80000}"
grpc_port="${PORT:-50291}"
http_port="${HTTP_PORT:-18291}"
reference_port="${REFERENCE_PORT:-18292}"
redis_port="${REDIS_PORT:-16499}"
sim_port="${SIM_PORT:-18293}"
public_url="https://hubspot-gateway.example.com/webhooks/hubspot"
secret="bench-secret-$RANDOM$RANDOM"
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

scratch=(); [ -n "${SCRATCH_PATH:-}" ] && scratch=(--scratch-path "$SCRATCH_PATH")
for product in hubspot-gateway hubspot-sim change-feed-bench; do
  swift build -c release "${scratch[@]}" --product "$product" 2>&1 | tail -1
done
bin="$(swift build -c release "${scratch[@]}" --show-bin-path)"

# The feed's Redis as production runs it: append-only file, fsync every second.
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync everysec --dir "$work" \
  --loglevel warning > /dev/null &
pids+=($!)
"$bin/hubspot-sim" --port "$sim_port" --seed 100 --daily-limit 0 --log-level warning > "$work/sim.out" &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping > /dev/null 2>&1 && break; sleep 0.05; done
for _ in $(seq 600); do grep -q listening "$work/sim.out" 2>/dev/null && break; sleep 0.1; done

key="bench-key-$RANDOM$RANDOM"
hash=$(printf %s "$key" | sha256sum | cut -d' ' -f1)
# Three replicas: the load goes to the first; the invalidation part reads through all three.
for replica in 0 1 2; do
  HUBSPOT_GATEWAY_HUBSPOT_TOKEN=pat-sim-token HUBSPOT_GATEWAY_CALLER_KEYS="bench sha256:$hash crm.read,changes.read" \
  HUBSPOT_GATEWAY_WEBHOOK_SECRETS="$secret" \
    "$bin/hubspot-gateway" --host 127.0.0.1 --grpc-port $((grpc_port + replica * 10)) --http-port $((http_port + replica * 10)) \
    --log-level warning --hubspot-base-url "http://127.0.0.1:$sim_port" --redis-url "redis://127.0.0.1:$redis_port" \
    --webhook-public-url "$public_url" > "$work/gateway$replica.out" 2> "$work/gateway$replica.err" &
  pids+=($!)
done
"$bin/change-feed-bench" reference "$reference_port" > "$work/reference.out" &
pids+=($!)
for replica in 0 1 2; do
  for _ in $(seq 600); do grep -q "grpc listening" "$work/gateway$replica.out" 2>/dev/null && break; sleep 0.1; done
done
for _ in $(seq 600); do grep -q listening "$work/reference.out" 2>/dev/null && break; sleep 0.1; done

results="Benchmarks/results/change-feed.txt"
mkdir -p Benchmarks/results
{
  echo "# change feed: signed webhook deliveries of 100 events, open loop, ${seconds}s per rate — $(date -u +%FT%TZ), $(nproc) cores"
  echo "command: scripts/bench change-feed (release builds; redis-server with appendfsync everysec; three gateway replicas, the load on one)"
  echo "target     asked_events_per_s  result"
  for rate in $rates; do
    # Warm-up at a tenth of the rate, then the measured run.
    "$bin/change-feed-bench" load "http://127.0.0.1:$http_port/webhooks/hubspot" "$public_url" "$secret" $((rate / 10)) 2 > /dev/null
    printf "gateway    %-18s  %s\n" "$rate" "$("$bin/change-feed-bench" load "http://127.0.0.1:$http_port/webhooks/hubspot" "$public_url" "$secret" "$rate" "$seconds")"
    printf "reference  %-18s  %s\n" "$rate" "$("$bin/change-feed-bench" load "http://127.0.0.1:$reference_port/webhooks/hubspot" "$public_url" "$secret" "$rate" "$seconds")"
  done
  echo "feed length after the runs: $(redis-cli -p "$redis_port" XLEN hubspot-gateway:feed:events)"
  echo "# end to end: 1000 events/s for 10 s, webhook sent -> event delivered to a grpcio subscriber"
  python_bin=".venv/bin/python"; [ -x "$python_bin" ] || python_bin=python3
  "$python_bin" Benchmarks/change-feed/subscriber.py "127.0.0.1:$grpc_port" "$key" 10000 > "$work/subscriber.out" &
  subscriber=$!
  for _ in $(seq 300); do grep -q subscribed "$work/subscriber.out" 2>/dev/null && break; sleep 0.1; done
  sleep 1  # the subscription reads from "now": let its first read reach Redis (a benchmark, not a test)
  "$bin/change-feed-bench" load "http://127.0.0.1:$http_port/webhooks/hubspot" "$public_url" "$secret" 1000 10 | sed 's/^/load: /'
  wait "$subscriber" || true
  grep -v subscribed "$work/subscriber.out" | sed 's/^/subscriber: /'
  echo "# invalidation: signed webhook to one replica -> no replica serves the old value (3 replicas, near cache on)"
  "$python_bin" Benchmarks/change-feed/invalidation.py "http://127.0.0.1:$sim_port" "$key" "$secret" "$public_url" \
    "$grpc_port:$http_port,$((grpc_port + 10)):$((http_port + 10)),$((grpc_port + 20)):$((http_port + 20))" 50 | sed 's/^/invalidation: /'
} | tee "$results"
