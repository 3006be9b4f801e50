"""Cadences and journeys that walk them, through gRPC against real Postgres; the
scheduler is driven with an injected clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import grpc
import pytest
from google.protobuf import duration_pb2
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.coordinator.app import create_scheduler
from services.coordinator.delivery.scheduler import Scheduler
from services.coordinator.journeys import cadence
from shared import db, timestamps
from shared.clients import ContentClient
from tests.journeys import (
    DAY_HOURS,
    PHONE,
    TIME_TRAVEL_BATCH,
    add_agent,
    add_lead,
    comms_of,
    drain,
    eventually,
    handle,
    inbound,
    journey_of,
    started_lead,
    zone_where,
)
from tests.support import Mesh, error_reason, field_violations, service_config

SMS = common_pb2.CHANNEL_SMS
FOLLOW_UP = cadence.FOLLOW_UP


@pytest.fixture(scope="module")
async def stepper(migrated_dsn: str, m: Mesh) -> AsyncIterator[Scheduler]:
    """The real scheduler, writing cadence steps through the mesh's content service."""
    pool = await db.create_pool(migrated_dsn, schema="coordinator", service="coordinator-test", max_size=2)
    try:
        cfg = service_config("coordinator", migrated_dsn, scheduler_batch=TIME_TRAVEL_BATCH)
        yield create_scheduler(db.Database(pool), cfg, content=ContentClient(m.clients))
    finally:
        await pool.close()


def step(days: float, channel: int = SMS) -> pb.CadenceStep:
    return pb.CadenceStep(
        delay=duration_pb2.Duration(seconds=int(days * 86400)), channel=channel, purpose=FOLLOW_UP
    )


