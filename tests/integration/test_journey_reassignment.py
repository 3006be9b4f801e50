"""The journey follows the lead when routing moves it: after a decline (or an SLA sweep) the
coordinator's GetJourney names the agent who holds the lead now, or none once it went to the
pond, and the timeline says "reassigned from X to Y (reason)". A replayed relay changes
nothing, even when it arrives after a later move. Whole mesh in-process, real Postgres."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import grpc
import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from tests.conftest import with_database
from tests.journeys import add_agent, add_lead, eventually
from tests.support import Mesh, error_reason, location_of, mesh, migrate_all


@pytest.fixture(scope="module")
async def own_dsn(postgres_url: str) -> AsyncIterator[str]:
    """A database of this module's own: the outbox relays never wait behind other modules' rows."""
    name = f"leadengine_moves_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = with_database(postgres_url, name)
    try:
        await migrate_all(dsn)
        yield dsn
    finally:
        admin = await asyncpg.connect(postgres_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="module")
async def m(own_dsn: str) -> AsyncIterator[Mesh]:
    overrides: dict[str, dict[str, Any]] = {
        "ingest": {"outbox_poll_s": 0.1},
        "routing": {"outbox_poll_s": 0.1},
    }
    async with mesh(own_dsn, overrides=overrides) as running:
        yield running


async def journey(m: Mesh, lead_id: str) -> pb.Journey:
    resp = await m.clients.coordinator.GetJourney(
        pb.GetJourneyRequest(lead_id=lead_id, location_id=await location_of(m, lead_id)), timeout=5
    )
    return resp.journey


async def moves(m: Mesh, lead_id: str) -> list[pb.TimelineEntry]:
    resp = await m.clients.coordinator.GetLeadTimeline(
        pb.GetLeadTimelineRequest(lead_id=lead_id, page_size=200, location_id=await location_of(m, lead_id)),
        timeout=5,
    )
    return [e for e in resp.entries if e.kind == "reassigned"]


async def decline(m: Mesh, loc: str, lead_id: str, agent_id: str) -> None:
    await m.clients.routing.DeclineAssignment(
        routing_pb.DeclineAssignmentRequest(lead_id=lead_id, location_id=loc, agent_id=agent_id), timeout=5
    )


async def test_the_journey_names_whoever_holds_the_lead_now_and_a_replay_changes_nothing(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    names = {}
    for name in ("Ann Decliner", "Bob Holder"):
        names[(await add_agent(m, loc, name=name)).agent_id] = name
    lead = await add_lead(m, loc, email=f"lee-{uuid.uuid4().hex[:8]}@example.com")
    started = await eventually(lambda: journey(m, lead.lead_id), lambda j: bool(j.agent_id), "a journey")
    first = started.agent_id
    [second] = set(names) - {first}

    await decline(m, loc, lead.lead_id, first)
    moved = await eventually(
        lambda: journey(m, lead.lead_id), lambda j: j.agent_id == second, "the journey to follow the move"
    )
    assert moved.state == pb.JOURNEY_STATE_ACTIVE  # the journey goes on, with its new agent
    [entry] = await moves(m, lead.lead_id)
    assert entry.summary == f"reassigned from {names[first]} to {names[second]} ({names[first]} declined)"
    assert entry.details["from_agent_id"] == first
    assert entry.details["to_agent_id"] == second

    # Bob declines too: nobody is left, the lead goes to the pond and the journey names no one.
    await decline(m, loc, lead.lead_id, second)
    pond = await eventually(
        lambda: journey(m, lead.lead_id), lambda j: j.agent_id == "", "the journey to lose its agent"
    )
    assert "pond" in pond.agent_reason
    assert f"{names[second]} declined" in pond.agent_reason
    both = await moves(m, lead.lead_id)
    assert [e.summary for e in both][1] == (
        f"reassigned from {names[second]} to the pond ({names[second]} declined)"
    )

    # The relay redelivers the first move after the second (a retried row): nothing changes.
    replay = pb.HandleOutcomeRequest(
        event_id=entry.details["event_id"],
        lead_id=lead.lead_id,
        location_id=loc,
        occurred_time=entry.time,
        agent_id=second,
        reassignment=pb.LeadReassignment(previous_agent_id=first, reason=f"{names[first]} declined"),
    )
    for _ in range(2):
        after = await m.clients.coordinator.HandleOutcome(replay, timeout=10)
        assert after.journey.agent_id == ""
    assert [e.summary for e in await moves(m, lead.lead_id)] == [e.summary for e in both]


async def test_an_older_move_arriving_late_does_not_overwrite_a_newer_one(m: Mesh) -> None:
    """Two moves whose relays arrive out of order: the journey ends with the newer one's agent,
    and the timeline shows both in the order they happened."""
    loc = f"loc-{uuid.uuid4()}"
    a, b, c = [(await add_agent(m, loc, name=n)).agent_id for n in ("Al", "Bo", "Cy")]
    lead = await add_lead(m, loc, email=f"lee-{uuid.uuid4().hex[:8]}@example.com")
    started = await eventually(lambda: journey(m, lead.lead_id), lambda j: bool(j.agent_id), "a journey")
    t0 = started.create_time.seconds

    def move(event: str, before: str, after: str, seconds: int) -> pb.HandleOutcomeRequest:
        request = pb.HandleOutcomeRequest(
            event_id=event,
            lead_id=lead.lead_id,
            location_id=loc,
            agent_id=after,
            reassignment=pb.LeadReassignment(previous_agent_id=before, reason="test move"),
        )
        request.occurred_time.FromSeconds(t0 + seconds)
        return request

    newer = await m.clients.coordinator.HandleOutcome(move(str(uuid.uuid4()), b, c, 20), timeout=10)
    assert newer.journey.agent_id == c
    older = await m.clients.coordinator.HandleOutcome(move(str(uuid.uuid4()), a, b, 10), timeout=10)
    assert older.journey.agent_id == c
    assert [e.summary for e in await moves(m, lead.lead_id)] == [
        "reassigned from Al to Bo (test move)",
        "reassigned from Bo to Cy (test move)",
    ]


async def test_a_malformed_move_is_refused_and_changes_nothing(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(m, loc, name="Dee")
    lead = await add_lead(m, loc, email=f"lee-{uuid.uuid4().hex[:8]}@example.com")
    started = await eventually(lambda: journey(m, lead.lead_id), lambda j: bool(j.agent_id), "a journey")
    bad = pb.HandleOutcomeRequest(
        event_id=str(uuid.uuid4()),
        lead_id=lead.lead_id,
        location_id=loc,
        agent_id="not-an-agent",
        reassignment=pb.LeadReassignment(previous_agent_id=started.agent_id, reason="test move"),
    )
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await m.clients.coordinator.HandleOutcome(bad, timeout=10)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(exc.value) == "INVALID_ID"
    assert (await journey(m, lead.lead_id)).agent_id == started.agent_id
    assert await moves(m, lead.lead_id) == []
