"""IntelligenceService against the real IngestService and PostgreSQL, in-process on port 0."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from shared import timestamps
from tests.support import UNKNOWN_LOCATION, field_violations, location_of, mesh
from tests.support import error_reason as reason


@pytest.fixture(scope="module")
async def m(migrated_dsn):
    async with mesh(migrated_dsn, only=("ingest", "intelligence")) as running:
        yield running


async def add_lead(m, location: str, **kw) -> str:
    fields = dict(location_id=location, first_name="Maria", email=f"{uuid.uuid4().hex}@example.com")
    resp = await m.clients.ingest.UpsertLead(
        ingest_pb.UpsertLeadRequest(lead=ingest_pb.Lead(**{**fields, **kw}), request_id=str(uuid.uuid4())),
        timeout=5,
    )
    return resp.lead.lead_id


async def record(m, lead: str, location: str, kind: int, ago: timedelta, listing: str = "") -> None:
    await m.clients.ingest.RecordEvent(
        ingest_pb.RecordEventRequest(
            event=ingest_pb.LeadEvent(
                lead_id=lead,
                location_id=location,
                type=kind,
                listing_id=listing,
                occurred_time=timestamps.to_proto(datetime.now(UTC) - ago),
            )
        ),
        timeout=5,
    )


async def score(m, lead: str, request_id: str = "") -> pb.LeadIntelligence:
    """ScoreLead as the coordinator calls it, with the lead as ingest holds it: intelligence reads
    a lead it never scored only with its snapshot (#15: its location is not known before)."""
    snapshot = None
    if (location := await location_of(m, lead)) != UNKNOWN_LOCATION:
        got = await m.clients.ingest.GetLead(
            ingest_pb.GetLeadRequest(lead_id=lead, location_id=location), timeout=5
        )
        snapshot = got.lead
    resp = await m.clients.intelligence.ScoreLead(
        pb.ScoreLeadRequest(lead_id=lead, request_id=request_id, lead=snapshot), timeout=10
    )
    return resp.intelligence


def same_score(a: pb.LeadIntelligence, b: pb.LeadIntelligence) -> bool:
    """The same score, read at different moments (score_time is when it was read)."""
    return (a.lead_id, a.location_id, a.tier, list(a.factors), a.model_version) == (
        b.lead_id,
        b.location_id,
        b.tier,
        list(b.factors),
        b.model_version,
    ) and a.score == pytest.approx(b.score, abs=0.01)


async def test_score_explains_fit_and_engagement_and_is_stored(m) -> None:
    loc = f"loc-{uuid.uuid4()}"
    lead = await add_lead(
        m,
        loc,
        phone="+15125550100",
        preapproved=True,
        budget_usd=450_000,
        timeline_months=2,
        source=ingest_pb.LEAD_SOURCE_REFERRAL,
    )
    result = await score(m, lead)
    assert result.lead_id == lead
    assert result.location_id == loc
    assert result.score == pytest.approx(40.0)  # the best possible fit, no behaviour yet
    assert result.tier == pb.SCORE_TIER_WARM
    assert {f.name for f in result.factors} == {
        "preapproved",
        "budget",
        "timeline",
        "phone",
        "email",
        "source",
    }
    assert all(f.description for f in result.factors)
    assert result.model_version.startswith("rules-v1")
    assert result.model_version.endswith("/points-v0/logreg-v0")

    stored = (
        await m.clients.intelligence.GetLeadIntelligence(
            pb.GetLeadIntelligenceRequest(lead_id=lead, location_id=loc), timeout=5
        )
    ).intelligence
    assert same_score(stored, result)
    assert 0 < result.conversion_probability < 1

    # Behaviour raises the score, and a rescore replaces what GetLeadIntelligence serves (cache invalidated).
    for i in range(4):
        await record(m, lead, loc, ingest_pb.EVENT_TYPE_APPOINTMENT, timedelta(hours=i + 1))
    rescored = await score(m, lead)
    assert rescored.score > 70
    assert rescored.tier == pb.SCORE_TIER_HOT
    assert "appointment" in {f.name for f in rescored.factors}
    again = (
        await m.clients.intelligence.GetLeadIntelligence(
            pb.GetLeadIntelligenceRequest(lead_id=lead, location_id=loc), timeout=5
        )
    ).intelligence
    assert again.score == pytest.approx(rescored.score, abs=0.01)


async def test_older_behaviour_counts_for_less(m) -> None:
    loc = f"loc-{uuid.uuid4()}"
    fresh, stale = await add_lead(m, loc), await add_lead(m, loc)
    await record(m, fresh, loc, ingest_pb.EVENT_TYPE_FAVORITE, timedelta(hours=1), "L1")
    await record(m, stale, loc, ingest_pb.EVENT_TYPE_FAVORITE, timedelta(days=30), "L1")
    assert (await score(m, stale)).score < (await score(m, fresh)).score


async def test_retry_with_the_same_request_id_returns_the_first_score(m) -> None:
    loc = f"loc-{uuid.uuid4()}"
    lead = await add_lead(m, loc)
    first = await score(m, lead, request_id="score-1")
    await record(m, lead, loc, ingest_pb.EVENT_TYPE_CALL, timedelta(minutes=5))
    assert same_score(await score(m, lead, request_id="score-1"), first)
    assert (await score(m, lead, request_id="score-2")).score > first.score


async def test_unknown_lead_and_unscored_lead_are_not_found(m) -> None:
    missing = str(uuid.uuid4())
    # Never scored and sent without its snapshot: intelligence cannot know its location, so it
    # cannot ask ingest for it (#15).
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await score(m, missing)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(exc.value) == ["lead"]
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await m.clients.intelligence.GetLeadIntelligence(
            pb.GetLeadIntelligenceRequest(lead_id=missing, location_id="loc-x"), timeout=5
        )
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    assert reason(exc.value) == "SCORE_NOT_FOUND"
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await score(m, "not-a-uuid")
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_lead_scored_once_is_rescored_by_id_in_its_location(m) -> None:
    """Without a snapshot, intelligence reads the lead (and its events) from ingest for the
    location it was scored in."""
    loc = f"loc-{uuid.uuid4()}"
    lead = await add_lead(m, loc)
    await score(m, lead)
    again = await m.clients.intelligence.ScoreLead(pb.ScoreLeadRequest(lead_id=lead), timeout=10)
    assert (again.intelligence.lead_id, again.intelligence.location_id) == (lead, loc)


async def test_deleted_lead_is_not_scored(m) -> None:
    loc = f"loc-{uuid.uuid4()}"
    lead = await add_lead(m, loc)
    await m.clients.ingest.DeleteLead(ingest_pb.DeleteLeadRequest(lead_id=lead, location_id=loc), timeout=5)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await score(m, lead)
    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(exc.value) == "LEAD_DELETED"


async def test_high_intent_leads_page_highest_first(m) -> None:
    loc = f"loc-{uuid.uuid4()}"
    leads = []
    for calls in range(6):  # 0..5 calls: distinct, rising engagement
        lead = await add_lead(m, loc, phone="+15125550100", preapproved=True, timeline_months=2)
        for i in range(calls):
            await record(m, lead, loc, ingest_pb.EVENT_TYPE_CALL, timedelta(hours=i + 1))
        leads.append(await score(m, lead))
    # Another location's hot lead never shows up here.
    elsewhere = f"loc-{uuid.uuid4()}"
    other = await add_lead(m, elsewhere, preapproved=True)
    for i in range(6):
        await record(m, other, elsewhere, ingest_pb.EVENT_TYPE_CALL, timedelta(hours=i + 1))
    await score(m, other)

    # The top four qualify (scores shown are rounded, and decay a little by the time we list).
    threshold = sorted(x.score for x in leads)[2] - 0.01
    seen, token = [], ""
    while True:
        page = await m.clients.intelligence.ListHighIntentLeads(
            pb.ListHighIntentLeadsRequest(
                location_id=loc, page_size=3, page_token=token, min_score=threshold
            ),
            timeout=5,
        )
        seen += page.leads
        token = page.next_page_token
        if not token:
            break
    expected = sorted((x for x in leads if x.score >= threshold), key=lambda x: -x.score)
    assert [x.lead_id for x in seen] == [x.lead_id for x in expected]
    assert len(seen) == 4

    default = await m.clients.intelligence.ListHighIntentLeads(
        pb.ListHighIntentLeadsRequest(location_id=loc), timeout=5
    )
    assert all(x.score >= 70 for x in default.leads)
    assert {x.lead_id for x in default.leads} == {x.lead_id for x in leads if x.score >= 70}

    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await m.clients.intelligence.ListHighIntentLeads(
            pb.ListHighIntentLeadsRequest(location_id=loc, min_score=-1), timeout=5
        )
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_triggers_fire_from_real_events(m) -> None:
    loc = f"loc-{uuid.uuid4()}"
    lead = await add_lead(m, loc)
    assert (
        await m.clients.intelligence.EvaluateTriggers(
            pb.EvaluateTriggersRequest(lead_id=lead, location_id=await location_of(m, lead)), timeout=5
        )
    ).triggers == []
    for i, listing in enumerate(["L1", "L1", "L1", "L2", "L3"]):
        await record(m, lead, loc, ingest_pb.EVENT_TYPE_LISTING_VIEW, timedelta(hours=i + 1), listing)
    await record(m, lead, loc, ingest_pb.EVENT_TYPE_FAVORITE, timedelta(minutes=10), "L1")
    fired = (
        await m.clients.intelligence.EvaluateTriggers(
            pb.EvaluateTriggersRequest(lead_id=lead, location_id=await location_of(m, lead)), timeout=5
        )
    ).triggers
    kinds = {(t.type, t.listing_id) for t in fired}
    assert kinds == {
        (pb.TRIGGER_TYPE_SINGLE_PROPERTY_INTEREST, "L1"),
        (pb.TRIGGER_TYPE_BINGE_BROWSING, ""),
        (pb.TRIGGER_TYPE_FAVORITE, "L1"),
    }
    assert all(t.description and t.HasField("fire_time") for t in fired)


async def test_return_after_dormancy_fires(m) -> None:
    loc = f"loc-{uuid.uuid4()}"
    lead = await add_lead(m, loc)
    await record(m, lead, loc, ingest_pb.EVENT_TYPE_PAGE_VIEW, timedelta(days=20))
    await record(m, lead, loc, ingest_pb.EVENT_TYPE_PAGE_VIEW, timedelta(hours=1))
    fired = (
        await m.clients.intelligence.EvaluateTriggers(
            pb.EvaluateTriggersRequest(lead_id=lead, location_id=await location_of(m, lead)), timeout=5
        )
    ).triggers
    assert [t.type for t in fired] == [pb.TRIGGER_TYPE_RETURN_AFTER_DORMANCY]


async def test_concurrent_rescoring_leaves_one_row(m) -> None:
    loc = f"loc-{uuid.uuid4()}"
    lead = await add_lead(m, loc, preapproved=True, timeline_months=1)
    await record(m, lead, loc, ingest_pb.EVENT_TYPE_CALL, timedelta(hours=1))
    results = await asyncio.gather(*(score(m, lead) for _ in range(8)))
    assert len({round(r.score) for r in results}) == 1
    page = await m.clients.intelligence.ListHighIntentLeads(
        pb.ListHighIntentLeadsRequest(location_id=loc, min_score=1), timeout=5
    )
    assert [x.lead_id for x in page.leads] == [lead]
