"""Fixtures shared by integration test modules, one block per area."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.coordinator.app import create_scheduler
from services.coordinator.delivery.scheduler import Scheduler
from shared import db
from tests.support import Mesh, mesh, service_config

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
        yield create_scheduler(db.Database(pool), service_config("coordinator", migrated_dsn))
    finally:
        await pool.close()
