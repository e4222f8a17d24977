"""Acknowledged state lives in a Redis that never evicts (issue 34): a state Redis that would
evict stops the gateway at start, a full one refuses new state with RESOURCE_EXHAUSTED naming
Redis memory (never a yes that is then lost), and the caches live in a Redis of their own.
Real processes: gateways, redis-servers, hubspot-sim."""
import subprocess
import tempfile

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from gateway_fleet import Fleet, Gateway, start_redis_server
from hubspot.gateway.v1 import contacts_pb2, contacts_pb2_grpc, jobs_pb2, jobs_pb2_grpc


def redis_server(policy: str = "noeviction") -> tuple[subprocess.Popen, int]:
    directory = tempfile.mkdtemp()
    return start_redis_server(lambda port: ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                            "--appendonly", "no", "--dir", directory, "--maxmemory-policy", policy,
                                            "--loglevel", "notice"])


def cli(port: int, *args: str) -> str:
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=10).stdout.strip()


def reason(error: grpc.RpcError) -> str | None:
    for detail in rpc_status.from_call(error).details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    return None


def test_a_single_evicting_redis_stops_the_gateway_at_start_with_the_fix_in_the_message():
    process, port = redis_server("volatile-lru")
    fleet = Fleet(replicas=0, redis_url=f"redis://127.0.0.1:{port}")
    try:
        try:
            started = Gateway(*fleet.gateway_args, env=fleet.gateway_env)
        except RuntimeError as refusal:
            text = str(refusal)
        else:
            started.stop()  # never leave a gateway running behind a failed test
            pytest.fail(f"the gateway started on an evicting state Redis: {started.log_text()}")
        assert "volatile-lru" in text and "--cache-redis-url" in text and "noeviction" in text, text
        # Accepting the risk explicitly starts it (with a warning).
        accepted = Gateway(*fleet.gateway_args, "--allow-evicting-state-redis", env=fleet.gateway_env)
        assert "evicts keys" in accepted.log_text()
        accepted.stop()
    finally:
        fleet.stop()
        process.terminate()


@pytest.fixture(scope="module")
def two_roles():
    state, state_port = redis_server("noeviction")
    cache, cache_port = redis_server("allkeys-lru")
    fleet = Fleet(replicas=1, sim_args=("--seed", "50"), redis_url=f"redis://127.0.0.1:{state_port}",
                  args=("--cache-redis-url", f"redis://127.0.0.1:{cache_port}"))
    yield fleet, state_port, cache_port
    fleet.stop()
    state.terminate()
    cache.terminate()


def test_caches_go_to_the_cache_redis_and_a_full_state_redis_refuses_new_state_but_reads_go_on(two_roles):
    fleet, state_port, cache_port = two_roles
    channel = grpc.insecure_channel(fleet.gateways[0].address)
    contacts = contacts_pb2_grpc.ContactsServiceStub(channel)
    jobs = jobs_pb2_grpc.JobsServiceStub(channel)
    page = contacts.ListContacts(contacts_pb2.ListContactsRequest(), metadata=fleet.metadata(), timeout=30)
    for contact in page.contacts[:5]:
        contacts.GetContact(contacts_pb2.GetContactRequest(id=contact.id), metadata=fleet.metadata("analytics"), timeout=10)
    cached = cli(cache_port, "--scan", "--pattern", "hubspot-gateway:cache:*").split()
    assert cached, "the object cache writes to the cache Redis"
    assert not cli(state_port, "--scan", "--pattern", "hubspot-gateway:cache:*"), "no cache entry in the state Redis"

    record = jobs_pb2.JobInput(object_type="contacts", operation=jobs_pb2.JobInput.OPERATION_UPSERT, id_property="email",
                               properties={"email": "full@example.com"})
    # The state Redis reaches its maxmemory (noeviction): every write to it is refused.
    assert cli(state_port, "CONFIG", "SET", "maxmemory", "1") == "OK"
    try:
        with pytest.raises(grpc.RpcError) as full:
            jobs.SubmitWrite(jobs_pb2.SubmitWriteRequest(input=record), metadata=fleet.metadata(), timeout=30)
        assert full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, full.value
        assert reason(full.value) == "GATEWAY_STATE_FULL" and "out of memory" in full.value.details()
        with pytest.raises(grpc.RpcError) as idempotent:
            contacts.CreateContact(contacts_pb2.CreateContactRequest(
                contact=contacts_pb2.Contact(email="idem-full@example.com"), idempotency_key="full-1"),
                metadata=fleet.metadata(), timeout=30)
        assert idempotent.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and reason(idempotent.value) == "GATEWAY_STATE_FULL"
        # Reads go on: the budget falls back to this replica's share, the cache is elsewhere.
        reply = contacts.GetContact(contacts_pb2.GetContactRequest(id=page.contacts[6].id),
                                    metadata=fleet.metadata("analytics"), timeout=10)
        assert reply.contact.id == page.contacts[6].id
    finally:
        assert cli(state_port, "CONFIG", "SET", "maxmemory", "0") == "OK"
    # With room again, the same job is accepted (nothing of the refused one was kept).
    job = jobs.SubmitWrite(jobs_pb2.SubmitWriteRequest(input=record), metadata=fleet.metadata(), timeout=30)
    assert job.id


