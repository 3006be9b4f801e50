"""Opt-outs never queue behind a failing event of the same lead: real ingest (server + relay)
on real PostgreSQL, relaying to a coordinator fake that refuses the lead's LEAD_CREATED. The
attempt limit is high here, so the failing row stays on the outbox throughout."""

from __future__ import annotations

import uuid

import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from tests.journeys import unique_phone
from tests.outbox_faults import poisoned_ingest
from tests.relay import eventually
from tests.webhooks import twilio_inbound

CREATED = coordinator_pb.LEAD_EVENT_KIND_LEAD_CREATED
UPDATED = coordinator_pb.LEAD_EVENT_KIND_LEAD_UPDATED
SUPPRESSION = coordinator_pb.LEAD_EVENT_KIND_SUPPRESSION
INBOUND = coordinator_pb.LEAD_EVENT_KIND_INBOUND_MESSAGE


@pytest.fixture(scope="module")
async def poisoned(outbox_dsn):
    """(the coordinator fake, a caller's Peers) of one ingest relaying to it."""
    async with poisoned_ingest(outbox_dsn, 1000) as pair:
        yield pair


async def test_suppression_and_inbound_text_overtake_a_failing_event_of_their_lead(
    poisoned, relay_tables
) -> None:
    coordinator, ingest = poisoned
    loc, phone, ours = f"loc-{uuid.uuid4()}", unique_phone(), unique_phone()
    coordinator.poisoned.add((loc, CREATED))
    await ingest.ingest.UpdateLocation(
        pb.UpdateLocationRequest(location=pb.Location(location_id=loc, sms_from_numbers=[ours])), timeout=5
    )
    lead = (
        await ingest.ingest.UpsertLead(
            pb.UpsertLeadRequest(lead=pb.Lead(location_id=loc, first_name="Flo", phone=phone)), timeout=5
        )
    ).lead

    async def created_failed() -> bool:
        row = await relay_tables.fetchrow(
            "SELECT attempts FROM outbox WHERE lead_id = $1 AND kind = $2", uuid.UUID(lead.lead_id), CREATED
        )
        return row["attempts"] >= 1

    await eventually(created_failed)
    # The CRM marks the lead do-not-disturb (a SUPPRESSION, then LEAD_UPDATED), and the lead texts STOP.
    await ingest.ingest.UpsertLead(
        pb.UpsertLeadRequest(lead=pb.Lead(lead_id=lead.lead_id, location_id=loc, sms_dnd=True)), timeout=5
    )
    await ingest.ingest.RecordWebhook(
        pb.RecordWebhookRequest(events=[twilio_inbound(phone, ours, "STOP")]), timeout=5
    )

    async def pending() -> list[int]:
        rows = await relay_tables.fetch(
            "SELECT kind FROM outbox WHERE lead_id = $1 AND published_time IS NULL ORDER BY id",
            uuid.UUID(lead.lead_id),
        )
        return [r["kind"] for r in rows]

    # Both opt-outs delivered and acknowledged, while LEAD_CREATED is still failing on the outbox
    # (not dead-lettered) and the plain update still waits behind it, in order.
    await eventually(
        lambda: sorted(coordinator.accepted_kinds(lead.lead_id)) == sorted([SUPPRESSION, INBOUND])
    )

    async def only_the_blocked_left() -> bool:
        return await pending() == [CREATED, UPDATED]

    await eventually(only_the_blocked_left)  # stable: CREATED keeps failing, UPDATED waits for it
    assert await pending() == [CREATED, UPDATED]
    assert await relay_tables.fetchval("SELECT count(*) FROM outbox_dead_letters") == 0

    coordinator.poisoned.discard((loc, CREATED))
    await eventually(lambda: coordinator.accepted_kinds(lead.lead_id)[2:] == [CREATED, UPDATED])
