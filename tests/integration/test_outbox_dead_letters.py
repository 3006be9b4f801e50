"""The outbox's attempt limit, dead-letter table and replay: real ingest (server + relay) on
real PostgreSQL, relaying to a coordinator fake that refuses chosen events. The module has
its own database, so only its relay sees its rows."""

from __future__ import annotations

import uuid

import grpc
import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from cli import outbox as outbox_cli
from shared.clients import IngestClient, Peers
from tests.outbox_faults import poisoned_ingest
from tests.relay import eventually
from tests.support import error_reason, field_violations

CREATED = coordinator_pb.LEAD_EVENT_KIND_LEAD_CREATED
UPDATED = coordinator_pb.LEAD_EVENT_KIND_LEAD_UPDATED
MAX_ATTEMPTS = 3


@pytest.fixture(scope="module")
async def poisoned(outbox_dsn):
    """(the coordinator fake, a caller's Peers) of one ingest relaying to it."""
    async with poisoned_ingest(outbox_dsn, MAX_ATTEMPTS) as pair:
        yield pair


async def new_lead(peers: Peers, loc: str) -> pb.Lead:
    resp = await peers.ingest.UpsertLead(
        pb.UpsertLeadRequest(lead=pb.Lead(location_id=loc, first_name="Dee")), timeout=5
    )
    return resp.lead


async def dead_letters(peers: Peers, loc: str) -> list[pb.DeadLetter]:
    resp = await peers.ingest.ListDeadLetters(pb.ListDeadLettersRequest(location_id=loc), timeout=5)
    return list(resp.dead_letters)


async def test_a_failing_event_is_dead_lettered_at_the_limit_and_stops_blocking_its_lead(
    poisoned, relay_tables
) -> None:
    coordinator, ingest = poisoned
    loc = f"loc-{uuid.uuid4()}"
    coordinator.poisoned.add((loc, CREATED))
    lead = await new_lead(ingest, loc)
    await ingest.ingest.UpsertLead(
        pb.UpsertLeadRequest(lead=pb.Lead(lead_id=lead.lead_id, location_id=loc, last_name="Ng")), timeout=5
    )
    # The update waits behind the failing CREATED until that one is dead-lettered, then goes.
    await eventually(lambda: coordinator.accepted_kinds(lead.lead_id) == [UPDATED])
    [dead] = await dead_letters(ingest, loc)
    assert (dead.kind, dead.lead_id, dead.attempts) == (CREATED, lead.lead_id, MAX_ATTEMPTS)
    assert dead.last_error.startswith("INTERNAL")
    assert coordinator.calls_of(dead.event_id) == MAX_ATTEMPTS  # tried exactly up to the limit
    assert (
        await relay_tables.fetchval(
            "SELECT count(*) FROM outbox WHERE event_id = $1", uuid.UUID(dead.event_id)
        )
        == 0
    )

    coordinator.poisoned.discard((loc, CREATED))  # the coordinator is fixed
    replayed = await ingest.ingest.ReplayDeadLetters(
        pb.ReplayDeadLettersRequest(event_ids=[dead.event_id], request_id=str(uuid.uuid4())), timeout=5
    )
    assert replayed.replayed_count == 1
    await eventually(lambda: coordinator.accepted_kinds(lead.lead_id) == [UPDATED, CREATED])
    assert [e.event_id for e in coordinator.accepted if e.kind == CREATED and e.lead_id == lead.lead_id] == [
        dead.event_id
    ]  # the same event, so the coordinator's dedup still holds
    assert await dead_letters(ingest, loc) == []

    async def replayed_row_published() -> bool:
        row = await relay_tables.fetchrow(
            "SELECT replays, published_time FROM outbox WHERE event_id = $1", uuid.UUID(dead.event_id)
        )
        return row["replays"] == 1 and row["published_time"] is not None

    await eventually(replayed_row_published)  # the relay marks it once the coordinator answered
    again = await ingest.ingest.ReplayDeadLetters(
        pb.ReplayDeadLettersRequest(event_ids=[dead.event_id]), timeout=5
    )
    assert again.replayed_count == 0


