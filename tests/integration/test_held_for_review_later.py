"""Texts held for review after the first touch tell the lead's agent, once per lead: a
cadence step the scheduler holds, and a trigger touch held when it is recorded. Real
services in-process on real PostgreSQL; the scheduler is driven with an injected clock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from google.protobuf import duration_pb2, field_mask_pb2
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.coordinator.app import create_notification_delivery, create_scheduler
from services.coordinator.compliance import gates
from services.coordinator.compliance.repository import ConsentRepository
from services.coordinator.delivery.scheduler import Scheduler
from services.coordinator.journeys import cadence
from services.coordinator.journeys.cadence_repository import CadenceRepository
from services.coordinator.notifications.held_later import HeldNotices
from services.coordinator.notifications.notifier import AgentNotifier
from services.coordinator.notifications.repository import NotificationRepository
from shared import db, timestamps
from shared.clients import ContentClient, RoutingClient
from tests.integration.test_trigger_touches import FAVORITE, behave
from tests.journeys import (
    DAY_HOURS,
    TIME_TRAVEL_BATCH,
    add_agent,
    add_lead,
    comms_of,
    drain,
    eventually,
    journey_of,
    notes_of,
    started_lead,
    unique_phone,
    zone_where,
)
from tests.support import Mesh, service_config

SMS = common_pb2.CHANNEL_SMS
SCHEDULED = pb.COMMUNICATION_STATUS_SCHEDULED


@pytest.fixture(scope="module")
async def database(migrated_dsn: str) -> AsyncIterator[db.Database]:
    pool = await db.create_pool(migrated_dsn, schema="coordinator", service="held-test", max_size=2)
    try:
        yield db.Database(pool)
    finally:
        await pool.close()


@pytest.fixture(scope="module")
async def stepper(migrated_dsn: str, m: Mesh, database: db.Database) -> Scheduler:
    """The real scheduler, writing steps through the mesh's content and telling agents of holds
    as the coordinator's own does (no provider: notifications are SIMULATED)."""
    cfg = service_config("coordinator", migrated_dsn, scheduler_batch=TIME_TRAVEL_BATCH)
    notes = AgentNotifier(NotificationRepository(database), create_notification_delivery(database, cfg, {}))
    held = HeldNotices(notes, RoutingClient(m.clients), CadenceRepository(database))
    return create_scheduler(database, cfg, content=ContentClient(m.clients), held=held)


def held_notes(notes: list[pb.Notification]) -> list[pb.Notification]:
    return [n for n in notes if "are held: " in n.body]


async def lose_zone(m: Mesh, lead: ingest_pb.Lead, database: db.Database) -> None:
    """The lead's time zone is cleared in the CRM; its toll-free number gives none: from now
    on its local time cannot be told. Returns once the coordinator knows."""
    await m.clients.ingest.UpsertLead(
        ingest_pb.UpsertLeadRequest(
            lead=ingest_pb.Lead(lead_id=lead.lead_id, location_id=lead.location_id, timezone=""),
            update_mask=field_mask_pb2.FieldMask(paths=["timezone"]),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    consents = ConsentRepository(database)

    async def facts() -> gates.ContactFacts | None:
        return await consents.find_facts(uuid.UUID(lead.lead_id))

    await eventually(facts, lambda f: f is not None and not f.timezone, "the coordinator to see the update")


async def test_a_cadence_step_held_for_review_tells_the_agent_once(
    m: Mesh, stepper: Scheduler, database: db.Database
) -> None:
    loc = f"loc-{uuid.uuid4()}"
    days = (0, 1, 3)
    await m.clients.coordinator.UpsertCadence(
        pb.UpsertCadenceRequest(
            cadence=pb.Cadence(
                location_id=loc,
                name="held",
                is_default=True,
                steps=[
                    pb.CadenceStep(
                        delay=duration_pb2.Duration(seconds=d * 86400), channel=SMS, purpose=cadence.FOLLOW_UP
                    )
                    for d in days
                ],
            ),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    await add_agent(m, loc, phone="+12125550123")
    lead = await add_lead(
        m, loc, phone=unique_phone(), timezone=zone_where(DAY_HOURS), sms_consent=True, first_name="Hal"
    )
    journey = await eventually(lambda: journey_of(m, lead.lead_id), lambda j: j.step_index == 1, "step 1")
    # The first touch went (its zone was known): no hold, no notice.
    assert held_notes(await notes_of(m, lead.lead_id)) == []

    await lose_zone(m, lead, database)
    due = timestamps.from_proto(journey.next_step_time)
    assert due is not None
    await drain(stepper, due + timedelta(seconds=1))
    step = await eventually(
        lambda: comms_of(m, lead.lead_id),
        lambda cs: any(c.status_reason == gates.ZONE_UNKNOWN for c in cs),
        "step 1 held",
    )
    held = [c for c in step if c.status_reason == gates.ZONE_UNKNOWN]
    assert [(c.status, c.HasField("scheduled_time")) for c in held] == [(SCHEDULED, False)]
    notes = held_notes(await notes_of(m, lead.lead_id))
    assert [n.status for n in notes] == [pb.COMMUNICATION_STATUS_SIMULATED]
    assert lead.phone in notes[0].body
    assert notes[0].body.startswith("Texts to Hal")

    # Step 2 is held too: the agent was told already, and is not told again.
    after = await journey_of(m, lead.lead_id)
    later: datetime | None = timestamps.from_proto(after.next_step_time)
    assert later is not None
    await drain(stepper, later + timedelta(seconds=1))
    comms = await comms_of(m, lead.lead_id)
    assert len([c for c in comms if c.status_reason == gates.ZONE_UNKNOWN]) == 2
    assert len(held_notes(await notes_of(m, lead.lead_id))) == 1


async def test_a_trigger_touch_held_for_review_tells_the_agent(m: Mesh, database: db.Database) -> None:
    lead = await started_lead(m, first_name="Ivy")
    assert held_notes(await notes_of(m, lead.lead_id)) == []
    await lose_zone(m, lead, database)
    before = {c.communication_id for c in await comms_of(m, lead.lead_id)}
    await behave(m, lead, kind=FAVORITE)
    comms = await eventually(
        lambda: comms_of(m, lead.lead_id),
        lambda cs: any(c.communication_id not in before for c in cs),
        "the trigger touch",
    )
    (touch,) = [c for c in comms if c.communication_id not in before]
    assert (touch.status, touch.status_reason, touch.HasField("scheduled_time")) == (
        SCHEDULED,
        gates.ZONE_UNKNOWN,
        False,
    )
    notes = held_notes(await notes_of(m, lead.lead_id))
    assert len(notes) == 1
    assert lead.phone in notes[0].body
    assert gates.ZONE_UNKNOWN in notes[0].body
