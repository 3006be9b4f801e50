"""RoutingService against real PostgreSQL, served in-process on port 0."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as pb

from tests.support import error_reason as reason
from tests.support import mesh


@pytest.fixture(scope="module")
async def routing(migrated_dsn):
    async with mesh(migrated_dsn, only=("routing",)) as m:
        yield m.clients.routing


def route_request(location: str, lead_id: str | None = None, **lead: object) -> pb.RouteLeadRequest:
    """RouteLead with the lead's snapshot, so routing needs no ingest."""
    lead_id = lead_id or str(uuid.uuid4())
    return pb.RouteLeadRequest(
        lead_id=lead_id,
        location_id=location,
        lead=ingest_pb.Lead(lead_id=lead_id, location_id=location, **lead),  # type: ignore[arg-type]
    )


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
    first = await routing.RouteLead(route_request(loc), timeout=5)
    second = await routing.RouteLead(route_request(loc), timeout=5)
    assert {first.assignment.agent_id, second.assignment.agent_id} == {a.agent_id, b.agent_id}
    assert "ranks first of 2" in second.assignment.reasons[0]
    assert [c.active_lead_count for c in second.assignment.candidates] == [0, 1]  # the load decided
    agents = (await routing.ListAgents(pb.ListAgentsRequest(location_id=loc), timeout=5)).agents
    assert [x.active_lead_count for x in agents] == [1, 1]


async def test_route_is_idempotent_per_lead(routing) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(routing, loc, "Ana")
    await add_agent(routing, loc, "Ben")
    lead = str(uuid.uuid4())
    results = await asyncio.gather(
        *(routing.RouteLead(route_request(loc, lead), timeout=5) for _ in range(10))
    )
    assert len({r.assignment.agent_id for r in results}) == 1
    assert {r.agent.agent_id for r in results} == {results[0].assignment.agent_id}
    assert sum(r.created for r in results) == 1
    agents = (await routing.ListAgents(pb.ListAgentsRequest(location_id=loc), timeout=5)).agents
    assert sorted(x.active_lead_count for x in agents) == [0, 1]


async def test_unavailable_and_full_agents_are_skipped_and_the_lead_waits_in_the_pond(routing) -> None:
    loc = f"loc-{uuid.uuid4()}"
    off = await add_agent(routing, loc, "Off")
    await routing.SetAgentAvailability(
        pb.SetAgentAvailabilityRequest(agent_id=off.agent_id, location_id=loc, available=False), timeout=5
    )
    full = await add_agent(routing, loc, "Full", capacity=1)
    await routing.RouteLead(route_request(loc), timeout=5)
    pond = await routing.RouteLead(route_request(loc), timeout=5)
    assert pond.created
    assert pond.assignment.state == pb.ASSIGNMENT_STATE_POND
    assert not pond.assignment.agent_id
    assert not pond.HasField("agent")
    words = " ".join(pond.assignment.reasons)
    assert "skipped unavailable: Off" in words
    assert "skipped at capacity: Full" in words
    assert "pond" in words
    stored = await routing.GetAssignment(
        pb.GetAssignmentRequest(lead_id=pond.assignment.lead_id, location_id=loc), timeout=5
    )
    assert stored.assignment.reasons == pond.assignment.reasons  # the reason is stored
    # Once an agent is free again, routing the pond lead assigns it.
    await routing.SetAgentAvailability(
        pb.SetAgentAvailabilityRequest(agent_id=off.agent_id, location_id=loc, available=True), timeout=5
    )
    again = await routing.RouteLead(route_request(loc, pond.assignment.lead_id), timeout=5)
    assert again.assignment.state == pb.ASSIGNMENT_STATE_OPEN
    assert again.assignment.agent_id == off.agent_id
    assert full.agent_id


async def test_closing_outcome_frees_capacity(routing) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(routing, loc, "Solo", capacity=1)
    lead = str(uuid.uuid4())
    await routing.RouteLead(route_request(loc, lead), timeout=5)
    for _ in range(2):  # a retried outcome closes once
        await routing.RecordOutcome(
            pb.RecordOutcomeRequest(
                lead_id=lead, location_id=loc, outcome=pb.OUTCOME_WON, request_id=f"won-{lead}"
            ),
            timeout=5,
        )
    agents = (await routing.ListAgents(pb.ListAgentsRequest(location_id=loc), timeout=5)).agents
    assert agents[0].active_lead_count == 0
    nxt = await routing.RouteLead(route_request(loc), timeout=5)
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
    first = await routing.RouteLead(route_request(loc, lead), timeout=5)
    assert first.created
    shown = (
        await routing.GetAgent(
            pb.GetAgentRequest(agent_id=first.assignment.agent_id, location_id=loc), timeout=5
        )
    ).agent
    assert first.agent == shown
    assert first.agent.active_lead_count == 1
    again = await routing.RouteLead(route_request(loc, lead), timeout=5)
    assert not again.created
    assert again.agent == shown  # the existing assignment names the same agent, unchanged
