"""What the outbox relay tests share: a coordinator fake, one ingest process wired to it, and a
bounded wait for asynchronous deliveries."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.coordinator.v1 import coordinator_service_pb2_grpc as coordinator_grpc

from services.ingest.app import create_app
from services.ingest.config import Config
from shared import db
from shared.clients import Peers
from shared.server import Registration, ServiceApp
from tests.support import TEST_SERVER, running


class RecordingCoordinatorFake(coordinator_grpc.CoordinatorServiceServicer):
    """Fake of the coordinator PEER: records every HandleLeadEvent, and answers UNAVAILABLE
    while a location has failures left, so a test can set them up before its lead exists."""

    def __init__(self) -> None:
        self.calls: list[coordinator_pb.LeadEventEnvelope] = []
        self.fail_remaining: dict[str, int] = {}  # location_id -> UNAVAILABLE answers still to give

    async def HandleLeadEvent(self, request, context):
        self.calls.append(request.event)
        left = self.fail_remaining.get(request.event.location_id, 0)
        if left:
            self.fail_remaining[request.event.location_id] = left - 1
            await context.abort(grpc.StatusCode.UNAVAILABLE, "coordinator fake: down on purpose")
        return coordinator_pb.HandleLeadEventResponse()

    def for_lead(self, lead_id: str) -> list[coordinator_pb.LeadEventEnvelope]:
        return [e for e in self.calls if e.lead_id == lead_id]


@contextlib.asynccontextmanager
async def serving(fake: coordinator_grpc.CoordinatorServiceServicer) -> AsyncIterator[str]:
    """A coordinator fake served on a free port; yields its address."""
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
        yield addr


@contextlib.asynccontextmanager
async def ingest_replica(dsn: str, coordinator_addr: str, **overrides: Any) -> AsyncIterator[str]:
    """One ingest process (server + relay), wired to the coordinator fake; `overrides` are
    Config fields."""
    pool = await db.create_pool(dsn, schema="ingest", service="ingest", max_size=5)
    peers = Peers({"coordinator": coordinator_addr})
    settings: dict[str, Any] = {
        "outbox_poll_s": 0.05,
        "outbox_retry_base_s": 0.05,
        "outbox_retry_max_s": 0.2,
        "outbox_call_timeout_s": 2.0,
    }
    cfg = Config(database_url=dsn, server=TEST_SERVER, **(settings | overrides))
    try:
        async with running(create_app(db.Database(pool), peers, cfg)) as (addr, _):
            yield addr
    finally:
        await peers.close()
        await pool.close()


async def eventually(check: Callable[[], object], within_s: float = 15.0) -> None:
    """Wait for an asynchronous delivery; a bound, not a timing assertion."""
    end = time.monotonic() + within_s
    while not await _call(check):
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def _call(check: Callable[[], object]) -> object:
    result = check()
    if asyncio.iscoroutine(result):
        return await result
    return result
