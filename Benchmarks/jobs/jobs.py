"""Submits one write job of RECORDS contact upserts through a gateway, watches it to DONE and
samples the gateway's RSS: prints the time to store the job, records/s from acceptance to DONE,
the job's batch calls and the RSS (at acceptance, the peak, at the end)."""
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))
from gateway_process import ResidentMemory  # noqa: E402
import grpc  # noqa: E402
from hubspot.gateway.v1 import jobs_pb2, jobs_pb2_grpc  # noqa: E402

address, key, pid, records = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
prefix = sys.argv[5] if len(sys.argv) > 5 else "bench"
auth = (("authorization", f"Bearer {key}"),)
memory = ResidentMemory(pid)

inputs = (jobs_pb2.JobInput(object_type="contacts", operation=jobs_pb2.JobInput.OPERATION_UPSERT, id_property="email",
                            properties={"email": f"{prefix}{i}@example.com", "firstname": f"Bench {i}"}, record_key=str(i))
          for i in range(records))
stub = jobs_pb2_grpc.JobsServiceStub(grpc.insecure_channel(address))
submitted = time.monotonic()
job = stub.SubmitWrites(inputs, metadata=auth, timeout=600)
accepted = time.monotonic()
first_rss = memory.now()
memory.start()
last = job
for progress in stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=job.id), metadata=auth, timeout=7200):
    last = progress
finished = time.monotonic()
memory.stop()
assert last.state == jobs_pb2.Job.STATE_DONE and last.done == records, last
elapsed = finished - accepted
print(f"records={records} store_s={accepted - submitted:.1f} write_s={elapsed:.1f} records_per_s={records / elapsed:.0f} "
      f"batch_calls={last.hubspot_calls} rss_accepted_mb={first_rss:.0f} rss_peak_mb={memory.peak(first_rss):.0f} "
      f"rss_end_mb={memory.now():.0f}")
