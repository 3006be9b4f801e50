"""Trigger rules as data and their firings, through gRPC against the real IngestService and
PostgreSQL: defaults and overrides, validation, one firing per suppression window,
retries, duplicate and out-of-order events, concurrent evaluations."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import duration_pb2, struct_pb2
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from services.intelligence.activity import ActivityReader
from services.intelligence.trigger_firing import TriggerFiring
from services.intelligence.trigger_repository import TriggerRepository
from shared import db, timestamps
from shared.clients import Peers
from tests.support import Mesh, field_violations, location_of, mesh

VIEW = ingest_pb.EVENT_TYPE_LISTING_VIEW
DAY = 86_400


@pytest.fixture(scope="module")
async def m(migrated_dsn: str) -> AsyncIterator[Mesh]:
    async with mesh(migrated_dsn, only=("ingest", "intelligence")) as running:
        yield running


async def add_lead(m: Mesh, location: str) -> str:
    resp = await m.clients.ingest.UpsertLead(
        ingest_pb.UpsertLeadRequest(
            lead=ingest_pb.Lead(
                location_id=location, first_name="Ada", email=f"{uuid.uuid4().hex}@example.com"
            ),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    return resp.lead.lead_id


async def record(
    m: Mesh,
    lead: str,
    loc: str,
    ago: timedelta,
    listing: str = "L1",
    *,
    event_id: str = "",
    at: datetime | None = None,
) -> str:
    props = struct_pb2.Struct()
    props.update({"address": "12 Oak St"})
    resp = await m.clients.ingest.RecordEvent(
        ingest_pb.RecordEventRequest(
            event=ingest_pb.LeadEvent(
                event_id=event_id,
                lead_id=lead,
                location_id=loc,
                type=VIEW,
                listing_id=listing,
                occurred_time=timestamps.to_proto(at or datetime.now(UTC) - ago),
                properties=props,
            )
        ),
        timeout=5,
    )
    return resp.event.event_id


async def fire(m: Mesh, lead: str, request_id: str | None = None) -> list[pb.TriggerFiring]:
    resp = await m.clients.intelligence.FireTriggers(
        pb.FireTriggersRequest(
            lead_id=lead, request_id=request_id or str(uuid.uuid4()), location_id=await location_of(m, lead)
        ),
        timeout=10,
    )
    return list(resp.firings)


def rule(loc: str, rule_id: str, **kw: object) -> pb.TriggerRule:
    fields: dict[str, object] = {
        "condition": pb.TRIGGER_CONDITION_SAME_LISTING_VIEWS,
        "min_count": 2,
        "window": duration_pb2.Duration(seconds=30 * DAY),
        "suppression": duration_pb2.Duration(seconds=7 * DAY),
        "hot": True,
        **kw,
    }
    return pb.TriggerRule(location_id=loc, rule_id=rule_id, name="test rule", **fields)  # type: ignore[arg-type]


async def upsert(m: Mesh, given: pb.TriggerRule) -> pb.TriggerRule:
    resp = await m.clients.intelligence.UpsertTriggerRule(
        pb.UpsertTriggerRuleRequest(rule=given, request_id=str(uuid.uuid4())), timeout=5
    )
    return resp.rule


async def rules_of(m: Mesh, loc: str) -> dict[str, pb.TriggerRule]:
    resp = await m.clients.intelligence.ListTriggerRules(
        pb.ListTriggerRulesRequest(location_id=loc), timeout=5
    )
    return {r.rule_id: r for r in resp.rules}


async def test_a_location_starts_with_the_defaults_and_overrides_one_as_data(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    before = await rules_of(m, loc)
    assert set(before) == {
        "same-listing-3x-7d", "listings-5-in-24h", "listings-10-in-7d", "return-after-14d",
        "favorite", "saved-search", "email-listing-click", "price-band-change",
    }  # fmt: skip
    assert all(r.is_default and r.version == 0 for r in before.values())
    assert before["same-listing-3x-7d"].min_count == 3
    assert before["same-listing-3x-7d"].window.ToTimedelta() == timedelta(days=7)

    changed = rule(loc, "same-listing-3x-7d", min_count=4)
    stored = await upsert(m, changed)
    assert (stored.version, stored.is_default, stored.min_count) == (1, False, 4)
    assert (await upsert(m, changed)).version == 1  # the same rule again changes nothing
    assert (await upsert(m, rule(loc, "same-listing-3x-7d", min_count=5))).version == 2
    custom = await upsert(m, rule(loc, "open-house-2x", min_count=2))
    after = await rules_of(m, loc)
    assert after["same-listing-3x-7d"].min_count == 5
    assert after["open-house-2x"] == custom
    assert len(after) == len(before) + 1
    assert (await rules_of(m, f"loc-{uuid.uuid4()}"))["same-listing-3x-7d"].min_count == 3  # per location


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rule_id": "Bad Id"}, "rule.rule_id"),
        ({"condition": pb.TRIGGER_CONDITION_UNSPECIFIED}, "rule.condition"),
        ({"min_count": 0}, "rule.min_count"),
        ({"window": duration_pb2.Duration(seconds=0)}, "rule.window"),
        ({"window": duration_pb2.Duration(seconds=200 * DAY)}, "rule.window"),
        ({"condition": pb.TRIGGER_CONDITION_EVENT_COUNT}, "rule.event_types"),
        ({"condition": pb.TRIGGER_CONDITION_RETURN_AFTER_INACTIVITY}, "rule.inactivity"),
        (
            {
                "condition": pb.TRIGGER_CONDITION_PRICE_BAND_CHANGE,
                "baseline": duration_pb2.Duration(seconds=DAY),
            },
            "rule.price_change_percent",
        ),
        ({"suppression": duration_pb2.Duration(seconds=-1)}, "rule.suppression"),
        ({"location_id": " "}, "rule.location_id"),
    ],
)
async def test_a_bad_rule_is_refused_naming_the_field_and_nothing_is_stored(
    m: Mesh, change: dict[str, object], field: str
) -> None:
    loc = f"loc-{uuid.uuid4()}"
    given = rule(loc, "x-rule")
    for name, value in change.items():
        if isinstance(value, duration_pb2.Duration):
            getattr(given, name).CopyFrom(value)
        else:
            setattr(given, name, value)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await upsert(m, given)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(exc.value) == [field]
    assert "x-rule" not in await rules_of(m, loc)


async def test_a_rule_fires_once_per_suppression_window_with_its_causing_events(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    lead = await add_lead(m, loc)
    views = [await record(m, lead, loc, timedelta(hours=h)) for h in (5, 4)]
    assert [f.rule_id for f in await fire(m, lead)] == []
    views.append(await record(m, lead, loc, timedelta(hours=3)))
    (fired,) = await fire(m, lead)
    assert fired.rule_id == "same-listing-3x-7d"
    assert fired.description == "12 Oak St, viewed three times in 7 days"
    assert (fired.listing_id, fired.listing_label, fired.hot) == ("L1", "12 Oak St", True)
    assert sorted(fired.event_ids) == sorted(views)
    assert fired.suppression.ToTimedelta() == timedelta(days=7)
    # A fourth view is new evidence, but inside the window: no second firing.
    await record(m, lead, loc, timedelta(hours=2))
    assert await fire(m, lead) == []
    listed = await m.clients.intelligence.ListTriggerFirings(
        pb.ListTriggerFiringsRequest(lead_id=lead, location_id=await location_of(m, lead)), timeout=5
    )
    assert [f.firing_id for f in listed.firings] == [fired.firing_id]


async def test_a_retry_returns_the_first_answer_and_evaluates_nothing_again(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    lead = await add_lead(m, loc)
    quiet = str(uuid.uuid4())
    assert await fire(m, lead, quiet) == []
    for h in (3, 2, 1):
        await record(m, lead, loc, timedelta(hours=h))
    assert await fire(m, lead, quiet) == []  # the same request: still its first answer
    loud = str(uuid.uuid4())
    first = await fire(m, lead, loud)
    assert [f.rule_id for f in first] == ["same-listing-3x-7d"]
    assert await fire(m, lead, loud) == first


async def test_duplicate_and_out_of_order_events_count_as_they_happened(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    lead = await add_lead(m, loc)
    # Delivered newest first, one of them twice under the same id and once more under a new id.
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    first_id = await record(m, lead, loc, timedelta(0), event_id=f"ev-{uuid.uuid4()}", at=hour_ago)
    await record(m, lead, loc, timedelta(0), event_id=first_id, at=hour_ago)
    await record(m, lead, loc, timedelta(0), at=hour_ago)
    await record(m, lead, loc, timedelta(days=3))
    assert await fire(m, lead) == []  # two distinct views, however delivered
    await record(m, lead, loc, timedelta(days=6))  # the oldest arrives last
    (fired,) = await fire(m, lead)
    assert fired.description == "12 Oak St, viewed three times in 7 days"
    assert len(fired.event_ids) == 3


async def test_concurrent_evaluations_fire_a_rule_once(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    lead = await add_lead(m, loc)
    for h in (3, 2, 1):
        await record(m, lead, loc, timedelta(hours=h))
    results = await asyncio.gather(*(fire(m, lead) for _ in range(6)))
    assert sum(len(r) for r in results) == 1


async def test_a_disabled_rule_does_not_fire_and_fire_needs_a_request_id(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await upsert(m, rule(loc, "same-listing-3x-7d", min_count=3, disabled=True))
    lead = await add_lead(m, loc)
    for h in (3, 2, 1):
        await record(m, lead, loc, timedelta(hours=h))
    assert await fire(m, lead) == []
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await m.clients.intelligence.FireTriggers(
            pb.FireTriggersRequest(lead_id=lead, location_id=await location_of(m, lead)), timeout=5
        )
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(exc.value) == ["request_id"]


async def test_after_the_window_passes_new_evidence_fires_again(m: Mesh, migrated_dsn: str) -> None:
    """The real use-case on the real database and ingest, with its clock moved on."""
    loc = f"loc-{uuid.uuid4()}"
    await upsert(m, rule(loc, "twice-in-30d"))
    lead = uuid.UUID(await add_lead(m, loc))
    pool = await db.create_pool(migrated_dsn, schema="intelligence", service="intelligence-test", max_size=2)
    peers = Peers()
    peers.connect("ingest", m.addr["ingest"])
    now = datetime.now(UTC)
    at = {"t": now}
    firing = TriggerFiring(
        TriggerRepository(db.Database(pool)), ActivityReader(peers), max_lookback=timedelta(days=90),
        clock=lambda: at["t"],
    )  # fmt: skip
    try:
        for h in (5, 4):
            await record(m, str(lead), loc, timedelta(hours=h))
        assert [f.rule_id for f in await firing.fire(lead, str(uuid.uuid4()), loc)] == ["twice-in-30d"]
        at["t"] = now + timedelta(days=6)
        assert await firing.fire(lead, str(uuid.uuid4()), loc) == []  # same evidence, in the window
        at["t"] = now + timedelta(days=8)
        assert await firing.fire(lead, str(uuid.uuid4()), loc) == []  # window over, but no new evidence
        await record(m, str(lead), loc, timedelta(hours=1))
        assert [f.rule_id for f in await firing.fire(lead, str(uuid.uuid4()), loc)] == ["twice-in-30d"]
    finally:
        await peers.close()
        await pool.close()
