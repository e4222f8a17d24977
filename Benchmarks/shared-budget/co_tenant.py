"""The co-tenant scenario, measured (see run.sh). Phases of PHASE_SECONDS (default 30): the fleet
alone, the fleet with a direct client at 5 calls/s on the gateway's token, the fleet alone."""
import os
import pathlib
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "Interop" / "gateway"))

from gateway_fleet import Fleet, contact_ids  # noqa: E402
from test_shared_budget import Load, direct_call, paced, per_second  # noqa: E402

phase = float(os.environ.get("PHASE_SECONDS", "30"))
fleet = Fleet(sim_args=("--seed", "2000"))
try:
    ids = contact_ids(fleet, 2000)
    fleet.sim_admin("POST", "/_sim/stats/reset")
    load = Load(fleet, ids, callers_per_replica=40)
    marks = [time.time()]
    threading.Event().wait(phase)
    marks.append(time.time())
    served_before = load.outcomes["ok"]
    paced(5, time.monotonic() + phase, lambda: direct_call(fleet.sim_url, "pat-sim-token"))
    marks.append(time.time())
    served_during = load.outcomes["ok"] - served_before
    threading.Event().wait(phase)
    marks.append(time.time())
    outcomes = load.finish()
    stats = fleet.sim_admin("GET", "/_sim/stats")
finally:
    fleet.stop()

fleet_calls = per_second(stats, "objects.batch.read")
direct_calls = per_second(stats, "objects.list")


def phase_figures(start, end, skip=0):
    seconds = range(int(start) + 1 + skip, int(end))
    n = max(1, len(seconds))
    f = sum(fleet_calls.get(s, (0, 0))[0] for s in seconds) / n
    f429 = sum(fleet_calls.get(s, (0, 0))[1] for s in seconds)
    d = sum(direct_calls.get(s, (0, 0))[0] for s in seconds) / n
    d429 = sum(direct_calls.get(s, (0, 0))[1] for s in seconds)
    idle = sum(1 for s in seconds if fleet_calls.get(s, (0, 0))[0] == 0)
    return f, f429, d, d429, idle


print(f"shared-budget: 3 replicas, 120 callers of uncached GetContact, HubSpot 100 calls per 10 s, phases of {phase:.0f} s")
print(f"{'phase':<34}{'fleet calls/s':>14}{'fleet 429s':>11}{'direct calls/s':>15}{'direct 429s':>12}{'idle s':>8}")
rows = [("fleet alone (reference)", marks[0], marks[1], 0), ("with direct client, first 10 s", marks[1], marks[1] + 11, 0),
        ("with direct client, after 10 s", marks[1], marks[2], 10), ("alone again", marks[2], marks[3], 0)]
for name, start, end, skip in rows:
    f, f429, d, d429, idle = phase_figures(start, end, skip)
    print(f"{name:<34}{f:>14.2f}{f429:>11}{d:>15.2f}{d429:>12}{idle:>8}")
f, _, d, _, _ = phase_figures(marks[1], marks[2], 10)
left = 10 - d
print(f"fleet's share of what the direct client left (10/s - {d:.2f}/s): {f / left * 100:.0f} %  (goal >= 90 %)")
print(f"records/s served: alone {served_before / phase:.0f}, with the direct client {served_during / phase:.0f}")
print(f"refusals by reason: { {k: v for k, v in outcomes.items() if k != 'ok'} }")
