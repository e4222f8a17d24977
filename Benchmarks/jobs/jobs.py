"""Submits one write job of RECORDS contact upserts through a gateway, watches it to DONE and
samples the gateway's RSS: prints the time to store the job, records/s from acceptance to DONE,
the job's batch calls and the RSS (at acceptance, the peak, at the end)."""
import pathlib
import sys
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "Tests" / "Interop" / "gateway"))
import conftest  # noqa: E402,F401  (compiles Protos/hubspot into importable stubs)
import grpc  # noqa: E402
from hubspot.gateway.v1 import jobs_pb2, jobs_pb2_grpc  # noqa: E402

address, key, pid, records = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
auth = (("authorization", f"Bearer {key}"),)


def rss_mb():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


samples, done = [], threading.Event()


def sample():
    while not done.wait(0.5):
        samples.append(rss_mb())


inputs = (jobs_pb2.JobInput(object_type="contacts", operation=jobs_pb2.JobInput.OPERATION_UPSERT, id_property="email",
                            properties={"email": f"bench{i}@example.com", "firstname": f"Bench {i}"}, record_key=str(i))
          for i in range(records))
stub = jobs_pb2_grpc.JobsServiceStub(grpc.insecure_channel(address))
submitted = time.monotonic()
job = stub.SubmitWrites(inputs, metadata=auth, timeout=600)
accepted = time.monotonic()
first_rss = rss_mb()
threading.Thread(target=sample, daemon=True).start()
last = job
for progress in stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=job.id), metadata=auth, timeout=7200):
    last = progress
finished = time.monotonic()
done.set()
assert last.state == jobs_pb2.Job.STATE_DONE and last.done == records, last
elapsed = finished - accepted
print(f"records={records} store_s={accepted - submitted:.1f} write_s={elapsed:.1f} records_per_s={records / elapsed:.0f} "
      f"batch_calls={last.hubspot_calls} rss_accepted_mb={first_rss:.0f} rss_peak_mb={max(samples + [first_rss]):.0f} "
      f"rss_end_mb={rss_mb():.0f}")
