"""First-to-claim: a location offers each lead to several agents at once and the first to
accept gets it. RoutingService over gRPC against real PostgreSQL, two replicas sweeping."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import grpc
import pytest
from leadengine.routing.v1 import routing_service_pb2 as pb

from tests.integration.test_routing import add_agent, route_request
from tests.integration.test_routing_capacity import counts, open_rows
from tests.integration.test_routing_claiming import replicas, tables  # noqa: F401 - fixtures
from tests.journeys import eventually
from tests.support import error_reason as reason

OFFERED = pb.ASSIGNMENT_STATE_OFFERED


async def first_to_claim(routing, loc: str, group: int, sla_s: int = 300, moves: int = 3) -> None:
    await routing.SetRoutingSettings(
        pb.SetRoutingSettingsRequest(
            location_id=loc,
            settings=pb.RoutingSettings(
                claim_group_size=group, accept_sla_seconds=sla_s, max_reassignments=moves
            ),
        ),
        timeout=5,
    )


def accept(routing, loc: str, lead: str, agent_id: str):
    return routing.AcceptAssignment(
        pb.AcceptAssignmentRequest(lead_id=lead, location_id=loc, agent_id=agent_id), timeout=10
    )


def off_the_clock() -> list[pb.WorkingHours]:
    """A window that is never now: one hour on a day other than today (UTC)."""
    other_day = datetime.now(UTC).isoweekday() % 7 + 1
    return [pb.WorkingHours(day_of_week=other_day, start_time="03:00", end_time="04:00")]


async def test_concurrent_claims_have_exactly_one_winner(replicas, tables) -> None:  # noqa: F811
    routing, other = replicas
    loc = f"loc-{uuid.uuid4()}"
    agents = [await add_agent(routing, loc, f"Agent {i}", capacity=3) for i in range(4)]
    night = await add_agent(routing, loc, "Nora Night", capacity=3, working_hours=off_the_clock())
    await first_to_claim(routing, loc, group=5)
    lead = str(uuid.uuid4())

    routed = await routing.RouteLead(route_request(loc, lead), timeout=5)
    a = routed.assignment
    assert a.state == OFFERED
    assert a.agent_id == ""
    # Off the clock still gets an offer: claiming is the agent's choice.
    assert set(a.offered_agent_ids) == {x.agent_id for x in agents} | {night.agent_id}
    assert a.HasField("accept_by_time")
    assert "offered to 5 agent(s) at once" in a.reasons[0]
    assert not routed.HasField("agent")
    assert set((await counts(routing, loc)).values()) == {0}  # an offer holds no slot

    # All five claim at once, through both replicas.
    stubs = [routing if i % 2 else other for i in range(5)]
    results = await asyncio.gather(
        *(accept(s, loc, lead, x) for s, x in zip(stubs, a.offered_agent_ids, strict=True)),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1
    assert len(lost) == 4
    for err in lost:
        assert isinstance(err, grpc.aio.AioRpcError)
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert reason(err) == "LEAD_ALREADY_CLAIMED"
        assert "claimed first by" in err.details()
    winner = won[0].assignment
    assert winner.state == pb.ASSIGNMENT_STATE_OPEN
    assert winner.HasField("accept_time")
    assert not winner.HasField("accept_by_time")
    assert list(winner.offered_agent_ids) == []  # the offers are closed
    assert "claimed it first of 5" in winner.reasons[0]
    held = await counts(routing, loc)
    assert held[winner.agent_id] == 1
    assert sum(held.values()) == 1
    assert {k: v for k, v in held.items() if v} == await open_rows(tables, loc)

    # The winner accepting again is a no-op; a loser's decline is refused the same way.
    again = await accept(routing, loc, lead, winner.agent_id)
    assert again.assignment.accept_time == winner.accept_time
    loser = next(x for x in a.offered_agent_ids if x != winner.agent_id)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await routing.DeclineAssignment(
            pb.DeclineAssignmentRequest(lead_id=lead, location_id=loc, agent_id=loser), timeout=5
        )
    assert reason(exc.value) == "LEAD_ALREADY_CLAIMED"


async def test_a_claimer_at_capacity_is_refused_and_changes_nothing(replicas) -> None:  # noqa: F811
    routing, _ = replicas
    loc = f"loc-{uuid.uuid4()}"
    ana = await add_agent(routing, loc, "Ana", capacity=1)
    ben = await add_agent(routing, loc, "Ben", capacity=1)
    await first_to_claim(routing, loc, group=2)
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    await routing.RouteLead(route_request(loc, one), timeout=5)
    await routing.RouteLead(route_request(loc, two), timeout=5)
    await accept(routing, loc, one, ana.agent_id)  # Ana is now full
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await accept(routing, loc, two, ana.agent_id)
    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(exc.value) == "AGENT_AT_CAPACITY"
    still = await routing.GetAssignment(pb.GetAssignmentRequest(lead_id=two, location_id=loc), timeout=5)
    assert still.assignment.state == OFFERED
    assert set(still.assignment.offered_agent_ids) == {ana.agent_id, ben.agent_id}
    claimed = await accept(routing, loc, two, ben.agent_id)
    assert claimed.assignment.agent_id == ben.agent_id


async def test_nobody_claims_in_time_then_the_next_group_then_the_pond(replicas) -> None:  # noqa: F811
    routing, _ = replicas
    loc = f"loc-{uuid.uuid4()}"
    agents = [await add_agent(routing, loc, f"Agent {i}") for i in range(3)]
    await first_to_claim(routing, loc, group=2, sla_s=1, moves=2)
    lead = str(uuid.uuid4())
    first = (await routing.RouteLead(route_request(loc, lead), timeout=5)).assignment
    assert len(first.offered_agent_ids) == 2

    async def now() -> pb.Assignment:
        resp = await routing.GetAssignment(pb.GetAssignmentRequest(lead_id=lead, location_id=loc), timeout=5)
        return resp.assignment

    second = await eventually(now, lambda a: a.reassign_count == 1, "the next group")
    assert second.state == OFFERED
    rest = {x.agent_id for x in agents} - set(first.offered_agent_ids)
    assert set(second.offered_agent_ids) == rest  # never offered twice to the same agent
    assert "nobody offered it did accept in time" in second.reasons[0]

    last = await eventually(now, lambda a: a.state != OFFERED, "the pond")
    assert last.state == pb.ASSIGNMENT_STATE_POND
    assert last.agent_id == ""
    assert set((await counts(routing, loc)).values()) == {0}


async def test_when_every_offered_agent_declines_the_lead_moves_on(replicas) -> None:  # noqa: F811
    routing, _ = replicas
    loc = f"loc-{uuid.uuid4()}"
    agents = [await add_agent(routing, loc, f"Agent {i}") for i in range(3)]
    await first_to_claim(routing, loc, group=2)
    lead = str(uuid.uuid4())
    offered = (await routing.RouteLead(route_request(loc, lead), timeout=5)).assignment.offered_agent_ids
    decline = pb.DeclineAssignmentRequest(lead_id=lead, location_id=loc, agent_id=offered[0])
    after_one = (await routing.DeclineAssignment(decline, timeout=5)).assignment
    assert list(after_one.offered_agent_ids) == [offered[1]]
    assert (await routing.DeclineAssignment(decline, timeout=5)).assignment == after_one  # a retry
    decline.agent_id = offered[1]
    moved = (await routing.DeclineAssignment(decline, timeout=5)).assignment
    assert moved.state == OFFERED
    assert list(moved.offered_agent_ids) == [a.agent_id for a in agents if a.agent_id not in offered]
    assert "every agent offered the lead declined it" in moved.reasons[0]


async def test_the_group_size_is_checked(replicas) -> None:  # noqa: F811
    routing, _ = replicas
    loc = f"loc-{uuid.uuid4()}"
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await first_to_claim(routing, loc, group=11)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await first_to_claim(routing, loc, group=1)  # one at a time: the mode is off
    got = await routing.GetRoutingSettings(pb.GetRoutingSettingsRequest(location_id=loc), timeout=5)
    assert got.settings.claim_group_size == 0
    await add_agent(routing, loc, "Ana")
    routed = await routing.RouteLead(route_request(loc), timeout=5)
    assert routed.assignment.state == pb.ASSIGNMENT_STATE_OPEN


async def test_an_outcome_or_a_release_closes_the_offer(replicas) -> None:  # noqa: F811
    routing, _ = replicas
    loc = f"loc-{uuid.uuid4()}"
    ana = await add_agent(routing, loc, "Ana")
    await add_agent(routing, loc, "Ben")
    await first_to_claim(routing, loc, group=2)
    lost, gone = str(uuid.uuid4()), str(uuid.uuid4())
    await routing.RouteLead(route_request(loc, lost), timeout=5)
    await routing.RouteLead(route_request(loc, gone), timeout=5)
    await routing.RecordOutcome(
        pb.RecordOutcomeRequest(lead_id=lost, location_id=loc, outcome=pb.OUTCOME_LOST, request_id=lost),
        timeout=5,
    )
    await routing.ReleaseAssignment(
        pb.ReleaseAssignmentRequest(
            lead_id=gone, location_id=loc, reason=pb.RELEASE_REASON_DELETED, request_id=gone
        ),
        timeout=5,
    )
    for lead in (lost, gone):
        now = await routing.GetAssignment(pb.GetAssignmentRequest(lead_id=lead, location_id=loc), timeout=5)
        assert now.assignment.state == pb.ASSIGNMENT_STATE_CLOSED
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await accept(routing, loc, lead, ana.agent_id)
        assert reason(exc.value) == "OFFER_CLOSED"
    assert set((await counts(routing, loc)).values()) == {0}
