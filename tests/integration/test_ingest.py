"""IngestService against real PostgreSQL, served in-process on port 0.

Outbox rows are read straight from ingest's own tables: these tests check what
ingest promised to publish; delivery is covered in test_ingest_outbox.py.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import field_mask_pb2, struct_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from shared import timestamps
from tests.support import error_reason as reason
from tests.support import field_violations as violations

CREATED = coordinator_pb.LEAD_EVENT_KIND_LEAD_CREATED
UPDATED = coordinator_pb.LEAD_EVENT_KIND_LEAD_UPDATED
DELETED = coordinator_pb.LEAD_EVENT_KIND_LEAD_DELETED
BEHAVIOR = coordinator_pb.LEAD_EVENT_KIND_BEHAVIOR


def fresh_location() -> str:
    return f"loc-{uuid.uuid4()}"


async def outbox_kinds(ingest_tables, lead_id: str) -> list[int]:
    rows = await ingest_tables.fetch(
        "SELECT kind FROM outbox WHERE lead_id = $1 ORDER BY id", uuid.UUID(lead_id)
    )
    return [r["kind"] for r in rows]


async def upsert(ingest, lead: pb.Lead, *, mask: list[str] | None = None, request_id: str = ""):
    return await ingest.UpsertLead(
        pb.UpsertLeadRequest(
            lead=lead,
            update_mask=field_mask_pb2.FieldMask(paths=mask or []),
            request_id=request_id,
        ),
        timeout=5,
    )


async def test_create_normalises_and_publishes_lead_created(ingest, ingest_tables) -> None:
    loc = fresh_location()
    resp = await upsert(
        ingest,
        pb.Lead(
            location_id=loc,
            external_contact_id="c-1",
            first_name="  Ana ",
            email="Ana@Example.COM",
            phone="(512) 555-0100",
            timezone="America/Chicago",
            state="tx",
            country="us",
            tags=["Buyer", "buyer", " hot "],
            source=pb.LEAD_SOURCE_GHL,
            sms_consent=True,
        ),
    )
    lead = resp.lead
    assert resp.created
    assert (lead.first_name, lead.email, lead.phone) == ("Ana", "ana@example.com", "+15125550100")
    assert (lead.state, lead.country, list(lead.tags)) == ("TX", "US", ["buyer", "hot"])
    got = await ingest.GetLead(pb.GetLeadRequest(lead_id=lead.lead_id, location_id=loc), timeout=5)
    assert got.lead == lead
    by_ext = await ingest.GetLeadByExternalId(
        pb.GetLeadByExternalIdRequest(location_id=loc, external_contact_id="c-1"), timeout=5
    )
    assert by_ext.lead.lead_id == lead.lead_id
    assert await outbox_kinds(ingest_tables, lead.lead_id) == [CREATED]
    assert await ingest_tables.fetchval("SELECT count(*) FROM locations WHERE location_id = $1", loc) == 1


async def test_repeated_request_id_returns_first_response_and_publishes_once(ingest, ingest_tables) -> None:
    loc = fresh_location()
    lead = pb.Lead(location_id=loc, first_name="Ben", phone="+15125550101")
    first = await upsert(ingest, lead, request_id="req-seq")
    again = await upsert(ingest, lead, request_id="req-seq")
    assert again.created
    assert first.created
    assert again.lead.lead_id == first.lead.lead_id
    listed = await ingest.ListLeads(pb.ListLeadsRequest(location_id=loc), timeout=5)
    assert len(listed.leads) == 1
    assert await outbox_kinds(ingest_tables, first.lead.lead_id) == [CREATED]


async def test_twenty_concurrent_repeats_create_one_lead_and_one_event(ingest, ingest_tables) -> None:
    loc = fresh_location()
    request_id = str(uuid.uuid4())
    lead = pb.Lead(location_id=loc, first_name="Cy", email="cy@example.com")
    results = await asyncio.gather(*(upsert(ingest, lead, request_id=request_id) for _ in range(20)))
    assert len({r.lead.lead_id for r in results}) == 1
    assert all(r.created for r in results)
    listed = await ingest.ListLeads(pb.ListLeadsRequest(location_id=loc), timeout=5)
    assert len(listed.leads) == 1
    assert await outbox_kinds(ingest_tables, results[0].lead.lead_id) == [CREATED]


async def test_concurrent_creates_of_one_contact_make_one_lead(ingest, ingest_tables) -> None:
    loc = fresh_location()
    lead = pb.Lead(location_id=loc, external_contact_id="same", first_name="Di")
    results = await asyncio.gather(*(upsert(ingest, lead) for _ in range(10)))
    assert len({r.lead.lead_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert await outbox_kinds(ingest_tables, results[0].lead.lead_id) == [CREATED]


async def test_partial_update_keeps_unsent_fields_and_publishes_only_changes(ingest, ingest_tables) -> None:
    loc = fresh_location()
    first = await upsert(
        ingest,
        pb.Lead(
            location_id=loc,
            external_contact_id="c-9",
            first_name="Eve",
            phone="+15125550102",
            tags=["seller"],
            budget_usd=450_000,
            custom_fields=struct_pb2.Struct(fields={"beds": struct_pb2.Value(number_value=3)}),
        ),
    )
    second = await upsert(
        ingest, pb.Lead(location_id=loc, external_contact_id="c-9", email="eve@example.com")
    )
    assert not second.created
    assert second.lead.lead_id == first.lead.lead_id
    assert (second.lead.first_name, second.lead.phone, list(second.lead.tags)) == (
        "Eve",
        "+15125550102",
        ["seller"],
    )
    assert second.lead.budget_usd == 450_000
    assert second.lead.custom_fields == first.lead.custom_fields
    assert second.lead.email == "eve@example.com"
    # The same values again change nothing: no event, no new update_time.
    third = await upsert(ingest, pb.Lead(location_id=loc, external_contact_id="c-9", email="EVE@example.com"))
    assert third.lead.update_time == second.lead.update_time
    assert await outbox_kinds(ingest_tables, first.lead.lead_id) == [CREATED, UPDATED]


async def test_explicit_mask_writes_only_named_fields_and_star_replaces(ingest) -> None:
    loc = fresh_location()
    made = (
        await upsert(ingest, pb.Lead(location_id=loc, first_name="Fay", phone="+15125550103", tags=["a"]))
    ).lead
    # Named path with an empty value blanks it on purpose; other sent fields are ignored.
    blanked = await upsert(
        ingest,
        pb.Lead(lead_id=made.lead_id, location_id=loc, first_name="Ignored", phone=""),
        mask=["phone"],
    )
    assert (blanked.lead.phone, blanked.lead.first_name, list(blanked.lead.tags)) == ("", "Fay", ["a"])
    replaced = await upsert(
        ingest, pb.Lead(lead_id=made.lead_id, location_id=loc, last_name="Ng"), mask=["*"]
    )
    assert (replaced.lead.first_name, replaced.lead.last_name, list(replaced.lead.tags)) == ("", "Ng", [])


async def test_unknown_mask_path_is_rejected_and_writes_nothing(ingest) -> None:
    loc = fresh_location()
    made = (await upsert(ingest, pb.Lead(location_id=loc, first_name="Gil"))).lead
    for path in ("favourite_colour", "create_time"):
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await upsert(
                ingest, pb.Lead(lead_id=made.lead_id, location_id=loc, first_name="Changed"), mask=[path]
            )
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violations(exc.value) == ["update_mask"]
    got = await ingest.GetLead(
        pb.GetLeadRequest(lead_id=made.lead_id, location_id=made.location_id), timeout=5
    )
    assert got.lead.first_name == "Gil"


@pytest.mark.parametrize(
    ("lead", "want_reason", "want_field"),
    [
        (pb.Lead(phone="+15125550104"), "MISSING_FIELD", "lead.location_id"),
        (pb.Lead(phone="12"), "INVALID_PHONE", "lead.phone"),
        (pb.Lead(email="not-an-email"), "INVALID_EMAIL", "lead.email"),
        (pb.Lead(timezone="Mars/Olympus"), "INVALID_TIMEZONE", "lead.timezone"),
        (pb.Lead(country="USA"), "INVALID_COUNTRY", "lead.country"),
        (pb.Lead(timeline_months=-1), "OUT_OF_RANGE", "lead.timeline_months"),
    ],
)
async def test_validation_errors_name_the_field_and_write_nothing(
    ingest, ingest_tables, lead, want_reason, want_field
) -> None:
    loc = fresh_location()
    if want_field != "lead.location_id":
        lead.location_id = loc
    lead.external_contact_id = "bad-1"
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await upsert(ingest, lead, request_id=str(uuid.uuid4()))
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(exc.value) == want_reason
    assert violations(exc.value) == [want_field]
    assert await ingest_tables.fetchval("SELECT count(*) FROM leads WHERE location_id = $1", loc) == 0
    assert await ingest_tables.fetchval("SELECT count(*) FROM locations WHERE location_id = $1", loc) == 0


async def test_other_tenants_leads_are_not_found(ingest, ingest_tables) -> None:
    mine, theirs = fresh_location(), fresh_location()
    lead = (await upsert(ingest, pb.Lead(location_id=mine, first_name="Hal", external_contact_id="x"))).lead
    calls = [
        ingest.GetLead(pb.GetLeadRequest(lead_id=lead.lead_id, location_id=theirs), timeout=5),
        ingest.GetLeadByExternalId(
            pb.GetLeadByExternalIdRequest(location_id=theirs, external_contact_id="x"), timeout=5
        ),
        ingest.UpsertLead(
            pb.UpsertLeadRequest(lead=pb.Lead(lead_id=lead.lead_id, location_id=theirs, first_name="Evil")),
            timeout=5,
        ),
        ingest.DeleteLead(pb.DeleteLeadRequest(lead_id=lead.lead_id, location_id=theirs), timeout=5),
        ingest.RecordEvent(
            pb.RecordEventRequest(
                event=pb.LeadEvent(lead_id=lead.lead_id, location_id=theirs, type=pb.EVENT_TYPE_PAGE_VIEW)
            ),
            timeout=5,
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await call
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND
        assert reason(exc.value) == "LEAD_NOT_FOUND"
    theirs_list = await ingest.ListLeads(pb.ListLeadsRequest(location_id=theirs), timeout=5)
    assert not theirs_list.leads
    got = await ingest.GetLead(pb.GetLeadRequest(lead_id=lead.lead_id, location_id=mine), timeout=5)
    assert got.lead.first_name == "Hal"
    assert not got.lead.HasField("delete_time")
    assert await outbox_kinds(ingest_tables, lead.lead_id) == [CREATED]


async def test_delete_lead_requires_the_location_it_acts_for(ingest, ingest_tables) -> None:
    """No caller inside the mesh deletes leads, so every caller can name the location: without
    it the request is refused and the lead stays."""
    loc = fresh_location()
    lead = (await upsert(ingest, pb.Lead(location_id=loc, first_name="Ida"))).lead
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await ingest.DeleteLead(
            pb.DeleteLeadRequest(lead_id=lead.lead_id, request_id=str(uuid.uuid4())), timeout=5
        )
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(exc.value) == ["location_id"]
    got = await ingest.GetLead(pb.GetLeadRequest(lead_id=lead.lead_id, location_id=loc), timeout=5)
    assert (got.lead.first_name, got.lead.HasField("delete_time")) == ("Ida", False)
    assert await outbox_kinds(ingest_tables, lead.lead_id) == [CREATED]


async def test_list_leads_pages_newest_update_first_with_filters(ingest) -> None:
    loc = fresh_location()
    made = []
    for i in range(5):
        source = pb.LEAD_SOURCE_PORTAL if i % 2 else pb.LEAD_SOURCE_WEB_FORM
        lead = pb.Lead(location_id=loc, first_name=f"L{i}", source=source, tags=["vip"] if i < 2 else [])
        made.append((await upsert(ingest, lead)).lead)
    # Touch L0 so it becomes the most recently updated.
    await upsert(ingest, pb.Lead(lead_id=made[0].lead_id, location_id=loc, last_name="Touched"))
    names, token = [], ""
    while True:
        page = await ingest.ListLeads(
            pb.ListLeadsRequest(location_id=loc, page_size=2, page_token=token), timeout=5
        )
        names += [x.first_name for x in page.leads]
        token = page.next_page_token
        if not token:
            break
    assert names == ["L0", "L4", "L3", "L2", "L1"]
    portal = await ingest.ListLeads(
        pb.ListLeadsRequest(location_id=loc, source=pb.LEAD_SOURCE_PORTAL), timeout=5
    )
    assert [x.first_name for x in portal.leads] == ["L3", "L1"]
    vip = await ingest.ListLeads(pb.ListLeadsRequest(location_id=loc, tag="VIP"), timeout=5)
    assert [x.first_name for x in vip.leads] == ["L0", "L1"]
    since = await ingest.ListLeads(
        pb.ListLeadsRequest(location_id=loc, updated_since_time=made[4].update_time), timeout=5
    )
    assert [x.first_name for x in since.leads] == ["L0", "L4"]
    first = await ingest.ListLeads(pb.ListLeadsRequest(location_id=loc, page_size=1), timeout=5)
    with pytest.raises(grpc.aio.AioRpcError) as exc:  # a token is bound to its query
        await ingest.ListLeads(
            pb.ListLeadsRequest(location_id=loc, page_size=1, page_token=first.next_page_token, tag="vip"),
            timeout=5,
        )
    assert reason(exc.value) == "INVALID_PAGE_TOKEN"


async def test_delete_erases_personal_data_once_and_is_idempotent(ingest, ingest_tables) -> None:
    loc = fresh_location()
    lead = (
        await upsert(
            ingest,
            pb.Lead(
                location_id=loc,
                external_contact_id="ghl-1",
                first_name="Ivy",
                last_name="Ong",
                email="ivy@example.com",
                phone="+15125550105",
                company="Acme",
                job_title="CFO",
                tags=["vip"],
                state="TX",
                custom_fields=struct_pb2.Struct(fields={"note": struct_pb2.Value(string_value="call Ivy")}),
            ),
        )
    ).lead
    await ingest.RecordEvent(
        pb.RecordEventRequest(
            event=pb.LeadEvent(
                lead_id=lead.lead_id,
                location_id=loc,
                type=pb.EVENT_TYPE_FORM_SUBMIT,
                properties=struct_pb2.Struct(fields={"message": struct_pb2.Value(string_value="I'm Ivy")}),
            )
        ),
        timeout=5,
    )
    for _ in range(2):
        resp = await ingest.DeleteLead(pb.DeleteLeadRequest(lead_id=lead.lead_id, location_id=loc), timeout=5)
        assert resp.lead.lead_id == lead.lead_id
        assert resp.lead.HasField("delete_time")
        assert not resp.lead.email
    got = (
        await ingest.GetLead(pb.GetLeadRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5)
    ).lead
    erased = (got.first_name, got.last_name, got.email, got.phone, got.company, got.job_title, list(got.tags))
    assert erased == ("", "", "", "", "", "", [])
    assert not got.custom_fields.fields
    assert (got.external_contact_id, got.state) == ("ghl-1", "TX")
    events = (
        await ingest.ListLeadEvents(
            pb.ListLeadEventsRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
        )
    ).events
    assert [e.type for e in events] == [pb.EVENT_TYPE_FORM_SUBMIT]
    assert not events[0].properties.fields
    assert await outbox_kinds(ingest_tables, lead.lead_id) == [CREATED, BEHAVIOR, DELETED]
    assert not (await ingest.ListLeads(pb.ListLeadsRequest(location_id=loc), timeout=5)).leads
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await upsert(ingest, pb.Lead(location_id=loc, external_contact_id="ghl-1", first_name="Back"))
    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(exc.value) == "LEAD_DELETED"


async def test_events_dedup_and_list_most_recent_occurrence_first(ingest, ingest_tables) -> None:
    loc = fresh_location()
    lead = (await upsert(ingest, pb.Lead(location_id=loc, first_name="Jo"))).lead
    base = datetime(2025, 3, 1, 12, tzinfo=UTC)
    # Delivered out of order: day 2, then day 0, then day 1.
    for day, event_id in ((2, "e-2"), (0, "e-0"), (1, "e-1")):
        resp = await ingest.RecordEvent(
            pb.RecordEventRequest(
                event=pb.LeadEvent(
                    event_id=event_id,
                    lead_id=lead.lead_id,
                    location_id=loc,
                    type=pb.EVENT_TYPE_LISTING_VIEW,
                    occurred_time=timestamps.to_proto(base + timedelta(days=day)),
                    listing_id=f"mls-{day}",
                    listing_price_usd=500_000 + day,
                )
            ),
            timeout=5,
        )
        assert not resp.duplicate
    dup = await ingest.RecordEvent(
        pb.RecordEventRequest(
            event=pb.LeadEvent(
                event_id="e-1", lead_id=lead.lead_id, location_id=loc, type=pb.EVENT_TYPE_LISTING_VIEW
            )
        ),
        timeout=5,
    )
    assert dup.duplicate
    assert dup.event.listing_id == "mls-1"
    ids, token = [], ""
    while True:
        page = await ingest.ListLeadEvents(
            pb.ListLeadEventsRequest(
                lead_id=lead.lead_id, page_size=2, page_token=token, location_id=lead.location_id
            ),
            timeout=5,
        )
        ids += [e.event_id for e in page.events]
        token = page.next_page_token
        if not token:
            break
    assert ids == ["e-2", "e-1", "e-0"]
    recent = await ingest.ListLeadEvents(
        pb.ListLeadEventsRequest(
            lead_id=lead.lead_id,
            occurred_since_time=timestamps.to_proto(base + timedelta(days=1)),
            location_id=lead.location_id,
        ),
        timeout=5,
    )
    assert [e.event_id for e in recent.events] == ["e-2", "e-1"]
    assert await outbox_kinds(ingest_tables, lead.lead_id) == [CREATED, BEHAVIOR, BEHAVIOR, BEHAVIOR]
    behaviors = await ingest_tables.fetch(
        "SELECT DISTINCT behavior_type FROM outbox WHERE lead_id = $1 AND kind = $2",
        uuid.UUID(lead.lead_id),
        BEHAVIOR,
    )
    assert [r["behavior_type"] for r in behaviors] == ["listing_view"]


async def test_event_request_id_stands_in_for_missing_event_id(ingest, ingest_tables) -> None:
    loc = fresh_location()
    lead = (await upsert(ingest, pb.Lead(location_id=loc, first_name="Kai"))).lead
    request = pb.RecordEventRequest(
        event=pb.LeadEvent(lead_id=lead.lead_id, location_id=loc, type=pb.EVENT_TYPE_CALL),
        request_id="evt-req-1",
    )
    results = await asyncio.gather(*(ingest.RecordEvent(request, timeout=5) for _ in range(5)))
    assert sum(not r.duplicate for r in results) == 1
    assert len({r.event.event_id for r in results}) == 1
    assert results[0].event.HasField("occurred_time")
    assert await outbox_kinds(ingest_tables, lead.lead_id) == [CREATED, BEHAVIOR]


async def test_bad_events_are_rejected(ingest) -> None:
    loc = fresh_location()
    lead = (await upsert(ingest, pb.Lead(location_id=loc, first_name="Lu"))).lead
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await ingest.RecordEvent(
            pb.RecordEventRequest(event=pb.LeadEvent(lead_id=lead.lead_id, location_id=loc)), timeout=5
        )
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(exc.value) == ["event.type"]
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await ingest.RecordEvent(
            pb.RecordEventRequest(
                event=pb.LeadEvent(lead_id=str(uuid.uuid4()), location_id=loc, type=pb.EVENT_TYPE_SEARCH)
            ),
            timeout=5,
        )
    assert reason(exc.value) == "LEAD_NOT_FOUND"
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await ingest.ListLeadEvents(
            pb.ListLeadEventsRequest(lead_id=str(uuid.uuid4()), location_id="loc-never-stored"), timeout=5
        )
    assert reason(exc.value) == "LEAD_NOT_FOUND"
    assert not (
        await ingest.ListLeadEvents(
            pb.ListLeadEventsRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
        )
    ).events


async def test_a_failed_call_does_not_use_up_its_request_id(ingest) -> None:
    loc = fresh_location()
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await upsert(
            ingest, pb.Lead(lead_id=str(uuid.uuid4()), location_id=loc, first_name="Q"), request_id=f"r-{loc}"
        )
    assert reason(exc.value) == "LEAD_NOT_FOUND"
    retried = await upsert(ingest, pb.Lead(location_id=loc, first_name="Q"), request_id=f"r-{loc}")
    assert retried.created
    assert retried.lead.first_name == "Q"
