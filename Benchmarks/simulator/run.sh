#!/usr/bin/env bash
# Benchmark: hubspot-sim single-object GET throughput with wrk (the simulator must never be
# the bottleneck of later benchmarks; goal ≥ 5,000 requests/s on 2 cores).
# Writes Benchmarks/results/simulator-get.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${DURATION:-15s}"
connections="${CONNECTIONS:-64}"
threads="${THREADS:-2}"
port="${PORT:-18190}"
seed=1000

swift build -c release --product hubspot-sim 2>&1 | tail -1
bin="$(swift build -c release --show-bin-path)/hubspot-sim"
"$bin" --port "$port" --seed "$seed" --burst-limit 0 --daily-limit 0 --log-level warning > /tmp/hubspot-sim-bench.out &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening /tmp/hubspot-sim-bench.out 2>/dev/null && break; sleep 0.1; done

# Companies are created first (seed/5 of them), then the contacts.
first_id=$((1001 + seed / 5))
export FIRST_ID=$first_id ID_COUNT=$seed
curl -sf -o /dev/null -H 'Authorization: Bearer pat-sim-token' "http://127.0.0.1:$port/crm/v3/objects/contacts/$first_id"
wrk -t2 -c8 -d2s -s Benchmarks/simulator/contacts-get.lua "http://127.0.0.1:$port" > /dev/null  # warm-up
result=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency -s Benchmarks/simulator/contacts-get.lua "http://127.0.0.1:$port" | grep '^wrk:')

mkdir -p Benchmarks/results
{
  echo "# hubspot-sim GET /crm/v3/objects/contacts/{id} — $(date -u +%FT%TZ), $(nproc) cores"
  echo "command: wrk -t$threads -c$connections -d$duration -s Benchmarks/simulator/contacts-get.lua (release build, --seed $seed, limits off)"
  echo "$result"
} | tee Benchmarks/results/simulator-get.txt