async def test_an_unreachable_coordinator_does_not_count_toward_the_limit(poisoned, relay_tables) -> None:
    coordinator, ingest = poisoned
    loc = f"loc-{uuid.uuid4()}"
    # UNAVAILABLE answers; the channel's own retries absorb up to 4 per relay attempt.
    coordinator.fail_remaining[loc] = 2 * MAX_ATTEMPTS * 4
    lead = await new_lead(ingest, loc)
    await eventually(lambda: coordinator.accepted_kinds(lead.lead_id) == [CREATED], within_s=30)
    row = await relay_tables.fetchrow(
        "SELECT attempts, failures FROM outbox WHERE lead_id = $1", uuid.UUID(lead.lead_id)
    )
    assert row["attempts"] > MAX_ATTEMPTS
    assert row["failures"] == 0
    assert await dead_letters(ingest, loc) == []


async def test_replay_all_of_a_location_through_the_typed_client(poisoned) -> None:
    coordinator, ingest = poisoned
    loc, other = f"loc-{uuid.uuid4()}", f"loc-{uuid.uuid4()}"
    coordinator.poisoned |= {(loc, CREATED), (other, CREATED)}
    leads = [await new_lead(ingest, loc), await new_lead(ingest, loc)]
    stranger = await new_lead(ingest, other)

    async def all_dead() -> bool:
        return len(await dead_letters(ingest, loc)) == 2 and len(await dead_letters(ingest, other)) == 1

    await eventually(all_dead)
    coordinator.poisoned.discard((loc, CREATED))
    client = IngestClient(ingest)
    listed, token = await client.list_dead_letters(location_id=loc, page_size=1)
    assert len(listed) == 1
    assert token
    assert await client.replay_dead_letters(location_id=loc) == 2
    for lead in leads:
        await eventually(lambda lead=lead: coordinator.accepted_kinds(lead.lead_id) == [CREATED])
    # Another location's dead letter stays where it is.
    assert [d.lead_id for d in await dead_letters(ingest, other)] == [stranger.lead_id]
    coordinator.poisoned.discard((other, CREATED))


@pytest.mark.parametrize(
    ("request_", "field", "reason"),
    [
        (pb.ReplayDeadLettersRequest(), "event_ids", "MISSING_FIELD"),
        (
            pb.ReplayDeadLettersRequest(all=True, event_ids=[str(uuid.uuid4())]),
            "event_ids",
            "INVALID_ARGUMENT",
        ),
        (pb.ReplayDeadLettersRequest(event_ids=["nope"]), "event_ids[0]", "INVALID_ID"),
    ],
)
async def test_replay_refuses_an_unclear_request(poisoned, request_, field, reason) -> None:
    _, ingest = poisoned
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ingest.ingest.ReplayDeadLetters(request_, timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(caught.value) == reason
    assert field_violations(caught.value) == [field]


async def test_the_cli_lists_and_replays_dead_letters(poisoned, capsys) -> None:
    coordinator, ingest = poisoned
    loc = f"loc-{uuid.uuid4()}"
    coordinator.poisoned.add((loc, CREATED))
    lead = await new_lead(ingest, loc)

    async def dead() -> bool:
        return len(await dead_letters(ingest, loc)) == 1

    await eventually(dead)
    [letter] = await dead_letters(ingest, loc)
    assert await outbox_cli.list_command(ingest, loc, 100) == 0
    assert letter.event_id in capsys.readouterr().out
    assert await outbox_cli.replay_command(ingest, [], loc, replay_all=False) == 1  # neither ids nor --all
    coordinator.poisoned.discard((loc, CREATED))
    assert await outbox_cli.replay_command(ingest, [letter.event_id], loc, replay_all=False) == 0
    assert "1 dead letter back on the outbox" in capsys.readouterr().out
    await eventually(lambda: coordinator.accepted_kinds(lead.lead_id) == [CREATED])
    assert await outbox_cli.list_command(ingest, loc, 100) == 0
    assert "no dead letters" in capsys.readouterr().out
