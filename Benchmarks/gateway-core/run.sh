#!/usr/bin/env bash
# Benchmark: the door to HubSpot under excess demand — RATE reads/s of distinct contacts for
# SECONDS through HubSpotUpstream (Redis limiter and cache, coalescer, breaker) against
# hubspot-sim with HubSpot's limits on (its own process, so its clock reads arrivals exactly). The physical limit is 8 calls/s × 100
# records = 800 records/s; goal ≥ 90 % of it. A second run at RATE_WITHIN reads/s (inside the
# budget) shows the latency the door adds when it is not overloaded. A third run has three
# calling services weighted 2:1:1 far over the budget: their split, the budget used and how
# soon refused calls hear it.
# Writes Benchmarks/results/gateway-core.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
rate="${RATE:-2000}"
rate_within="${RATE_WITHIN:-600}"
seconds="${DURATION:-30}"
deadline="${DEADLINE:-5}"
port="${PORT:-16398}"
sim_port="${SIM_PORT:-18192}"
dir=$(mktemp -d)

# SCRATCH_PATH: build in another folder (e.g. .build-bench) while a debug build uses .build.
scratch=(); [ -n "${SCRATCH_PATH:-}" ] && scratch=(--scratch-path "$SCRATCH_PATH")
swift build -c release "${scratch[@]}" --product hubspot-sim 2>&1 | tail -1
swift build -c release "${scratch[@]}" --product gateway-core-bench 2>&1 | tail -1
bin="$(swift build -c release "${scratch[@]}" --show-bin-path)"
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize no --loglevel warning > /dev/null &
server=$!
"$bin/hubspot-sim" --port "$sim_port" --seed $(((rate + rate_within) * seconds + 1000)) --daily-limit 0 --log-level warning > "$dir/sim.out" &
sim=$!
trap 'kill $server $sim 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping > /dev/null 2>&1 && break; sleep 0.05; done
for _ in $(seq 600); do grep -q listening "$dir/sim.out" 2>/dev/null && break; sleep 0.1; done

lines=$("$bin/gateway-core-bench" "http://127.0.0.1:$sim_port" pat-sim-token "redis://127.0.0.1:$port" "$rate" "$seconds" "$deadline" 0 2>/dev/null)
within=$("$bin/gateway-core-bench" "http://127.0.0.1:$sim_port" pat-sim-token "redis://127.0.0.1:$port" "$rate_within" "$seconds" "$deadline" $((rate * seconds)) 2>/dev/null)
services=$("$bin/gateway-core-bench" "http://127.0.0.1:$sim_port" pat-sim-token "redis://127.0.0.1:$port" services "${RATE_PER_SERVICE:-20}" "$seconds" "${SERVICE_DEADLINE:-3}" 2>/dev/null)
mkdir -p Benchmarks/results
{
  echo "# HubSpotUpstream under $rate distinct reads/s for ${seconds}s (deadline ${deadline}s) — $(date -u +%FT%TZ), $(nproc) cores"
  echo "command: scripts/bench gateway-core (release builds; redis-server; hubspot-sim --seed $(((rate + rate_within) * seconds + 1000)) with its default limits: burst 100/10 s, search 5/s)"
  echo "## excess demand: $rate reads/s"
  echo "$lines"
  echo "## within the budget: $rate_within reads/s"
  echo "$within"
  echo "## three services weighted 2:1:1, ${RATE_PER_SERVICE:-20} list calls/s each (not coalesced), deadline ${SERVICE_DEADLINE:-3}s"
  echo "$services"
} | tee Benchmarks/results/gateway-core.txt
