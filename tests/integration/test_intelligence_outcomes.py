"""ObserveOutcome trains the location's conversion model once per request_id; GetModelStats
measures it on its own earlier predictions. Real ingest, intelligence and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import grpc
import pytest
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from shared import timestamps
from tests.integration.test_intelligence import add_lead, record, score
from tests.support import field_violations, mesh


@pytest.fixture(scope="module")
async def m(migrated_dsn):
    async with mesh(migrated_dsn, only=("ingest", "intelligence")) as running:
        yield running


def outcome(loc: str, lead: str, kind: int, request_id: str) -> pb.ObserveOutcomeRequest:
    return pb.ObserveOutcomeRequest(
        location_id=loc,
        lead_id=lead,
        outcome=kind,
        occurred_time=timestamps.to_proto(timestamps.now()),
        request_id=request_id,
    )


async def test_outcomes_train_the_location_model_once_each(m) -> None:
    loc = f"loc-{uuid.uuid4()}"
    engaged, idle = [], []
    for i in range(12):
        lead = await add_lead(m, loc, preapproved=i % 2 == 0)
        if i % 3 == 0:
            await record(m, lead, loc, ingest_pb.EVENT_TYPE_APPOINTMENT, timedelta(hours=1))
            engaged.append(lead)
        else:
            idle.append(lead)
        await score(m, lead)
    prior = await m.clients.intelligence.GetLeadIntelligence(
        pb.GetLeadIntelligenceRequest(lead_id=idle[0], location_id=loc), timeout=5
    )
    assert prior.intelligence.model_version.endswith("logreg-v0")

    first = await m.clients.intelligence.ObserveOutcome(
        outcome(loc, engaged[0], routing_pb.OUTCOME_WON, "o-0"), timeout=10
    )
    assert (first.duplicate, first.trained, first.model_version) == (False, True, "logreg-v1")
    again = await m.clients.intelligence.ObserveOutcome(
        outcome(loc, engaged[0], routing_pb.OUTCOME_WON, "o-0"), timeout=10
    )
    assert (again.duplicate, again.trained, again.model_version) == (True, False, "logreg-v1")
    # Not a final outcome, or a lead never scored: recorded, not trained on.
    contacted = await m.clients.intelligence.ObserveOutcome(
        outcome(loc, idle[0], routing_pb.OUTCOME_CONTACTED, "o-c"), timeout=10
    )
    assert (contacted.duplicate, contacted.trained) == (False, False)
    unknown = await m.clients.intelligence.ObserveOutcome(
        outcome(loc, str(uuid.uuid4()), routing_pb.OUTCOME_LOST, "o-u"), timeout=10
    )
    assert unknown.trained is False

    n = 1
    for round_ in range(6):  # engaged leads win, idle ones are lost
        for lead in engaged[1:]:
            await m.clients.intelligence.ObserveOutcome(
                outcome(loc, lead, routing_pb.OUTCOME_WON, f"w-{round_}-{lead}"), timeout=10
            )
            n += 1
        for lead in idle:
            await m.clients.intelligence.ObserveOutcome(
                outcome(loc, lead, routing_pb.OUTCOME_LOST, f"l-{round_}-{lead}"), timeout=10
            )
            n += 1
    stats = (
        await m.clients.intelligence.GetModelStats(pb.GetModelStatsRequest(location_id=loc), timeout=5)
    ).stats
    assert stats.outcomes_seen == n
    assert stats.model_version == f"logreg-v{n}"
    assert stats.auc > 0.9  # it learnt to tell the two apart, on outcomes before it trained on them
    assert 0 <= stats.brier < 0.25
    assert 0 <= stats.calibration_error <= 1

    won = await m.clients.intelligence.GetLeadIntelligence(
        pb.GetLeadIntelligenceRequest(lead_id=engaged[1], location_id=loc), timeout=5
    )
    lost = await m.clients.intelligence.GetLeadIntelligence(
        pb.GetLeadIntelligenceRequest(lead_id=idle[1], location_id=loc), timeout=5
    )
    assert won.intelligence.conversion_probability > 0.5 > lost.intelligence.conversion_probability
    assert lost.intelligence.conversion_probability < prior.intelligence.conversion_probability + 0.5
    assert won.intelligence.model_version.endswith(f"logreg-v{n}")

    # Another location still has the population prior.
    other = await m.clients.intelligence.GetModelStats(
        pb.GetModelStatsRequest(location_id=f"loc-{uuid.uuid4()}"), timeout=5
    )
    assert (other.stats.outcomes_seen, other.stats.model_version) == (0, "logreg-v0")


async def test_bad_outcomes_are_refused_naming_the_field(m) -> None:
    lead = str(uuid.uuid4())
    cases = [
        (outcome("loc", lead, routing_pb.OUTCOME_UNSPECIFIED, "x"), "outcome"),
        (outcome("loc", lead, routing_pb.OUTCOME_WON, ""), "request_id"),
        (outcome("", lead, routing_pb.OUTCOME_WON, "x"), "location_id"),
        (outcome("loc", "nope", routing_pb.OUTCOME_WON, "x"), "lead_id"),
        (
            pb.ObserveOutcomeRequest(
                location_id="loc", lead_id=lead, outcome=routing_pb.OUTCOME_WON, request_id="x"
            ),
            "occurred_time",
        ),
    ]
    for request, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await m.clients.intelligence.ObserveOutcome(request, timeout=5)
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(exc.value) == [field]
