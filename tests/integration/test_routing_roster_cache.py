"""RouteLead keeps each location's roster in memory and catches up by reading only the agents
changed since the version it holds (migration 0190). A change made through another replica
(a second routing process on the same database) reaches the next route: availability, an
attribute, a freed slot, a new agent. RoutingService over gRPC against real PostgreSQL."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from leadengine.routing.v1 import routing_service_pb2 as pb

from shared import timestamps
from tests.integration.test_routing import add_agent, route_request
from tests.support import mesh


@pytest.fixture(scope="module")
async def replicas(migrated_dsn):
    async with mesh(migrated_dsn, only=("routing",)) as a, mesh(migrated_dsn, only=("routing",)) as b:
        yield a.clients.routing, b.clients.routing


async def test_changes_made_by_another_replica_reach_the_next_route(replicas) -> None:
    mine, other = replicas
    loc = f"loc-{uuid.uuid4()}"
    ana = await add_agent(mine, loc, "Ana", capacity=1, languages=["en"])
    ben = await add_agent(mine, loc, "Ben", capacity=1, languages=["en"])
    first = await mine.RouteLead(route_request(loc), timeout=5)  # the roster is now cached
    holder = first.assignment.agent_id
    free = ben.agent_id if holder == ana.agent_id else ana.agent_id

    # The other replica makes the free agent unavailable: nobody can take a lead.
    await other.SetAgentAvailability(
        pb.SetAgentAvailabilityRequest(agent_id=free, location_id=loc, available=False), timeout=5
    )
    pond = await mine.RouteLead(route_request(loc), timeout=5)
    assert pond.assignment.state == pb.ASSIGNMENT_STATE_POND
    assert any("unavailable" in r for r in pond.assignment.reasons)

    # It records the holder's outcome: the slot is free again, and the next lead goes there.
    await other.RecordOutcome(
        pb.RecordOutcomeRequest(
            lead_id=first.assignment.lead_id,
            location_id=loc,
            outcome=pb.OUTCOME_LOST,
            occurred_time=timestamps.to_proto(timestamps.now()),
        ),
        timeout=5,
    )
    again = await mine.RouteLead(route_request(loc), timeout=5)
    assert again.assignment.agent_id == holder

    # An attribute (a language) and a new agent, both through the other replica.
    await other.SetAgentAvailability(
        pb.SetAgentAvailabilityRequest(agent_id=free, location_id=loc, available=True), timeout=5
    )
    await other.UpsertAgent(
        pb.UpsertAgentRequest(
            agent=pb.Agent(
                agent_id=free, location_id=loc, name="Ben", available=True, capacity=1, languages=["es"]
            )
        ),
        timeout=5,
    )
    cleo = await add_agent(other, loc, "Cleo", capacity=1, languages=["es"])
    spanish = await mine.RouteLead(route_request(loc, preferred_language="es"), timeout=5)
    assert spanish.assignment.agent_id in {free, cleo.agent_id}
    last = await mine.RouteLead(route_request(loc, preferred_language="es"), timeout=5)
    assert {spanish.assignment.agent_id, last.assignment.agent_id} == {free, cleo.agent_id}
    full = await mine.RouteLead(route_request(loc), timeout=5)
    assert full.assignment.state == pb.ASSIGNMENT_STATE_POND  # all three at capacity, seen as such


async def test_a_route_stamps_its_agent_with_the_version_it_made(migrated_dsn, replicas) -> None:
    """RouteLead moves the version, takes the slot and stores the assignment in one statement:
    the agent row must carry that new version, or other replicas would never read the slot."""
    mine, _ = replicas
    loc = f"loc-{uuid.uuid4()}"
    ana = await add_agent(mine, loc, "Ana")
    await mine.RouteLead(route_request(loc), timeout=5)
    conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "routing"})
    try:
        row = await conn.fetchrow(
            "SELECT a.roster_version, r.version, a.active_lead_count FROM agents a"
            " JOIN rosters r USING (location_id) WHERE a.agent_id = $1",
            uuid.UUID(ana.agent_id),
        )
    finally:
        await conn.close()
    assert row["active_lead_count"] == 1
    assert row["roster_version"] == row["version"]
