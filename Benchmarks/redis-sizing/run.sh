#!/usr/bin/env bash
# Measures what the gateway keeps in Redis per unit — bytes per change-feed event, per write-job
# record, per idempotency record, per cached object — with a real gateway, redis-server and
# hubspot-sim, as the input of the sizing rule in docs/operations.md ("Redis: state and cache").
# Prints the figures beside the size of the payload they store (the reference); writes
# Benchmarks/results/redis-sizing.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
scratch=(); [ -n "${SCRATCH_PATH:-}" ] && scratch=(--scratch-path "$SCRATCH_PATH")
for product in hubspot-gateway hubspot-sim; do
  swift build "${scratch[@]}" --product "$product" 2>&1 | tail -1
done
bin="$(swift build "${scratch[@]}" --show-bin-path)"
[ -x .venv/bin/python ] || { echo "redis-sizing: run scripts/setup first (no .venv)"; exit 1; }
mkdir -p Benchmarks/results
HUBSPOT_GATEWAY_BIN="$bin/hubspot-gateway" HUBSPOT_SIM_BIN="$bin/hubspot-sim" PATH="$PWD/.venv/bin:$PATH" \
  .venv/bin/python Benchmarks/redis-sizing/measure.py | tee Benchmarks/results/redis-sizing.txt
