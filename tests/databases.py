"""A database of a test module's own, for tests whose processes must not see the session
database's other rows (another module's unpublished outbox rows would reach their relay first)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator

import asyncpg

from tests.conftest import with_database
from tests.support import migrate_all


@contextlib.asynccontextmanager
async def own_database(postgres_url: str) -> AsyncIterator[str]:
    """A migrated database only this test's processes use, dropped at the end: no other test's
    outbox rows reach its relay, and terminating its backends touches nobody else."""
    name = f"leadengine_own_{secrets.token_hex(4)}"
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
