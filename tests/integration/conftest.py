"""Fixtures shared by integration test modules, one block per area."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.coordinator.app import create_scheduler
from services.coordinator.delivery.scheduler import Scheduler
from shared import db
from shared.clients import Peers
from shared.migrate import migrate
from tests.conftest import with_database
from tests.journeys import TIME_TRAVEL_BATCH
from tests.relay import RecordingCoordinatorFake, ingest_replica, serving
from tests.support import ROOT, Mesh, mesh, service_config
from tests.webhooks import Inbox, Signer

# coordinator


@pytest.fixture(scope="module")
async def m(migrated_dsn: str) -> AsyncIterator[Mesh]:
    """All five services, with ingest's outbox relaying quickly; modules that need another
    mesh define their own `m`."""
    overrides = {
        "ingest": {"outbox_poll_s": 0.1},
        # Lead-facing email needs a postal address for its CAN-SPAM footer.
        "content": {"postal_address": "1 Main St, Austin, TX 78701"},
    }
    async with mesh(migrated_dsn, overrides=overrides) as running:
        yield running


@pytest.fixture(scope="module")
async def scheduler(migrated_dsn: str) -> AsyncIterator[Scheduler]:
    """The coordinator's real scheduler on its own pool, driven with an injected clock."""
    pool = await db.create_pool(migrated_dsn, schema="coordinator", service="coordinator-test", max_size=2)
    try:
        yield create_scheduler(
            db.Database(pool), service_config("coordinator", migrated_dsn, scheduler_batch=TIME_TRAVEL_BATCH)
        )
    finally:
        await pool.close()


# ingest and gateway ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def ingest(migrated_dsn):
    """An IngestService client to ingest alone (no relay peer) on the session database."""
    async with mesh(migrated_dsn, only=("ingest",)) as m:
        yield m.clients.ingest


@pytest.fixture(scope="module")
async def ingest_tables(migrated_dsn):
    """A connection to ingest's own schema, to check rows behind the API."""
    conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "ingest"})
    yield conn
    await conn.close()


@pytest.fixture(scope="module")
async def ingest_addr(migrated_dsn) -> AsyncIterator[str]:
    """The address of ingest alone on the session database, for a gateway to forward to."""
    async with mesh(migrated_dsn, only=("ingest",)) as m:
        yield m.addr["ingest"]


@pytest.fixture(scope="module")
async def inbox(migrated_dsn) -> AsyncIterator[Inbox]:
    pool = await asyncpg.create_pool(migrated_dsn, min_size=1, max_size=4)
    try:
        yield Inbox(pool)
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


@pytest.fixture(scope="module")
async def outbox_dsn(postgres_url) -> AsyncIterator[str]:
    """A database of the module's own with ingest's schema, so only its own relays see its outbox rows."""
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
async def coordinator_fake() -> AsyncIterator[tuple[RecordingCoordinatorFake, str]]:
    """The coordinator peer replaced by RecordingCoordinatorFake, and its address."""
    fake = RecordingCoordinatorFake()
    async with serving(fake) as addr:
        yield fake, addr


@pytest.fixture(scope="module")
async def relay_ingest(outbox_dsn, coordinator_fake):
    """A client to one ingest process (server + relay) on outbox_dsn, relaying to the fake."""
    async with ingest_replica(outbox_dsn, coordinator_fake[1]) as addr:
        clients = Peers({"ingest": addr})
        yield clients.ingest
        await clients.close()


@pytest.fixture(scope="module")
async def relay_tables(outbox_dsn):
    """A connection to ingest's schema in outbox_dsn."""
    conn = await asyncpg.connect(outbox_dsn, server_settings={"search_path": "ingest"})
    yield conn
    await conn.close()
