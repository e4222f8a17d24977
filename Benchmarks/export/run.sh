#!/usr/bin/env bash
# Benchmark: a full load (ObjectsService.ExportChanged from the beginning) of every contact of a
# seeded hubspot-sim (HubSpot's limits on: 100 calls per 10 s, 5 searches a second) through one
# gateway alone on the fleet, its budget at the default 8 general calls a second, read two ways
# side by side: the list walk (the reference: 8 calls/s × 100 records = 800 records/s at most)
# and HubSpot's export file (the simulator takes EXPORT_DELAY_MS, 30 s by default, to build it).
# Prints records/s, HubSpot calls, the gateway's RSS and a digest of the records handed out.
# Goals: the list walk ≥ 90 % of its limit (issue 15); the export file at most 1 % of the list
# walk's calls, faster than it, the same digest, RSS bounded (issue 35).
# Writes Benchmarks/results/export.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
records="${RECORDS:-100000}"
grpc_port="${PORT:-50291}"
http_port="${HTTP_PORT:-18291}"
redis_port="${REDIS_PORT:-16499}"
sim_port="${SIM_PORT:-18293}"
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

scratch=(); [ -n "${SCRATCH_PATH:-}" ] && scratch=(--scratch-path "$SCRATCH_PATH")
for product in hubspot-gateway hubspot-sim; do
  swift build -c release "${scratch[@]}" --product "$product" 2>&1 | tail -1
done
bin="$(swift build -c release "${scratch[@]}" --show-bin-path)"
python_bin=".venv/bin/python"; [ -x "$python_bin" ] || python_bin=python3

redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --loglevel warning > /dev/null &
pids+=($!)
seeding=$(date +%s.%N)
"$bin/hubspot-sim" --port "$sim_port" --seed "$records" --daily-limit 0 --export-delay-ms "${EXPORT_DELAY_MS:-30000}" \
  --log-level warning > "$work/sim.out" &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping > /dev/null 2>&1 && break; sleep 0.05; done
for _ in $(seq 1200); do grep -q listening "$work/sim.out" 2>/dev/null && break; sleep 0.05; done
seeded=$(python3 -c "print(f'{$(date +%s.%N) - $seeding:.1f}')")
echo "hubspot-sim seeded $records contacts (with companies and deals) and listened after $seeded s"

key="bench-key-$RANDOM$RANDOM"
source Benchmarks/lib/gateway.sh
run() {  # run NAME FULL_LOAD [GATEWAY OPTION…] -> one result line
  local name=$1 full_load=$2; shift 2
  redis-cli -p "$redis_port" flushall > /dev/null
  start_gateway crm.read "$@"
  local server=$gateway_pid
  local result; result=$("$python_bin" Benchmarks/export/export.py "127.0.0.1:$grpc_port" "$key" "$server" "$full_load")
  local stats; stats=$(curl -sf "http://127.0.0.1:$sim_port/_sim/stats?windowMs=10000" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("sim_429=%d sim_busiest_10s=%d" % (s["rateLimited"], s["slidingWindow"]["maxAdmittedOthers"]))')
  kill -TERM "$server"; wait "$server" || true
  echo "$name $result $stats"
}

lines=()
line=$(run list-walk list-walk); echo "$line"; lines+=("$line")
line=$(run export-file export-file); echo "$line"; lines+=("$line")

mkdir -p Benchmarks/results
{
  echo "# ExportChanged of $records contacts from hubspot-sim (HubSpot's limits on) through one gateway — $(date -u +%FT%TZ), $(nproc) cores"
  echo "command: scripts/bench export (release builds; redis-server; hubspot-sim seeded in $seeded s)"
  echo "physical limit of the list walk: 8 calls/s × 100 records = 800 records/s; export file built in ${EXPORT_DELAY_MS:-30000} ms by the simulator"
  for line in "${lines[@]}"; do
    name=${line%% *}
    rate=$(echo "$line" | grep -oE 'records_per_s=[0-9]+' | cut -d= -f2)
    printf '%-12s %s  → %d %% of the list walk limit\n' "$name" "${line#* }" $((100 * rate / 800))
  done
  calls() { echo "$1" | grep -oE ' calls=[0-9]+' | cut -d= -f2; }
  digest() { echo "$1" | grep -oE 'digest=[0-9a-f]+' | cut -d= -f2; }
  echo "export file: $(calls "${lines[1]}") HubSpot calls = $(python3 -c "print(f'{100 * $(calls "${lines[1]}") / $(calls "${lines[0]}"):.2f}')") % of the list walk's $(calls "${lines[0]}"); same records: $([ "$(digest "${lines[0]}")" = "$(digest "${lines[1]}")" ] && echo yes || echo NO)"
  echo "goals: list walk ≥ 90 % of its limit; export file ≤ 1 % of its calls and faster; the same records; RSS bounded"
} | tee Benchmarks/results/export.txt
