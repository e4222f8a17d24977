"""Durable write jobs against real processes: three gateway replicas killed with SIGKILL and
restarted while they work a job off, and Redis (append-only file on) restarted mid-job — every
record ends written once, with its submitted values, and with exactly one result.

HUBSPOT_GATEWAY_LONG_TESTS=1 (scripts/test --long) runs 10,000 records, a replica killed every
10 s; the short form 1,500 records, one every 3 s (the fleet's budget at 3 calls/s so that the job
outlives several kills)."""
import json
import os
import random
import time
import urllib.request

import grpc
import pytest

from gateway_fleet import Fleet
from hubspot.gateway.v1 import jobs_pb2, jobs_pb2_grpc

LONG = os.environ.get("HUBSPOT_GATEWAY_LONG_TESTS") == "1"


@pytest.fixture(scope="module")
def jobs_fleet():
    # A budget of 3 calls/s makes the job last long enough for several kills mid-job. Batches
    # only: the long form's 10,000 records would otherwise go through one HubSpot import (its
    # own tests: JobsTests), and the kills would find no batch to interrupt.
    fleet = Fleet(replicas=3, args=("--job-visibility-timeout-seconds", "3", "--general-per-second", "3",
                                    "--job-import-threshold", "0"),
                  sim_args=("--seed", "0"), redis_aof=True)
    yield fleet
    fleet.stop()


def inputs(prefix, count):
    return [jobs_pb2.JobInput(object_type="contacts", operation=jobs_pb2.JobInput.OPERATION_UPSERT, id_property="email",
                              properties={"email": f"{prefix}{i}@example.com", "firstname": f"{prefix}-{i}"},
                              record_key=str(i)) for i in range(count)]


def stub(gateway):
    return jobs_pb2_grpc.JobsServiceStub(grpc.insecure_channel(gateway.address))


def job_state(fleet, job_id):
    """The job through whichever replica answers (replicas come and go)."""
    for gateway in random.sample(fleet.gateways, len(fleet.gateways)):
        try:
            return stub(gateway).GetJob(jobs_pb2.GetJobRequest(job_id=job_id), metadata=fleet.metadata(), timeout=5)
        except grpc.RpcError:
            continue
    return None


def all_results(fleet, job_id):
    results, position = [], 0
    while True:
        page = list(stub(fleet.gateways[0]).JobResults(jobs_pb2.JobResultsRequest(job_id=job_id, from_position=position),
                                                        metadata=fleet.metadata(), timeout=60))
        results += page
        position += len(page)
        if not page:
            return results


def sim_contacts(fleet, prefix, count):
    """The simulator's contacts of the job, by email (read from HubSpot's side, paced under its limits)."""
    found = {}
    emails = [f"{prefix}{i}@example.com" for i in range(count)]
    for start in range(0, count, 100):
        body = json.dumps({"idProperty": "email", "properties": ["email", "firstname"],
                           "inputs": [{"id": e} for e in emails[start:start + 100]]}).encode()
        request = urllib.request.Request(fleet.sim_url + "/crm/v3/objects/contacts/batch/read", data=body, method="POST",
                                         headers={"Authorization": "Bearer pat-sim-token", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            for record in json.loads(response.read())["results"]:
                found.setdefault(record["properties"]["email"], []).append(record)
        time.sleep(0.12)  # pacing under the simulator's 100 calls per 10 s, not ordering
    return found


def check_outcome(fleet, job_id, prefix, count):
    results = all_results(fleet, job_id)
    assert [r.position for r in results] == list(range(count)), "exactly one result per record, in order"
    # A batch taken over after its worker died finds the records the lost attempt made: those
    # report UPDATED (the record is there, with the submitted values, once).
    outcomes = {r.outcome for r in results}
    assert outcomes <= {jobs_pb2.RecordResult.OUTCOME_CREATED, jobs_pb2.RecordResult.OUTCOME_UPDATED}, outcomes
    found = sim_contacts(fleet, prefix, count)
    assert len(found) == count
    duplicates = [email for email, records in found.items() if len(records) > 1]
    assert duplicates == []
    wrong = [e for e, records in found.items() if records[0]["properties"]["firstname"] != e.split("@")[0].replace(prefix, prefix + "-")]
    assert wrong == [], wrong[:5]
    assert {r.id for r in results} == {records[0]["id"] for records in found.values()}


def test_a_job_survives_replicas_killed_mid_batch_and_writes_each_record_once(jobs_fleet):
    fleet = jobs_fleet
    count, every = (10_000, 10) if LONG else (1_500, 3)
    job = stub(fleet.gateways[0]).SubmitWrites(iter(inputs("chaos", count)), metadata=fleet.metadata(), timeout=120)
    assert job.records == count
    kills = 0
    deadline = time.monotonic() + (900 if LONG else 240)
    next_kill = time.monotonic()  # the first kill at once: the workers are mid-batch
    while True:
        state = job_state(fleet, job.id)
        if state is not None and state.state == jobs_pb2.Job.STATE_DONE:
            break
        assert time.monotonic() < deadline, f"the job did not finish: {state}"
        if time.monotonic() >= next_kill:
            victim = random.randrange(len(fleet.gateways))
            fleet.gateways[victim].process.kill()  # SIGKILL: no goodbye, batches left mid-way
            fleet.gateways[victim].process.wait()
            fleet.gateways[victim] = fleet.start_gateway()
            kills += 1
            next_kill = time.monotonic() + every
        time.sleep(0.2)  # polling the job's state, not ordering events
    print(f"{count} records written while {kills} replicas were killed; {state.hubspot_calls} batch calls")
    assert kills >= 1
    assert state.done == count and state.failed == 0
    check_outcome(fleet, job.id, "chaos", count)


def test_a_job_acknowledged_before_redis_restarts_is_written_whole(jobs_fleet):
    fleet = jobs_fleet
    count = 1_000
    job = stub(fleet.gateways[0]).SubmitWrites(iter(inputs("aof", count)), metadata=fleet.metadata(), timeout=120)
    # Redis stops (SIGTERM: the append-only file is flushed, as a pod's orderly restart) and
    # comes back from its file while the job is being written.
    fleet.redis.terminate()
    fleet.redis.wait(timeout=20)
    fleet.start_redis()
    deadline = time.monotonic() + 240
    while True:
        state = job_state(fleet, job.id)
        if state is not None and state.state == jobs_pb2.Job.STATE_DONE:
            break
        assert time.monotonic() < deadline, f"the job did not finish after Redis came back: {state}"
        time.sleep(0.2)  # polling the job's state
    check_outcome(fleet, job.id, "aof", count)
