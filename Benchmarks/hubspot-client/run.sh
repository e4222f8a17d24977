#!/usr/bin/env bash
# Benchmark: HubSpotClient.getObject against hubspot-sim at 64 concurrent requests, side by side
# in one run with wrk on the same endpoint at the same concurrency (goal: ≥ 70 % of wrk's
# requests/s), plus the cancellation latency of in-flight calls (goal: < 50 ms).
# Writes Benchmarks/results/hubspot-client.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${DURATION:-15}"
concurrency="${CONCURRENCY:-64}"
port="${PORT:-18191}"
seed=1000
first_id=$((1001 + seed / 5))

swift build -c release --product hubspot-sim 2>&1 | tail -1
swift build -c release --product hubspot-client-bench 2>&1 | tail -1
bin="$(swift build -c release --show-bin-path)"
"$bin/hubspot-sim" --port "$port" --seed "$seed" --burst-limit 0 --daily-limit 0 --log-level warning > /tmp/hubspot-sim-client-bench.out &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening /tmp/hubspot-sim-client-bench.out 2>/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port"

export FIRST_ID=$first_id ID_COUNT=$seed
wrk -t2 -c8 -d2s -s Benchmarks/simulator/contacts-get.lua "$url" > /dev/null
wrk_line=$(wrk -t2 -c"$concurrency" -d"${duration}s" --latency -s Benchmarks/simulator/contacts-get.lua "$url" | grep '^wrk:')

# Slow only the list endpoint, which the cancellation probe calls.
curl -sf -X PUT -d '{"rules":[{"endpoint":"objects.list","latency":"5000"}]}' "$url/_sim/faults" > /dev/null
client_lines=$("$bin/hubspot-client-bench" "$url" pat-sim-token "$first_id" "$seed" "$concurrency" "$duration")

wrk_rps=$(echo "$wrk_line" | sed -E 's/.*rps=([0-9]+).*/\1/')
client_rps=$(echo "$client_lines" | grep '^client:' | sed -E 's/.*rps=([0-9]+).*/\1/')
ratio=$(awk -v c="$client_rps" -v w="$wrk_rps" 'BEGIN { printf "%.0f", 100 * c / w }')

mkdir -p Benchmarks/results
{
  echo "# HubSpotClient.getObject vs wrk, GET /crm/v3/objects/contacts/{id} — $(date -u +%FT%TZ), $(nproc) cores"
  echo "command: scripts/bench hubspot-client (concurrency $concurrency, ${duration}s each, release builds, hubspot-sim --seed $seed, limits off)"
  echo "$wrk_line"
  echo "$client_lines"
  echo "client/wrk: ${ratio}%"
} | tee Benchmarks/results/hubspot-client.txt
