"""A coordinator fake that refuses chosen kinds of event for chosen locations, for the outbox's
attempt-limit, dead-letter and overtaking tests (real ingest, real PostgreSQL)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import grpc
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb

from shared.clients import Peers
from tests.relay import RecordingCoordinatorFake, ingest_replica, serving


class PoisonCoordinatorFake(RecordingCoordinatorFake):
    """Fake of the coordinator PEER: answers INTERNAL to the poisoned (location, kind) pairs,
    as a coordinator does for an event it cannot handle; records what it accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.poisoned: set[tuple[str, int]] = set()
        self.accepted: list[coordinator_pb.LeadEventEnvelope] = []

    async def HandleLeadEvent(self, request, context):
        event = request.event
        if (event.location_id, event.kind) in self.poisoned:
            self.calls.append(event)
            await context.abort(grpc.StatusCode.INTERNAL, "coordinator fake: this event breaks it")
        resp = await super().HandleLeadEvent(request, context)
        self.accepted.append(event)
        return resp

    def calls_of(self, event_id: str) -> int:
        return sum(1 for e in self.calls if e.event_id == event_id)

    def accepted_kinds(self, lead_id: str) -> list[int]:
        return [e.kind for e in self.accepted if e.lead_id == lead_id]


@contextlib.asynccontextmanager
async def poisoned_ingest(dsn: str, max_attempts: int) -> AsyncIterator[tuple[PoisonCoordinatorFake, Peers]]:
    """One ingest (server + relay) on dsn relaying to a PoisonCoordinatorFake; yields the fake
    and a caller's Peers with ingest connected."""
    fake = PoisonCoordinatorFake()
    async with serving(fake) as addr, ingest_replica(dsn, addr, outbox_max_attempts=max_attempts) as ingest:
        peers = Peers({"ingest": ingest})
        try:
            yield fake, peers
        finally:
            await peers.close()
