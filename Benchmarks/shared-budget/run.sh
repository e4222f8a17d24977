#!/usr/bin/env bash
# Benchmark: the co-tenant case of issue 32. Three release gateways saturated with reads HubSpot
# must answer (no cache), one redis-server, hubspot-sim with HubSpot's 100 calls per 10 s; first
# the fleet alone (the reference), then with a direct client spending 5 calls/s of the same
# token's window, then alone again. Prints per phase: calls/s admitted at HubSpot per spender,
# 429s per spender, the fleet's records/s served, and its calls against what the direct client
# left. Writes Benchmarks/results/shared-budget.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
scratch=(); [ -n "${SCRATCH_PATH:-}" ] && scratch=(--scratch-path "$SCRATCH_PATH")
for product in hubspot-gateway hubspot-sim; do
  swift build -c release "${scratch[@]}" --product "$product" 2>&1 | tail -1
done
bin="$(swift build -c release "${scratch[@]}" --show-bin-path)"
[ -x .venv/bin/python ] || { echo "shared-budget: run scripts/setup first (no .venv)"; exit 1; }
mkdir -p Benchmarks/results
HUBSPOT_GATEWAY_BIN="$bin/hubspot-gateway" HUBSPOT_SIM_BIN="$bin/hubspot-sim" PATH="$PWD/.venv/bin:$PATH" \
  .venv/bin/python Benchmarks/shared-budget/co_tenant.py | tee Benchmarks/results/shared-budget.txt
