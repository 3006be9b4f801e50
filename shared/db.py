"""One asyncpg pool per process, pinned to the service's own schema."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from shared import pool_metrics
from shared.errors import Unavailable

Conn = Any  # asyncpg.Connection or a pool's connection proxy: the same API


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Runs once per new connection: jsonb in and out as Python objects.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class PooledConnection(asyncpg.Connection):
    """A pooled connection released without asyncpg's reset query (RESET ALL, CLOSE ALL, UNLISTEN,
    pg_advisory_unlock_all). That query is one more round trip on every release, about 0.1 ms and
    0.08 ms of our CPU per use of the database, for session state we never keep: settings come
    as startup parameters, locks are transaction-scoped, and asyncpg still ends an open
    transaction on release. tests/unit/test_no_session_state.py fails on code that would keep
    some (a session SET, LISTEN, a session advisory lock)."""

    def get_reset_query(self) -> str:
        return ""


async def create_pool(dsn: str, *, schema: str, service: str, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        command_timeout=10,  # no query may hang a handler forever
        init=_init_connection,
        connection_class=PooledConnection,
        # Session settings are startup parameters: a connection keeps them for its life.
        server_settings={"search_path": schema, "application_name": service},
    )
    pool_metrics.watch(pool, service)
    return pool


# The server went away or refused us (terminated backend, restart, shutdown, no slots): the
# request did not happen, or its transaction was rolled back, so the caller may retry it.
_SERVER_LOST = (
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08, ConnectionDoesNotExistError among them
    asyncpg.exceptions.OperatorInterventionError,  # 57P01 admin shutdown, 57P03 cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # 53300 too many connections
)


def _closed(conn: Any) -> bool:
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:  # a pool proxy the pool took back when the connection died
        return True


def _lost(err: BaseException, conn: Any) -> Unavailable | None:
    """UNAVAILABLE when err means the connection to PostgreSQL was lost, else None. A client-side
    error (InterfaceError, InternalClientError, a socket's OSError) counts only while connecting
    or when the connection is closed now: on a live connection it is a bug of ours and stays
    INTERNAL. A timeout stays what it is (the caller's deadline, not a lost server)."""
    if isinstance(err, TimeoutError):
        return None
    broken = conn is None or _closed(conn)
    client_side = isinstance(err, (asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError, OSError))
    if isinstance(err, _SERVER_LOST) or (client_side and broken):
        return Unavailable(
            f"the database connection was lost ({type(err).__name__}); nothing was changed, retry",
            reason="DB_UNAVAILABLE",
        )
    return None


_DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError, OSError)


@asynccontextmanager
async def _translated(conn: Any) -> AsyncIterator[None]:
    """Errors of work on conn that mean the connection was lost become UNAVAILABLE; judged while
    conn is still ours (a pooled connection released cannot say whether it is closed)."""
    try:
        yield
    except _DB_ERRORS as err:
        if (unavailable := _lost(err, conn)) is not None:
            raise unavailable from err
        raise


class Database:
    """What repositories hold: a pool in production, one connection in tests."""

    def __init__(self, source: asyncpg.Pool | asyncpg.Connection) -> None:
        self._source = source

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        if not isinstance(self._source, asyncpg.Pool):
            async with _translated(self._source):
                yield self._source
            return
        stage = "connecting"
        try:
            async with self._source.acquire() as conn:
                stage = "working"
                async with _translated(conn):
                    yield conn
                stage = "releasing"
        except _DB_ERRORS as err:
            # The work's own errors were judged above, on its connection; connecting and the
            # pool's reset on release have no connection left to ask.
            if stage == "working" or (unavailable := _lost(err, None)) is None:
                raise
            raise unavailable from err

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        # Nested inside a test's outer transaction this becomes a SAVEPOINT.
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def close(self) -> None:
        await self._source.close()
