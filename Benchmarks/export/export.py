"""Drives one ExportChanged of every contact through a gateway and watches its memory: prints
records, seconds, records/s, HubSpot calls (the gateway's trailer), how the full load read the
type (its trailer), a digest of every record as handed out (id, properties, times: two runs
with the same digest handed out the same records, property for property) and the gateway's RSS
(VmRSS sampled every 0.5 s: at the first record, the peak, and at the end).

usage: export.py ADDRESS KEY GATEWAY_PID [list-walk|export-file]"""
import hashlib
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))
from gateway_process import ResidentMemory  # noqa: E402
import grpc  # noqa: E402
from hubspot.gateway.v1 import objects_pb2, objects_pb2_grpc  # noqa: E402

address, key, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
full_load = objects_pb2.FULL_LOAD_LIST_WALK if sys.argv[4:] == ["list-walk"] else objects_pb2.FULL_LOAD_UNSPECIFIED
memory = ResidentMemory(pid)
memory.start()
stub = objects_pb2_grpc.ObjectsServiceStub(grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)]))
started = time.monotonic()
call = stub.ExportChanged(objects_pb2.ExportChangedRequest(object_type="contacts", properties=["email", "firstname", "lastname", "city"],
                                                          full_load=full_load),
                          metadata=(("authorization", f"Bearer {key}"),), timeout=3600)
count, first_rss, ids, seen = 0, None, set(), {}
for record in call:
    if first_rss is None:
        first_rss = memory.now()
    count += 1
    ids.add(record.object.id)
    seen[record.object.id] = hashlib.sha256(record.object.SerializeToString(deterministic=True)).hexdigest()
elapsed = time.monotonic() - started
memory.stop()
trailers = dict(call.trailing_metadata())
assert len(ids) == count, "a record twice"
digest = hashlib.sha256("".join(f"{i}:{seen[i]}" for i in sorted(seen)).encode()).hexdigest()[:16]
print(f"records={count} seconds={elapsed:.1f} records_per_s={count / elapsed:.0f} calls={trailers['export-hubspot-calls']} "
      f"full_load={trailers.get('export-full-load', '?').replace(' ', '_')} digest={digest} "
      f"rss_first_mb={first_rss:.0f} rss_peak_mb={memory.peak(first_rss):.0f} rss_end_mb={memory.now():.0f}")
