"""Scores that stay true: decay as of now, tenant-checked reads, deletions, points per location,
bulk scoring after an import, and keyset pages while scores decay. Real ingest, intelligence and
PostgreSQL, through gRPC."""

from __future__ import annotations

import json
import math
import uuid
from datetime import timedelta

import asyncpg
import grpc
import pytest
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from services.intelligence import high_intent, score_parts
from shared import timestamps
from tests.integration.test_intelligence import add_lead, record, score
from tests.support import error_reason as reason
from tests.support import field_violations, mesh

LN2 = math.log(2)


@pytest.fixture(scope="module")
async def m(migrated_dsn):
    # Pages uncached: these tests change stored rows behind the service's back (time passing);
    # the page cache's own bound is tested in test_intelligence_cache.
    overrides = {"intelligence": {"page_cache_ttl_s": 0.0}}
    async with mesh(migrated_dsn, only=("ingest", "intelligence"), overrides=overrides) as running:
        yield running


@pytest.fixture(scope="module")
async def tables(migrated_dsn):
    """intelligence's own schema, to age stored scores as if they were written days ago."""
    conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "intelligence"})
    yield conn
    await conn.close()


async def get(m, lead: str, loc: str) -> pb.LeadIntelligence:
    resp = await m.clients.intelligence.GetLeadIntelligence(
        pb.GetLeadIntelligenceRequest(lead_id=lead, location_id=loc), timeout=5
    )
    return resp.intelligence


async def listing(m, loc: str, **kw) -> list[pb.LeadIntelligence]:
    seen, token = [], ""
    while True:
        page = await m.clients.intelligence.ListHighIntentLeads(
            pb.ListHighIntentLeadsRequest(location_id=loc, page_token=token, **kw), timeout=5
        )
        seen += page.leads
        token = page.next_page_token
        if not token:
            return seen


async def age(tables, lead: str, days: float) -> None:
    """Make the stored parts what ScoreLead would have written `days` ago for events `days` older:
    engagement keys move by rate x days; nothing else changes."""
    shift = score_parts.rate(14.0) * days
    await tables.execute(
        "UPDATE scores SET eng_key = eng_key - $2, score_time = score_time - make_interval(secs => $3),"
        " kinds = (SELECT coalesce(jsonb_object_agg(k.key, jsonb_set(k.value, '{m}',"
        " to_jsonb((k.value->>'m')::float8 - $2))), '{}') FROM jsonb_each(kinds) k)"
        " WHERE lead_id = $1",
        uuid.UUID(lead),
        shift,
        days * 86400,
    )


async def hot_lead(m, loc: str) -> str:
    lead = await add_lead(m, loc, phone="+15125550100", preapproved=True, timeline_months=2)
    for i in range(3):
        await record(m, lead, loc, ingest_pb.EVENT_TYPE_APPOINTMENT, timedelta(minutes=i + 1))
    return lead


async def test_a_stored_score_decays_with_time_without_a_rescore(m, tables) -> None:
    loc = f"loc-{uuid.uuid4()}"
    lead = await hot_lead(m, loc)
    fresh = await score(m, lead)
    assert fresh.tier == pb.SCORE_TIER_HOT
    assert [x.lead_id for x in await listing(m, loc)] == [lead]

    await age(tables, lead, 14.0)  # as if scored two weeks ago, events then fresh
    now = await get(m, lead, loc)
    fit = sum(f.points for f in fresh.factors if f.name in {"preapproved", "timeline", "phone", "email"})
    engagement = fresh.score - fit
    assert now.score == pytest.approx(fit + engagement / 2, abs=0.05)
    appointment = next(f for f in now.factors if f.name == "appointment")
    assert appointment.points == pytest.approx(30.0, abs=0.05)  # 3 x 20 points, halved
    assert now.score_time.ToDatetime() > fresh.score_time.ToDatetime()
    # No longer hot as of now: it leaves the default listing and shows up as warm.
    assert await listing(m, loc) == []
    assert [x.lead_id for x in await listing(m, loc, tier=pb.SCORE_TIER_WARM)] == [lead]


async def test_reads_are_tenant_checked(m) -> None:
    loc = f"loc-{uuid.uuid4()}"
    lead = await add_lead(m, loc)
    await score(m, lead)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await get(m, lead, f"loc-{uuid.uuid4()}")
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    assert reason(exc.value) == "SCORE_NOT_FOUND"
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await m.clients.intelligence.GetLeadIntelligence(
            pb.GetLeadIntelligenceRequest(lead_id=lead), timeout=5
        )
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(exc.value) == ["location_id"]
    assert (await get(m, lead, loc)).lead_id == lead


