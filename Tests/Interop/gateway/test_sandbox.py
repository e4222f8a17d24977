"""The gateway executable in sandbox mode, called by grpcio with stubs compiled from Protos/."""
import hashlib
import subprocess
import threading
import time
import urllib.error
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hubspot.gateway.v1 import admin_pb2, admin_pb2_grpc, contacts_pb2, contacts_pb2_grpc


def call_metadata(gateway):
    return (("authorization", f"Bearer {gateway.key}"),)


def test_a_contact_is_created_read_back_and_found_in_the_cache(sandbox):
    with grpc.insecure_channel(sandbox.address) as channel:
        contacts = contacts_pb2_grpc.ContactsServiceStub(channel)
        created = contacts.CreateContact(
            contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(email="py@example.com", first_name="Py")),
            metadata=call_metadata(sandbox), timeout=10)
        assert created.contact.id and created.contact.first_name == "Py"
        first = contacts.GetContact(contacts_pb2.GetContactRequest(id=created.contact.id), metadata=call_metadata(sandbox), timeout=10)
        second = contacts.GetContact(contacts_pb2.GetContactRequest(id=created.contact.id), metadata=call_metadata(sandbox), timeout=10)
        assert first.contact.email == "py@example.com"
        assert first.freshness.source in (2, 1)  # DATA_SOURCE_HUBSPOT (or cached by the create's read-back)
        assert second.freshness.source == 1  # DATA_SOURCE_CACHE
        listed = contacts.ListContacts(contacts_pb2.ListContactsRequest(), metadata=call_metadata(sandbox), timeout=10)
        assert len(listed.contacts) == 10 and listed.page.next_cursor


def test_calls_without_a_key_are_unauthenticated_and_bad_input_is_invalid(sandbox):
    with grpc.insecure_channel(sandbox.address) as channel:
        contacts = contacts_pb2_grpc.ContactsServiceStub(channel)
        with pytest.raises(grpc.RpcError) as missing:
            contacts.GetContact(contacts_pb2.GetContactRequest(id="1"), timeout=10)
        assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as bad:
            contacts.GetContact(contacts_pb2.GetContactRequest(email="nope"), metadata=call_metadata(sandbox), timeout=10)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "email" in bad.value.details()


