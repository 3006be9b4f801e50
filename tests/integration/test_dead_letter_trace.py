"""A dead-lettered outbox row keeps the trace of the change that wrote it, and its delivery
after ReplayDeadLetters continues that trace (#15: one lead's journey is one trace, even when
an operator had to put an event back). Real ingest (server + relay) on real PostgreSQL,
relaying to a coordinator fake that refuses the event until it is fixed; tracing off, so the
trace travels as the W3C traceparent the logs' trace_id rides on."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator

import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from shared.clients import Peers
from tests.outbox_faults import PoisonCoordinatorFake
from tests.relay import eventually, ingest_replica, serving

CREATED = coordinator_pb.LEAD_EVENT_KIND_LEAD_CREATED
MAX_ATTEMPTS = 2


class TraceRecordingCoordinatorFake(PoisonCoordinatorFake):
    """Also keeps the trace id each HandleLeadEvent call arrived with, per event."""

    def __init__(self) -> None:
        super().__init__()
        self.trace_ids: dict[str, list[str]] = {}

    async def HandleLeadEvent(self, request, context):
        traceparent = dict(context.invocation_metadata() or ()).get("traceparent", "")
        parts = traceparent.split("-")
        self.trace_ids.setdefault(request.event.event_id, []).append(parts[1] if len(parts) == 4 else "")
        return await super().HandleLeadEvent(request, context)


@pytest.fixture(scope="module")
async def traced(outbox_dsn) -> AsyncIterator[tuple[TraceRecordingCoordinatorFake, Peers]]:
    fake = TraceRecordingCoordinatorFake()
    async with (
        serving(fake) as addr,
        ingest_replica(outbox_dsn, addr, outbox_max_attempts=MAX_ATTEMPTS) as ingest,
    ):
        peers = Peers({"ingest": ingest})
        try:
            yield fake, peers
        finally:
            await peers.close()


async def test_a_replayed_dead_letter_is_delivered_in_the_trace_that_wrote_it(traced, relay_tables) -> None:
    coordinator, peers = traced
    loc = f"loc-{uuid.uuid4()}"
    coordinator.poisoned.add((loc, CREATED))
    trace_id = secrets.token_hex(16)
    resp = await peers.ingest.UpsertLead(
        pb.UpsertLeadRequest(lead=pb.Lead(location_id=loc, first_name="Tia")),
        timeout=5,
        metadata=(("traceparent", f"00-{trace_id}-{secrets.token_hex(8)}-01"),),
    )
    lead_id = resp.lead.lead_id

    async def dead() -> list[pb.DeadLetter]:
        got = await peers.ingest.ListDeadLetters(pb.ListDeadLettersRequest(location_id=loc), timeout=5)
        return list(got.dead_letters)

    await eventually(lambda: _nonempty(dead))
    [letter] = await dead()
    parked = await relay_tables.fetchval(
        "SELECT traceparent FROM outbox_dead_letters WHERE event_id = $1", uuid.UUID(letter.event_id)
    )
    assert parked.split("-")[1] == trace_id

    coordinator.poisoned.discard((loc, CREATED))
    replayed = await peers.ingest.ReplayDeadLetters(
        pb.ReplayDeadLettersRequest(event_ids=[letter.event_id], request_id=str(uuid.uuid4())), timeout=5
    )
    assert replayed.replayed_count == 1
    await eventually(lambda: coordinator.accepted_kinds(lead_id) == [CREATED])
    # Every attempt, the failed ones before the dead letter and the one after the replay, was
    # made in the trace of the UpsertLead that wrote the row.
    calls = coordinator.trace_ids[letter.event_id]
    assert len(calls) == MAX_ATTEMPTS + 1
    assert set(calls) == {trace_id}


async def _nonempty(fetch) -> bool:
    return bool(await fetch())
