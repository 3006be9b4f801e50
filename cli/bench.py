"""`leadengine bench webhooks`: signed HighLevel webhooks through the real gateway and ingest.

Everything runs in this one process: a scratch database on the configured
PostgreSQL (DATABASE_URL, else the embedded server), a real ingest on a free
port, the real gateway under uvicorn on a free port, and an HTTP client. The
same client load against the same server's GET /healthz is the baseline, so
the ratios say what verifying, storing and committing costs on this machine,
whatever the machine.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import secrets
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import h11
from cryptography.hazmat.primitives.asymmetric import ed25519
from rich.table import Table

from cli.database import DatabaseError, database, describe, migrations_dir, with_database
from cli.terminal import console, errors
from services.gateway.config import Config as GatewayConfig
from services.gateway.serving import running_gateway
from services.gateway.signatures import GhlKeys
from services.ingest.app import create_app as create_ingest
from services.ingest.config import Config as IngestConfig
from shared import db
from shared.clients import Peers
from shared.config import ServerSettings
from shared.migrate import migrate
from shared.server import ServiceApp, serve

# --- statistics ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), interpolating linearly between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Stats:
    requests: int
    ok: int  # answered 2xx
    failed: dict[str, int]  # status code or exception name -> count
    seconds: float
    per_s: float  # 2xx answers per second of wall time
    p50_ms: float | None  # time to a 2xx answer
    p99_ms: float | None
    p90_ms: float | None = None
    max_ms: float | None = None


def summarize(latencies_s: Sequence[float], failed: Mapping[str, int], seconds: float) -> Stats:
    ok = len(latencies_s)
    return Stats(
        requests=ok + sum(failed.values()),
        ok=ok,
        failed=dict(failed),
        seconds=seconds,
        per_s=ok / seconds if seconds > 0 else 0.0,
        p50_ms=percentile(latencies_s, 50) * 1000 if ok else None,
        p99_ms=percentile(latencies_s, 99) * 1000 if ok else None,
        p90_ms=percentile(latencies_s, 90) * 1000 if ok else None,
        max_ms=max(latencies_s) * 1000 if ok else None,
    )


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


# --- load ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    content: bytes = b""
    headers: Mapping[str, str] | None = None


class Connection:
    """One keep-alive HTTP/1.1 connection, framed by h11 (the parser uvicorn serves with).

    Not httpx: its connection pool spends CPU per request that grows with the number of
    connections (at 32 it capped GET /healthz near 170/s on a 2-core machine, against 1,600/s
    from plain connections). Sharing one event loop with the servers, it would measure itself.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._h11 = h11.Connection(h11.CLIENT)

    async def request(self, call: Call) -> int:
        """The response's status; the body is read and dropped."""
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
            self._h11 = h11.Connection(h11.CLIENT)
        reader, writer = self._streams
        headers = [("Host", f"{self.host}:{self.port}"), *(call.headers or {}).items()]
        if call.method != "GET":
            headers.append(("Content-Length", str(len(call.content))))
        out = self._h11.send(h11.Request(method=call.method, target=call.path, headers=headers))
        if call.content:
            out += self._h11.send(h11.Data(data=call.content))
        out += self._h11.send(h11.EndOfMessage())
        writer.write(out)
        await writer.drain()
        status = 0
        while True:
            event = self._h11.next_event()
            if event is h11.NEED_DATA:
                self._h11.receive_data(await reader.read(65536))  # b"" = the server closed
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the server closed the connection mid-response")
        if self._h11.our_state is h11.MUST_CLOSE or self._h11.their_state is h11.MUST_CLOSE:
            await self.close()
        else:
            self._h11.start_next_cycle()
        return status

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def drive(url: str, calls: Sequence[Call], concurrency: int, timeout_s: float = 30.0) -> Stats:
    """Send every call over concurrency connections, one call at a time on each; time each
    one from its first byte out to its answer's last byte in."""
    parts = urlsplit(url)
    pending = iter(calls)
    latencies: list[float] = []
    failed: Counter[str] = Counter()

    async def worker() -> None:
        conn = Connection(parts.hostname or "127.0.0.1", parts.port or 80)
        try:
            for call in pending:  # one shared iterator: each call is taken once
                started = time.perf_counter()
                try:
                    async with asyncio.timeout(timeout_s):
                        status = await conn.request(call)
                except (OSError, TimeoutError, h11.ProtocolError) as err:
                    failed[type(err).__name__] += 1
                    await conn.close()
                    continue
                if 200 <= status < 300:
                    latencies.append(time.perf_counter() - started)
                else:
                    failed[str(status)] += 1
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summarize(latencies, failed, time.perf_counter() - started)


