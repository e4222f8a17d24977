"""Full loads through HubSpot's CRM exports API (issue 35): ExportChanged from the beginning
reads the whole type from an export file built on HubSpot's side — a few HubSpot calls, the
file downloaded in ranges outside the budget — then the changes since it began; the list walk
when HubSpot refuses an export, with the reason in the trailer. Real processes: gateways,
redis-server, hubspot-sim (export tasks with a processing delay); grpcio as the caller."""
import grpc
import pytest

from gateway_fleet import Fleet
from hubspot.gateway.v1 import admin_pb2, admin_pb2_grpc, contacts_pb2, contacts_pb2_grpc, objects_pb2, objects_pb2_grpc

RECORDS = 3_000
PROPERTIES = ["email", "firstname", "lastname", "city", "lifecyclestage"]


@pytest.fixture(scope="module")
def fleet():
    # Settle 0: a change made during the export comes with this run (its change walk), not the next.
    fleet = Fleet(replicas=2, args=("--export-settle-seconds", "0"),
                  sim_args=("--seed", str(RECORDS), "--export-delay-ms", "1500"))
    yield fleet
    fleet.stop()


def export(fleet, request, index=0, on_first=None, stop_after=None):
    """(records, trailers) of one ExportChanged stream; `on_first` runs after the first record."""
    with grpc.insecure_channel(fleet.gateways[index].address) as channel:
        call = objects_pb2_grpc.ObjectsServiceStub(channel).ExportChanged(request, metadata=fleet.metadata("analytics"), timeout=300)
        records = []
        for record in call:
            records.append(record)
            if len(records) == 1 and on_first:
                on_first()
            if len(records) == stop_after:
                call.cancel()
                return records, {}
        return records, dict(call.trailing_metadata())


def snapshot(record):
    """What a caller reads of one exported record."""
    return dict(record.object.properties), record.object.times.SerializeToString(deterministic=True)


def test_a_full_load_from_the_export_file_is_the_list_walks_records_in_a_few_calls_and_keeps_a_change_made_meanwhile(fleet):
    walked, walk_trailers = export(fleet, objects_pb2.ExportChangedRequest(
        object_type="contacts", properties=PROPERTIES, full_load=objects_pb2.FULL_LOAD_LIST_WALK))
    assert walk_trailers["export-full-load"] == "list-walk: asked for"
    walk_calls = int(walk_trailers["export-hubspot-calls"])
    assert len(walked) == RECORDS and walk_calls >= RECORDS // 100

    changed_id = walked[RECORDS // 2].object.id
    contacts = contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(fleet.gateways[1].address))

    def change_one():
        # Made after the file was written (its first row is out): only the change walk can bring it.
        contacts.UpdateContact(contacts_pb2.UpdateContactRequest(contact=contacts_pb2.Contact(id=changed_id, properties={"city": "Reykjavik"})),
                               metadata=fleet.metadata("orders"), timeout=30)

    fleet.sim_admin("POST", "/_sim/stats/reset")
    filed, trailers = export(fleet, objects_pb2.ExportChangedRequest(object_type="contacts", properties=PROPERTIES),
                             on_first=change_one)
    assert trailers["export-full-load"] == "export-file", trailers
    # Every record once from the file, then the changed one again from the change walk, last.
    ids = [r.object.id for r in filed]
    assert len(ids) == RECORDS + 1 and len(set(ids)) == RECORDS, (len(ids), len(set(ids)))
    assert filed[-1].object.id == changed_id and filed[-1].object.properties["city"] == "Reykjavik"
    # Property for property what the list walk read (the changed record as it was then).
    by_id = {r.object.id: snapshot(r) for r in filed[:RECORDS]}
    assert by_id == {r.object.id: snapshot(r) for r in walked}
    # A few HubSpot calls instead of one per 100 records, and no list call at all.
    endpoints = fleet.sim_admin("GET", "/_sim/stats")["byEndpoint"]
    calls = int(trailers["export-hubspot-calls"])
    print(f"{RECORDS} contacts: list walk {walk_calls} HubSpot calls, export file {calls} ({endpoints})")
    assert endpoints.get("objects.list", 0) == 0 and endpoints.get("exports.start") == 1, endpoints
    assert calls <= 8, (calls, endpoints)
    tasks = fleet.sim_admin("GET", "/_sim/exports")["tasks"]
    assert tasks[-1]["rows"] == RECORDS and tasks[-1]["downloads"] >= 1, tasks


def test_an_export_cut_mid_file_resumes_from_its_cursor_on_another_replica_without_a_gap(fleet):
    request = objects_pb2.ExportChangedRequest(object_type="contacts", properties=["email"])
    head, _ = export(fleet, request, stop_after=1234)
    rest, trailers = export(fleet, objects_pb2.ExportChangedRequest(
        object_type="contacts", properties=["email"], cursor=head[-1].cursor), index=1)
    ids = [r.object.id for r in head + rest]
    assert len(ids) == RECORDS and len(set(ids)) == RECORDS
    # The resume read the same file (one task), from the row after the cut.
    assert "export-full-load" not in trailers  # a resumed load has decided already
    tasks = fleet.sim_admin("GET", "/_sim/exports")["tasks"]
    assert tasks[-1]["rows"] == RECORDS, tasks


def test_without_the_export_scope_the_full_load_walks_the_list_and_says_why(fleet):
    scopes = ["crm.objects.contacts.read", "crm.objects.contacts.write", "crm.objects.companies.read"]
    fleet.sim_admin("PUT", "/_sim/scopes", {"granted": scopes})
    try:
        records, trailers = export(fleet, objects_pb2.ExportChangedRequest(object_type="contacts", properties=["email"]))
    finally:
        fleet.sim_admin("DELETE", "/_sim/scopes")
    assert len({r.object.id for r in records}) == RECORDS
    assert trailers["export-full-load"].startswith("list-walk: HubSpot refused an export (the app lacks crm.export)"), trailers


def test_getstatus_shows_how_a_running_full_load_reads(fleet):
    seen = []

    def look():
        with grpc.insecure_channel(fleet.gateways[0].address) as channel:
            status = admin_pb2_grpc.AdminServiceStub(channel).GetStatus(admin_pb2.GetStatusRequest(), metadata=fleet.metadata("ops"), timeout=10)
        seen.extend(e.full_load for e in status.exports)

    export(fleet, objects_pb2.ExportChangedRequest(object_type="contacts", properties=["email"]), on_first=look)
    assert "export-file" in seen, seen
