"""Accepting and declining assignments, and the durable SLA sweep that moves unaccepted leads:
RoutingService over gRPC against real PostgreSQL, with two replicas sweeping at once."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import grpc
import pytest
from leadengine.routing.v1 import routing_service_pb2 as pb

from tests.integration.test_routing import add_agent, route_request
from tests.integration.test_routing_capacity import counts, open_rows
from tests.journeys import eventually
from tests.support import error_reason as reason
from tests.support import mesh


@pytest.fixture(scope="module")
async def replicas(migrated_dsn):
    """Two routing processes on one database, both sweeping often."""
    fast = {"routing": {"sla_sweep_s": 0.05}}
    async with mesh(migrated_dsn, only=("routing",), overrides=fast) as one:
        async with mesh(migrated_dsn, only=("routing",), overrides=fast) as two:
            yield one.clients.routing, two.clients.routing


@pytest.fixture(scope="module")
async def tables(migrated_dsn):
    conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "routing"})
    yield conn
    await conn.close()


async def set_sla(routing, loc: str, seconds: int, max_reassignments: int = 3) -> None:
    await routing.SetRoutingSettings(
        pb.SetRoutingSettingsRequest(
            location_id=loc,
            settings=pb.RoutingSettings(accept_sla_seconds=seconds, max_reassignments=max_reassignments),
        ),
        timeout=5,
    )


async def test_the_holder_accepts_and_nobody_else_can(replicas) -> None:
    routing, _ = replicas
    loc = f"loc-{uuid.uuid4()}"
    ana = await add_agent(routing, loc, "Ana")
    ben = await add_agent(routing, loc, "Ben", capacity=1)
    await routing.RouteLead(route_request(loc), timeout=5)  # Ben is less loaded after this one, or Ana
    lead = str(uuid.uuid4())
    routed = await routing.RouteLead(route_request(loc, lead), timeout=5)
    assert routed.assignment.HasField("accept_by_time")  # the default SLA applies
    holder = routed.assignment.agent_id
    other = ana.agent_id if holder == ben.agent_id else ben.agent_id
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await routing.AcceptAssignment(
            pb.AcceptAssignmentRequest(lead_id=lead, location_id=loc, agent_id=other), timeout=5
        )
    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(exc.value) == "ASSIGNMENT_NOT_HELD"
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await routing.AcceptAssignment(
            pb.AcceptAssignmentRequest(lead_id=lead, location_id=f"loc-{uuid.uuid4()}", agent_id=holder),
            timeout=5,
        )
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    for _ in range(2):
        accepted = await routing.AcceptAssignment(
            pb.AcceptAssignmentRequest(lead_id=lead, location_id=loc, agent_id=holder), timeout=5
        )
        assert accepted.assignment.HasField("accept_time")
        assert not accepted.assignment.HasField("accept_by_time")
    with pytest.raises(grpc.aio.AioRpcError) as exc:  # accepted: no longer declinable
        await routing.DeclineAssignment(
            pb.DeclineAssignmentRequest(lead_id=lead, location_id=loc, agent_id=holder), timeout=5
        )
    assert reason(exc.value) == "ASSIGNMENT_NOT_HELD"


async def test_declines_move_the_lead_on_never_back_and_then_to_the_pond(replicas, tables) -> None:
    routing, _ = replicas
    loc = f"loc-{uuid.uuid4()}"
    agents = {
        a.agent_id: a for a in [await add_agent(routing, loc, "Ana"), await add_agent(routing, loc, "Ben")]
    }
    lead = str(uuid.uuid4())
    first = (await routing.RouteLead(route_request(loc, lead), timeout=5)).assignment
    declined = first.agent_id
    for _ in range(2):  # a retried decline moves nothing twice
        moved = (
            await routing.DeclineAssignment(
                pb.DeclineAssignmentRequest(lead_id=lead, location_id=loc, agent_id=declined), timeout=5
            )
        ).assignment
        assert moved.agent_id != declined
        assert moved.agent_id in agents
        assert moved.reassign_count == 1
        assert moved.reasons[0] == f"reassigned: {agents[declined].name} declined"
    held = await counts(routing, loc)
    assert held == {declined: 0, moved.agent_id: 1}
    last = (
        await routing.DeclineAssignment(
            pb.DeclineAssignmentRequest(lead_id=lead, location_id=loc, agent_id=moved.agent_id), timeout=5
        )
    ).assignment
    assert last.state == pb.ASSIGNMENT_STATE_POND  # both passed: nobody is asked again
    assert "the lead waits in the location's pond" in last.reasons
    assert await counts(routing, loc) == {a: 0 for a in agents}
    assert await open_rows(tables, loc) == {}


async def test_unaccepted_leads_move_once_per_deadline_under_two_sweepers(replicas, tables) -> None:
    one, two = replicas
    loc = f"loc-{uuid.uuid4()}"
    for i in range(3):
        await add_agent(one, loc, f"Agent {i}", capacity=30)
    await set_sla(one, loc, 1, max_reassignments=1)
    leads = [str(uuid.uuid4()) for _ in range(20)]
    first = await asyncio.gather(*(one.RouteLead(route_request(loc, lead), timeout=10) for lead in leads))
    accepted = leads[0]
    await two.AcceptAssignment(
        pb.AcceptAssignmentRequest(lead_id=accepted, location_id=loc, agent_id=first[0].assignment.agent_id),
        timeout=5,
    )

    async def states() -> list[pb.Assignment]:
        got = [
            (
                await one.GetAssignment(pb.GetAssignmentRequest(lead_id=lead, location_id=loc), timeout=5)
            ).assignment
            for lead in leads[1:]
        ]
        return got

    # Each unaccepted lead moves once (to another agent, with a new deadline), then to the pond.
    final = await eventually(
        states,
        lambda got: all(a.state == pb.ASSIGNMENT_STATE_POND for a in got),
        "every lead to reach the pond",
    )
    assert all(a.reassign_count == 1 for a in final)
    assert all("did not accept in time" in a.reasons[0] for a in final)
    kept = (
        await one.GetAssignment(pb.GetAssignmentRequest(lead_id=accepted, location_id=loc), timeout=5)
    ).assignment
    assert kept.agent_id == first[0].assignment.agent_id
    assert kept.reassign_count == 0
    held = await counts(one, loc)
    assert held == {**{a: 0 for a in held}, **await open_rows(tables, loc)}  # exact after all the moves
    assert sum(held.values()) == 1


async def test_routes_outcomes_releases_and_sla_moves_at_once_never_deadlock(replicas, tables) -> None:
    one, two = replicas
    loc = f"loc-{uuid.uuid4()}"
    for i in range(4):
        await add_agent(one, loc, f"Agent {i}", capacity=100)
    await set_sla(one, loc, 1)
    early = [str(uuid.uuid4()) for _ in range(30)]
    await asyncio.gather(*(one.RouteLead(route_request(loc, lead), timeout=10) for lead in early))
    await asyncio.sleep(1.1)  # their deadlines pass: both sweepers start moving them
    late = [str(uuid.uuid4()) for _ in range(40)]
    calls = [two.RouteLead(route_request(loc, lead), timeout=20) for lead in late]
    calls += [
        one.RecordOutcome(
            pb.RecordOutcomeRequest(lead_id=lead, location_id=loc, outcome=pb.OUTCOME_LOST, request_id=lead),
            timeout=20,
        )
        for lead in early[:10]
    ]
    calls += [
        two.ReleaseAssignment(
            pb.ReleaseAssignmentRequest(
                lead_id=lead, location_id=loc, reason=pb.RELEASE_REASON_DELETED, request_id=lead
            ),
            timeout=20,
        )
        for lead in early[10:20]
    ]
    await asyncio.gather(*calls)  # any deadlock would surface as an INTERNAL error here
    # Sweepers are still moving leads: compare counts and open rows in one snapshot.
    rows = await tables.fetch(
        "SELECT g.active_lead_count AS held, (SELECT count(*) FROM assignments a"
        " WHERE a.agent_id = g.agent_id AND a.active) AS open FROM agents g WHERE g.location_id = $1",
        loc,
    )
    assert [r["held"] for r in rows] == [r["open"] for r in rows]
