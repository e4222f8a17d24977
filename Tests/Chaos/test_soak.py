"""A soak: the mixed load on three replicas for ten minutes (`scripts/chaos --soak`; two
minutes with CHAOS_SOAK=short), sampling each replica's resident memory and open file
descriptors every 10 s. Both must stay flat: no leak per call, per connection or per cached
record once the working set is in."""
import os
import time

import pytest

from chaos import Load, record
from test_chaos import hot_ids

SOAK = os.environ.get("CHAOS_SOAK")
pytestmark = pytest.mark.skipif(not SOAK, reason="the soak runs from scripts/chaos --soak")


def rss_and_fds(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return rss * 1024, len(os.listdir(f"/proc/{pid}/fd"))


def test_memory_and_descriptors_stay_flat_under_a_long_load(chaos_fleet):
    fleet = chaos_fleet
    duration = 600 if SOAK != "short" else 120
    load = Load(fleet, hot_ids(fleet), threads=8)
    load.start()
    samples = []  # (elapsed s, [(rss, fds) per replica])
    started = time.monotonic()
    while time.monotonic() - started < duration:
        samples.append((round(time.monotonic() - started), [rss_and_fds(g.process.pid) for g in fleet.gateways]))
        time.sleep(10)  # the sampling period of a soak, not an ordering
    load.stop()
    figures = load.figures()
    third = max(1, len(samples) // 3)
    rows = []
    for replica in range(len(fleet.gateways)):
        early = [s[1][replica] for s in samples[1:third + 1]]  # after the first sample's warm-up
        late = [s[1][replica] for s in samples[-third:]]
        rows.append({"replica": replica, "rss_mb_early_max": round(max(r for r, _ in early) / 2**20, 1),
                     "rss_mb_late_max": round(max(r for r, _ in late) / 2**20, 1),
                     "fds_early_max": max(f for _, f in early), "fds_late_max": max(f for _, f in late)})
    record({"scenario": f"soak {duration} s", **figures, "replicas": rows,
            "samples": [(t, [(round(r / 2**20, 1), f) for r, f in per]) for t, per in samples]})
    print(rows)
    for row in rows:
        assert row["rss_mb_late_max"] <= row["rss_mb_early_max"] * 1.15 + 16, row
        assert row["fds_late_max"] <= row["fds_early_max"] + 8, row
