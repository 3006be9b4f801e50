"""Open assignments and capacity: exact under concurrency and restarts, freed by every way an
assignment ends. RoutingService over gRPC against real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, timedelta

import asyncpg
import grpc
import pytest
from leadengine.routing.v1 import routing_service_pb2 as pb

from shared import timestamps
from tests.integration.test_routing import add_agent, route_request
from tests.journeys import eventually
from tests.support import error_reason as reason
from tests.support import field_violations, mesh


@pytest.fixture(scope="module")
async def routing(migrated_dsn):
    # A fast sweep so the inactivity test sees it run; nothing else depends on its pace.
    async with mesh(migrated_dsn, only=("routing",), overrides={"routing": {"sweep_s": 0.05}}) as m:
        yield m.clients.routing


@pytest.fixture(scope="module")
async def tables(migrated_dsn):
    conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "routing"})
    yield conn
    await conn.close()


async def counts(routing, location: str) -> dict[str, int]:
    agents = (await routing.ListAgents(pb.ListAgentsRequest(location_id=location), timeout=5)).agents
    return {a.agent_id: a.active_lead_count for a in agents}


async def open_rows(tables, location: str) -> dict[str, int]:
    rows = await tables.fetch(
        "SELECT agent_id::text AS agent_id, count(*) AS n FROM assignments"
        " WHERE location_id = $1 AND active GROUP BY agent_id",
        location,
    )
    return {r["agent_id"]: r["n"] for r in rows}


async def test_100_concurrent_routes_at_capacity_minus_one_never_pass_capacity(
    migrated_dsn, routing, tables
) -> None:
    loc = f"loc-{uuid.uuid4()}"
    agents = [await add_agent(routing, loc, f"Agent {i}", capacity=4) for i in range(3)]
    for _ in range(3 * 3):  # each agent at capacity - 1
        await routing.RouteLead(route_request(loc), timeout=5)
    assert sorted((await counts(routing, loc)).values()) == [3, 3, 3]

    results = await asyncio.gather(*(routing.RouteLead(route_request(loc), timeout=10) for _ in range(100)))

    opened = [r for r in results if r.assignment.state == pb.ASSIGNMENT_STATE_OPEN]
    pond = [r for r in results if r.assignment.state == pb.ASSIGNMENT_STATE_POND]
    assert len(opened) == 3
    assert len(pond) == 97
    assert {r.assignment.agent_id for r in opened} == {a.agent_id for a in agents}
    held = await counts(routing, loc)
    assert sorted(held.values()) == [4, 4, 4]
    assert held == await open_rows(tables, loc)  # the count is the open assignments, exactly

    # A restart (a new process on the same database) sees the same counts and still refuses.
    async with mesh(migrated_dsn, only=("routing",)) as again:
        assert await counts(again.clients.routing, loc) == held
        more = await again.clients.routing.RouteLead(route_request(loc), timeout=5)
        assert more.assignment.state == pb.ASSIGNMENT_STATE_POND


async def test_release_frees_the_slot_once_and_is_idempotent(routing, tables) -> None:
    loc = f"loc-{uuid.uuid4()}"
    solo = await add_agent(routing, loc, "Solo", capacity=1)
    lead = str(uuid.uuid4())
    await routing.RouteLead(route_request(loc, lead), timeout=5)
    for _ in range(2):
        resp = await routing.ReleaseAssignment(
            pb.ReleaseAssignmentRequest(
                lead_id=lead, location_id=loc, reason=pb.RELEASE_REASON_DELETED, request_id="r1"
            ),
            timeout=5,
        )
        assert resp.assignment.state == pb.ASSIGNMENT_STATE_CLOSED
        assert resp.assignment.end_reason == "the lead was deleted"
    assert await counts(routing, loc) == {solo.agent_id: 0}
    # An outcome after the release is still recorded, and frees nothing twice.
    await routing.RecordOutcome(
        pb.RecordOutcomeRequest(lead_id=lead, location_id=loc, outcome=pb.OUTCOME_LOST, request_id=lead),
        timeout=5,
    )
    assert await counts(routing, loc) == {solo.agent_id: 0}
    nxt = await routing.RouteLead(route_request(loc), timeout=5)
    assert nxt.assignment.agent_id == solo.agent_id
    assert await counts(routing, loc) == await open_rows(tables, loc)


async def test_release_needs_a_reason(routing) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(routing, loc, "Solo")
    lead = str(uuid.uuid4())
    await routing.RouteLead(route_request(loc, lead), timeout=5)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await routing.ReleaseAssignment(pb.ReleaseAssignmentRequest(lead_id=lead, location_id=loc), timeout=5)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(exc.value) == ["reason"]


async def test_inactive_assignments_close_after_the_locations_days(routing, tables) -> None:
    loc = f"loc-{uuid.uuid4()}"
    agent = await add_agent(routing, loc, "Ana", capacity=5)
    await routing.SetRoutingSettings(
        pb.SetRoutingSettingsRequest(location_id=loc, settings=pb.RoutingSettings(inactivity_days=3)),
        timeout=5,
    )
    quiet, busy = str(uuid.uuid4()), str(uuid.uuid4())
    for lead in (quiet, busy):
        await routing.RouteLead(route_request(loc, lead), timeout=5)
    # Days pass (moved back behind the API: tests cannot wait days): four for one lead, two for
    # the other, which RecordLeadActivity then moves forward to yesterday and never back.
    for lead, days in ((quiet, 4), (busy, 2)):
        await tables.execute(
            "UPDATE assignments SET last_activity_time = now() - make_interval(days => $2)"
            " WHERE lead_id = $1",
            uuid.UUID(lead),
            days,
        )
    for days_ago in (1, 5):
        touched = await routing.RecordLeadActivity(
            pb.RecordLeadActivityRequest(
                lead_id=busy,
                location_id=loc,
                activity_time=timestamps.to_proto(timestamps.now() - timedelta(days=days_ago)),
            ),
            timeout=5,
        )
        shown = touched.assignment.last_activity_time.ToDatetime(tzinfo=UTC)
        assert timedelta(hours=23) < timestamps.now() - shown < timedelta(hours=25)
    assert touched.assignment.state == pb.ASSIGNMENT_STATE_OPEN

    async def quiet_assignment() -> pb.Assignment:
        resp = await routing.GetAssignment(pb.GetAssignmentRequest(lead_id=quiet, location_id=loc), timeout=5)
        return resp.assignment

    closed = await eventually(
        quiet_assignment, lambda a: a.state == pb.ASSIGNMENT_STATE_CLOSED, "the idle assignment to close"
    )
    assert closed.end_reason == "no lead activity for 3 days"
    still = await routing.GetAssignment(pb.GetAssignmentRequest(lead_id=busy, location_id=loc), timeout=5)
    assert still.assignment.state == pb.ASSIGNMENT_STATE_OPEN
    assert await counts(routing, loc) == {agent.agent_id: 1}


async def test_ids_of_another_location_are_not_found(routing) -> None:
    loc, other = f"loc-{uuid.uuid4()}", f"loc-{uuid.uuid4()}"
    agent = await add_agent(routing, loc, "Ana")
    lead = str(uuid.uuid4())
    await routing.RouteLead(route_request(loc, lead), timeout=5)
    calls = [
        routing.GetAgent(pb.GetAgentRequest(agent_id=agent.agent_id, location_id=other), timeout=5),
        routing.SetAgentAvailability(
            pb.SetAgentAvailabilityRequest(agent_id=agent.agent_id, location_id=other, available=False),
            timeout=5,
        ),
        routing.GetAssignment(pb.GetAssignmentRequest(lead_id=lead, location_id=other), timeout=5),
        routing.RecordOutcome(
            pb.RecordOutcomeRequest(lead_id=lead, location_id=other, outcome=pb.OUTCOME_WON), timeout=5
        ),
        routing.RouteLead(route_request(other, lead), timeout=5),
        routing.ReleaseAssignment(
            pb.ReleaseAssignmentRequest(lead_id=lead, location_id=other, reason=pb.RELEASE_REASON_DELETED),
            timeout=5,
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await call
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND
        assert reason(exc.value) in ("AGENT_NOT_FOUND", "ASSIGNMENT_NOT_FOUND")
    # Nothing changed in the owning location.
    shown = await routing.GetAgent(pb.GetAgentRequest(agent_id=agent.agent_id, location_id=loc), timeout=5)
    assert shown.agent.available
    assert shown.agent.active_lead_count == 1


async def test_outcomes_up_to_90_days_back_are_accepted_older_ones_refused(routing) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(routing, loc, "Ana")
    lead = str(uuid.uuid4())
    await routing.RouteLead(route_request(loc, lead), timeout=5)
    old = timestamps.to_proto(timestamps.now() - timedelta(days=91))
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await routing.RecordOutcome(
            pb.RecordOutcomeRequest(lead_id=lead, location_id=loc, outcome=pb.OUTCOME_WON, occurred_time=old),
            timeout=5,
        )
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(exc.value) == ["occurred_time"]
    still = await routing.GetAssignment(pb.GetAssignmentRequest(lead_id=lead, location_id=loc), timeout=5)
    assert still.assignment.state == pb.ASSIGNMENT_STATE_OPEN  # nothing changed
    # 80 days back: before the assignment itself (a history import), accepted.
    earlier = timestamps.to_proto(timestamps.now() - timedelta(days=80))
    resp = await routing.RecordOutcome(
        pb.RecordOutcomeRequest(lead_id=lead, location_id=loc, outcome=pb.OUTCOME_WON, occurred_time=earlier),
        timeout=5,
    )
    assert resp.assignment.state == pb.ASSIGNMENT_STATE_CLOSED
    assert resp.assignment.end_reason == "outcome won"


async def test_settings_are_checked_and_read_back(routing) -> None:
    loc = f"loc-{uuid.uuid4()}"
    got = await routing.GetRoutingSettings(pb.GetRoutingSettingsRequest(location_id=loc), timeout=5)
    assert got.settings == pb.RoutingSettings(
        inactivity_days=30, load_weight=1.0, accept_sla_seconds=300, max_reassignments=3
    )
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await routing.SetRoutingSettings(
            pb.SetRoutingSettingsRequest(location_id=loc, settings=pb.RoutingSettings(load_weight=-1)),
            timeout=5,
        )
    assert field_violations(exc.value) == ["settings.load_weight"]
    await routing.SetRoutingSettings(
        pb.SetRoutingSettingsRequest(
            location_id=loc,
            settings=pb.RoutingSettings(
                inactivity_days=7, round_robin=True, load_weight=2, accept_sla_seconds=60
            ),
        ),
        timeout=5,
    )
    got = await routing.GetRoutingSettings(pb.GetRoutingSettingsRequest(location_id=loc), timeout=5)
    assert got.settings == pb.RoutingSettings(
        inactivity_days=7, round_robin=True, load_weight=2, accept_sla_seconds=60, max_reassignments=3
    )
