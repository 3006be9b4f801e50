"""RoutingService against real PostgreSQL, served in-process on port 0."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from leadengine.routing.v1 import routing_service_pb2 as pb

from tests.support import error_reason as reason
from tests.support import mesh


@pytest.fixture(scope="module")
async def routing(migrated_dsn):
    async with mesh(migrated_dsn, only=("routing",)) as m:
        yield m.clients.routing


async def add_agent(routing, location: str, name: str, **kw) -> pb.Agent:
    resp = await routing.UpsertAgent(
        pb.UpsertAgentRequest(agent=pb.Agent(location_id=location, name=name, available=True, **kw)),
        timeout=5,
    )
    return resp.agent


async def test_routes_to_fewest_open_leads_and_explains(routing) -> None:
    loc = f"loc-{uuid.uuid4()}"
    a = await add_agent(routing, loc, "Ana", capacity=5)
    b = await add_agent(routing, loc, "Ben", capacity=5)
    first = await routing.RouteLead(
        pb.RouteLeadRequest(lead_id=str(uuid.uuid4()), location_id=loc), timeout=5
    )
    second = await routing.RouteLead(
        pb.RouteLeadRequest(lead_id=str(uuid.uuid4()), location_id=loc), timeout=5
    )
    assert {first.assignment.agent_id, second.assignment.agent_id} == {a.agent_id, b.agent_id}
    assert "fewest" in second.assignment.reasons[0]
    agents = (await routing.ListAgents(pb.ListAgentsRequest(location_id=loc), timeout=5)).agents
    assert [x.active_lead_count for x in agents] == [1, 1]


async def test_route_is_idempotent_per_lead(routing) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(routing, loc, "Ana")
    await add_agent(routing, loc, "Ben")
    lead = str(uuid.uuid4())
    results = await asyncio.gather(
        *(routing.RouteLead(pb.RouteLeadRequest(lead_id=lead, location_id=loc), timeout=5) for _ in range(10))
    )
    assert len({r.assignment.agent_id for r in results}) == 1
    assert {r.agent.agent_id for r in results} == {results[0].assignment.agent_id}
    assert sum(r.created for r in results) == 1
    agents = (await routing.ListAgents(pb.ListAgentsRequest(location_id=loc), timeout=5)).agents
    assert sorted(x.active_lead_count for x in agents) == [0, 1]


async def test_unavailable_and_full_agents_are_skipped(routing) -> None:
    loc = f"loc-{uuid.uuid4()}"
    off = await add_agent(routing, loc, "Off")
    await routing.SetAgentAvailability(
        pb.SetAgentAvailabilityRequest(agent_id=off.agent_id, available=False), timeout=5
    )
    full = await add_agent(routing, loc, "Full", capacity=1)
    await routing.RouteLead(pb.RouteLeadRequest(lead_id=str(uuid.uuid4()), location_id=loc), timeout=5)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await routing.RouteLead(pb.RouteLeadRequest(lead_id=str(uuid.uuid4()), location_id=loc), timeout=5)
    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(exc.value) == "NO_AGENT_AVAILABLE"
    assert full.agent_id


async def test_closing_outcome_frees_capacity(routing) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(routing, loc, "Solo", capacity=1)
    lead = str(uuid.uuid4())
    await routing.RouteLead(pb.RouteLeadRequest(lead_id=lead, location_id=loc), timeout=5)
    for _ in range(2):  # a retried outcome closes once
        await routing.RecordOutcome(
            pb.RecordOutcomeRequest(lead_id=lead, outcome=pb.OUTCOME_WON, request_id="won-1"), timeout=5
        )
    agents = (await routing.ListAgents(pb.ListAgentsRequest(location_id=loc), timeout=5)).agents
    assert agents[0].active_lead_count == 0
    nxt = await routing.RouteLead(pb.RouteLeadRequest(lead_id=str(uuid.uuid4()), location_id=loc), timeout=5)
    assert nxt.created


async def test_bad_input_is_invalid_argument_and_writes_nothing(routing) -> None:
    loc = f"loc-{uuid.uuid4()}"
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await add_agent(routing, loc, "Bad", phone="not a phone")
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(exc.value) == "INVALID_PHONE"
    assert not (await routing.ListAgents(pb.ListAgentsRequest(location_id=loc), timeout=5)).agents


async def test_list_agents_pages(routing) -> None:
    loc = f"loc-{uuid.uuid4()}"
    for i in range(5):
        await add_agent(routing, loc, f"Agent {i}")
    seen, token = [], ""
    while True:
        page = await routing.ListAgents(
            pb.ListAgentsRequest(location_id=loc, page_size=2, page_token=token), timeout=5
        )
        seen += [a.name for a in page.agents]
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"Agent {i}" for i in range(5)]


async def test_route_lead_returns_the_agent_as_get_agent_shows_it(routing) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(routing, loc, "Ana", capacity=3)
    lead = str(uuid.uuid4())
    first = await routing.RouteLead(pb.RouteLeadRequest(lead_id=lead, location_id=loc), timeout=5)
    assert first.created
    shown = (await routing.GetAgent(pb.GetAgentRequest(agent_id=first.assignment.agent_id), timeout=5)).agent
    assert first.agent == shown
    assert first.agent.active_lead_count == 1
    again = await routing.RouteLead(pb.RouteLeadRequest(lead_id=lead, location_id=loc), timeout=5)
    assert not again.created
    assert again.agent == shown  # the existing assignment names the same agent, unchanged