def test_health_needs_no_key_and_admin_reports_the_gateway(sandbox):
    with grpc.insecure_channel(sandbox.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = health.Check(health_pb2.HealthCheckRequest(service="hubspot.gateway.v1.ContactsService"), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        status = admin_pb2_grpc.AdminServiceStub(channel).GetStatus(admin_pb2.GetStatusRequest(), metadata=call_metadata(sandbox), timeout=10)
        assert status.redis == admin_pb2.REDIS_STATUS_NOT_CONFIGURED
        assert status.breaker == admin_pb2.BREAKER_STATE_CLOSED


def test_http_endpoints_answer(sandbox):
    base = f"http://127.0.0.1:{sandbox.http_port}"
    assert urllib.request.urlopen(base + "/healthz", timeout=5).status == 200
    assert urllib.request.urlopen(base + "/readyz", timeout=5).status == 200
    metrics = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
    assert "hubspot_upstream_calls_total" in metrics


def test_without_credentials_the_gateway_refuses_to_start_and_says_why(gateway_bin):
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("HUBSPOT_GATEWAY_")}
    result = subprocess.run([gateway_bin], capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode != 0
    assert "no HubSpot credentials" in result.stderr and "hubspot-gateway-sandbox" in result.stderr


def test_the_production_binary_does_not_carry_the_simulator(gateway_bin):
    # The sandbox is a product of its own: the image's binary has no simulator in it.
    assert b"HubSpotSimulator" not in open(gateway_bin, "rb").read()
    result = subprocess.run([gateway_bin, "--sandbox"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "run hubspot-gateway-sandbox" in result.stderr


def test_settings_come_from_the_environment_too(start_gateway):
    # The caller keys from the environment alone: the sandbox then prints no development key.
    key = "env-key-0123456789"
    line = f"ops sha256:{hashlib.sha256(key.encode()).hexdigest()} admin"
    gateway = start_gateway("--sandbox", env={"HUBSPOT_GATEWAY_CALLER_KEYS": line})
    assert gateway.key is None
    with grpc.insecure_channel(gateway.address) as channel:
        status = admin_pb2_grpc.AdminServiceStub(channel).GetStatus(
            admin_pb2.GetStatusRequest(), metadata=[("authorization", f"Bearer {key}")], timeout=10)
    assert status.replica_id


def test_sigterm_drains_the_in_flight_calls_and_exits_zero(start_gateway):
    gateway = start_gateway("--sandbox")
    with grpc.insecure_channel(gateway.address) as channel:
        # One finished call first, so the connection is up before the signal: a call still
        # connecting when the listener closes is refused, which is not what this test is about.
        admin_pb2_grpc.AdminServiceStub(channel).GetStatus(admin_pb2.GetStatusRequest(), metadata=call_metadata(gateway), timeout=10)
        contacts = contacts_pb2_grpc.ContactsServiceStub(channel)
        # 40 list calls at 8 HubSpot calls a second: once the first are answered, most of them
        # are still waiting for budget inside the gateway when SIGTERM arrives.
        futures = [contacts.ListContacts.future(contacts_pb2.ListContactsRequest(), metadata=call_metadata(gateway), timeout=30)
                   for _ in range(40)]
        answered = threading.Event()
        for future in futures:
            future.add_done_callback(lambda _: answered.set())
        assert answered.wait(timeout=20), "no list call was answered"
        assert sum(future.done() for future in futures) < 40
        gateway.process.terminate()
        replies = [future.result() for future in futures]
        assert all(len(reply.contacts) == 10 for reply in replies)
    assert gateway.process.wait(timeout=40) == 0


def test_logs_are_json_lines_naming_the_request_the_caller_and_the_status(start_gateway):
    gateway = start_gateway("--sandbox", "--log-level", "info", "--access-log", "all")
    with grpc.insecure_channel(gateway.address) as channel:
        contacts = contacts_pb2_grpc.ContactsServiceStub(channel)
        _, call = contacts.ListContacts.with_call(contacts_pb2.ListContactsRequest(),
                                                  metadata=call_metadata(gateway) + (("x-request-id", "py-list-1"),), timeout=10)
        assert ("x-request-id", "py-list-1") in call.initial_metadata()
        with pytest.raises(grpc.RpcError) as missing:
            contacts.GetContact(contacts_pb2.GetContactRequest(id="999999999"), metadata=call_metadata(gateway), timeout=10)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    gateway.stop()
    lines = gateway.log_lines()  # every line parses as JSON
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    listed = [line for line in lines if line.get("request_id") == "py-list-1"]
    assert len(listed) == 1
    assert listed[0]["caller"] == "sandbox-developer" and listed[0]["code"] == "ok"
    assert listed[0]["method"] == "hubspot.gateway.v1.ContactsService/ListContacts" and listed[0]["duration_ms"] >= 0
    failed = [line for line in lines if line.get("code") == "not_found"]
    assert len(failed) == 1 and "not found" in failed[0]["error"] and len(failed[0]["request_id"]) == 16
    assert gateway.key not in gateway.log_text()


def test_metrics_count_rpcs_by_method_status_and_caller(sandbox):
    with grpc.insecure_channel(sandbox.address) as channel:
        contacts = contacts_pb2_grpc.ContactsServiceStub(channel)
        with pytest.raises(grpc.RpcError):
            contacts.GetContact(contacts_pb2.GetContactRequest(id="1"), timeout=10)
        contacts.ListContacts(contacts_pb2.ListContactsRequest(), metadata=call_metadata(sandbox), timeout=10)
    text = urllib.request.urlopen(f"http://127.0.0.1:{sandbox.http_port}/metrics", timeout=5).read().decode()
    samples = [line for line in text.splitlines() if line.startswith("gateway_grpc_requests_total{")]
    assert any('method="hubspot.gateway.v1.ContactsService/GetContact"' in line and 'code="unauthenticated"' in line and 'caller="none"' in line for line in samples)
    assert any('method="hubspot.gateway.v1.ContactsService/ListContacts"' in line and 'code="ok"' in line and 'caller="sandbox-developer"' in line for line in samples)
    assert "gateway_grpc_request_duration_seconds" in text and "gateway_grpc_requests_in_flight" in text


def test_a_truncated_request_is_the_clients_fault_not_an_internal_error_of_ours(start_gateway):
    """A request whose stream ends inside a message: INTERNAL to the client (as gRPC names
    framing errors), but logged below error and counted apart from the gateway's own failures."""
    import socket

    import h2.config
    import h2.connection
    import h2.events

    gateway = start_gateway("--sandbox", "--log-level", "info", "--access-log", "errors")
    sock = socket.create_connection(("127.0.0.1", gateway.grpc_port), timeout=10)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    stream_id = conn.get_next_available_stream_id()
    conn.send_headers(stream_id, [
        (":method", "POST"), (":scheme", "http"), (":path", "/hubspot.gateway.v1.ContactsService/GetContact"),
        (":authority", "localhost"), ("content-type", "application/grpc"), ("te", "trailers"),
        ("authorization", f"Bearer {gateway.key}"),
    ])
    # A frame header announcing 100 bytes, then 3 of them and the end of the stream.
    conn.send_data(stream_id, b"\x00\x00\x00\x00\x64" + b"\x0a\x01\x31", end_stream=True)
    sock.sendall(conn.data_to_send())
    status = None
    sock.settimeout(10)
    while status is None:
        data = sock.recv(65536)
        assert data, "the gateway closed the connection"
        for event in conn.receive_data(data):
            headers = getattr(event, "headers", None)
            if isinstance(event, (h2.events.TrailersReceived, h2.events.ResponseReceived)) and headers:
                status = dict((k.decode(), v.decode()) for k, v in headers).get("grpc-status", status)
        sock.sendall(conn.data_to_send())
    sock.close()
    assert status == str(grpc.StatusCode.INTERNAL.value[0])
    text = urllib.request.urlopen(f"http://127.0.0.1:{gateway.http_port}/metrics", timeout=5).read().decode()
    counted = [line for line in text.splitlines() if line.startswith("gateway_grpc_malformed_requests_total{")]
    assert counted and counted[0].endswith(" 1"), counted
    gateway.stop()
    lines = [line for line in gateway.log_lines() if line.get("code") == "internal"]
    assert len(lines) == 1 and lines[0]["level"] not in ("error", "critical"), lines
    assert "ended inside a message" in lines[0]["error"]


def test_two_contacts_merge_and_the_merged_id_reads_as_the_survivor(sandbox):
    with grpc.insecure_channel(sandbox.address) as channel:
        contacts = contacts_pb2_grpc.ContactsServiceStub(channel)
        made = [contacts.CreateContact(contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(email=f"merge{n}@example.com")),
                                       metadata=call_metadata(sandbox), timeout=10).contact for n in range(2)]
        survivor = contacts.MergeContacts(contacts_pb2.MergeContactsRequest(primary_id=made[0].id, merged_id=made[1].id),
                                          metadata=call_metadata(sandbox), timeout=10).contact
        assert survivor.id == made[0].id
        read = contacts.GetContact(contacts_pb2.GetContactRequest(id=made[1].id), metadata=call_metadata(sandbox), timeout=10)
        assert read.contact.id == made[0].id
        with pytest.raises(grpc.RpcError) as itself:
            contacts.MergeContacts(contacts_pb2.MergeContactsRequest(primary_id=made[0].id, merged_id=made[0].id),
                                   metadata=call_metadata(sandbox), timeout=10)
        assert itself.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_metadata_pipelines_owners_properties_and_association_types(sandbox):
    from hubspot.gateway.v1 import metadata_pb2, metadata_pb2_grpc
    with grpc.insecure_channel(sandbox.address) as channel:
        stub = metadata_pb2_grpc.MetadataServiceStub(channel)
        md = call_metadata(sandbox)
        pipelines = stub.ListPipelines(metadata_pb2.ListPipelinesRequest(object_type="deals"), metadata=md, timeout=10).pipelines
        assert [p.id for p in pipelines] == ["default", "renewals"]
        assert stub.GetPipeline(metadata_pb2.GetPipelineRequest(object_type="tickets", pipeline_id="0"), metadata=md,
                                timeout=10).pipeline.stages[0].label == "New"
        owners = stub.ListOwners(metadata_pb2.ListOwnersRequest(email="ada@example.com"), metadata=md, timeout=10).owners
        assert [o.first_name for o in owners] == ["Ada"]
        email = stub.GetProperty(metadata_pb2.GetPropertyRequest(object_type="contacts", name="email"), metadata=md, timeout=10).property
        assert email.unique
        assert any(p.name == "dealstage" for p in stub.ListProperties(metadata_pb2.ListPropertiesRequest(object_type="deals"),
                                                                      metadata=md, timeout=10).properties)
        types = stub.ListAssociationTypes(metadata_pb2.ListAssociationTypesRequest(from_object_type="deals", to_object_type="companies"),
                                          metadata=md, timeout=10).types
        assert {t.type_id for t in types} == {341, 5}
        with pytest.raises(grpc.RpcError) as missing:
            stub.GetProperty(metadata_pb2.GetPropertyRequest(object_type="contacts", name="no_such_property"), metadata=md, timeout=10)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_objects_merge_and_an_operator_flushes_metadata(sandbox):
    from hubspot.gateway.v1 import objects_pb2, objects_pb2_grpc
    with grpc.insecure_channel(sandbox.address) as channel:
        objects = objects_pb2_grpc.ObjectsServiceStub(channel)
        made = [objects.CreateObject(objects_pb2.CreateObjectRequest(object_type="companies", properties={"name": f"Merge {n}"}),
                                     metadata=call_metadata(sandbox), timeout=10).object for n in range(2)]
        survivor = objects.MergeObjects(objects_pb2.MergeObjectsRequest(object_type="companies", primary_id=made[0].id, merged_id=made[1].id),
                                        metadata=call_metadata(sandbox), timeout=10).object
        assert survivor.id == made[0].id
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        admin.FlushMetadata(admin_pb2.FlushMetadataRequest(), metadata=call_metadata(sandbox), timeout=10)
