#!/usr/bin/env bash
# Benchmark: catching up on HubSpot's webhooks journal after an outage. While no gateway runs,
# CHANGES (100,000) contact updates are journalled by hubspot-sim (100 events an entry, as
# HubSpot's batches); then one gateway starts with the journal intake and reads every entry
# into the feed, through its budget (8 general calls a second, bulk priority). Printed: events
# and entries per second into the feed, the HubSpot calls it took and their share of an hour's
# budget — beside the reference in the same run: the same entries read by a plain client
# (next + download in a loop, no budget, no feed), the physical limit of the simulator.
# Writes Benchmarks/results/journal.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
changes="${CHANGES:-100000}"
contacts="${CONTACTS:-1000}"
grpc_port="${PORT:-50291}"; http_port="${HTTP_PORT:-18291}"; redis_port="${REDIS_PORT:-16499}"; sim_port="${SIM_PORT:-18293}"
work=$(mktemp -d); pids=()
trap 'kill "${pids[@]}" ${gateway_pid:-} 2>/dev/null || true; rm -rf "$work"' EXIT
for product in hubspot-gateway hubspot-sim; do swift build -c release --product "$product" 2>&1 | tail -1; done
bin="$(swift build -c release --show-bin-path)"
key="bench-key-$RANDOM$RANDOM"
source Benchmarks/lib/gateway.sh

redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --loglevel warning > /dev/null &
pids+=($!)
"$bin/hubspot-sim" --port "$sim_port" --seed "$contacts" --daily-limit 0 --burst-limit 0 --log-level warning \
  --oauth-client-id bench-app --oauth-client-secret bench-secret --oauth-refresh-token unused > "$work/sim.out" &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping > /dev/null 2>&1 && break; sleep 0.05; done
for _ in $(seq 600); do grep -q listening "$work/sim.out" 2>/dev/null && break; sleep 0.1; done

# The outage: the app's subscription exists (as the gateway made it before), no gateway reads.
python3 - "$sim_port" "$changes" <<'PY'
import concurrent.futures, json, sys, urllib.request, urllib.parse
port, changes = sys.argv[1], int(sys.argv[2])
base = f"http://127.0.0.1:{port}"
def call(method, path, body=None, token="pat-sim-token", form=None):
    data = urllib.parse.urlencode(form).encode() if form else (json.dumps(body).encode() if body is not None else None)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is not None: headers["Content-Type"] = "application/json"
    with urllib.request.urlopen(urllib.request.Request(base + path, data=data, method=method, headers=headers), timeout=60) as r:
        text = r.read()
        return json.loads(text) if text else None
token = call("POST", "/oauth/v1/token", token=None, form={"grant_type": "client_credentials", "client_id": "bench-app",
             "client_secret": "bench-secret", "scope": "developer.webhooks_journal.subscriptions.write"})["access_token"]
call("POST", "/webhooks-journal/subscriptions/2026-03", {"objectTypeId": "0-1", "actions": ["CREATE", "UPDATE", "DELETE", "MERGE", "RESTORE", "ASSOCIATION_ADDED", "ASSOCIATION_REMOVED"]}, token=token)
ids, after = [], None
while True:
    page = call("GET", "/crm/v3/objects/contacts?limit=100" + (f"&after={after}" if after else ""))
    ids += [r["id"] for r in page["results"]]
    after = page.get("paging", {}).get("next", {}).get("after")
    if not after: break
batches = [[{"id": ids[(n * 100 + i) % len(ids)], "properties": {"jobtitle": f"t{n}-{i}"}} for i in range(100)] for n in range(changes // 100)]
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    list(pool.map(lambda b: call("POST", "/crm/v3/objects/contacts/batch/update", {"inputs": b}), batches))
PY
journal=$(curl -sf "http://127.0.0.1:$sim_port/_sim/journal")
echo "journalled during the outage: $journal"

# The reference: the same journal read straight from the simulator (its own token and offset).
reference=$(python3 - "$sim_port" <<'PY'
import json, sys, time, urllib.request, urllib.parse
base = f"http://127.0.0.1:{sys.argv[1]}"
def get(url, token=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {}), timeout=60) as r:
        return r.status, r.read()
form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "bench-app", "client_secret": "bench-secret",
                               "scope": "developer.webhooks_journal.read"}).encode()
token = json.loads(urllib.request.urlopen(urllib.request.Request(base + "/oauth/v1/token", data=form), timeout=30).read())["access_token"]
started, entries, events = time.monotonic(), 0, 0
status, body = get(base + "/webhooks-journal/journal/2026-03/earliest", token)
while status == 200:
    entry = json.loads(body)
    events += len(json.loads(get(entry["url"])[1])["events"])
    entries += 1
    status, body = get(base + f"/webhooks-journal/journal/2026-03/offset/{entry['currentOffset']}/next", token)
took = time.monotonic() - started
print(f"{entries} {events} {took:.2f}")
PY
)

curl -sf -X POST "http://127.0.0.1:$sim_port/_sim/stats/reset" > /dev/null
started=$(date +%s.%N)
HUBSPOT_GATEWAY_JOURNAL_CLIENT_SECRET=bench-secret start_gateway changes.read --journal-types contacts \
  --journal-client-id bench-app --webhook-intake false
set -- $reference
entries=$1
for _ in $(seq 6000); do
  read_entries=$(curl -sf "http://127.0.0.1:$http_port/metrics" | awk '/^gateway_journal_entries_total/ {print int($2)}')
  [ "${read_entries:-0}" -ge "$entries" ] && break
  sleep 0.2
done
took=$(python3 -c "import time; print(f'{time.time() - $started:.2f}')")
stored=$(curl -sf "http://127.0.0.1:$http_port/metrics" | awk '/^gateway_journal_events_total\{result="stored"\}/ {print int($2)}')
calls=$(curl -sf "http://127.0.0.1:$sim_port/_sim/stats" | python3 -c 'import json, sys; s = json.load(sys.stdin); print(sum(v for k, v in s["byEndpoint"].items() if k.startswith("journal.")))')

mkdir -p Benchmarks/results
{
  echo "# webhooks-journal catch-up after an outage — $(date -u +%FT%TZ), $(nproc) cores; $changes changes journalled, 100 events an entry"
  echo "command: scripts/bench journal   (CHANGES=… for another size)"
  printf '%-28s %8s %10s %12s %12s\n' reader entries events "seconds" "events/s"
  printf '%-28s %8s %10s %12s %12.0f\n' "reference (plain client)" "$1" "$2" "$3" "$(python3 -c "print($2 / $3)")"
  printf '%-28s %8s %10s %12s %12.0f\n' "gateway (budget, feed)" "$entries" "${stored:-0}" "$took" "$(python3 -c "print(${stored:-0} / $took)")"
  echo "HubSpot calls the gateway took: $calls (journal reads and the subscription check), $(python3 -c "print(f'{100 * $calls / (8 * 3600):.1f}')") % of an hour's budget at 8 calls/s"
} | tee Benchmarks/results/journal.txt
