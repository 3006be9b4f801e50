"""IngestService.ListLeadProfiles: a location's live leads as scoring columns, paged by lead_id."""

from __future__ import annotations

import uuid

import grpc
import pytest
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from tests.support import field_violations


async def test_profiles_page_through_live_leads_only(ingest) -> None:
    loc = f"loc-{uuid.uuid4()}"
    made = []
    for i in range(5):
        resp = await ingest.UpsertLead(
            pb.UpsertLeadRequest(
                lead=pb.Lead(
                    location_id=loc,
                    first_name="P",
                    email=f"p{i}-{uuid.uuid4().hex[:6]}@example.com",
                    phone="+15125550100" if i % 2 else "",
                    budget_usd=100_000 * i,
                    preapproved=i == 3,
                    timeline_months=i,
                    source=pb.LEAD_SOURCE_REFERRAL,
                ),
                request_id=str(uuid.uuid4()),
            ),
            timeout=5,
        )
        made.append(resp.lead)
    await ingest.DeleteLead(pb.DeleteLeadRequest(lead_id=made[0].lead_id, location_id=loc), timeout=5)
    seen: dict[str, tuple] = {}
    token = ""
    while True:
        page = await ingest.ListLeadProfiles(
            pb.ListLeadProfilesRequest(location_id=loc, page_size=2, page_token=token), timeout=5
        )
        assert len(page.lead_ids) <= 2
        for i, lead_id in enumerate(page.lead_ids):
            seen[lead_id] = (
                page.budget_usd[i],
                page.preapproved[i],
                page.timeline_months[i],
                page.has_phone[i],
                page.has_email[i],
                page.source[i],
            )
        token = page.next_page_token
        if not token:
            break
    assert list(seen) == sorted(seen)  # lead_id order
    assert seen == {
        lead.lead_id: (
            lead.budget_usd,
            lead.preapproved,
            lead.timeline_months,
            bool(lead.phone),
            True,
            pb.LEAD_SOURCE_REFERRAL,
        )
        for lead in made[1:]
    }
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await ingest.ListLeadProfiles(pb.ListLeadProfilesRequest(location_id=loc, page_size=-1), timeout=5)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(exc.value) == ["page_size"]
