"""Routing's outcome outbox gives up on a row after its attempt limit: all five services
in-process on a database of the module's own (so only this mesh's relay sees its rows), and a
real intelligence that cannot store one location's CONTACTED outcomes (a CHECK constraint in its
schema, which the test drops to "fix" it). The refused row is dead-lettered with its error for
intelligence only, the lead's later outcomes still reach both subscribers, the operator sees it
(RPC and CLI), and a replay delivers it to intelligence, once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import grpc
import pytest
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from cli import outbox as outbox_cli
from tests.databases import own_database
from tests.integration.test_metrics_exposed import value
from tests.journeys import started_lead
from tests.relay import eventually
from tests.support import Mesh, error_reason, field_violations, mesh

MAX_ATTEMPTS = 3
REFUSE = "refuse_contacted_outcomes"
DEAD_LETTERED = "routing_outcomes_dead_lettered_total"


@pytest.fixture(scope="module")
async def own_dsn(postgres_url: str) -> AsyncIterator[str]:
    async with own_database(postgres_url) as dsn:
        yield dsn


@pytest.fixture(scope="module")
async def m(own_dsn: str) -> AsyncIterator[Mesh]:
    overrides = {
        "ingest": {"outbox_poll_s": 0.1},
        "routing": {"outbox_poll_s": 0.05, "outbox_max_attempts": MAX_ATTEMPTS},
        "content": {"postal_address": "1 Main St, Austin, TX 78701"},
    }
    async with mesh(own_dsn, overrides=overrides) as running:
        yield running


@pytest.fixture(scope="module")
async def tables(own_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(own_dsn)
    yield conn
    await conn.close()


async def refuse_contacted(tables: asyncpg.Connection, location: str) -> None:
    """Intelligence's own schema refuses the location's CONTACTED outcomes: ObserveOutcome
    answers INTERNAL for them until the constraint is dropped."""
    await tables.execute(
        f"ALTER TABLE intelligence.outcomes ADD CONSTRAINT {REFUSE}"
        f" CHECK (NOT (location_id = '{location}' AND outcome = 'OUTCOME_CONTACTED')) NOT VALID"
    )


async def fixed(tables: asyncpg.Connection) -> None:
    await tables.execute(f"ALTER TABLE intelligence.outcomes DROP CONSTRAINT IF EXISTS {REFUSE}")


async def record(m: Mesh, lead, outcome: int) -> None:  # type: ignore[no-untyped-def]
    await m.clients.routing.RecordOutcome(
        routing_pb.RecordOutcomeRequest(
            lead_id=lead.lead_id, location_id=lead.location_id, outcome=outcome, request_id=str(uuid.uuid4())
        ),
        timeout=5,
    )


async def dead_letters(m: Mesh, location: str) -> list[routing_pb.DeadLetter]:
    resp = await m.clients.routing.ListDeadLetters(
        routing_pb.ListDeadLettersRequest(location_id=location), timeout=5
    )
    return list(resp.dead_letters)


async def observed(tables: asyncpg.Connection, lead_id: str) -> list[str]:
    """The outcomes intelligence stored for the lead, oldest first."""
    rows = await tables.fetch(
        "SELECT outcome FROM intelligence.outcomes WHERE lead_id = $1 ORDER BY observe_time",
        uuid.UUID(lead_id),
    )
    return [r["outcome"] for r in rows]


async def test_a_refused_outcome_is_dead_lettered_for_its_subscriber_and_replayed(
    m: Mesh, tables: asyncpg.Connection
) -> None:
    lead = await started_lead(m)
    counted = value(DEAD_LETTERED, subscriber="intelligence")
    await refuse_contacted(tables, lead.location_id)
    try:
        await record(m, lead, routing_pb.OUTCOME_CONTACTED)

        async def one_dead() -> bool:
            return len(await dead_letters(m, lead.location_id)) == 1

        await eventually(one_dead, within_s=30)
        [dead] = await dead_letters(m, lead.location_id)
        assert (dead.subscriber, dead.kind, dead.outcome, dead.lead_id, dead.attempts) == (
            "intelligence",
            routing_pb.OUTCOME_EVENT_KIND_OUTCOME,
            routing_pb.OUTCOME_CONTACTED,
            lead.lead_id,
            MAX_ATTEMPTS,
        )
        assert dead.last_error.startswith("INTERNAL")
        assert value(DEAD_LETTERED, subscriber="intelligence") == counted + 1
        event_id = uuid.UUID(dead.event_id)
        rows = await tables.fetch(
            "SELECT subscriber, published_time FROM routing.outcome_outbox WHERE event_id = $1", event_id
        )
        # The coordinator's row of the same outcome was delivered; intelligence's left the outbox.
        assert [(r["subscriber"], r["published_time"] is not None) for r in rows] == [("coordinator", True)]

        # The lead's later outcome is not held back: both subscribers get it.
        await record(m, lead, routing_pb.OUTCOME_WON)

        async def won_observed() -> bool:
            return await observed(tables, lead.lead_id) == ["OUTCOME_WON"]

        await eventually(won_observed)
        assert [d.event_id for d in await dead_letters(m, lead.location_id)] == [dead.event_id]
    finally:
        await fixed(tables)

    replayed = await m.clients.routing.ReplayDeadLetters(
        routing_pb.ReplayDeadLettersRequest(event_ids=[dead.event_id], request_id=str(uuid.uuid4())),
        timeout=5,
    )
    assert replayed.replayed_count == 1

    async def contacted_observed() -> bool:
        return await observed(tables, lead.lead_id) == ["OUTCOME_WON", "OUTCOME_CONTACTED"]

    await eventually(contacted_observed)
    assert await dead_letters(m, lead.location_id) == []
    row = await tables.fetchrow(
        "SELECT replays, published_time, request_id FROM routing.outcome_outbox o"
        " LEFT JOIN intelligence.outcomes i ON i.request_id = o.event_id::text"
        " WHERE o.event_id = $1 AND o.subscriber = 'intelligence'",
        event_id,
    )
    # The same event id, so intelligence's dedup on it still holds.
    assert (row["replays"], row["request_id"]) == (1, dead.event_id)

    async def marked() -> bool:
        published = await tables.fetchval(
            "SELECT published_time FROM routing.outcome_outbox WHERE event_id = $1"
            " AND subscriber = 'intelligence'",
            event_id,
        )
        return published is not None

    await eventually(marked)
    again = await m.clients.routing.ReplayDeadLetters(
        routing_pb.ReplayDeadLettersRequest(event_ids=[dead.event_id]), timeout=5
    )
    assert again.replayed_count == 0


async def test_the_cli_lists_and_replays_routing_dead_letters(
    m: Mesh, tables: asyncpg.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    leads = [await started_lead(m)]
    leads.append(await started_lead(m, location=leads[0].location_id))
    location = leads[0].location_id
    await refuse_contacted(tables, location)
    try:
        for lead in leads:
            await record(m, lead, routing_pb.OUTCOME_CONTACTED)

        async def both_dead() -> bool:
            return len(await dead_letters(m, location)) == 2

        await eventually(both_dead, within_s=30)
        assert await outbox_cli.list_command(m.clients, location, 100, service="routing") == 0
        out = capsys.readouterr().out
        for letter in await dead_letters(m, location):
            assert letter.event_id in out
        # Page by page: one at a time, newest first, then the other.
        first = await m.clients.routing.ListDeadLetters(
            routing_pb.ListDeadLettersRequest(location_id=location, page_size=1), timeout=5
        )
        second = await m.clients.routing.ListDeadLetters(
            routing_pb.ListDeadLettersRequest(
                location_id=location, page_size=1, page_token=first.next_page_token
            ),
            timeout=5,
        )
        assert {first.dead_letters[0].lead_id, second.dead_letters[0].lead_id} == {
            lead.lead_id for lead in leads
        }
        # Nothing is dead for the coordinator.
        assert (
            await outbox_cli.list_command(
                m.clients, location, 100, service="routing", subscriber="coordinator"
            )
            == 0
        )
        assert "no dead letters" in capsys.readouterr().out
    finally:
        await fixed(tables)
    assert (
        await outbox_cli.replay_command(
            m.clients, [], location, replay_all=True, service="routing", subscriber="intelligence"
        )
        == 0
    )
    assert "2 dead letters back on the outbox" in capsys.readouterr().out
    for lead in leads:

        async def delivered(lead=lead) -> bool:  # type: ignore[no-untyped-def]
            return await observed(tables, lead.lead_id) == ["OUTCOME_CONTACTED"]

        await eventually(delivered)
    assert await dead_letters(m, location) == []


@pytest.mark.parametrize(
    ("request_", "field", "reason"),
    [
        (routing_pb.ReplayDeadLettersRequest(), "event_ids", "MISSING_FIELD"),
        (routing_pb.ReplayDeadLettersRequest(event_ids=["nope"]), "event_ids[0]", "INVALID_ID"),
    ],
)
async def test_replay_refuses_an_unclear_request(m: Mesh, request_, field, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await m.clients.routing.ReplayDeadLetters(request_, timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(caught.value) == reason
    assert field_violations(caught.value) == [field]
