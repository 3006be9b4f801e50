"""Recovery of leads whose journey ended (#8), through gRPC against real Postgres: a recovery
campaign starts the lead's next journey (generation 2, its own step keys) and leaves the ended
one's rows as they were; which ends allow it (a cadence finished, a reply long enough ago) and
which never do (an opt-out, a conversion, a person's stop); never two active journeys under
concurrent enrolment. The enroller and the scheduler are driven with an injected clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import grpc
import pytest
from google.protobuf import duration_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from services.coordinator.app import create_scheduler
from services.coordinator.campaigns.repository import CampaignRepository
from services.coordinator.delivery.scheduler import Scheduler
from services.coordinator.journeys import cadence
from shared import db, timestamps
from shared.clients import ContentClient
from tests.campaigns import campaign_of, day_end, drain, enroller_of, gathered, import_leads, start_campaign
from tests.journeys import (
    DAY_HOURS,
    SMS,
    TIME_TRAVEL_BATCH,
    add_agent,
    eventually,
    handle,
    inbound,
    journey_of,
    started_lead,
    unique_phone,
    zone_where,
)
from tests.journeys import drain as drain_scheduler
from tests.support import Mesh, location_of, mesh, service_config

REPLY = "Thanks, we will think about it"


@pytest.fixture(scope="module")
async def m(migrated_dsn: str) -> AsyncIterator[Mesh]:
    overrides = {
        "ingest": {"outbox_poll_s": 0.1},
        "content": {"postal_address": "1 Main St, Austin, TX 78701"},
        # Background enroller and scheduler stay idle after their first round: tests move time.
        "coordinator": {"campaign_poll_s": 3600.0, "scheduler_poll_s": 3600.0},
    }
    async with mesh(migrated_dsn, overrides=overrides) as running:
        yield running


@pytest.fixture(scope="module")
async def stepper(migrated_dsn: str, m: Mesh) -> AsyncIterator[Scheduler]:
    pool = await db.create_pool(migrated_dsn, schema="coordinator", service="coordinator-test", max_size=2)
    try:
        cfg = service_config("coordinator", migrated_dsn, scheduler_batch=TIME_TRAVEL_BATCH)
        yield create_scheduler(db.Database(pool), cfg, content=ContentClient(m.clients))
    finally:
        await pool.close()


async def rows_of(dsn: str, table: str, lead_id: str) -> dict[str, dict[str, Any]]:
    """A lead's communications or notifications by step key, as stored."""
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "coordinator"})
    try:
        rows = await conn.fetch(f"SELECT * FROM {table} WHERE lead_id = $1", uuid.UUID(lead_id))
    finally:
        await conn.close()
    return {r["step_key"]: dict(r) for r in rows if r["step_key"]}


async def journeys_of(m: Mesh, lead_id: str) -> list[pb.Journey]:
    resp = await m.clients.coordinator.ListJourneys(
        pb.ListJourneysRequest(lead_id=lead_id, location_id=await location_of(m, lead_id)), timeout=5
    )
    return list(resp.journeys)


async def ended(m: Mesh, lead: Any, reason: str) -> pb.Journey:
    return await eventually(
        lambda: journey_of(m, lead.lead_id), lambda j: j.stop_reason == reason, f"journey ended: {reason}"
    )


async def replied_lead(m: Mesh, loc: str) -> Any:
    lead = await started_lead(m, location=loc, email=f"rae.{uuid.uuid4().hex[:8]}@example.com")
    await handle(m, inbound(lead, REPLY))
    await ended(m, lead, "lead replied")
    return lead


