"""A returning lead's new inquiry (a form_submit behaviour event) starts its next journey, through
gRPC against real Postgres (journeys/inquiry.py): after a recoverable end (here "lead replied")
the lead gets generation 2 and a first touch under its own step key, from the same agent; a lead
with an ACTIVE journey keeps it; an opt-out or a person's stop forbids it; the same event twice
(one after the other, or at once) starts one journey. The replies here are days old: a recent
one holds the inquiry for the agent (test_inquiry_after_reply.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from shared import timestamps
from tests.journeys import eventually, handle, inbound, journey_of, started_lead
from tests.support import Mesh, location_of, mesh

REPLY = "Thanks, we will think about it"
FORM_SUBMIT = ingest_pb.EVENT_TYPE_FORM_SUBMIT


@pytest.fixture(scope="module")
async def m(migrated_dsn: str) -> AsyncIterator[Mesh]:
    async with mesh(migrated_dsn, overrides={"ingest": {"outbox_poll_s": 0.1}}) as running:
        yield running


async def journeys_of(m: Mesh, lead_id: str) -> list[pb.Journey]:
    resp = await m.clients.coordinator.ListJourneys(
        pb.ListJourneysRequest(lead_id=lead_id, location_id=await location_of(m, lead_id)), timeout=5
    )
    return list(resp.journeys)


async def steps_of(dsn: str, lead_id: str) -> dict[str, dict[str, Any]]:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "coordinator"})
    try:
        rows = await conn.fetch("SELECT * FROM communications WHERE lead_id = $1", uuid.UUID(lead_id))
    finally:
        await conn.close()
    return {r["step_key"]: dict(r) for r in rows if r["step_key"]}


async def replied_lead(m: Mesh, dsn: str, *, quiet_h: float = 96.0) -> Any:
    """A lead whose journey stopped "lead replied", the reply `quiet_h` hours old (by default
    older than COORDINATOR_INQUIRY_AFTER_REPLY_HOURS: a conversation that went quiet)."""
    lead = await started_lead(m, email=f"rae.{uuid.uuid4().hex[:8]}@example.com")
    await handle(m, inbound(lead, REPLY))
    await eventually(
        lambda: journey_of(m, lead.lead_id), lambda j: j.stop_reason == "lead replied", "the reply to end it"
    )
    if quiet_h:
        conn = await asyncpg.connect(dsn, server_settings={"search_path": "coordinator"})
        try:
            moved = await conn.execute(
                "UPDATE communications SET create_time = create_time - $2::float8 * interval '1 hour'"
                " WHERE lead_id = $1 AND direction = $3",
                uuid.UUID(lead.lead_id),
                quiet_h,
                pb.DIRECTION_INBOUND,
            )
        finally:
            await conn.close()
        assert moved == "UPDATE 1"
    return lead


def form_submit(lead: Any, event_id: str | None = None) -> pb.LeadEventEnvelope:
    """The envelope ingest's outbox sends for a recorded form_submit."""
    return pb.LeadEventEnvelope(
        event_id=event_id or str(uuid.uuid4()),
        kind=pb.LEAD_EVENT_KIND_BEHAVIOR,
        lead_id=lead.lead_id,
        location_id=lead.location_id,
        behavior_type="form_submit",
        occurred_time=timestamps.to_proto(datetime.now(UTC)),
    )


