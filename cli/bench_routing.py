"""`leadengine bench routing`: RouteLead latency with many agents in one location.

Runs routing alone in this process on a scratch database (dropped afterwards), adds `agents`
agents to one location (languages, territories, specialties, working hours all set, as a real
roster would have), then times `routes` RouteLead calls over gRPC, each with a new lead passed
as a snapshot (so ingest is not measured), first one at a time, then 8 in flight.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as pb
from rich.table import Table

from cli.bench import percentile, scratch_database
from cli.database import DatabaseError, database, describe, migrations_dir
from cli.terminal import console, errors
from services.routing.app import create_app
from services.routing.config import Config
from shared import db
from shared.clients import Peers
from shared.config import ServerSettings
from shared.migrate import migrate
from shared.server import serve

POSTAL = [f"787{i:02d}" for i in range(50)]


def agent(location: str, i: int, rng: random.Random) -> pb.Agent:
    return pb.Agent(
        location_id=location,
        name=f"Agent {i:04d}",
        available=True,
        capacity=50,
        timezone="America/Chicago",
        languages=["en", "es"] if rng.random() < 0.3 else ["en"],
        specialties=rng.sample(["buyer", "seller", "luxury", "rental", "investor"], 2),
        territories=rng.sample(POSTAL, 3),
        min_price_usd=rng.choice([0, 200_000]),
        max_price_usd=rng.choice([0, 1_500_000]),
        working_hours=[],  # always: so every agent is a candidate, the slowest case
    )


def lead(location: str, rng: random.Random) -> ingest_pb.Lead:
    return ingest_pb.Lead(
        lead_id=str(uuid.uuid4()),
        location_id=location,
        postal_code=rng.choice(POSTAL),
        preferred_language="es" if rng.random() < 0.2 else "",
        intent=rng.choice([1, 2, 3, 4, 5]),  # type: ignore[arg-type]
        budget_usd=rng.choice([0, 350_000, 900_000]),
        source=ingest_pb.LEAD_SOURCE_WEB_FORM,
    )


async def time_routes(
    stub: object, location: str, count: int, concurrency: int, rng: random.Random
) -> list[float]:
    latencies: list[float] = []
    leads = [lead(location, rng) for _ in range(count)]
    queue = iter(leads)

    async def worker() -> None:
        for one in queue:
            started = time.perf_counter()
            await stub.RouteLead(  # type: ignore[attr-defined]
                pb.RouteLeadRequest(lead_id=one.lead_id, location_id=location, lead=one), timeout=10
            )
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def measure(dsn: str, agents: int, routes: int) -> dict[int, list[float]]:
    await migrate(dsn, "routing", migrations_dir("routing"))
    settings = ServerSettings(port=0, drain_s=0.0, grace_s=2.0)
    pool = await db.create_pool(dsn, schema="routing", service="routing", max_size=10)
    app = create_app(db.Database(pool), Peers(), Config(database_url=dsn, server=settings, sweep_s=3600))
    app.on_stop.append(pool.close)
    stop = asyncio.Event()
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(app, settings, stop=stop, started=bound.set_result))
    either: set[asyncio.Future[Any]] = {task, bound}
    done, _ = await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    if task in done:  # serve() failed before binding: surface why
        task.result()
    peers = Peers({"routing": f"127.0.0.1:{bound.result()}"})
    rng = random.Random(1)  # noqa: S311 - bench data, not secrets
    location = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        stub = peers.routing
        for i in range(agents):
            await stub.UpsertAgent(pb.UpsertAgentRequest(agent=agent(location, i, rng)), timeout=10)
        await time_routes(stub, location, 100, 1, rng)  # warm: channel, statements, the model cache
        return {c: await time_routes(stub, location, routes, c, rng) for c in (1, 8)}
    finally:
        await peers.close()
        stop.set()
        await task


async def routing_command(data_dir: Path, env: Mapping[str, str], agents: int, routes: int) -> int:
    try:
        async with database(data_dir, env) as dsn:
            console.print(f"database server: {describe(dsn)} (a scratch database, dropped afterwards)")
            async with scratch_database(dsn) as scratch:
                result = await measure(scratch, agents, routes)
    except DatabaseError as err:
        errors.print(f"[bold red]bench failed:[/] {err}")
        return 1
    table = Table(title=f"RouteLead, {agents} agents in one location, {routes} routes")
    for column in ("in flight", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="right")
    for concurrency, latencies in result.items():
        ms = [s * 1000 for s in latencies]
        table.add_row(
            str(concurrency), f"{percentile(ms, 50):.2f}", f"{percentile(ms, 99):.2f}", f"{max(ms):.2f}"
        )
    console.print(table)
    return 0
