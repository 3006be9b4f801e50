"""Recovery campaigns through gRPC against real Postgres: audience, throttling at
daily_limit, dedupe across campaigns and journeys, opt-outs, pause, preview that writes
nothing, and counts. The enroller is the coordinator's own, driven with an injected clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import timedelta
from zoneinfo import ZoneInfo

import asyncpg
import grpc
import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as intelligence_pb

from cli import campaign as cli_campaign
from cli.main import build_parser
from services.coordinator.campaigns.campaign import CampaignNotActive
from services.coordinator.campaigns.repository import CampaignRepository
from shared import db, timestamps
from shared.clients import Peers
from tests.campaigns import campaign_of, day_end, drain, enroller_of, gathered, import_leads, start_campaign
from tests.journeys import (
    DAY_HOURS,
    add_agent,
    add_lead,
    eventually,
    handle,
    inbound,
    journey_of,
    unique_phone,
    zone_where,
)
from tests.support import SERVICES, Mesh, error_reason, field_violations, mesh


@pytest.fixture(scope="module")
async def m(migrated_dsn: str) -> AsyncIterator[Mesh]:
    overrides = {
        "ingest": {"outbox_poll_s": 0.1},
        "content": {"postal_address": "1 Main St, Austin, TX 78701"},
        # The background enroller and scheduler stay idle (after their first round); tests
        # move time with run_once(now), and nothing writes behind a preview's back.
        "coordinator": {"campaign_poll_s": 3600.0, "scheduler_poll_s": 3600.0},
    }
    async with mesh(migrated_dsn, overrides=overrides) as running:
        yield running


def quiet_leads(n: int, **kw: object) -> list[ingest_pb.Lead]:
    """Leads in a zone where it is day now, each with a number of its own and SMS consent."""
    zone = zone_where(DAY_HOURS)
    return [
        ingest_pb.Lead(
            first_name=f"Quinn{i}",
            phone=unique_phone(),
            email=f"quinn{i}.{uuid.uuid4().hex[:8]}@example.com",
            timezone=zone,
            sms_consent=True,
            **kw,  # type: ignore[arg-type]
        )
        for i in range(n)
    ]


async def location_with_leads(m: Mesh, n: int, **kw: object) -> tuple[str, list[ingest_pb.Lead]]:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(m, loc, phone="+12125550123")
    return loc, await import_leads(m, loc, quiet_leads(n, **kw))


async def enrolled_leads(m: Mesh, leads: list[ingest_pb.Lead]) -> list[str]:
    """The leads that have a journey (GetJourney answers NOT_FOUND for the rest)."""
    found = []
    for lead in leads:
        try:
            journey = await journey_of(m, lead.lead_id)
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise
            continue
        found.append(journey.lead_id)
    return found


async def test_enrols_at_most_daily_limit_a_day_and_completes(m: Mesh) -> None:
    loc, leads = await location_with_leads(m, 12)
    started = await start_campaign(m, loc, daily_limit=5)
    assert started.state == pb.CAMPAIGN_STATE_ACTIVE
    assert started.cadence_id  # the location's recovery cadence
    start = timestamps.from_proto(started.create_time)
    assert start is not None
    enroller = enroller_of(m)

    await drain(enroller, start)  # gathers the audience; nobody is due at the start yet
    gathered = await campaign_of(m, started.campaign_id)
    assert gathered.counts.audience == 12
    assert gathered.counts.enrolled == 0

    for day, expected in enumerate((5, 10, 12)):
        await drain(enroller, day_end(start, day))
        now = await campaign_of(m, started.campaign_id)
        assert now.counts.enrolled == expected, f"day {day}"
    assert now.state == pb.CAMPAIGN_STATE_COMPLETED
    assert len(await enrolled_leads(m, leads)) == 12
    journey = await journey_of(m, leads[0].lead_id)
    assert journey.cadence_id == started.cadence_id
    assert now.counts.sent >= 12  # each first touch went out (SIMULATED: no provider credentials)


async def test_a_backlog_is_still_enrolled_at_daily_limit(m: Mesh) -> None:
    """After an outage of days, everything is due at once; a day still takes daily_limit."""
    loc, _ = await location_with_leads(m, 7)
    started, start, enroller = await gathered(m, loc, daily_limit=3)
    await drain(enroller, start + timedelta(days=10, hours=1))
    assert (await campaign_of(m, started.campaign_id)).counts.enrolled == 3
    await drain(enroller, start + timedelta(days=11, hours=1))
    assert (await campaign_of(m, started.campaign_id)).counts.enrolled == 6


async def test_enrolments_of_a_day_fall_inside_each_lead_window(m: Mesh, migrated_dsn: str) -> None:
    loc, _ = await location_with_leads(m, 6)
    started, start, _ = await gathered(m, loc, daily_limit=3)
    conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "coordinator"})
    try:
        rows = await conn.fetch(
            "SELECT position, due_time FROM campaign_members WHERE campaign_id = $1 ORDER BY position",
            uuid.UUID(started.campaign_id),
        )
    finally:
        await conn.close()
    zone = ZoneInfo(zone_where(DAY_HOURS))
    for row in rows:
        day = row["position"] // 3
        assert start + timedelta(days=day) <= row["due_time"] < start + timedelta(days=day + 1)
        assert 8 <= row["due_time"].astimezone(zone).hour < 21


async def test_a_lead_joins_one_campaign_and_never_one_with_a_journey(m: Mesh) -> None:
    loc, leads = await location_with_leads(m, 4)
    # A lead that arrived as a new inquiry is already in a journey.
    fresh = await add_lead(m, loc, phone=unique_phone(), timezone=zone_where(DAY_HOURS), sms_consent=True)
    await eventually(
        lambda: journey_of(m, fresh.lead_id), lambda j: j.first_touch_time.seconds > 0, "journey"
    )

    first, second = await asyncio.gather(start_campaign(m, loc, 100), start_campaign(m, loc, 100))
    start = timestamps.from_proto(first.create_time)
    assert start is not None
    enroller = enroller_of(m)
    # Two enrollers gathering and enrolling at once.
    await asyncio.gather(drain(enroller, start), drain(enroller, start))
    a, b = await campaign_of(m, first.campaign_id), await campaign_of(m, second.campaign_id)
    assert a.counts.audience + b.counts.audience == 4  # each imported lead once; never `fresh`

    # A lead that started a journey after the audience was gathered is skipped, not enrolled twice.
    snapshot = leads[0]
    await handle(
        m,
        pb.LeadEventEnvelope(
            event_id=str(uuid.uuid4()),
            kind=pb.LEAD_EVENT_KIND_LEAD_CREATED,
            lead_id=snapshot.lead_id,
            location_id=loc,
            lead=snapshot,
        ),
    )
    later = start + timedelta(days=2)
    await asyncio.gather(drain(enroller, later), drain(enroller, later))
    a, b = await campaign_of(m, first.campaign_id), await campaign_of(m, second.campaign_id)
    assert a.counts.enrolled + b.counts.enrolled == 3
    assert a.counts.skipped + b.counts.skipped == 1
    # Its journey is the inquiry's: on the default cadence, with no re-engagement message.
    journey = await journey_of(m, snapshot.lead_id)
    assert journey.cadence_id != first.cadence_id
    comms = await m.clients.coordinator.ListCommunications(
        pb.ListCommunicationsRequest(lead_id=snapshot.lead_id, location_id=snapshot.location_id), timeout=5
    )
    assert not [c for c in comms.communications if "been a while" in c.body]


async def test_opted_out_suppressed_dnd_and_deleted_leads_are_never_enrolled(m: Mesh) -> None:
    loc, leads = await location_with_leads(m, 4)
    dnd = (await import_leads(m, loc, quiet_leads(1, sms_dnd=True)))[0]
    # Opted out before the campaign: never gathered.
    await handle(m, inbound(leads[0], "STOP"))
    started, start, enroller = await gathered(m, loc, daily_limit=100)
    assert (await campaign_of(m, started.campaign_id)).counts.audience == 3  # not leads[0], not dnd
    # Opted out and deleted after the audience was gathered: skipped when their turn comes.
    await handle(m, inbound(leads[1], "unsubscribe"))
    await m.clients.ingest.DeleteLead(
        ingest_pb.DeleteLeadRequest(
            lead_id=leads[2].lead_id, location_id=leads[2].location_id, request_id=str(uuid.uuid4())
        ),
        timeout=5,
    )
    await drain(enroller, start + timedelta(days=1, hours=1))
    done = await campaign_of(m, started.campaign_id)
    assert done.counts.enrolled == 1
    assert done.counts.skipped == 2
    assert await enrolled_leads(m, [leads[3]]) == [leads[3].lead_id]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await journey_of(m, dnd.lead_id)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    for lead in leads[:3]:  # the opted-out and the deleted: nothing was ever sent to them
        comms = await m.clients.coordinator.ListCommunications(
            pb.ListCommunicationsRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
        )
        assert all(c.direction == pb.DIRECTION_INBOUND for c in comms.communications)


async def test_a_paused_campaign_enrols_nobody_until_resumed(m: Mesh) -> None:
    loc, leads = await location_with_leads(m, 3)
    started, start, enroller = await gathered(m, loc, daily_limit=10)
    # No caller of the mesh pauses campaigns: every caller names the location it acts for.
    for unclaimed in (
        lambda: m.clients.coordinator.PauseCampaign(
            pb.PauseCampaignRequest(campaign_id=started.campaign_id), timeout=5
        ),
        lambda: m.clients.coordinator.ResumeCampaign(
            pb.ResumeCampaignRequest(campaign_id=started.campaign_id), timeout=5
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await unclaimed()
        assert field_violations(err.value) == ["location_id"]
    assert (await campaign_of(m, started.campaign_id)).state == pb.CAMPAIGN_STATE_ACTIVE
    paused = await m.clients.coordinator.PauseCampaign(
        pb.PauseCampaignRequest(
            campaign_id=started.campaign_id, location_id=started.location_id, request_id=str(uuid.uuid4())
        ),
        timeout=5,
    )
    assert paused.campaign.state == pb.CAMPAIGN_STATE_PAUSED
    await drain(enroller, start + timedelta(days=5))
    assert (await campaign_of(m, started.campaign_id)).counts.enrolled == 0
    assert await enrolled_leads(m, leads) == []
    resumed = await m.clients.coordinator.ResumeCampaign(
        pb.ResumeCampaignRequest(
            campaign_id=started.campaign_id, location_id=started.location_id, request_id=str(uuid.uuid4())
        ),
        timeout=5,
    )
    assert resumed.campaign.state == pb.CAMPAIGN_STATE_ACTIVE
    # The pause (real seconds) moved the schedule on by its length; a day later all are due.
    await drain(enroller, start + timedelta(days=1, hours=2))
    assert (await campaign_of(m, started.campaign_id)).counts.enrolled == 3


async def _row_counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = any($1::text[])", list(SERVICES)
        )
        return {
            f"{t['schemaname']}.{t['tablename']}": await conn.fetchval(
                f'SELECT count(*) FROM "{t["schemaname"]}"."{t["tablename"]}"'
            )
            for t in tables
        }
    finally:
        await conn.close()


async def _settled_row_counts(dsn: str) -> dict[str, int]:
    """Row counts once the outbox relay has delivered what earlier tests wrote."""
    counts = await _row_counts(dsn)
    for _ in range(50):
        await asyncio.sleep(0.2)
        again = await _row_counts(dsn)
        if again == counts:
            return counts
        counts = again
    pytest.fail("the database never settled")


async def test_preview_shows_audience_and_messages_and_writes_nothing(m: Mesh, migrated_dsn: str) -> None:
    loc, leads = await location_with_leads(m, 6)
    await import_leads(
        m, loc, [ingest_pb.Lead(first_name="Nomad", email=f"nomad.{uuid.uuid4().hex[:6]}@example.net")]
    )
    before = await _settled_row_counts(migrated_dsn)
    resp = await m.clients.coordinator.PreviewCampaign(
        pb.PreviewCampaignRequest(
            campaign=pb.Campaign(location_id=loc, name="Preview", daily_limit=4), sample_size=3
        ),
        timeout=30,
    )
    after = await _row_counts(migrated_dsn)
    assert after == before
    assert resp.audience_size == 7
    assert resp.days_to_enroll == 2
    assert resp.would_send + resp.would_hold + resp.would_block == 7
    assert resp.would_send >= 6  # texts at their planned time inside the window; the email lead too
    assert len(resp.sample) == 3
    for lead in resp.sample:
        assert lead.body
        assert lead.status == pb.COMMUNICATION_STATUS_SIMULATED
        assert "while" in lead.body  # the re-engagement message acknowledges the gap
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await journey_of(m, leads[0].lead_id)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_audience_filters_by_tags_sources_and_inactivity(m: Mesh) -> None:
    loc, _ = await location_with_leads(m, 2, tags=["past-client"])
    await import_leads(m, loc, quiet_leads(3, source=ingest_pb.LEAD_SOURCE_PORTAL))

    async def size(**audience: object) -> int:
        resp = await m.clients.coordinator.PreviewCampaign(
            pb.PreviewCampaignRequest(
                campaign=pb.Campaign(
                    location_id=loc,
                    name="p",
                    daily_limit=10,
                    audience=pb.CampaignAudience(**audience),  # type: ignore[arg-type]
                ),
                sample_size=1,
            ),
            timeout=30,
        )
        return resp.audience_size

    assert await size() == 5
    assert await size(tags=["Past-Client"]) == 2
    assert await size(sources=[ingest_pb.LEAD_SOURCE_PORTAL]) == 3
    assert await size(min_days_inactive=30) == 0  # imported just now: active today
    assert await size(max_score=50) == 5  # never scored counts as 0


async def test_counts_follow_what_happens_to_enrolled_leads(m: Mesh) -> None:
    loc, leads = await location_with_leads(m, 3)
    started, start, enroller = await gathered(m, loc, daily_limit=10)
    await drain(enroller, start + timedelta(days=1, hours=1))
    await handle(m, inbound(leads[0], "Yes, still looking in the spring"))
    await handle(m, inbound(leads[1], "STOP"))
    counts = (await campaign_of(m, started.campaign_id)).counts
    assert counts.enrolled == 3
    assert counts.replied == 2
    assert counts.opted_out == 1
    assert counts.converted == 0
    listed = await m.clients.coordinator.ListCampaigns(pb.ListCampaignsRequest(location_id=loc), timeout=5)
    assert [c.campaign_id for c in listed.campaigns] == [started.campaign_id]


async def test_imported_leads_stay_silent_on_updates(m: Mesh) -> None:
    loc, leads = await location_with_leads(m, 1)
    lead = leads[0]
    resp = await handle(
        m,
        pb.LeadEventEnvelope(
            event_id=str(uuid.uuid4()),
            kind=pb.LEAD_EVENT_KIND_LEAD_UPDATED,
            lead_id=lead.lead_id,
            location_id=loc,
            lead=lead,
        ),
    )
    assert not resp.journey.journey_id
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await journey_of(m, lead.lead_id)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_bad_campaign_is_refused_naming_the_field_and_stores_nothing(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    for campaign, field in (
        (pb.Campaign(location_id=loc, name="x", daily_limit=0), "campaign.daily_limit"),
        (pb.Campaign(location_id=loc, daily_limit=5), "campaign.name"),
        (
            pb.Campaign(location_id=loc, name="x", daily_limit=5, cadence_id=str(uuid.uuid4())),
            "campaign.cadence_id",
        ),
        (
            pb.Campaign(
                location_id=loc, name="x", daily_limit=5, audience=pb.CampaignAudience(max_score=101)
            ),
            "campaign.audience.max_score",
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await m.clients.coordinator.StartCampaign(
                pb.StartCampaignRequest(campaign=campaign, request_id=str(uuid.uuid4())), timeout=5
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_reason(err.value) == "INVALID_CAMPAIGN"
        assert field_violations(err.value) == [field]
    listed = await m.clients.coordinator.ListCampaigns(pb.ListCampaignsRequest(location_id=loc), timeout=5)
    assert list(listed.campaigns) == []
    cadences = await m.clients.coordinator.ListCadences(pb.ListCadencesRequest(location_id=loc), timeout=5)
    assert list(cadences.cadences) == []


async def test_start_is_idempotent_on_request_id(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    request = pb.StartCampaignRequest(
        campaign=pb.Campaign(location_id=loc, name="Once", daily_limit=5), request_id=str(uuid.uuid4())
    )
    first, again = await asyncio.gather(
        m.clients.coordinator.StartCampaign(request, timeout=5),
        m.clients.coordinator.StartCampaign(request, timeout=5),
    )
    assert first.campaign.campaign_id == again.campaign.campaign_id
    listed = await m.clients.coordinator.ListCampaigns(pb.ListCampaignsRequest(location_id=loc), timeout=5)
    assert len(listed.campaigns) == 1


async def test_cli_previews_starts_and_shows_status(m: Mesh, capsys: pytest.CaptureFixture[str]) -> None:
    loc, _ = await location_with_leads(m, 3)
    peers = Peers({"coordinator": m.addr["coordinator"]})
    try:
        preview = build_parser().parse_args(["campaign", "preview", "--location", loc, "--daily-limit", "2"])
        assert await cli_campaign.run(preview, peers) == 0
        shown = capsys.readouterr().out
        assert "preview" in shown
        assert "Quinn" in shown  # a sample lead with its first message
        listed = await m.clients.coordinator.ListCampaigns(
            pb.ListCampaignsRequest(location_id=loc), timeout=5
        )
        assert list(listed.campaigns) == []  # a preview starts nothing

        start = build_parser().parse_args(
            ["campaign", "start", "--location", loc, "--daily-limit", "2", "--name", "Winter wake-up"]
        )
        assert await cli_campaign.run(start, peers) == 0
        assert "Winter wake-up" in capsys.readouterr().out
        listed = await m.clients.coordinator.ListCampaigns(
            pb.ListCampaignsRequest(location_id=loc), timeout=5
        )
        assert [c.name for c in listed.campaigns] == ["Winter wake-up"]

        started = listed.campaigns[0].campaign_id
        status = build_parser().parse_args(["campaign", "status", started, "--location", loc])
        assert await cli_campaign.run(status, peers) == 0
        assert "active" in capsys.readouterr().out
        unclaimed = build_parser().parse_args(["campaign", "status", started])
        assert await cli_campaign.run(unclaimed, peers) == 1
        said = capsys.readouterr()
        assert "--location" in said.err + said.out
        missing = build_parser().parse_args(["campaign", "status", str(uuid.uuid4()), "--location", loc])
        assert await cli_campaign.run(missing, peers) == 1
    finally:
        await peers.close()


async def test_a_member_whose_enroller_died_is_enrolled_once_its_lease_runs_out(
    m: Mesh, migrated_dsn: str
) -> None:
    """Another enroller (its own pool, as another pod) claims the members and dies."""
    loc, leads = await location_with_leads(m, 2)
    started, start, enroller = await gathered(m, loc, daily_limit=10)
    due = start + timedelta(days=1)
    pool = await db.create_pool(migrated_dsn, schema="coordinator", service="coordinator-dead", max_size=1)
    try:
        claimed = await CampaignRepository(db.Database(pool)).claim_due(due, timedelta(minutes=5), 1000)
    finally:
        await pool.close()
    # Other tests' campaigns may have members due too; this one's two are among those claimed.
    assert len([c for c, _ in claimed if str(c.campaign_id) == started.campaign_id]) == 2
    await drain(enroller, due)  # held by the dead enroller's lease
    assert (await campaign_of(m, started.campaign_id)).counts.enrolled == 0
    await drain(enroller, due + timedelta(minutes=6))
    assert (await campaign_of(m, started.campaign_id)).counts.enrolled == 2
    assert sorted(await enrolled_leads(m, leads)) == sorted(lead.lead_id for lead in leads)


async def test_pausing_a_campaign_holds_its_journeys_and_resuming_releases_them(m: Mesh) -> None:
    loc, leads = await location_with_leads(m, 2)
    started, start, enroller = await gathered(m, loc, daily_limit=1)  # one enrolled today, one waiting
    await drain(enroller, day_end(start, 0))
    enrolled = await enrolled_leads(m, leads)
    assert len(enrolled) == 1
    leads = [lead for lead in leads if lead.lead_id in enrolled]
    assert (await journey_of(m, leads[0].lead_id)).pause_reason == ""
    await m.clients.coordinator.PauseCampaign(
        pb.PauseCampaignRequest(
            campaign_id=started.campaign_id, location_id=started.location_id, request_id=str(uuid.uuid4())
        ),
        timeout=5,
    )
    assert (await journey_of(m, leads[0].lead_id)).pause_reason == "campaign paused"
    await m.clients.coordinator.ResumeCampaign(
        pb.ResumeCampaignRequest(
            campaign_id=started.campaign_id, location_id=started.location_id, request_id=str(uuid.uuid4())
        ),
        timeout=5,
    )
    assert (await journey_of(m, leads[0].lead_id)).pause_reason == ""


async def test_batch_get_lead_intelligence_returns_stored_scores_of_one_location(m: Mesh) -> None:
    loc, leads = await location_with_leads(m, 3)
    ask = [lead.lead_id for lead in leads]

    def batch() -> Awaitable[intelligence_pb.BatchGetLeadIntelligenceResponse]:
        return m.clients.intelligence.BatchGetLeadIntelligence(
            intelligence_pb.BatchGetLeadIntelligenceRequest(location_id=loc, lead_ids=ask), timeout=10
        )

    # Imports are scored in the background (RequestLocationScoring): all three get stored.
    await eventually(batch, lambda r: len(r.intelligence) == 3, "the import's scores stored")
    scored = await m.clients.intelligence.ScoreLead(
        intelligence_pb.ScoreLeadRequest(
            lead_id=leads[0].lead_id, request_id=str(uuid.uuid4()), lead=leads[0]
        ),
        timeout=10,
    )
    resp = await batch()
    assert sorted(i.lead_id for i in resp.intelligence) == sorted(ask)
    assert (
        next(i.score for i in resp.intelligence if i.lead_id == leads[0].lead_id) == scored.intelligence.score
    )
    elsewhere = await m.clients.intelligence.BatchGetLeadIntelligence(
        intelligence_pb.BatchGetLeadIntelligenceRequest(location_id="another-location", lead_ids=ask),
        timeout=10,
    )
    assert list(elsewhere.intelligence) == []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await m.clients.intelligence.BatchGetLeadIntelligence(
            intelligence_pb.BatchGetLeadIntelligenceRequest(
                location_id=loc, lead_ids=[str(uuid.uuid4()) for _ in range(1001)]
            ),
            timeout=10,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err.value) == ["lead_ids"]


async def test_max_score_keeps_high_scorers_out(m: Mesh) -> None:
    # Imports are scored in the background: the leads differ in fit, so the plain one stays
    # below max_score whether or not its bulk score has landed yet.
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(m, loc, phone="+12125550123")
    leads = await import_leads(m, loc, quiet_leads(1, preapproved=True, timeline_months=1) + quiet_leads(1))
    scored = await m.clients.intelligence.ScoreLead(
        intelligence_pb.ScoreLeadRequest(
            lead_id=leads[0].lead_id, request_id=str(uuid.uuid4()), lead=leads[0]
        ),
        timeout=10,
    )
    below = max(scored.intelligence.score - 1, 0.5)
    resp = await m.clients.coordinator.PreviewCampaign(
        pb.PreviewCampaignRequest(
            campaign=pb.Campaign(
                location_id=loc, name="p", daily_limit=10, audience=pb.CampaignAudience(max_score=below)
            ),
            sample_size=2,
        ),
        timeout=30,
    )
    assert resp.audience_size == 1
    assert [s.lead_id for s in resp.sample] == [leads[1].lead_id]


async def test_a_member_in_flight_when_its_campaign_pauses_goes_back_to_waiting(
    m: Mesh, migrated_dsn: str
) -> None:
    loc, leads = await location_with_leads(m, 1)
    started, start, enroller = await gathered(m, loc, daily_limit=10)
    pool = await db.create_pool(migrated_dsn, schema="coordinator", service="coordinator-test", max_size=1)
    try:
        repo = CampaignRepository(db.Database(pool))
        campaign = await repo.get(uuid.UUID(started.campaign_id))
        await m.clients.coordinator.PauseCampaign(
            pb.PauseCampaignRequest(
                campaign_id=started.campaign_id, location_id=started.location_id, request_id=str(uuid.uuid4())
            ),
            timeout=5,
        )
        with pytest.raises(CampaignNotActive):
            await repo.enrol_journey(campaign, uuid.UUID(leads[0].lead_id))
    finally:
        await pool.close()
    assert await enrolled_leads(m, leads) == []
    await m.clients.coordinator.ResumeCampaign(
        pb.ResumeCampaignRequest(
            campaign_id=started.campaign_id, location_id=started.location_id, request_id=str(uuid.uuid4())
        ),
        timeout=5,
    )
    await drain(enroller, start + timedelta(days=1, hours=1))
    assert await enrolled_leads(m, leads) == [leads[0].lead_id]