async def test_a_replied_lead_who_submits_a_form_gets_a_new_journey_and_a_first_touch(
    m: Mesh, migrated_dsn: str
) -> None:
    lead = await replied_lead(m, migrated_dsn)
    old = await journey_of(m, lead.lead_id)
    before = await steps_of(migrated_dsn, lead.lead_id)
    assert "first_touch" in before
    assert "j2:first_touch" not in before

    # Through ingest, as a website form reaches us: RecordEvent, the outbox, the coordinator.
    await m.clients.ingest.RecordEvent(
        ingest_pb.RecordEventRequest(
            event=ingest_pb.LeadEvent(
                lead_id=lead.lead_id,
                location_id=lead.location_id,
                type=FORM_SUBMIT,
                occurred_time=timestamps.to_proto(datetime.now(UTC)),
            ),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    now = await eventually(
        lambda: journey_of(m, lead.lead_id),
        lambda j: j.generation == 2 and j.HasField("first_touch_time"),
        "the inquiry's journey and its first touch",
    )
    assert now.state == pb.JOURNEY_STATE_ACTIVE
    assert now.journey_id != old.journey_id
    assert now.agent_id == old.agent_id  # routing keeps the lead's assignment: the agent who knew it
    assert not now.campaign_id

    after = await steps_of(migrated_dsn, lead.lead_id)
    touch = after["j2:first_touch"]
    assert touch["journey_id"] == uuid.UUID(now.journey_id)
    assert touch["status"] != pb.COMMUNICATION_STATUS_BLOCKED, touch["status_reason"]
    assert after["first_touch"] == before["first_touch"]  # the ended journey's rows stay as they were

    history = await journeys_of(m, lead.lead_id)
    assert [j.generation for j in history] == [2, 1]
    assert history[1].state == pb.JOURNEY_STATE_STOPPED
    assert history[1].stop_reason == "lead replied"


async def test_a_lead_with_an_active_journey_keeps_it(m: Mesh, migrated_dsn: str) -> None:
    lead = await started_lead(m)
    journey = await journey_of(m, lead.lead_id)
    assert journey.state == pb.JOURNEY_STATE_ACTIVE

    resp = await handle(m, form_submit(lead))

    assert resp.journey.journey_id == journey.journey_id
    assert [j.generation for j in await journeys_of(m, lead.lead_id)] == [1]
    assert not any(k.startswith("j2:") for k in await steps_of(migrated_dsn, lead.lead_id))


async def test_an_opted_out_or_stopped_lead_gets_no_new_journey(m: Mesh, migrated_dsn: str) -> None:
    opted_out = await started_lead(m)
    await handle(m, inbound(opted_out, "STOP"))
    await eventually(
        lambda: journey_of(m, opted_out.lead_id), lambda j: j.state == pb.JOURNEY_STATE_STOPPED, "the opt-out"
    )
    stopped = await started_lead(m)
    await m.clients.coordinator.StopJourney(
        pb.StopJourneyRequest(
            lead_id=stopped.lead_id,
            location_id=stopped.location_id,
            reason="bought elsewhere",
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )

    for lead in (opted_out, stopped):
        resp = await handle(m, form_submit(lead))
        assert resp.journey.generation == 1
        assert resp.journey.state == pb.JOURNEY_STATE_STOPPED
        assert [j.generation for j in await journeys_of(m, lead.lead_id)] == [1]
        assert not any(k.startswith("j2:") for k in await steps_of(migrated_dsn, lead.lead_id))


async def test_the_same_inquiry_twice_starts_one_journey(m: Mesh, migrated_dsn: str) -> None:
    one_after_the_other = await replied_lead(m, migrated_dsn)
    event = form_submit(one_after_the_other)
    first = await handle(m, event)
    again = await handle(m, event)
    assert first.journey.generation == 2
    assert not first.duplicate
    assert again.duplicate
    assert again.journey.journey_id == first.journey.journey_id

    # At once: both deliveries run before either is marked handled; one journey, one first touch.
    at_once = await replied_lead(m, migrated_dsn)
    event = form_submit(at_once)
    both = await asyncio.gather(handle(m, event), handle(m, event))
    assert both[0].journey.journey_id == both[1].journey.journey_id

    # A second, different inquiry while the first one's journey is active starts nothing either.
    later = await handle(m, form_submit(at_once))
    assert later.journey.journey_id == both[0].journey.journey_id

    for lead in (one_after_the_other, at_once):
        assert [j.generation for j in await journeys_of(m, lead.lead_id)] == [2, 1]
        steps = await steps_of(migrated_dsn, lead.lead_id)
        assert [k for k in steps if k.startswith("j2:first_touch")] == ["j2:first_touch"]
