"""End-to-end latency of the change feed: subscribes to a gateway and, for every delivered event
whose value starts with "bench", measures now − occurredAt (the load generator stamps
occurredAt when it sends the webhook). Prints p50/p99 once `count` events arrived."""
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "Tests" / "Interop" / "gateway"))
import gateway_fleet  # noqa: E402,F401  (compiles Protos/hubspot into importable stubs)
import grpc  # noqa: E402
from hubspot.gateway.v1 import changes_pb2, changes_pb2_grpc  # noqa: E402

address, key, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
stub = changes_pb2_grpc.ChangesServiceStub(grpc.insecure_channel(address))
stream = stub.Subscribe(changes_pb2.SubscribeRequest(object_types=["deals"]), metadata=(("authorization", f"Bearer {key}"),),
                        timeout=600)
print("subscribed", flush=True)
latencies = []
for event in stream:
    if event.property_value.startswith("bench"):
        occurred = event.occurred_at.seconds * 1000 + event.occurred_at.nanos // 1_000_000
        latencies.append(time.time() * 1000 - occurred)
        if len(latencies) >= count:
            break
stream.cancel()
latencies.sort()
print(f"events={len(latencies)} p50_ms={latencies[len(latencies) // 2]:.1f} p99_ms={latencies[int(len(latencies) * 0.99)]:.1f}")
