"""Engagements and a record's timeline (issue 35): notes, calls, emails, meetings and tasks
logged on records, read back as the record's timeline newest first, paged, in as few HubSpot
calls as the association and batch-read endpoints allow; a note or a task logged on records in
one RPC (one HubSpot call). Real processes: a gateway, redis-server, hubspot-sim; grpcio."""
import hashlib

import grpc
import pytest

from gateway_fleet import Fleet
from hubspot.gateway.v1 import common_pb2, engagements_pb2, engagements_pb2_grpc, objects_pb2, objects_pb2_grpc

E = engagements_pb2
DAY = 86_400_000
T0 = 1_790_000_000_000  # 2026-09-21


@pytest.fixture(scope="module")
def fleet():
    key = "timeline-contacts-only-1"
    fleet = Fleet(replicas=1, sim_args=("--seed", "10"), extra_keys=(
        f"contacts-only sha256:{hashlib.sha256(key.encode()).hexdigest()} crm.objects.contacts.read",))
    fleet.contacts_only = (("authorization", f"Bearer {key}"),)
    yield fleet
    fleet.stop()


def stubs(fleet):
    channel = grpc.insecure_channel(fleet.gateways[0].address)
    return engagements_pb2_grpc.EngagementsServiceStub(channel), objects_pb2_grpc.ObjectsServiceStub(channel)


def calls(fleet):
    return fleet.sim_admin("GET", "/_sim/stats")["byEndpoint"]


def spent(before, after):
    """The CRM calls made between two reads of the simulator's counts (the gateway's own
    background calls, such as the account's daily usage, left out)."""
    return {k: after[k] - before.get(k, 0) for k in after
            if after[k] != before.get(k, 0) and k.startswith(("objects.", "associations."))}


def record(objects, fleet, object_type, **properties):
    return objects.CreateObject(objects_pb2.CreateObjectRequest(object_type=object_type, properties=properties),
                                metadata=fleet.metadata(), timeout=30).object.id


def log(objects, fleet, object_type, at, on, **properties):
    """An engagement created as a plain object with HubSpot's default association to `on`."""
    return objects.CreateObject(objects_pb2.CreateObjectRequest(
        object_type=object_type, properties={"hs_timestamp": str(at), **properties},
        associations=[common_pb2.AssociationTarget(object_type=t, object_id=i) for t, i in on]),
        metadata=fleet.metadata(), timeout=30).object.id


def timeline(engagements, fleet, contact, page_size=0, cursor="", types=(), metadata=None, object_type="contacts"):
    return engagements.Timeline(E.TimelineRequest(object_type=object_type, object_id=contact, types=types,
                                                  page=common_pb2.PageRequest(page_size=page_size, cursor=cursor)),
                                metadata=metadata or fleet.metadata("analytics"), timeout=30)


