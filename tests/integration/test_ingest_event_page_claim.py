"""ListLeadEvents reads the claim check and the page in one statement
(repository/events.py): a lead with no events is an empty page, not an unknown lead;
another location's claim is NOT_FOUND whether or not the lead has events."""

from __future__ import annotations

import uuid

import grpc
import pytest
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from tests.support import error_reason as reason


async def new_lead(ingest) -> pb.Lead:
    lead = pb.Lead(
        location_id=f"loc-{uuid.uuid4()}", external_contact_id=f"c-{uuid.uuid4()}", email="pat@example.com"
    )
    return (await ingest.UpsertLead(pb.UpsertLeadRequest(lead=lead), timeout=5)).lead


async def events(ingest, lead_id: str, location_id: str) -> list[pb.LeadEvent]:
    resp = await ingest.ListLeadEvents(
        pb.ListLeadEventsRequest(lead_id=lead_id, location_id=location_id), timeout=5
    )
    return list(resp.events)


async def test_a_lead_without_events_has_an_empty_page(ingest) -> None:
    lead = await new_lead(ingest)
    assert await events(ingest, lead.lead_id, lead.location_id) == []


async def test_another_locations_claim_is_not_found_with_or_without_events(ingest) -> None:
    lead = await new_lead(ingest)
    for recorded in (False, True):
        if recorded:
            await ingest.RecordEvent(
                pb.RecordEventRequest(
                    event=pb.LeadEvent(
                        lead_id=lead.lead_id,
                        location_id=lead.location_id,
                        event_id=f"e-{uuid.uuid4()}",
                        type=pb.EVENT_TYPE_PAGE_VIEW,
                    )
                ),
                timeout=5,
            )
            assert len(await events(ingest, lead.lead_id, lead.location_id)) == 1
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await events(ingest, lead.lead_id, f"loc-{uuid.uuid4()}")
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND
        assert reason(exc.value) == "LEAD_NOT_FOUND"
