"""ListLeads' audience filters (campaigns page their audiences with them), against ingest
alone on real Postgres."""

from __future__ import annotations

import uuid
from datetime import timedelta

import grpc
import pytest
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from shared import timestamps
from tests.support import error_reason, field_violations


async def _lead(ingest, loc: str, name: str, **kw) -> pb.Lead:
    resp = await ingest.UpsertLead(
        pb.UpsertLeadRequest(
            lead=pb.Lead(location_id=loc, first_name=name, **kw), request_id=str(uuid.uuid4())
        ),
        timeout=5,
    )
    return resp.lead


async def _names(ingest, **kw) -> list[str]:
    names: list[str] = []
    token = ""
    while True:
        resp = await ingest.ListLeads(pb.ListLeadsRequest(page_size=2, page_token=token, **kw), timeout=5)
        names.extend(lead.first_name for lead in resp.leads)
        token = resp.next_page_token
        if not token:
            return names


async def test_any_tags_sources_inactivity_and_creation_order(ingest) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await _lead(ingest, loc, "Ava", tags=["Past Client"], source=pb.LEAD_SOURCE_PORTAL)
    await _lead(ingest, loc, "Ben", tags=["buyer"], source=pb.LEAD_SOURCE_GHL)
    cy = await _lead(ingest, loc, "Cy", source=pb.LEAD_SOURCE_PORTAL)
    await ingest.RecordEvent(
        pb.RecordEventRequest(
            # Reported with a clock ahead of ours: the one lead active after `soon` below.
            event=pb.LeadEvent(
                lead_id=cy.lead_id,
                location_id=loc,
                type=pb.EVENT_TYPE_PAGE_VIEW,
                occurred_time=timestamps.to_proto(timestamps.now() + timedelta(minutes=30)),
            ),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )

    assert await _names(ingest, location_id=loc, oldest_first=True) == ["Ava", "Ben", "Cy"]
    assert await _names(ingest, location_id=loc, any_tags=["past client", "BUYER"], oldest_first=True) == [
        "Ava",
        "Ben",
    ]
    assert sorted(await _names(ingest, location_id=loc, sources=[pb.LEAD_SOURCE_PORTAL])) == ["Ava", "Cy"]
    soon = timestamps.to_proto(timestamps.now() + timedelta(minutes=10))
    later = timestamps.to_proto(timestamps.now() + timedelta(hours=1))
    past = timestamps.to_proto(timestamps.now() - timedelta(days=1))
    # Records last updated before `soon`; Cy's event occurred after it.
    assert sorted(await _names(ingest, location_id=loc, inactive_since_time=soon)) == ["Ava", "Ben"]
    assert sorted(await _names(ingest, location_id=loc, inactive_since_time=later)) == ["Ava", "Ben", "Cy"]
    assert await _names(ingest, location_id=loc, inactive_since_time=past) == []


async def test_a_bad_audience_filter_names_its_field(ingest) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await ingest.ListLeads(pb.ListLeadsRequest(location_id="loc", sources=[99]), timeout=5)  # type: ignore[list-item]
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(err.value) == "INVALID_SOURCE"
    assert field_violations(err.value) == ["sources"]