async def upsert(m: Mesh, loc: str, steps: list[pb.CadenceStep], **kw: object) -> pb.Cadence:
    resp = await m.clients.coordinator.UpsertCadence(
        pb.UpsertCadenceRequest(
            cadence=pb.Cadence(location_id=loc, name="test", steps=steps, is_default=True, **kw),  # type: ignore[arg-type]
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    return resp.cadence


async def walking_lead(m: Mesh, days: tuple[float, ...] = (0, 1, 3)) -> tuple[pb.Journey, ZoneInfo]:
    """A daytime lead in a location whose default cadence is texts after `days`."""
    loc = f"loc-{uuid.uuid4()}"
    await upsert(m, loc, [step(d) for d in days])
    await add_agent(m, loc)
    zone = zone_where(DAY_HOURS)
    lead = await add_lead(m, loc, phone=PHONE, timezone=zone, sms_consent=True)
    journey = await eventually(lambda: journey_of(m, lead.lead_id), lambda j: j.step_index == 1, "step 1")
    return journey, ZoneInfo(zone)


def by_status(comms: list[pb.Communication]) -> list[int]:
    return [c.status for c in reversed(comms) if c.direction == pb.DIRECTION_OUTBOUND]


def due(journey: pb.Journey) -> datetime:
    at = timestamps.from_proto(journey.next_step_time)
    assert at is not None
    return at


async def test_a_new_lead_gets_step_zero_and_step_one_at_the_same_local_time_a_day_later(
    m: Mesh, stepper: Scheduler
) -> None:
    journey, zone = await walking_lead(m)
    start = timestamps.from_proto(journey.first_touch_time)
    assert start is not None
    assert journey.cadence_id
    assert due(journey) == cadence.step_time(start, timedelta(days=1), zone)
    assert due(journey).astimezone(zone).time() == start.astimezone(zone).time()
    assert by_status(await comms_of(m, journey.lead_id)) == [
        pb.COMMUNICATION_STATUS_SIMULATED,
        pb.COMMUNICATION_STATUS_SCHEDULED,
    ]

    await drain(stepper, due(journey) + timedelta(seconds=1))
    comms = await comms_of(m, journey.lead_id)
    assert by_status(comms) == [pb.COMMUNICATION_STATUS_SIMULATED] * 2 + [pb.COMMUNICATION_STATUS_SCHEDULED]
    assert comms[1].body  # written by content when due
    after = await journey_of(m, journey.lead_id)
    assert after.step_index == 2
    assert due(after) == cadence.step_time(start, timedelta(days=3), zone)


async def test_a_reply_stops_the_journey_and_blocks_the_waiting_step(m: Mesh, stepper: Scheduler) -> None:
    journey, _ = await walking_lead(m)
    lead = (
        await m.clients.ingest.GetLead(
            ingest_pb.GetLeadRequest(lead_id=journey.lead_id, location_id=journey.location_id), timeout=5
        )
    ).lead
    await handle(m, inbound(lead, "Thanks, call me tomorrow"))
    await drain(stepper, due(journey) + timedelta(seconds=1))
    waiting = [c for c in await comms_of(m, journey.lead_id) if c.status_reason.startswith("journey stopped")]
    assert [c.status_reason for c in waiting] == ["journey stopped: lead replied"]
    assert not (await journey_of(m, journey.lead_id)).HasField("next_step_time")


async def test_stop_journey_blocks_the_waiting_step_with_the_reason(m: Mesh) -> None:
    journey, _ = await walking_lead(m)
    resp = await m.clients.coordinator.StopJourney(
        pb.StopJourneyRequest(
            lead_id=journey.lead_id,
            location_id=journey.location_id,
            reason="bought elsewhere",
            request_id="r1",
        ),
        timeout=5,
    )
    assert (resp.journey.state, resp.journey.stop_reason) == (pb.JOURNEY_STATE_STOPPED, "bought elsewhere")
    assert (await comms_of(m, journey.lead_id))[0].status_reason == "journey stopped: bought elsewhere"


async def test_a_paused_journey_waits_and_resumes_where_it_was(m: Mesh, stepper: Scheduler) -> None:
    journey, _ = await walking_lead(m)
    req = {
        "lead_id": journey.lead_id,
        "location_id": journey.location_id,
        "reason": "agent on it",
        "request_id": "p1",
    }
    paused = (await m.clients.coordinator.PauseJourney(pb.PauseJourneyRequest(**req), timeout=5)).journey
    assert paused.pause_reason == "agent on it"
    await drain(stepper, due(journey) + timedelta(seconds=1))
    assert by_status(await comms_of(m, journey.lead_id))[1] == pb.COMMUNICATION_STATUS_SCHEDULED

    await m.clients.coordinator.ResumeJourney(pb.ResumeJourneyRequest(**req), timeout=5)
    await drain(stepper, due(journey) + timedelta(seconds=2))
    assert by_status(await comms_of(m, journey.lead_id))[1] == pb.COMMUNICATION_STATUS_SIMULATED


async def test_a_persons_crm_message_pauses_automation_for_72_hours(m: Mesh, stepper: Scheduler) -> None:
    journey, _ = await walking_lead(m)
    lead = (
        await m.clients.ingest.GetLead(
            ingest_pb.GetLeadRequest(lead_id=journey.lead_id, location_id=journey.location_id), timeout=5
        )
    ).lead
    crm = inbound(lead, "Hi, it's Ana from the office")
    crm.kind = pb.LEAD_EVENT_KIND_OUTBOUND_MESSAGE
    paused = (await handle(m, crm)).journey
    ends = timestamps.from_proto(paused.pause_end_time)
    assert ends is not None
    assert abs(ends - (timestamps.now() + timedelta(hours=72))) < timedelta(minutes=1)
    await drain(stepper, due(journey) + timedelta(seconds=1))  # a day on: still paused
    assert by_status(await comms_of(m, journey.lead_id))[1] == pb.COMMUNICATION_STATUS_SCHEDULED
    await drain(stepper, ends + timedelta(seconds=1))
    assert by_status(await comms_of(m, journey.lead_id))[1] == pb.COMMUNICATION_STATUS_SIMULATED


async def test_deleting_the_lead_stops_the_journey_and_blocks_the_step(m: Mesh) -> None:
    journey, _ = await walking_lead(m)
    await m.clients.ingest.DeleteLead(
        ingest_pb.DeleteLeadRequest(
            lead_id=journey.lead_id, location_id=journey.location_id, request_id=str(uuid.uuid4())
        ),
        timeout=5,
    )
    await eventually(
        lambda: journey_of(m, journey.lead_id), lambda j: j.stop_reason == "lead deleted", "stop"
    )
    assert (await comms_of(m, journey.lead_id))[0].status_reason == "journey stopped: lead deleted"


@pytest.mark.parametrize(
    ("steps", "field"),
    [
        ([], "cadence.steps"),
        ([step(1), step(0.5)], "cadence.steps[1].delay"),
        ([step(0), step(1, common_pb2.CHANNEL_UNSPECIFIED)], "cadence.steps[1].channel"),
    ],
)
async def test_a_bad_cadence_is_refused_naming_the_field_and_nothing_is_stored(
    m: Mesh, steps: list[pb.CadenceStep], field: str
) -> None:
    loc = f"loc-{uuid.uuid4()}"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await upsert(m, loc, steps)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err.value) == [field]
    listed = await m.clients.coordinator.ListCadences(pb.ListCadencesRequest(location_id=loc), timeout=5)
    assert list(listed.cadences) == []


async def test_cadences_list_get_and_one_default_per_location(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    first = await upsert(m, loc, [step(0)])
    second = await upsert(m, loc, [step(0), step(2)])
    got = await m.clients.coordinator.GetCadence(
        pb.GetCadenceRequest(cadence_id=first.cadence_id, location_id=first.location_id), timeout=5
    )
    assert not got.cadence.is_default  # the new default cleared it
    page = await m.clients.coordinator.ListCadences(
        pb.ListCadencesRequest(location_id=loc, page_size=1), timeout=5
    )
    assert [c.cadence_id for c in page.cadences] == [second.cadence_id]
    rest = await m.clients.coordinator.ListCadences(
        pb.ListCadencesRequest(location_id=loc, page_size=1, page_token=page.next_page_token), timeout=5
    )
    assert [c.cadence_id for c in rest.cadences] == [first.cadence_id]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await m.clients.coordinator.GetCadence(
            pb.GetCadenceRequest(cadence_id=str(uuid.uuid4()), location_id="loc-never-stored"), timeout=5
        )
    assert error_reason(err.value) == "CADENCE_NOT_FOUND"


async def test_concurrent_first_journeys_create_one_default_cadence(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(m, loc)
    leads = await asyncio.gather(
        *(
            add_lead(m, loc, phone="+15125550100", timezone="America/Chicago", sms_consent=True)
            for _ in range(6)
        )
    )
    journeys = [
        await eventually(lambda lead=lead: journey_of(m, lead.lead_id), lambda j: bool(j.cadence_id), "walk")
        for lead in leads
    ]
    listed = await m.clients.coordinator.ListCadences(pb.ListCadencesRequest(location_id=loc), timeout=5)
    assert [(c.name, c.is_default) for c in listed.cadences] == [(cadence.DEFAULT_NAME, True)]
    assert {j.cadence_id for j in journeys} == {listed.cadences[0].cadence_id}


async def test_journey_control_needs_a_journey_and_a_reason(m: Mesh) -> None:
    lead = await started_lead(m)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await m.clients.coordinator.StopJourney(
            pb.StopJourneyRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
        )
    assert field_violations(err.value) == ["reason"]
    # No caller of the mesh stops journeys: every caller names the location it acts for.
    control = m.clients.coordinator
    for unclaimed in (
        lambda: control.StopJourney(pb.StopJourneyRequest(lead_id=lead.lead_id, reason="x"), timeout=5),
        lambda: control.PauseJourney(pb.PauseJourneyRequest(lead_id=lead.lead_id, reason="x"), timeout=5),
        lambda: control.ResumeJourney(pb.ResumeJourneyRequest(lead_id=lead.lead_id), timeout=5),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await unclaimed()
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(err.value) == ["location_id"]
    assert (await journey_of(m, lead.lead_id)).state == pb.JOURNEY_STATE_ACTIVE
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await m.clients.coordinator.PauseJourney(
            pb.PauseJourneyRequest(lead_id=str(uuid.uuid4()), location_id=lead.location_id, reason="x"),
            timeout=5,
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_new_default_cadence_is_pinned_by_the_next_journey_not_by_a_walking_one(m: Mesh) -> None:
    first, _ = await walking_lead(m)
    loc = first.location_id
    listed = await m.clients.coordinator.ListCadences(pb.ListCadencesRequest(location_id=loc), timeout=5)
    assert [c.cadence_id for c in listed.cadences] == [first.cadence_id]
    newer = await upsert(m, loc, [step(0), step(5)])
    lead = await add_lead(m, loc, phone=PHONE, timezone=zone_where(DAY_HOURS), sms_consent=True)
    second = await eventually(lambda: journey_of(m, lead.lead_id), lambda j: bool(j.cadence_id), "walk")
    assert second.cadence_id == newer.cadence_id
    assert (await journey_of(m, first.lead_id)).cadence_id == first.cadence_id