async def test_a_replied_lead_gets_a_new_journey_whose_steps_have_keys_of_their_own(
    m: Mesh, stepper: Scheduler, migrated_dsn: str
) -> None:
    loc = f"loc-{uuid.uuid4()}"
    lead = await replied_lead(m, loc)
    old = await journey_of(m, lead.lead_id)
    assert old.generation == 1
    before = await rows_of(migrated_dsn, "communications", lead.lead_id)
    assert before["step:1"]["status"] == pb.COMMUNICATION_STATUS_BLOCKED  # the reply stopped it
    assert before["first_touch"]["status"] == pb.COMMUNICATION_STATUS_SIMULATED

    started, start, enroller = await gathered(m, loc, daily_limit=10)
    assert (await campaign_of(m, started.campaign_id)).counts.audience == 1
    await drain(enroller, day_end(start, 0))

    now = await journey_of(m, lead.lead_id)
    assert now.state == pb.JOURNEY_STATE_ACTIVE
    assert now.generation == 2
    assert now.campaign_id == started.campaign_id
    assert now.journey_id != old.journey_id
    listed = await journeys_of(m, lead.lead_id)
    assert [(j.journey_id, j.generation) for j in listed] == [(now.journey_id, 2), (old.journey_id, 1)]
    assert listed[1].state == pb.JOURNEY_STATE_STOPPED
    assert listed[1].stop_reason == "lead replied"
    assert listed[1].campaign_id == ""

    after = await rows_of(migrated_dsn, "communications", lead.lead_id)
    for key, row in before.items():  # the ended journey's messages are untouched
        assert after[key] == row, key
    touch = after["j2:first_touch"]
    assert touch["journey_id"] == uuid.UUID(now.journey_id)
    assert touch["status"] == pb.COMMUNICATION_STATUS_SIMULATED
    assert "while" in touch["body"]  # re-engagement, not the old first touch replayed
    assert touch["body"] != before["first_touch"]["body"]
    step = after["j2:step:1"]  # the recovery cadence's email at once, waiting for the scheduler
    assert step["status"] == pb.COMMUNICATION_STATUS_SCHEDULED
    assert step["journey_id"] == uuid.UUID(now.journey_id)

    await drain_scheduler(stepper, datetime.now(step["scheduled_time"].tzinfo) + timedelta(seconds=1))
    sent = (await rows_of(migrated_dsn, "communications", lead.lead_id))["j2:step:1"]
    assert sent["status"] == pb.COMMUNICATION_STATUS_SIMULATED
    assert sent["body"]
    assert (await rows_of(migrated_dsn, "communications", lead.lead_id))["step:1"] == before["step:1"]

    # The agent heard of both journeys, each once.
    notes = await rows_of(migrated_dsn, "notifications", lead.lead_id)
    assert {"assigned", "j2:assigned"} <= notes.keys()
    counts = (await campaign_of(m, started.campaign_id)).counts
    assert counts.enrolled == 1
    assert counts.sent == 2
    assert counts.replied == 0  # the reply belongs to the ended journey

    # The timeline names the new journey's steps as its own.
    timeline = await m.clients.coordinator.GetLeadTimeline(
        pb.GetLeadTimelineRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    assert any("of journey 2" in e.summary for e in timeline.entries)

    # StopJourney acts on the current journey; the ended one keeps why it ended.
    stopped = await m.clients.coordinator.StopJourney(
        pb.StopJourneyRequest(
            lead_id=lead.lead_id,
            location_id=lead.location_id,
            reason="agent took over",
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    assert (stopped.journey.generation, stopped.journey.stop_reason) == (2, "agent took over")
    listed = await journeys_of(m, lead.lead_id)
    assert [(j.generation, j.stop_reason) for j in listed] == [(2, "agent took over"), (1, "lead replied")]
    final = await rows_of(migrated_dsn, "communications", lead.lead_id)
    assert final["j2:step:2"]["status_reason"] == "journey stopped: agent took over"
    assert final["step:1"] == before["step:1"]


async def test_only_a_finished_cadence_or_a_reply_lets_a_recovery_follow(m: Mesh, migrated_dsn: str) -> None:
    loc = f"loc-{uuid.uuid4()}"
    # A one-step cadence: the first touch is the whole walk, so a journey completes at once.
    await m.clients.coordinator.UpsertCadence(
        pb.UpsertCadenceRequest(
            cadence=pb.Cadence(
                location_id=loc,
                name="one touch",
                is_default=True,
                steps=[pb.CadenceStep(delay=duration_pb2.Duration(), channel=SMS, purpose=cadence.FOLLOW_UP)],
            ),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    completed = await started_lead(m, location=loc)
    done = await eventually(
        lambda: journey_of(m, completed.lead_id),
        lambda j: j.state == pb.JOURNEY_STATE_COMPLETED,
        "the walk to complete",
    )
    assert done.stop_reason.startswith("cadence finished")

    opted_out = await started_lead(m, location=loc)
    await handle(m, inbound(opted_out, "STOP"))
    await eventually(
        lambda: journey_of(m, opted_out.lead_id), lambda j: j.state == pb.JOURNEY_STATE_STOPPED, "opt-out"
    )

    converted = await started_lead(m, location=loc)
    await handle(m, inbound(converted, REPLY))
    await ended(m, converted, "lead replied")
    won = await m.clients.coordinator.HandleOutcome(
        pb.HandleOutcomeRequest(
            event_id=str(uuid.uuid4()),
            lead_id=converted.lead_id,
            location_id=loc,
            outcome=routing_pb.OUTCOME_WON,
        ),
        timeout=10,
    )
    assert won.journey.stop_reason == "lead converted (outcome WON)"  # the conversion outranks the reply

    stopped = await started_lead(m, location=loc)
    await m.clients.coordinator.StopJourney(
        pb.StopJourneyRequest(
            lead_id=stopped.lead_id,
            location_id=stopped.location_id,
            reason="bought elsewhere",
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )

    preview = await m.clients.coordinator.PreviewCampaign(
        pb.PreviewCampaignRequest(
            campaign=pb.Campaign(location_id=loc, name="p", daily_limit=10), sample_size=1
        ),
        timeout=30,
    )
    assert preview.audience_size == 1

    started, start, enroller = await gathered(m, loc, daily_limit=10)
    assert (await campaign_of(m, started.campaign_id)).counts.audience == 1
    await drain(enroller, day_end(start, 0))
    recovered = await journey_of(m, completed.lead_id)
    assert (recovered.generation, recovered.state) == (2, pb.JOURNEY_STATE_ACTIVE)
    for lead in (opted_out, converted, stopped):
        assert len(await journeys_of(m, lead.lead_id)) == 1
        comms = await rows_of(migrated_dsn, "communications", lead.lead_id)
        assert not [k for k in comms if k.startswith("j2:")]


async def test_a_reply_since_the_cut_off_keeps_a_lead_out_and_an_imported_last_activity_lets_it_in(
    m: Mesh,
) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(m, loc, phone="+12125550123")
    long_ago = timestamps.now() - timedelta(days=200)
    given = ingest_pb.Lead(
        first_name="Ola",
        phone=unique_phone(),
        timezone=zone_where(DAY_HOURS),
        sms_consent=True,
        last_activity_time=timestamps.to_proto(long_ago),
    )
    (lead,) = await import_leads(m, loc, [given])
    assert timestamps.from_proto(lead.last_activity_time) == long_ago

    # Quiet for 200 days by the import, though imported today: a 90-day campaign finds it.
    ninety, start, enroller = await _gathered_inactive(m, loc, 90)
    assert (await campaign_of(m, ninety.campaign_id)).counts.audience == 1
    await drain(enroller, day_end(start, 0))
    journey = await journey_of(m, lead.lead_id)
    assert (journey.generation, journey.campaign_id) == (1, ninety.campaign_id)

    # It replies: ingest sees no activity, but the coordinator saw the reply.
    await handle(m, inbound(lead, REPLY))
    await ended(m, lead, "lead replied")
    quiet = await m.clients.ingest.ListLeads(
        ingest_pb.ListLeadsRequest(
            location_id=loc, inactive_since_time=timestamps.to_proto(timestamps.now() - timedelta(days=90))
        ),
        timeout=5,
    )
    assert [q.lead_id for q in quiet.leads] == [lead.lead_id]
    again, _, enroller = await _gathered_inactive(m, loc, 90)
    assert (await campaign_of(m, again.campaign_id)).counts.audience == 0
    # A campaign with no inactivity rule may follow the reply, a previous campaign's lead or not.
    anyway, start3, enroller = await gathered(m, loc, daily_limit=10)
    assert (await campaign_of(m, anyway.campaign_id)).counts.audience == 1
    await drain(enroller, day_end(start3, 0))
    recovered = await journey_of(m, lead.lead_id)
    assert (recovered.generation, recovered.campaign_id) == (2, anyway.campaign_id)


async def _gathered_inactive(m: Mesh, loc: str, days: int) -> tuple[pb.Campaign, datetime, Any]:
    started = await start_campaign(m, loc, 10, min_days_inactive=days)
    start = timestamps.from_proto(started.create_time)
    assert start is not None
    enroller = enroller_of(m)
    await drain(enroller, start)
    return started, start, enroller


async def test_concurrent_enrolments_start_one_journey(m: Mesh, migrated_dsn: str) -> None:
    loc = f"loc-{uuid.uuid4()}"
    replied = await replied_lead(m, loc)
    (fresh,) = await import_leads(
        m, loc, [ingest_pb.Lead(first_name="Nia", phone=unique_phone(), timezone=zone_where(DAY_HOURS))]
    )
    campaigns = [await start_campaign(m, loc, 10) for _ in range(3)]
    pool = await db.create_pool(migrated_dsn, schema="coordinator", service="coordinator-test", max_size=12)
    try:
        repo = CampaignRepository(db.Database(pool))
        stored = [await repo.get(uuid.UUID(c.campaign_id)) for c in campaigns]
        for lead in (replied, fresh):
            won = await asyncio.gather(
                *(repo.enrol_journey(c, uuid.UUID(lead.lead_id)) for c in stored for _ in range(4))
            )
            started = [j for j in won if j is not None]
            # One winner; a retry by the winner's own campaign finds its journey again.
            assert len({j.journey_id for j in started}) == 1, won
            assert len({j.campaign_id for j in started}) == 1
    finally:
        await pool.close()
    conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "coordinator"})
    try:
        for lead, generations in ((replied, [1, 2]), (fresh, [1])):
            rows = await conn.fetch(
                "SELECT generation, state, current FROM journeys WHERE lead_id = $1 ORDER BY generation",
                uuid.UUID(lead.lead_id),
            )
            assert [r["generation"] for r in rows] == generations
            assert [r["current"] for r in rows] == [False] * (len(rows) - 1) + [True]
            assert sum(r["state"] == pb.JOURNEY_STATE_ACTIVE for r in rows) == 1
    finally:
        await conn.close()


async def test_list_journeys_of_an_unknown_lead_is_not_found(m: Mesh) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await m.clients.coordinator.ListJourneys(
            pb.ListJourneysRequest(lead_id=str(uuid.uuid4()), location_id="loc-never-stored"), timeout=5
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await m.clients.coordinator.ListJourneys(
            pb.ListJourneysRequest(lead_id="nope", location_id="loc-never-stored"), timeout=5
        )
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_person_cannot_stop_a_journey_with_the_engines_own_words(m: Mesh) -> None:
    # "lead replied" is a recoverable end; a person's stop never is, whatever its words.
    loc = f"loc-{uuid.uuid4().hex[:8]}"
    lead = await started_lead(m, location=loc)
    for words in (" Lead replied ", "lead converted (outcome WON)", "opted out of every channel"):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await m.clients.coordinator.StopJourney(
                pb.StopJourneyRequest(
                    lead_id=lead.lead_id, location_id=loc, reason=words, request_id=str(uuid.uuid4())
                ),
                timeout=5,
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "reserved" in (refused.value.details() or "")
    assert (await journey_of(m, lead.lead_id)).state == pb.JOURNEY_STATE_ACTIVE
    stopped = await m.clients.coordinator.StopJourney(
        pb.StopJourneyRequest(
            lead_id=lead.lead_id,
            location_id=loc,
            reason="the lead replied by phone",
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    assert stopped.journey.stop_reason == "the lead replied by phone"
