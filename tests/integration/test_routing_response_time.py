"""Agent response time in ranking, over gRPC against real PostgreSQL: accepting (or declining,
or missing the deadline) records how long the agent took, GetAgent shows the median, and the
next RouteLead ranks a slow agent below an otherwise equal fast one and says why."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from leadengine.routing.v1 import routing_service_pb2 as pb

from tests.integration.test_routing import add_agent, route_request
from tests.journeys import eventually
from tests.support import mesh


@pytest.fixture(scope="module")
async def routing(migrated_dsn):
    async with mesh(migrated_dsn, only=("routing",), overrides={"routing": {"sla_sweep_s": 0.05}}) as running:
        yield running.clients.routing


@pytest.fixture(scope="module")
async def tables(migrated_dsn):
    conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "routing"})
    yield conn
    await conn.close()


async def offered_ago(tables: asyncpg.Connection, lead_id: str, seconds: int) -> None:
    """As if the lead had been offered `seconds` ago (the agent took that long to answer)."""
    await tables.execute(
        "UPDATE assignments SET assign_time = now() - make_interval(secs => $2) WHERE lead_id = $1",
        uuid.UUID(lead_id),
        float(seconds),
    )


async def agent_of(routing, loc: str, agent_id: str) -> pb.Agent:
    return (await routing.GetAgent(pb.GetAgentRequest(agent_id=agent_id, location_id=loc), timeout=5)).agent


async def test_a_slow_accepter_ranks_below_an_equal_fast_one(routing, tables) -> None:
    loc = f"loc-{uuid.uuid4()}"
    ana = await add_agent(routing, loc, "Ana", capacity=10)
    ben = await add_agent(routing, loc, "Ben", capacity=10)
    assert not (await agent_of(routing, loc, ana.agent_id)).HasField("median_response_seconds")
    # One lead each (equal agents alternate); Ana answers hers in 20 min, Ben his in 30 s.
    held: dict[str, str] = {}
    for _ in range(2):
        lead = str(uuid.uuid4())
        held[(await routing.RouteLead(route_request(loc, lead), timeout=5)).assignment.agent_id] = lead
    assert set(held) == {ana.agent_id, ben.agent_id}
    await offered_ago(tables, held[ana.agent_id], 1200)
    await offered_ago(tables, held[ben.agent_id], 30)
    for agent_id, lead in held.items():
        for _ in range(2):  # a retried accept counts once
            await routing.AcceptAssignment(
                pb.AcceptAssignmentRequest(lead_id=lead, location_id=loc, agent_id=agent_id), timeout=5
            )
    slow, fast = await agent_of(routing, loc, ana.agent_id), await agent_of(routing, loc, ben.agent_id)
    assert (slow.response_count, fast.response_count) == (1, 1)
    assert slow.median_response_seconds == pytest.approx(1200, abs=60)
    assert fast.median_response_seconds == pytest.approx(30, abs=60)
    assert slow.active_lead_count == fast.active_lead_count == 1  # otherwise equal

    routed = (await routing.RouteLead(route_request(loc), timeout=5)).assignment
    assert routed.agent_id == ben.agent_id
    assert "answers offers in a median" in routed.reasons[0]
    by_agent = {c.agent_id: c for c in routed.candidates}
    assert by_agent[ben.agent_id].predicted_success > by_agent[ana.agent_id].predicted_success
    assert any("(response=over_5m)" in r for r in by_agent[ana.agent_id].reasons)
    assert any("(response=under_1m)" in r for r in by_agent[ben.agent_id].reasons)


async def test_a_decline_is_an_answer_and_the_median_spans_recent_answers(routing, tables) -> None:
    loc = f"loc-{uuid.uuid4()}"
    cy = await add_agent(routing, loc, "Cy", capacity=10)
    waits = [10, 50, 400]
    for wait in waits:
        lead = str(uuid.uuid4())
        await routing.RouteLead(route_request(loc, lead), timeout=5)
        await offered_ago(tables, lead, wait)
        if wait == 50:
            await routing.DeclineAssignment(
                pb.DeclineAssignmentRequest(lead_id=lead, location_id=loc, agent_id=cy.agent_id), timeout=5
            )
        else:
            await routing.AcceptAssignment(
                pb.AcceptAssignmentRequest(lead_id=lead, location_id=loc, agent_id=cy.agent_id), timeout=5
            )
    answered = await agent_of(routing, loc, cy.agent_id)
    assert answered.response_count == 3
    assert answered.median_response_seconds == pytest.approx(50, abs=30)
    kinds = await tables.fetch(
        "SELECT kind FROM agent_responses WHERE agent_id = $1 ORDER BY seconds", uuid.UUID(cy.agent_id)
    )
    assert [r["kind"] for r in kinds] == ["accepted", "declined", "accepted"]


async def test_a_missed_deadline_counts_as_the_time_the_lead_waited(routing, tables) -> None:
    loc = f"loc-{uuid.uuid4()}"
    eve = await add_agent(routing, loc, "Eve", capacity=10)
    lead = str(uuid.uuid4())
    await routing.RouteLead(route_request(loc, lead), timeout=5)
    # Offered 15 min ago with its deadline passed: the sweep moves it (to the pond: nobody else).
    await tables.execute(
        "UPDATE assignments SET assign_time = now() - interval '15 minutes',"
        " accept_by_time = now() - interval '10 minutes' WHERE lead_id = $1",
        uuid.UUID(lead),
    )

    missed = await eventually(
        lambda: agent_of(routing, loc, eve.agent_id),
        lambda agent: agent.response_count == 1,
        "the sweep to move the unaccepted lead",
    )
    assert missed.median_response_seconds >= 900
    assert (
        await tables.fetchval("SELECT kind FROM agent_responses WHERE agent_id = $1", uuid.UUID(eve.agent_id))
        == "missed"
    )
