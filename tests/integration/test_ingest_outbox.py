"""The outbox relay against real PostgreSQL and a purpose-built coordinator fake.

The coordinator is a peer written elsewhere; these focused tests replace it
with RecordingCoordinatorFake, which records each HandleLeadEvent and can be
told to fail. The module gets its own database so only its own relays see
its outbox rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import grpc
import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.coordinator.v1 import coordinator_service_pb2_grpc as coordinator_grpc
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest.app import create_app
from services.ingest.config import Config
from shared import db
from shared.clients import Peers
from shared.migrate import migrate
from shared.server import Registration, ServiceApp
from tests.conftest import with_database
from tests.support import ROOT, TEST_SERVER, running

CREATED = coordinator_pb.LEAD_EVENT_KIND_LEAD_CREATED
UPDATED = coordinator_pb.LEAD_EVENT_KIND_LEAD_UPDATED
DELETED = coordinator_pb.LEAD_EVENT_KIND_LEAD_DELETED
BEHAVIOR = coordinator_pb.LEAD_EVENT_KIND_BEHAVIOR


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


@pytest.fixture(scope="module")
async def outbox_dsn(postgres_url) -> AsyncIterator[str]:
    name = f"leadengine_outbox_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = with_database(postgres_url, name)
    await migrate(dsn, "ingest", ROOT / "services" / "ingest" / "migrations")
    try:
        yield dsn
    finally:
        admin = await asyncpg.connect(postgres_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="module")
async def coordinator() -> AsyncIterator[tuple[RecordingCoordinatorFake, str]]:
    fake = RecordingCoordinatorFake()
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


@contextlib.asynccontextmanager
async def ingest_replica(dsn: str, coordinator_addr: str) -> AsyncIterator[str]:
    """One ingest process (server + relay), wired to the coordinator fake."""
    pool = await db.create_pool(dsn, schema="ingest", service="ingest", max_size=5)
    peers = Peers({"coordinator": coordinator_addr})
    cfg = Config(
        database_url=dsn,
        server=TEST_SERVER,
        outbox_poll_s=0.05,
        outbox_retry_base_s=0.05,
        outbox_retry_max_s=0.2,
        outbox_call_timeout_s=2.0,
    )
    try:
        async with running(create_app(db.Database(pool), peers, cfg)) as (addr, _):
            yield addr
    finally:
        await peers.close()
        await pool.close()


@pytest.fixture(scope="module")
async def ingest(outbox_dsn, coordinator):
    async with ingest_replica(outbox_dsn, coordinator[1]) as addr:
        clients = Peers({"ingest": addr})
        yield clients.ingest
        await clients.close()


@pytest.fixture(scope="module")
async def tables(outbox_dsn):
    conn = await asyncpg.connect(outbox_dsn, server_settings={"search_path": "ingest"})
    yield conn
    await conn.close()


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


async def outbox_row(tables, lead_id: str) -> asyncpg.Record:
    return await tables.fetchrow("SELECT * FROM outbox WHERE lead_id = $1", uuid.UUID(lead_id))


async def all_published(tables, lead_id: str) -> bool:
    left = await tables.fetchval(
        "SELECT count(*) FROM outbox WHERE lead_id = $1 AND published_time IS NULL", uuid.UUID(lead_id)
    )
    return left == 0


async def create_lead(ingest, loc: str, name: str) -> pb.Lead:
    resp = await ingest.UpsertLead(
        pb.UpsertLeadRequest(lead=pb.Lead(location_id=loc, first_name=name)), timeout=5
    )
    return resp.lead


async def test_relay_delivers_each_change_in_order(ingest, coordinator, tables) -> None:
    fake, _ = coordinator
    loc = f"loc-{uuid.uuid4()}"
    lead = await create_lead(ingest, loc, "Mo")
    await ingest.UpsertLead(
        pb.UpsertLeadRequest(lead=pb.Lead(lead_id=lead.lead_id, location_id=loc, last_name="Li")), timeout=5
    )
    await ingest.RecordEvent(
        pb.RecordEventRequest(
            event=pb.LeadEvent(lead_id=lead.lead_id, location_id=loc, type=pb.EVENT_TYPE_SAVED_SEARCH)
        ),
        timeout=5,
    )
    await ingest.DeleteLead(pb.DeleteLeadRequest(lead_id=lead.lead_id), timeout=5)
    await eventually(lambda: all_published(tables, lead.lead_id))
    got = fake.for_lead(lead.lead_id)
    assert [e.kind for e in got] == [CREATED, UPDATED, BEHAVIOR, DELETED]
    assert [e.behavior_type for e in got] == ["", "", "saved_search", ""]
    assert {e.location_id for e in got} == {loc}
    assert all(e.HasField("occurred_time") for e in got)
    stored = await tables.fetch(
        "SELECT event_id FROM outbox WHERE lead_id = $1 ORDER BY id", uuid.UUID(lead.lead_id)
    )
    assert [e.event_id for e in got] == [str(r["event_id"]) for r in stored]


async def test_relay_retries_after_coordinator_failures(ingest, coordinator, tables) -> None:
    fake, _ = coordinator
    loc = f"loc-{uuid.uuid4()}"
    # More failures than the channel's own retry policy absorbs (4 attempts), so the relay must retry.
    fake.fail_remaining[loc] = 6
    lead = await create_lead(ingest, loc, "Ned")
    await eventually(lambda: all_published(tables, lead.lead_id))
    row = await outbox_row(tables, lead.lead_id)
    assert fake.fail_remaining[loc] == 0
    assert row["attempts"] >= 2
    assert row["last_error"] is None
    assert {e.event_id for e in fake.for_lead(lead.lead_id)} == {str(row["event_id"])}
    assert len(fake.for_lead(lead.lead_id)) >= 7  # six refusals, then at least one acceptance


async def test_failing_row_is_kept_with_its_error_and_later_delivered(ingest, coordinator, tables) -> None:
    fake, _ = coordinator
    loc = f"loc-{uuid.uuid4()}"
    fake.fail_remaining[loc] = 1_000_000
    lead = await create_lead(ingest, loc, "Oz")

    async def failed_twice() -> bool:
        row = await outbox_row(tables, lead.lead_id)
        return row["attempts"] >= 2

    await eventually(failed_twice)
    row = await outbox_row(tables, lead.lead_id)
    assert row["published_time"] is None
    assert row["last_error"].startswith("UNAVAILABLE")
    fake.fail_remaining[loc] = 0  # the coordinator recovers
    await eventually(lambda: all_published(tables, lead.lead_id))
    assert {e.kind for e in fake.for_lead(lead.lead_id)} == {CREATED}


async def test_two_replicas_deliver_every_row_once(outbox_dsn, coordinator, ingest, tables) -> None:
    fake, addr = coordinator
    loc = f"loc-{uuid.uuid4()}"
    async with ingest_replica(outbox_dsn, addr) as second_addr:
        second = Peers({"ingest": second_addr})
        made = await asyncio.gather(
            *(create_lead(ingest if i % 2 else second.ingest, loc, f"P{i}") for i in range(40))
        )
        lead_ids = {lead.lead_id for lead in made}

        async def location_published() -> bool:
            left = await tables.fetchval(
                "SELECT count(*) FROM outbox WHERE location_id = $1 AND published_time IS NULL", loc
            )
            return left == 0

        await eventually(location_published)
        await second.close()
    delivered = [e.event_id for e in fake.calls if e.lead_id in lead_ids]
    assert len(delivered) == 40
    assert len(set(delivered)) == 40
