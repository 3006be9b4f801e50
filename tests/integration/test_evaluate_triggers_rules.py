"""EvaluateTriggers judges the lead's location's trigger rules (defaults when it has none), as
FireTriggers would, and records nothing: its answer and FireTriggers agree. Real ingest,
intelligence and PostgreSQL in-process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf import duration_pb2
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from shared import timestamps
from tests.support import Mesh, location_of, mesh

VIEW = ingest_pb.EVENT_TYPE_LISTING_VIEW
BINGE_RULE = "listings-5-in-24h"


@pytest.fixture(scope="module")
async def m(migrated_dsn: str) -> AsyncIterator[Mesh]:
    async with mesh(migrated_dsn, only=("ingest", "intelligence")) as running:
        yield running


async def lead_with_three_views(m: Mesh, loc: str) -> str:
    """Three different listings viewed in the last few hours: under the default five."""
    resp = await m.clients.ingest.UpsertLead(
        ingest_pb.UpsertLeadRequest(
            lead=ingest_pb.Lead(location_id=loc, first_name="Ada", email=f"{uuid.uuid4().hex}@example.com"),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    lead = resp.lead.lead_id
    for hours, listing in ((3, "L1"), (2, "L2"), (1, "L3")):
        await m.clients.ingest.RecordEvent(
            ingest_pb.RecordEventRequest(
                event=ingest_pb.LeadEvent(
                    lead_id=lead,
                    location_id=loc,
                    type=VIEW,
                    listing_id=listing,
                    occurred_time=timestamps.to_proto(datetime.now(UTC) - timedelta(hours=hours)),
                )
            ),
            timeout=5,
        )
    return lead


async def evaluate(m: Mesh, lead: str, loc: str) -> list[pb.Trigger]:
    resp = await m.clients.intelligence.EvaluateTriggers(
        pb.EvaluateTriggersRequest(lead_id=lead, location_id=loc), timeout=10
    )
    return list(resp.triggers)


async def fire(m: Mesh, lead: str) -> list[pb.TriggerFiring]:
    resp = await m.clients.intelligence.FireTriggers(
        pb.FireTriggersRequest(
            lead_id=lead, request_id=str(uuid.uuid4()), location_id=await location_of(m, lead)
        ),
        timeout=10,
    )
    return list(resp.firings)


async def three_in_a_day(m: Mesh, loc: str) -> pb.TriggerRule:
    """The location lowers the default binge rule from 5 listings in 24 h to 3."""
    resp = await m.clients.intelligence.UpsertTriggerRule(
        pb.UpsertTriggerRuleRequest(
            rule=pb.TriggerRule(
                location_id=loc,
                rule_id=BINGE_RULE,
                name="3 listings in 24 hours",
                condition=pb.TRIGGER_CONDITION_EVENT_COUNT,
                event_types=[VIEW],
                min_count=3,
                window=duration_pb2.Duration(seconds=86_400),
                suppression=duration_pb2.Duration(seconds=3 * 86_400),
                hot=True,
            ),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    return resp.rule


async def test_a_location_rule_with_a_lower_threshold_changes_the_answer(m: Mesh) -> None:
    loc, other = f"loc-{uuid.uuid4()}", f"loc-{uuid.uuid4()}"
    lead, bystander = await lead_with_three_views(m, loc), await lead_with_three_views(m, other)
    assert await evaluate(m, lead, loc) == []  # the defaults want five listings

    rule = await three_in_a_day(m, loc)
    found = await evaluate(m, lead, loc)
    assert [(t.rule_id, t.rule_version, t.condition, t.hot) for t in found] == [
        (BINGE_RULE, rule.version, pb.TRIGGER_CONDITION_EVENT_COUNT, True)
    ]
    assert found[0].type == pb.TRIGGER_TYPE_BINGE_BROWSING
    assert len(found[0].event_ids) == 3
    # Another location keeps the defaults.
    assert await evaluate(m, bystander, other) == []
    # Evaluating recorded nothing: the same answer again, and no firing on record.
    assert [t.rule_id for t in await evaluate(m, lead, loc)] == [BINGE_RULE]
    listed = await m.clients.intelligence.ListTriggerFirings(
        pb.ListTriggerFiringsRequest(lead_id=lead, location_id=loc), timeout=5
    )
    assert list(listed.firings) == []


async def test_evaluate_and_fire_agree_before_and_after_a_firing(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    lead = await lead_with_three_views(m, loc)
    await three_in_a_day(m, loc)

    predicted = await evaluate(m, lead, loc)
    fired = await fire(m, lead)
    assert [t.rule_id for t in predicted] == [f.rule_id for f in fired] == [BINGE_RULE]
    assert sorted(predicted[0].event_ids) == sorted(fired[0].event_ids)
    assert predicted[0].description == fired[0].description

    # Now inside its suppression window: neither would fire it again.
    assert await evaluate(m, lead, loc) == []
    assert await fire(m, lead) == []


async def test_a_disabled_default_is_not_evaluated(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    lead = await lead_with_three_views(m, loc)
    await three_in_a_day(m, loc)
    rules = await m.clients.intelligence.ListTriggerRules(
        pb.ListTriggerRulesRequest(location_id=loc), timeout=5
    )
    binge = next(r for r in rules.rules if r.rule_id == BINGE_RULE)
    binge.disabled = True
    await m.clients.intelligence.UpsertTriggerRule(
        pb.UpsertTriggerRuleRequest(rule=binge, request_id=str(uuid.uuid4())), timeout=5
    )
    assert await evaluate(m, lead, loc) == []
    assert await fire(m, lead) == []