def test_a_contacts_timeline_has_every_engagement_type_newest_first_in_few_calls(fleet):
    engagements, objects = stubs(fleet)
    contact = record(objects, fleet, "contacts", email="timeline@example.com", firstname="Ada")
    deal = record(objects, fleet, "deals", dealname="Renewal", dealstage="appointmentscheduled")
    on = [("contacts", contact)]
    call = log(objects, fleet, "calls", T0 + 1 * DAY, on, hs_call_title="Intro call", hs_call_duration="600000",
               hs_call_direction="OUTBOUND", hs_call_status="COMPLETED")
    email = log(objects, fleet, "emails", T0 + 2 * DAY, on, hs_email_subject="Quote", hs_email_direction="EMAIL",
                hs_email_status="SENT")
    meeting = log(objects, fleet, "meetings", T0 + 3 * DAY, on + [("deals", deal)], hs_meeting_title="Demo",
                  hs_meeting_outcome="COMPLETED")
    note = engagements.CreateNote(E.CreateNoteRequest(
        body="Asked for a discount", timestamp={"seconds": (T0 + 4 * DAY) // 1000},
        associations=[common_pb2.AssociationTarget(object_type="contacts", object_id=contact),
                      common_pb2.AssociationTarget(object_type="deals", object_id=deal)]),
        metadata=fleet.metadata(), timeout=30).engagement
    assert note.type == E.ENGAGEMENT_TYPE_NOTE and note.properties["hs_note_body"] == "Asked for a discount"
    assert note.timestamp.ToMilliseconds() == T0 + 4 * DAY

    before = calls(fleet)
    task = engagements.CreateTask(E.CreateTaskRequest(
        subject="Send the contract", body="Before Friday", due={"seconds": (T0 + 5 * DAY) // 1000},
        priority=E.TASK_PRIORITY_HIGH, associations=[common_pb2.AssociationTarget(object_type="contacts", object_id=contact)]),
        metadata=fleet.metadata(), timeout=30).engagement
    assert spent(before, calls(fleet)) == {"objects.batch.create": 1}, "a task and its association: one HubSpot call"
    assert task.properties["hs_task_status"] == "NOT_STARTED" and task.properties["hs_task_priority"] == "HIGH"
    assert task.properties["hs_task_type"] == "TODO" and task.properties["hs_task_subject"] == "Send the contract"

    before = calls(fleet)
    answer = timeline(engagements, fleet, contact)
    assert [(e.type, e.id) for e in answer.engagements] == [
        (E.ENGAGEMENT_TYPE_TASK, task.id), (E.ENGAGEMENT_TYPE_NOTE, note.id), (E.ENGAGEMENT_TYPE_MEETING, meeting),
        (E.ENGAGEMENT_TYPE_EMAIL, email), (E.ENGAGEMENT_TYPE_CALL, call)]
    assert answer.page_info.total == 5 and answer.page_info.next_cursor == ""
    by_type = {e.type: e for e in answer.engagements}
    assert by_type[E.ENGAGEMENT_TYPE_CALL].properties["hs_call_title"] == "Intro call"
    assert by_type[E.ENGAGEMENT_TYPE_CALL].properties["hs_call_duration"] == "600000"
    assert by_type[E.ENGAGEMENT_TYPE_EMAIL].properties["hs_email_subject"] == "Quote"
    assert by_type[E.ENGAGEMENT_TYPE_MEETING].properties["hs_meeting_outcome"] == "COMPLETED"
    assert by_type[E.ENGAGEMENT_TYPE_TASK].properties["hs_task_body"] == "Before Friday"
    assert [e.timestamp.ToMilliseconds() for e in answer.engagements] == [T0 + d * DAY for d in (5, 4, 3, 2, 1)]
    used = spent(before, calls(fleet))
    # The contact with its associations to every type in one call; each type's engagements in
    # one batch read (the creates' answers are not reads: the cache holds none of them yet).
    assert used == {"objects.get": 1, "objects.batch.read": 5}, used

    # Again: only the associations are asked; the engagements come from the cache.
    before = calls(fleet)
    assert [e.id for e in timeline(engagements, fleet, contact).engagements] == [e.id for e in answer.engagements]
    assert spent(before, calls(fleet)) == {"objects.get": 1}

    # The deal's timeline holds what was logged on the deal too; a types filter narrows it.
    deal_side = timeline(engagements, fleet, deal, object_type="deals")
    assert [e.id for e in deal_side.engagements] == [note.id, meeting]
    only_tasks = timeline(engagements, fleet, contact, types=[E.ENGAGEMENT_TYPE_TASK])
    assert [e.id for e in only_tasks.engagements] == [task.id] and only_tasks.page_info.total == 1


def test_paging_through_a_timeline_neither_repeats_nor_skips_while_engagements_are_logged(fleet):
    engagements, objects = stubs(fleet)
    contact = record(objects, fleet, "contacts", email="pages@example.com")
    on = [("contacts", contact)]
    # Pairs at the same time: ties are ordered by type and id.
    logged = []
    for day in range(6):
        logged.append(log(objects, fleet, "notes", T0 + day * DAY, on, hs_note_body=f"note {day}"))
        logged.append(log(objects, fleet, "calls", T0 + day * DAY, on, hs_call_title=f"call {day}"))
    seen, cursor, pages = [], "", 0
    while True:
        page = timeline(engagements, fleet, contact, page_size=5, cursor=cursor)
        seen += [e.id for e in page.engagements]
        pages += 1
        if pages == 1:
            # Logged after the first page was handed out: newer than everything, so on no later page.
            fresh = engagements.CreateNote(E.CreateNoteRequest(
                body="late", associations=[common_pb2.AssociationTarget(object_type="contacts", object_id=contact)]),
                metadata=fleet.metadata(), timeout=30).engagement.id
        cursor = page.page_info.next_cursor
        if not cursor:
            break
    assert pages == 3 and len(seen) == 12 and set(seen) == set(logged), seen
    again = timeline(engagements, fleet, contact, page_size=100)
    assert again.engagements[0].id == fresh and again.page_info.total == 13
    assert [e.id for e in again.engagements[1:]] == seen


def test_a_type_with_more_engagements_than_a_record_read_holds_is_listed_through_the_associations_api(fleet):
    engagements, objects = stubs(fleet)
    contact = record(objects, fleet, "contacts", email="busy@example.com")
    target = [common_pb2.AssociationTarget(object_type="contacts", object_id=contact)]
    ids = []
    for batch in range(2):
        answer = objects.BatchCreateObjects(objects_pb2.BatchCreateObjectsRequest(object_type="notes", inputs=[
            objects_pb2.ObjectInput(properties={"hs_timestamp": str(T0 + (batch * 70 + n) * 1000), "hs_note_body": f"#{batch * 70 + n}"},
                                    associations=target) for n in range(70)]), metadata=fleet.metadata(), timeout=30)
        assert not answer.errors
        ids += [o.id for o in answer.objects]
    before = calls(fleet)
    page = timeline(engagements, fleet, contact, page_size=100)
    assert page.page_info.total == 140
    assert [e.properties["hs_note_body"] for e in page.engagements[:3]] == ["#139", "#138", "#137"]
    used = spent(before, calls(fleet))
    assert used["objects.get"] == 1 and used["associations.list"] == 1, used
    assert used["objects.batch.read"] == 2, used  # 140 notes, 100 a call
    rest = timeline(engagements, fleet, contact, page_size=100, cursor=page.page_info.next_cursor)
    assert len(rest.engagements) == 40 and rest.page_info.next_cursor == ""
    assert {e.id for e in page.engagements} | {e.id for e in rest.engagements} == set(ids)


def test_creating_a_note_twice_with_one_idempotency_key_logs_it_once(fleet):
    engagements, objects = stubs(fleet)
    contact = record(objects, fleet, "contacts", email="once@example.com")
    request = E.CreateNoteRequest(body="Called back", idempotency_key="note-once-1",
                                  associations=[common_pb2.AssociationTarget(object_type="contacts", object_id=contact)])
    first = engagements.CreateNote(request, metadata=fleet.metadata(), timeout=30).engagement
    second = engagements.CreateNote(request, metadata=fleet.metadata(), timeout=30).engagement
    assert first.id == second.id
    assert [e.id for e in timeline(engagements, fleet, contact).engagements] == [first.id]


def test_bad_requests_are_refused_with_a_reason_and_nothing_is_written(fleet):
    engagements, objects = stubs(fleet)
    contact = record(objects, fleet, "contacts", email="refusals@example.com")
    other = record(objects, fleet, "contacts", email="refusals-other@example.com")
    target = [common_pb2.AssociationTarget(object_type="contacts", object_id=contact)]
    before = calls(fleet)

    def refused(call, request, code, words, metadata=None):
        with pytest.raises(grpc.RpcError) as error:
            call(request, metadata=metadata or fleet.metadata(), timeout=30)
        assert error.value.code() == code and words in error.value.details(), error.value.details()

    refused(engagements.CreateNote, E.CreateNoteRequest(body="x"), grpc.StatusCode.INVALID_ARGUMENT, "associations")
    refused(engagements.CreateNote, E.CreateNoteRequest(associations=target), grpc.StatusCode.INVALID_ARGUMENT, "body")
    refused(engagements.CreateTask, E.CreateTaskRequest(associations=target), grpc.StatusCode.INVALID_ARGUMENT, "subject")
    refused(engagements.Timeline, E.TimelineRequest(object_type="contacts", object_id=contact,
                                                    page=common_pb2.PageRequest(cursor="not-a-cursor")),
            grpc.StatusCode.INVALID_ARGUMENT, "page.cursor")
    refused(engagements.Timeline, E.TimelineRequest(object_type="contacts", object_id=contact, types=[E.ENGAGEMENT_TYPE_UNSPECIFIED]),
            grpc.StatusCode.INVALID_ARGUMENT, "types[0]")
    assert spent(before, calls(fleet)) == {}, "refused before HubSpot"

    # A cursor of one record's timeline does not page another's.
    for day in range(3):
        log(objects, fleet, "notes", T0 + day * DAY, [("contacts", other)], hs_note_body=str(day))
    cursor = timeline(engagements, fleet, other, page_size=1).page_info.next_cursor
    refused(engagements.Timeline, E.TimelineRequest(object_type="contacts", object_id=contact,
                                                    page=common_pb2.PageRequest(cursor=cursor)),
            grpc.StatusCode.INVALID_ARGUMENT, "belongs to the timeline of contacts " + other)
    refused(engagements.Timeline, E.TimelineRequest(object_type="contacts", object_id="999999999"),
            grpc.StatusCode.NOT_FOUND, "999999999")
    # HubSpot's own refusal of a property comes back naming it.
    refused(engagements.CreateNote, E.CreateNoteRequest(body="x", associations=target, properties={"hs_no_such": "1"}),
            grpc.StatusCode.INVALID_ARGUMENT, "hs_no_such")
    # A caller that may read contacts but not calls is told which scope the timeline needs.
    refused(engagements.Timeline, E.TimelineRequest(object_type="contacts", object_id=contact),
            grpc.StatusCode.PERMISSION_DENIED, "crm.objects.notes.read", metadata=fleet.contacts_only)
    refused(engagements.Timeline, E.TimelineRequest(object_type="contacts", object_id=contact, types=[E.ENGAGEMENT_TYPE_CALL]),
            grpc.StatusCode.PERMISSION_DENIED, "crm.objects.calls.read", metadata=fleet.contacts_only)
