"""A returning inquiry right after a reply goes to the agent, not to automation, through gRPC
against real Postgres (journeys/reply_guard.py): a lead who replied within
COORDINATOR_INQUIRY_AFTER_REPLY_HOURS (default 72) and submits a form gets no new journey and no
first touch; the lead's agent is told once per event, a redelivery included. A reply older than
that starts the new journey as before, and tells the agent nothing extra."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from tests.integration.test_returning_inquiries import form_submit, journeys_of, replied_lead, steps_of
from tests.journeys import handle, journey_of
from tests.support import Mesh, mesh

HELD = "inquiry_after_reply:"


@pytest.fixture(scope="module")
async def m(migrated_dsn: str) -> AsyncIterator[Mesh]:
    async with mesh(migrated_dsn, overrides={"ingest": {"outbox_poll_s": 0.1}}) as running:
        yield running


async def held_notes(dsn: str, lead_id: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "coordinator"})
    try:
        rows = await conn.fetch(
            "SELECT * FROM notifications WHERE lead_id = $1 AND step_key LIKE $2",
            uuid.UUID(lead_id),
            HELD + "%",
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


async def test_a_form_minutes_after_a_reply_starts_no_journey_and_tells_the_agent_once(
    m: Mesh, migrated_dsn: str
) -> None:
    lead = await replied_lead(m, migrated_dsn, quiet_h=0)
    ended = await journey_of(m, lead.lead_id)
    event = form_submit(lead)

    first = await handle(m, event)
    again = await handle(m, event)  # the outbox redelivers it

    assert first.journey.journey_id == ended.journey_id
    assert first.journey.state == pb.JOURNEY_STATE_STOPPED
    assert again.duplicate
    assert [j.generation for j in await journeys_of(m, lead.lead_id)] == [1]
    assert not any(k.startswith("j2:") for k in await steps_of(migrated_dsn, lead.lead_id))

    held = await held_notes(migrated_dsn, lead.lead_id)
    assert [n["step_key"] for n in held] == [HELD + event.event_id]
    assert held[0]["agent_id"] == uuid.UUID(ended.agent_id)
    assert held[0]["status"] != pb.COMMUNICATION_STATUS_BLOCKED, held[0]["status_reason"]
    notes = await m.clients.coordinator.ListNotifications(
        pb.ListNotificationsRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    texts = [n.body for n in notes.notifications if "new inquiry" in n.body]
    assert len(texts) == 1
    assert "No automated message was sent" in texts[0]
    assert lead.phone in texts[0]

    # The same event once more after a marked-handled one is a duplicate too; a second, different
    # form is its own inquiry: one more notice, still no journey.
    later = form_submit(lead)
    await handle(m, later)
    held = await held_notes(migrated_dsn, lead.lead_id)
    assert sorted(n["step_key"] for n in held) == sorted([HELD + event.event_id, HELD + later.event_id])
    assert [j.generation for j in await journeys_of(m, lead.lead_id)] == [1]


async def test_a_redelivery_not_yet_marked_handled_still_notifies_once(m: Mesh, migrated_dsn: str) -> None:
    # Forget the handled mark, as when the process died after notifying: the held decision
    # stands (the notice exists), so neither a second notice nor a journey follows.
    lead = await replied_lead(m, migrated_dsn, quiet_h=0)
    event = form_submit(lead)
    await handle(m, event)
    conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "coordinator"})
    try:
        forgot = await conn.execute("DELETE FROM processed_events WHERE event_id = $1", event.event_id)
        # The reply is now old: without the recorded decision this delivery would start a journey.
        await conn.execute(
            "UPDATE communications SET create_time = create_time - interval '96 hours'"
            " WHERE lead_id = $1 AND direction = $2",
            uuid.UUID(lead.lead_id),
            pb.DIRECTION_INBOUND,
        )
    finally:
        await conn.close()
    assert forgot == "DELETE 1"

    resp = await handle(m, event)

    assert not resp.duplicate
    assert [j.generation for j in await journeys_of(m, lead.lead_id)] == [1]
    assert len(await held_notes(migrated_dsn, lead.lead_id)) == 1


async def test_a_form_days_after_a_reply_starts_the_new_journey_as_before(m: Mesh, migrated_dsn: str) -> None:
    lead = await replied_lead(m, migrated_dsn, quiet_h=73)

    resp = await handle(m, form_submit(lead))

    assert resp.journey.generation == 2
    assert resp.journey.state == pb.JOURNEY_STATE_ACTIVE
    assert "j2:first_touch" in await steps_of(migrated_dsn, lead.lead_id)
    assert await held_notes(migrated_dsn, lead.lead_id) == []


async def test_0_hours_turns_the_guard_off(migrated_dsn: str) -> None:
    overrides = {"ingest": {"outbox_poll_s": 0.1}, "coordinator": {"inquiry_after_reply_h": 0.0}}
    async with mesh(migrated_dsn, overrides=overrides) as off:
        lead = await replied_lead(off, migrated_dsn, quiet_h=0)

        resp = await handle(off, form_submit(lead))

        assert resp.journey.generation == 2
        assert resp.journey.state == pb.JOURNEY_STATE_ACTIVE
        assert await held_notes(migrated_dsn, lead.lead_id) == []