async def test_deleted_leads_leave_the_index(m) -> None:
    loc = f"loc-{uuid.uuid4()}"
    kept, erased, forgotten = [await hot_lead(m, loc) for _ in range(3)]
    for lead in (kept, erased, forgotten):
        await score(m, lead)
    assert len(await listing(m, loc)) == 3

    # Deleted in ingest: the next ScoreLead refuses it and drops its score.
    await m.clients.ingest.DeleteLead(ingest_pb.DeleteLeadRequest(lead_id=erased, location_id=loc), timeout=5)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await score(m, erased)
    assert reason(exc.value) == "LEAD_DELETED"
    # ForgetLead, as the coordinator calls it on LEAD_DELETED; repeating it changes nothing.
    forget = pb.ForgetLeadRequest(lead_id=forgotten, location_id=loc, request_id="forget-1")
    assert (await m.clients.intelligence.ForgetLead(forget, timeout=5)).removed
    assert not (await m.clients.intelligence.ForgetLead(forget, timeout=5)).removed

    assert [x.lead_id for x in await listing(m, loc)] == [kept]
    for gone in (erased, forgotten):
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await get(m, gone, loc)
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND


async def test_points_per_location_rescore_its_leads_and_no_other(m) -> None:
    loc, other = f"loc-{uuid.uuid4()}", f"loc-{uuid.uuid4()}"
    lead = await add_lead(m, loc, preapproved=True)
    elsewhere = await add_lead(m, other, preapproved=True)
    await record(m, lead, loc, ingest_pb.EVENT_TYPE_CALL, timedelta(minutes=5))
    before = await score(m, lead)
    other_before = await score(m, elsewhere)

    config = pb.ScoringConfig(event_points={"call": 30.0}, fit_points={"preapproved": 20.0})
    resp = await m.clients.intelligence.UpsertScoringConfig(
        pb.UpsertScoringConfigRequest(location_id=loc, config=config, request_id="points-1"), timeout=10
    )
    assert resp.config.version == 1
    assert resp.rescored_count == 1
    assert resp.config.event_points["call"] == 30.0
    assert resp.config.event_points["appointment"] == 20.0  # defaults kept for names not given
    after = await get(m, lead, loc)
    assert after.score == pytest.approx(before.score + 8 + 18, abs=0.05)  # fit 12 -> 20, call 12 -> 30
    assert after.model_version.split("/")[1] == "points-v1"
    assert (await get(m, elsewhere, other)).score == pytest.approx(other_before.score, abs=0.01)
    # The listing's index was rescored in the same transaction.
    assert [x.lead_id for x in await listing(m, loc, min_score=after.score - 0.1)] == [lead]
    # A retry changes nothing; bad points change nothing and name the field.
    again = await m.clients.intelligence.UpsertScoringConfig(
        pb.UpsertScoringConfigRequest(location_id=loc, config=config, request_id="points-1"), timeout=10
    )
    assert again.config.version == 1
    bad = pb.ScoringConfig(event_points={"teleport": 5.0}, fit_points={"phone": -1.0})
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await m.clients.intelligence.UpsertScoringConfig(
            pb.UpsertScoringConfigRequest(location_id=loc, config=bad, request_id="points-2"), timeout=10
        )
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(exc.value)) == {"config.event_points[teleport]", "config.fit_points[phone]"}
    got = await m.clients.intelligence.GetScoringConfig(
        pb.GetScoringConfigRequest(location_id=loc), timeout=5
    )
    assert got.config.version == 1