def contact_create(location_id: str) -> dict[str, Any]:
    contact = uuid.uuid4().hex[:20]
    return {
        "type": "ContactCreate",
        "locationId": location_id,
        "id": contact,
        "firstName": "Bench",
        "lastName": contact[:8],
        "email": f"bench.{contact}@example.com",
        "phone": f"+1555555{int(contact[:6], 16) % 10000:04d}",
        "source": "leadengine-bench",
        "tags": ["bench"],
        "dateAdded": datetime.now(UTC).isoformat(),
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "webhookId": str(uuid.uuid4()),
    }


def signed_webhooks(key: ed25519.Ed25519PrivateKey, location_id: str, count: int) -> list[Call]:
    """Signed before the clock starts: signing is HighLevel's cost, not ours."""
    calls = []
    for _ in range(count):
        raw = json.dumps(contact_create(location_id), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GHL-Signature": base64.b64encode(key.sign(raw)).decode(),
        }
        calls.append(Call("POST", "/webhooks/ghl", raw, headers))
    return calls


# --- the system under test -------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def scratch_database(dsn: str) -> AsyncIterator[str]:
    """A database of its own on the same server, dropped afterwards: the bench's thousands of
    contacts must never reach a real mesh's coordinator."""
    name = f"leadengine_bench_{secrets.token_hex(4)}"
    try:
        admin = await asyncpg.connect(dsn, timeout=10)
    except (OSError, asyncpg.PostgresError) as err:
        raise DatabaseError(f"cannot reach {describe(dsn)}: {err}") from err
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    except asyncpg.PostgresError as err:
        raise DatabaseError(
            f"bench creates (and drops) a scratch database on {describe(dsn)}, and could not: {err}"
        ) from err
    finally:
        await admin.close()
    try:
        yield with_database(dsn, name)
    finally:
        admin = await asyncpg.connect(dsn, timeout=10)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@contextlib.asynccontextmanager
async def ingest_service(dsn: str) -> AsyncIterator[str]:
    try:
        await migrate(dsn, "ingest", migrations_dir("ingest"))
    except (OSError, asyncpg.PostgresError) as err:
        raise DatabaseError(f"migrating the scratch database failed: {err}") from err
    settings = ServerSettings(port=0, drain_s=0.0, grace_s=2.0)
    pool = await db.create_pool(dsn, schema="ingest", service="ingest", max_size=10)
    # No coordinator: the outbox relay leaves rows alone, so only the webhook path is measured.
    peers = Peers()
    app = create_ingest(db.Database(pool), peers, IngestConfig(database_url=dsn, server=settings))
    app.on_stop.extend([peers.close, pool.close])
    async with serving(app, settings) as addr:
        yield addr


@contextlib.asynccontextmanager
async def serving(app: ServiceApp, settings: ServerSettings) -> AsyncIterator[str]:
    """app served on a free port of this host until the block ends; yields its address."""
    stop = asyncio.Event()
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(app, settings, stop=stop, started=bound.set_result))
    either: set[asyncio.Future[Any]] = {task, bound}
    done, _ = await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    try:
        yield f"127.0.0.1:{bound.result()}"
    finally:
        stop.set()
        await task


