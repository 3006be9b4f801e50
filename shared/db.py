"""One asyncpg pool per process, pinned to the service's own schema."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

Conn = Any  # asyncpg.Connection or a pool's connection proxy: the same API


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Runs once per new connection: jsonb in and out as Python objects.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, schema: str, service: str, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        command_timeout=10,  # no query may hang a handler forever
        init=_init_connection,
        # Startup parameters survive the RESET ALL the pool runs on release,
        # unlike a SET issued after connecting.
        server_settings={"search_path": schema, "application_name": service},
    )


class Database:
    """What repositories hold: a pool in production, one connection in tests."""

    def __init__(self, source: asyncpg.Pool | asyncpg.Connection) -> None:
        self._source = source

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        if isinstance(self._source, asyncpg.Pool):
            async with self._source.acquire() as conn:
                yield conn
        else:
            yield self._source

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        # Nested inside a test's outer transaction this becomes a SAVEPOINT.
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def close(self) -> None:
        await self._source.close()
