"""ReassignLead: an operator moves a lead to a named agent, capacity checked, reason stored.
RoutingService over gRPC against real PostgreSQL."""

from __future__ import annotations

import uuid

import grpc
import pytest
from leadengine.routing.v1 import routing_service_pb2 as pb

from tests.integration.test_routing import add_agent, route_request
from tests.integration.test_routing_capacity import counts, open_rows, routing, tables  # noqa: F401
from tests.integration.test_routing_first_to_claim import first_to_claim
from tests.support import error_reason as reason


def reassign(routing, loc: str, lead: str, agent_id: str, why: str = "the client asked for Cleo"):  # noqa: F811
    return routing.ReassignLead(
        pb.ReassignLeadRequest(lead_id=lead, location_id=loc, agent_id=agent_id, reason=why), timeout=5
    )


async def test_an_open_lead_moves_to_the_named_agent_and_slots_follow(routing, tables) -> None:  # noqa: F811
    loc = f"loc-{uuid.uuid4()}"
    ana = await add_agent(routing, loc, "Ana", capacity=2)
    cleo = await add_agent(routing, loc, "Cleo", capacity=1)
    await routing.SetRoutingSettings(
        pb.SetRoutingSettingsRequest(location_id=loc, settings=pb.RoutingSettings(load_weight=0.0)), timeout=5
    )
    lead = str(uuid.uuid4())
    routed = (await routing.RouteLead(route_request(loc, lead), timeout=5)).assignment
    assert routed.state == pb.ASSIGNMENT_STATE_OPEN
    target = cleo if routed.agent_id == ana.agent_id else ana
    moved = (await reassign(routing, loc, lead, target.agent_id)).assignment
    assert moved.agent_id == target.agent_id
    assert moved.state == pb.ASSIGNMENT_STATE_OPEN
    assert moved.reassign_count == 1
    assert moved.reasons[0] == f"reassigned to {target.name} by an operator: the client asked for Cleo"
    assert moved.HasField("accept_by_time")  # the new agent has the SLA to accept
    held = await counts(routing, loc)
    assert held[target.agent_id] == 1
    assert held[routed.agent_id] == 0  # the previous holder's slot is back
    assert {k: v for k, v in held.items() if v} == await open_rows(tables, loc)
    again = (await reassign(routing, loc, lead, target.agent_id, "a retry")).assignment
    assert again == moved  # asked again: nothing changes


async def test_a_full_or_unknown_agent_or_a_missing_reason_changes_nothing(routing) -> None:  # noqa: F811
    loc = f"loc-{uuid.uuid4()}"
    ana = await add_agent(routing, loc, "Ana", capacity=1)
    ben = await add_agent(routing, loc, "Ben", capacity=1)
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    first = (await routing.RouteLead(route_request(loc, one), timeout=5)).assignment
    second = (await routing.RouteLead(route_request(loc, two), timeout=5)).assignment
    assert {first.agent_id, second.agent_id} == {ana.agent_id, ben.agent_id}
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await reassign(routing, loc, one, second.agent_id)
    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(exc.value) == "AGENT_AT_CAPACITY"
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await reassign(routing, loc, one, str(uuid.uuid4()))
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await reassign(routing, loc, one, second.agent_id, why="  ")
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    after = await routing.GetAssignment(pb.GetAssignmentRequest(lead_id=one, location_id=loc), timeout=5)
    assert after.assignment.agent_id == first.agent_id
    assert sorted((await counts(routing, loc)).values()) == [1, 1]


async def test_a_lead_in_the_pond_or_on_offer_can_be_given_to_an_agent(routing) -> None:  # noqa: F811
    loc = f"loc-{uuid.uuid4()}"
    pond = (await routing.RouteLead(route_request(loc), timeout=5)).assignment  # no agents yet
    assert pond.state == pb.ASSIGNMENT_STATE_POND
    ana = await add_agent(routing, loc, "Ana")
    await add_agent(routing, loc, "Ben")
    taken = (await reassign(routing, loc, pond.lead_id, ana.agent_id)).assignment
    assert (taken.state, taken.agent_id) == (pb.ASSIGNMENT_STATE_OPEN, ana.agent_id)

    await first_to_claim(routing, loc, group=2)
    offered = (await routing.RouteLead(route_request(loc), timeout=5)).assignment
    assert offered.state == pb.ASSIGNMENT_STATE_OFFERED
    given = (await reassign(routing, loc, offered.lead_id, ana.agent_id)).assignment
    assert (given.state, given.agent_id) == (pb.ASSIGNMENT_STATE_OPEN, ana.agent_id)
    assert list(given.offered_agent_ids) == []
    assert sorted((await counts(routing, loc)).values()) == [0, 2]