# --- the command -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    events: int
    concurrency: int
    webhooks: Stats
    baseline: Stats
    stored: int  # inbox rows committed for the bench's location
    throughput_ratio: float | None  # webhook 2xx/s over baseline 2xx/s
    p99_ratio: float | None  # webhook p99 over baseline p99


async def measure(dsn: str, events: int, concurrency: int) -> Result:
    key = ed25519.Ed25519PrivateKey.generate()
    location = f"bench-{secrets.token_hex(4)}"
    warmup = min(50, max(events // 10, 1))
    webhooks = signed_webhooks(key, location, events)
    warm_webhooks = signed_webhooks(key, f"{location}-warmup", warmup)
    health = [Call("GET", "/healthz")] * events
    async with scratch_database(dsn) as scratch, ingest_service(scratch) as ingest_addr:
        cfg = GatewayConfig(
            port=0,
            host="127.0.0.1",
            ingest_addr=ingest_addr,
            ghl_keys=GhlKeys(ed25519=(key.public_key(),), rsa=(), allow_legacy=False),
        )
        async with running_gateway(cfg, access_log=False) as url:
            # Warm both paths (channel, prepared statements, caches) before the clock runs.
            await drive(url, health[:warmup], concurrency)
            await drive(url, warm_webhooks, concurrency)
            baseline = await drive(url, health, concurrency)
            measured = await drive(url, webhooks, concurrency)
        conn = await asyncpg.connect(scratch, timeout=10)
        try:
            stored = await conn.fetchval("SELECT count(*) FROM ingest.inbox WHERE location_id = $1", location)
        finally:
            await conn.close()
    return Result(
        events=events,
        concurrency=concurrency,
        webhooks=measured,
        baseline=baseline,
        stored=stored,
        throughput_ratio=ratio(measured.per_s, baseline.per_s),
        p99_ratio=ratio(measured.p99_ms, baseline.p99_ms),
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _table(result: Result) -> Table:
    table = Table(
        "load",
        "requests",
        "2xx",
        "failed",
        "2xx/s",
        "p50 ms",
        "p99 ms",
        title=f"leadengine bench webhooks: {result.events} events, concurrency {result.concurrency}",
    )
    for name, stats in (
        ("POST /webhooks/ghl", result.webhooks),
        ("GET /healthz (baseline)", result.baseline),
    ):
        failed = ", ".join(f"{k}: {v}" for k, v in stats.failed.items()) or "0"
        table.add_row(
            name,
            str(stats.requests),
            str(stats.ok),
            failed,
            f"{stats.per_s:.0f}",
            _ms(stats.p50_ms),
            _ms(stats.p99_ms),
        )
    throughput = "-" if result.throughput_ratio is None else f"{result.throughput_ratio:.2f}"
    p99 = "-" if result.p99_ratio is None else f"{result.p99_ratio:.1f}"
    table.caption = (
        f"webhook/baseline: throughput {throughput}x, p99 {p99}x; inbox rows stored: {result.stored}"
    )
    return table


async def webhooks_command(
    data_dir: Path, env: Mapping[str, str], events: int, concurrency: int, as_json: bool
) -> int:
    if events < 1 or concurrency < 1:
        errors.print("[bold red]bench failed:[/] --events and --concurrency must be at least 1")
        return 2
    try:
        async with database(data_dir, env) as dsn:
            if not as_json:
                console.print(f"database server: {describe(dsn)} (a scratch database, dropped afterwards)")
            result = await measure(dsn, events, concurrency)
    except DatabaseError as err:
        errors.print(f"[bold red]bench failed:[/] {err}")
        return 1
    if as_json:
        # Plain stdout, no rich markup or wrapping: the output is for programs.
        sys.stdout.write(json.dumps(asdict(result), indent=2) + "\n")
    else:
        console.print(_table(result))
    complete = result.webhooks.ok == events and result.stored == events
    if not complete:
        errors.print(
            f"[bold red]{events - result.webhooks.ok} of {events} webhooks were not acknowledged,"
            f" or {result.stored} rows were stored for {result.webhooks.ok} acknowledged[/]"
        )
    return 0 if complete else 1