async def test_score_location_scores_imported_leads_and_sweeps_deleted_ones(m) -> None:
    loc = f"loc-{uuid.uuid4()}"
    rows = [
        ingest_pb.ImportLeadsRequest(
            location_id=loc,
            row=i,
            lead=ingest_pb.Lead(
                first_name="Imported",
                email=f"imp{i}-{uuid.uuid4().hex[:6]}@example.com",
                preapproved=i % 2 == 0,
                external_contact_id=f"ext-{i}",
            ),
        )
        for i in range(30)
    ]

    async def stream():
        for r in rows:
            yield r

    imported = await m.clients.ingest.ImportLeads(stream(), timeout=30)
    assert imported.imported_count == 30
    engaged = await hot_lead(m, loc)  # scored from its events; the bulk run must keep them
    before = await score(m, engaged)
    resp = await m.clients.intelligence.ScoreLocation(
        pb.ScoreLocationRequest(location_id=loc, request_id="bulk-1"), timeout=60
    )
    assert resp.scored_count == 31
    assert resp.removed_count == 0
    everyone = await listing(m, loc, min_score=0.01, page_size=7)
    assert len(everyone) == 31
    assert len({x.lead_id for x in everyone}) == 31
    assert sum(1 for x in everyone if x.score == pytest.approx(15.0)) == 15  # pre-approved 12 + email 3
    assert next(x for x in everyone if x.lead_id == engaged).score == pytest.approx(before.score, abs=0.05)

    victim = everyone[-1].lead_id
    await m.clients.ingest.DeleteLead(ingest_pb.DeleteLeadRequest(lead_id=victim, location_id=loc), timeout=5)
    again = await m.clients.intelligence.ScoreLocation(
        pb.ScoreLocationRequest(location_id=loc, request_id="bulk-2"), timeout=60
    )
    assert (again.scored_count, again.removed_count) == (30, 1)
    assert victim not in {x.lead_id for x in await listing(m, loc, min_score=0.01)}


async def _synthetic_location(tables, loc: str, n: int) -> None:
    """n scores straight into the schema: fits 0..40 and engagement over 60 days, so the order
    of leads of different fit changes as time passes."""
    lam = score_parts.rate(14.0)
    today = score_parts.day_number(timestamps.now())
    await tables.execute(
        "INSERT INTO scores (lead_id, location_id, score, tier, factors, model_version, score_time, fit,"
        " eng_key)"
        " SELECT gen_random_uuid(), $1, 0, 'cold', '[]', 'test', now(), floor(random() * 41),"
        " CASE WHEN random() < 0.5 THEN ln(2 + random() * 200) + $2 * ($3 - random() * 60)"
        " ELSE '-Infinity' END FROM generate_series(1, $4)",
        loc,
        lam,
        today,
        n,
    )


async def test_pages_are_one_consistent_ranking_as_of_the_first_page(m, tables) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await _synthetic_location(tables, loc, 600)
    first = await m.clients.intelligence.ListHighIntentLeads(
        pb.ListHighIntentLeadsRequest(location_id=loc, min_score=20, page_size=40), timeout=5
    )
    as_of = first.score_time.ToDatetime().replace(tzinfo=timestamps.now().tzinfo)
    seen, token = list(first.leads), first.next_page_token
    while token:
        page = await m.clients.intelligence.ListHighIntentLeads(
            pb.ListHighIntentLeadsRequest(location_id=loc, min_score=20, page_size=40, page_token=token),
            timeout=5,
        )
        assert page.score_time == first.score_time
        seen += page.leads
        token = page.next_page_token
    rows = await tables.fetch("SELECT lead_id, fit, eng_key FROM scores WHERE location_id = $1", loc)
    rules = score_parts.Rules()
    expected = sorted(
        (
            (score_parts.score_at(r["fit"], r["eng_key"], as_of, rules), r["eng_key"], r["lead_id"])
            for r in rows
        ),
        reverse=True,
    )
    expected = [e for e in expected if e[0] >= 20]
    assert [x.lead_id for x in seen] == [str(e[2]) for e in expected]
    assert [x.score for x in seen] == pytest.approx([round(e[0], 2) for e in expected], abs=0.006)


async def test_the_plan_walks_the_index_and_never_sorts_the_location(tables) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await _synthetic_location(tables, loc, 20_000)
    await tables.execute("ANALYZE scores")
    lam_t = score_parts.rate(14.0) * score_parts.day_number(timestamps.now())
    for band, after in (
        ((70.0, math.inf), None),
        ((40.0, 70.0), None),
        ((20.0, math.inf), (45.0, lam_t, uuid.UUID(int=0))),
    ):
        plan = await tables.fetchval(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + high_intent.LIST_SQL,
            *high_intent.list_args(loc, lam_t, band, after, 50),
        )
        nodes = []

        def walk(node, nodes=nodes):
            nodes.append(node)
            for child in node.get("Plans", []):
                walk(child)

        walk(json.loads(plan)[0]["Plan"])
        kinds = {n["Node Type"] for n in nodes}
        assert "Seq Scan" not in kinds
        assert any(n.get("Index Name") == "scores_location_fit_key" for n in nodes)
        groups = 41
        for node in nodes:
            if node["Node Type"] == "Sort":  # only the merge of each fit group's next rows
                assert node["Actual Rows"] <= groups * 51
                assert node["Plans"][0]["Actual Rows"] <= groups * 51
