"""Run real services in-process on port 0, through the production bootstrap."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from shared import db
from shared.clients import Peers
from shared.config import ServerSettings
from shared.main import DEPENDENCIES
from shared.migrate import migrate
from shared.server import ServiceApp, serve

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("ingest", "intelligence", "routing", "content", "coordinator")
TEST_SERVER = ServerSettings(port=0, drain_s=0.0, grace_s=1.0)


async def migrate_all(dsn: str) -> None:
    for name in SERVICES:
        await migrate(dsn, name, ROOT / "services" / name / "migrations")


@contextlib.asynccontextmanager
async def running(
    app: ServiceApp, settings: ServerSettings = TEST_SERVER, **security: Any
) -> AsyncIterator[tuple[str, asyncio.Event]]:
    """Serve app on a free port; yields (address, stop). stop.set() is what SIGTERM does.
    security: serve()'s tls and callers, for a service under mutual TLS."""
    stop = asyncio.Event()
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(app, settings, stop=stop, started=bound.set_result, **security))
    done, _ = await asyncio.wait({task, bound}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:  # serve() failed before binding: surface why
        task.result()
    try:
        yield f"127.0.0.1:{bound.result()}", stop
    finally:
        stop.set()
        await task


def service_config(name: str, dsn: str, **overrides: Any) -> Any:
    module = importlib.import_module(f"services.{name}.config")
    cfg = module.Config(database_url=dsn, server=TEST_SERVER)
    return dataclasses.replace(cfg, **overrides)


@dataclass
class Mesh:
    addr: dict[str, str] = field(default_factory=dict)
    apps: dict[str, ServiceApp] = field(default_factory=dict)
    clients: Peers = field(default_factory=Peers)  # a caller's view: stubs for every service
    pools: dict[str, Any] = field(default_factory=dict)  # each service's pool (location_of reads one)


# What a test claims for a lead the mesh never stored: a location that owns nothing, so an
# id-keyed read answers NOT_FOUND as for any unknown id (a missing claim would be INVALID_ARGUMENT).
UNKNOWN_LOCATION = "loc-never-stored"


async def location_of(m: Mesh, lead_id: str) -> str:
    """The location the lead was stored in (ingest's row, else the coordinator's journey, in a
    mesh without ingest): what a caller claims on an id-keyed read of the lead (#15)."""
    try:
        lead = uuid.UUID(str(lead_id))
    except ValueError:
        return UNKNOWN_LOCATION
    pool = next(iter(m.pools.values()))
    async with pool.acquire() as conn:
        for table in ("ingest.leads", "coordinator.journeys"):
            if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table):
                found = await conn.fetchval(
                    f"SELECT location_id FROM {table} WHERE lead_id = $1 LIMIT 1", lead
                )
                if found:
                    return str(found)
    return UNKNOWN_LOCATION


@contextlib.asynccontextmanager
async def mesh(
    dsn: str, only: tuple[str, ...] = SERVICES, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> AsyncIterator[Mesh]:
    """Start the named services against dsn, wire them to each other, yield their addresses."""
    result = Mesh()
    peers: dict[str, Peers] = {}
    async with contextlib.AsyncExitStack() as stack:
        for name in only:
            pool = await db.create_pool(dsn, schema=name, service=name, max_size=5)
            stack.push_async_callback(pool.close)
            result.pools[name] = pool
            peers[name] = Peers()
            stack.push_async_callback(peers[name].close)
            app_module = importlib.import_module(f"services.{name}.app")
            cfg = service_config(name, dsn, **(overrides or {}).get(name, {}))
            app = app_module.create_app(db.Database(pool), peers[name], cfg)
            result.apps[name] = app
            result.addr[name], _ = await stack.enter_async_context(running(app))
        for name in only:
            for dep in DEPENDENCIES[name]:
                if dep in result.addr:
                    peers[name].connect(dep, result.addr[dep])
            result.clients.connect(name, result.addr[name])
        stack.push_async_callback(result.clients.close)
        yield result


def error_reason(err: grpc.aio.AioRpcError) -> str:
    """ErrorInfo.reason of a failed call: what tests assert on, never message text."""
    status = rpc_status.from_call(err)
    assert status is not None, f"no rich status on {err.code()}: {err.details()}"
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    raise AssertionError("status carries no ErrorInfo")


def field_violations(err: grpc.aio.AioRpcError) -> list[str]:
    """The fields a failed call's BadRequest names, in order."""
    status = rpc_status.from_call(err)
    assert status is not None, f"no rich status on {err.code()}: {err.details()}"
    fields: list[str] = []
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            fields.extend(v.field for v in bad.field_violations)
    return fields