def test_a_small_evicting_cache_redis_filled_by_reads_never_costs_an_acknowledged_job_record_or_idempotency_answer():
    import concurrent.futures
    import json
    import urllib.request
    state, state_port = redis_server("noeviction")
    cache, cache_port = redis_server("allkeys-lru")
    assert cli(cache_port, "CONFIG", "SET", "maxmemory", "2mb") == "OK"
    fleet = Fleet(replicas=2, sim_args=("--seed", "3000"), redis_url=f"redis://127.0.0.1:{state_port}",
                  args=("--cache-redis-url", f"redis://127.0.0.1:{cache_port}"))
    try:
        gateways = [grpc.insecure_channel(g.address) for g in fleet.gateways]
        contacts = [contacts_pb2_grpc.ContactsServiceStub(c) for c in gateways]
        jobs = jobs_pb2_grpc.JobsServiceStub(gateways[0])
        before = fleet.sim_admin("GET", "/_sim/objects")["contacts"]
        ids, cursor = [], ""
        while len(ids) < 3000:
            page = contacts[0].ListContacts(contacts_pb2.ListContactsRequest(page={"page_size": 100, "cursor": cursor}),
                                            metadata=fleet.metadata(), timeout=30)
            ids += [c.id for c in page.contacts]
            cursor = page.page.next_cursor
            if not cursor:
                break

        def reads(offset):
            # 30 readers at once: their reads share HubSpot's batch calls, as callers' do.
            for n in range(offset, len(ids), 30):
                contacts[n % 2].GetContact(contacts_pb2.GetContactRequest(id=ids[n]), metadata=fleet.metadata("analytics"),
                                           timeout=60)

        def job():
            records = (jobs_pb2.JobInput(object_type="contacts", operation=jobs_pb2.JobInput.OPERATION_UPSERT,
                                         id_property="email", record_key=str(i),
                                         properties={"email": f"pressure{i}@example.com", "firstname": f"P{i}"})
                       for i in range(5000))
            return jobs.SubmitWrites(records, metadata=fleet.metadata(), timeout=120)

        def create(i):
            return contacts[i % 2].CreateContact(contacts_pb2.CreateContactRequest(
                contact=contacts_pb2.Contact(email=f"idem-pressure{i}@example.com"), idempotency_key=f"pressure-{i}"),
                metadata=fleet.metadata(), timeout=120).contact.id

        with concurrent.futures.ThreadPoolExecutor(80) as pool:
            reading = [pool.submit(reads, offset) for offset in range(30)]
            submitted = pool.submit(job)
            created = list(pool.map(create, range(1000)))
            accepted = submitted.result()
            for reader in reading:
                reader.result()
        assert int(cli(cache_port, "INFO", "stats").split("evicted_keys:")[1].split()[0]) > 0, "the cache Redis evicted"

        # The job finishes, every record written once.
        watch = jobs.WatchJob(jobs_pb2.WatchJobRequest(job_id=accepted.id), metadata=fleet.metadata(), timeout=240)
        final = None
        for final in watch:
            if final.state in (jobs_pb2.Job.STATE_DONE, jobs_pb2.Job.STATE_CANCELLED):
                break
        assert final is not None and final.state == jobs_pb2.Job.STATE_DONE, final
        results, position = [], 0
        while True:
            page = list(jobs.JobResults(jobs_pb2.JobResultsRequest(job_id=accepted.id, from_position=position),
                                        metadata=fleet.metadata(), timeout=60))
            if not page:
                break
            results += page
            position += len(page)
        assert len(results) == 5000 and all(r.outcome in (jobs_pb2.RecordResult.OUTCOME_CREATED, jobs_pb2.RecordResult.OUTCOME_WRITTEN)
                                            for r in results), {r.outcome for r in results}
        # Every idempotency answer kept: the same keys answer the same records, and nothing twice.
        again = [create(i) for i in range(1000)]
        assert again == created and len(set(created)) == 1000
        assert fleet.sim_admin("GET", "/_sim/objects")["contacts"] == before + 5000 + 1000
    finally:
        fleet.stop()
        state.terminate()
        cache.terminate()
