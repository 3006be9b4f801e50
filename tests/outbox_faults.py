"""A coordinator fake that refuses chosen kinds of event for chosen locations, for the outbox's
attempt-limit, dead-letter and overtaking tests (real ingest, real PostgreSQL)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import grpc
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.coordinator.v1 import coordinator_service_pb2_grpc as coordinator_grpc

from shared.server import Registration, ServiceApp
from tests.relay import RecordingCoordinatorFake
from tests.support import running


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
async def poison_coordinator() -> AsyncIterator[tuple[PoisonCoordinatorFake, str]]:
    fake = PoisonCoordinatorFake()
    app = ServiceApp(
        registrations=[
            Registration(
                coordinator_pb.DESCRIPTOR.services_by_name["CoordinatorService"].full_name,
                coordinator_grpc.add_CoordinatorServiceServicer_to_server,
                fake,
            )
        ],
        error_domain="coordinator-fake.test",
    )
    async with running(app) as (addr, _):
        yield fake, addr
