"""A later cadence step in suggest mode: written when due as a draft that waits, the walk
moving on; approved and sent later, it goes out without moving the walk back. All five
services in-process, real PostgreSQL; the scheduler driven with an injected clock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from google.protobuf import duration_pb2
from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.app import create_scheduler
from services.coordinator.delivery.scheduler import Scheduler
from services.coordinator.journeys import cadence
from shared import db, timestamps
from shared.clients import ContentClient
from tests.journeys import (
    DAY_HOURS,
    TIME_TRAVEL_BATCH,
    add_agent,
    add_lead,
    comms_of,
    drain,
    eventually,
    journey_of,
    unique_phone,
    zone_where,
)
from tests.support import Mesh, service_config


@pytest.fixture(scope="module")
async def stepper(migrated_dsn: str, m: Mesh) -> AsyncIterator[Scheduler]:
    pool = await db.create_pool(migrated_dsn, schema="coordinator", service="coordinator-test", max_size=2)
    try:
        cfg = service_config("coordinator", migrated_dsn, scheduler_batch=TIME_TRAVEL_BATCH)
        yield create_scheduler(db.Database(pool), cfg, content=ContentClient(m.clients))
    finally:
        await pool.close()


def text_after(days: int) -> pb.CadenceStep:
    return pb.CadenceStep(
        delay=duration_pb2.Duration(seconds=days * 86400),
        channel=common_pb2.CHANNEL_SMS,
        purpose=cadence.FOLLOW_UP,
    )


async def test_a_due_step_waits_for_approval_and_goes_out_once_approved(m: Mesh, stepper: Scheduler) -> None:
    loc = f"loc-{uuid.uuid4()}"
    settings = content_pb.LocationContentSettings(
        location_id=loc, approval_mode=content_pb.APPROVAL_MODE_SUGGEST
    )
    await m.clients.content.SetLocationContentSettings(
        content_pb.SetLocationContentSettingsRequest(settings=settings), timeout=5
    )
    await m.clients.coordinator.UpsertCadence(
        pb.UpsertCadenceRequest(
            cadence=pb.Cadence(
                location_id=loc, name="t", steps=[text_after(d) for d in (0, 1, 3)], is_default=True
            ),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    await add_agent(m, loc)
    lead = await add_lead(m, loc, phone=unique_phone(), timezone=zone_where(DAY_HOURS), sms_consent=True)
    journey = await eventually(lambda: journey_of(m, lead.lead_id), lambda j: j.step_index == 1, "step 1")
    due = timestamps.from_proto(journey.next_step_time)
    assert due is not None

    await drain(stepper, due + timedelta(seconds=1))
    # Newest first: step 1, then the first touch, both drafts waiting for an agent.
    waiting = [c for c in await comms_of(m, lead.lead_id) if c.awaiting_approval]
    assert len(waiting) == 2
    step = waiting[0]
    walked = await journey_of(m, lead.lead_id)
    assert walked.step_index == 2  # the walk did not wait for the agent
    assert step.status == pb.COMMUNICATION_STATUS_BLOCKED
    assert step.message_id
    assert step.address == lead.phone

    await m.clients.content.ApproveMessage(
        content_pb.ApproveMessageRequest(message_id=step.message_id, agent_id="agent-7", location_id=loc),
        timeout=5,
    )
    sent = (
        await m.clients.coordinator.SendApprovedMessage(
            pb.SendApprovedMessageRequest(message_id=step.message_id, location_id=loc), timeout=10
        )
    ).communication
    # No provider credentials in this mesh: every gate passed, recorded as SIMULATED.
    assert sent.communication_id == step.communication_id
    assert sent.status == pb.COMMUNICATION_STATUS_SIMULATED
    assert sent.body
    after = await journey_of(m, lead.lead_id)
    assert (after.step_index, after.next_step_time) == (walked.step_index, walked.next_step_time)
