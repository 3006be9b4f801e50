"""PostgreSQL restarted under load (#15: "calls fail fast with UNAVAILABLE, no partial writes,
recovery"): all five services as real processes on a PostgreSQL server this test owns (the
embedded one `leadengine up` uses, so it runs on a fresh clone), stopped and started again
several times while new leads are written and read. During each outage every call answers
UNAVAILABLE within its own deadline (never hangs, never another code); a write refused that
way and retried with its request_id is stored once; afterwards the pools have reconnected by
themselves and every lead's journey reaches its first touch."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.ingest.v1 import ingest_service_pb2_grpc as ingest_grpc
from leadengine.routing.v1 import routing_service_pb2 as routing_pb
from leadengine.routing.v1 import routing_service_pb2_grpc as routing_grpc

from tests.databases import own_database
from tests.faults.pg_server import RestartablePostgres
from tests.faults.processes import ProcessMesh, process_mesh
from tests.faults.test_mesh_sigkill import SERVICES, settled, until_ok
from tests.faults.test_postgres_loss import leads_of

WORKERS = 3
READERS = 2
RESTARTS = 3
DOWN_S = 3.0  # the server stays away this long each time: long enough for every loop to notice
UP_S = 4.0  # and runs this long between outages, under the same load
# The bound of "fails fast": each call's own deadline. A call that is still waiting on a server
# that is not there when this runs out answers DEADLINE_EXCEEDED, which the test refuses.
CALL_DEADLINE_S = 20.0
PACE_S = 0.2
SETTLE_S = 180.0


@pytest.fixture(scope="module")
def own_server() -> Iterator[RestartablePostgres]:
    with tempfile.TemporaryDirectory(prefix="leadengine-pg-restart-") as tmp:
        server = RestartablePostgres(Path(tmp) / "data")
        try:
            yield server
        finally:
            server.cleanup()


@pytest.fixture
async def dsn(own_server: RestartablePostgres) -> AsyncIterator[str]:
    async with own_database(own_server.admin_url) as own:
        yield own


async def test_postgres_restarted_mid_load_fails_fast_loses_nothing_and_recovers(
    own_server: RestartablePostgres, dsn: str, tmp_path: Path, fault_report: dict[str, Any]
) -> None:
    location = f"loc-pgr-{uuid.uuid4().hex[:8]}"
    async with process_mesh(
        dsn,
        SERVICES,
        tmp_path / "logs",
        INGEST_OUTBOX_POLL_S="0.2",
        INGEST_OUTBOX_RETRY_BASE_S="0.1",
        INGEST_OUTBOX_RETRY_MAX_S="1",
        INGEST_OUTBOX_CALL_TIMEOUT_S="5",
        CONTENT_POSTAL_ADDRESS="1 Main St, Austin, TX 78701",
    ) as mesh:
        await until_ok(
            lambda: mesh.clients.routing.UpsertAgent(
                routing_pb.UpsertAgentRequest(
                    agent=routing_pb.Agent(location_id=location, name="Ana", available=True),
                    request_id=str(uuid.uuid4()),
                ),
                timeout=10,
            ),
            what="UpsertAgent",
        )
        outcome = await run_load(own_server, mesh, location)
        codes, during_outage, answered_ok, retried, slowest_refusal_s = outcome

        # Recovery: without any restart of a service, the pools answer again.
        stored = await leads_of(mesh, location)
        agents = await mesh.clients.routing.ListAgents(
            routing_pb.ListAgentsRequest(location_id=location), timeout=10
        )
        assert [a.name for a in agents.agents] == ["Ana"]
        lead_ids = sorted(set(answered_ok.values()))
        touches = await first_touches_of(mesh, location, lead_ids)

    losses = len(set(lead_ids) - set(stored))
    duplicates = len(stored) - len(set(stored)) + sum(len(t) - 1 for t in touches.values())
    fault_report.update(
        restarts=own_server.restarts,
        down_s_each=DOWN_S,
        calls=sum(codes.values()),
        unavailable=codes["UNAVAILABLE"],
        unavailable_during_outage=during_outage["UNAVAILABLE"],
        slowest_refusal_s=slowest_refusal_s,
        other_errors=sum(n for c, n in codes.items() if c not in ("OK", "UNAVAILABLE")),
        writes=len(answered_ok),
        retried_writes=retried,
        stored=len(stored),
        first_touches=sum(len(t) for t in touches.values()),
        losses=losses,
        duplicated=duplicates,
    )
    assert own_server.restarts == RESTARTS
    assert codes.keys() <= {"OK", "UNAVAILABLE"}, f"an outage surfaced as {dict(codes)}"
    assert during_outage["UNAVAILABLE"] > 0, "no call reached a service while the server was down"
    assert retried > 0, "no write was refused: the outages proved nothing about retries"
    assert during_outage["UNAVAILABLE"] > retried, "no read met an outage"
    # One lead per request_id, each stored once, nothing stored that no call was told of.
    assert len(lead_ids) == len(answered_ok)
    assert sorted(stored) == lead_ids
    assert duplicates == 0


async def run_load(
    server: RestartablePostgres, mesh: ProcessMesh, location: str
) -> tuple[Counter[str], Counter[str], dict[str, str], int, float]:
    """Writers and readers against the services while the server goes down and up RESTARTS
    times. Channels without the mesh's retry policy: the test sees each answer a server gave."""
    codes: Counter[str] = Counter()
    during_outage: Counter[str] = Counter()
    answered_ok: dict[str, str] = {}  # request_id -> lead_id
    retried = 0
    slowest = [0.0]  # seconds the slowest refusal took: reported, judged only by the deadline
    loop = asyncio.get_running_loop()
    down = asyncio.Event()
    done = asyncio.Event()
    channels = {n: grpc.aio.insecure_channel(mesh.children[n].address) for n in ("ingest", "routing")}
    ingest = ingest_grpc.IngestServiceStub(channels["ingest"])
    routing = routing_grpc.RoutingServiceStub(channels["routing"])

    async def answered(call: Any) -> Any:
        outage = down.is_set()
        began = loop.time()
        try:
            resp = await call()
        except grpc.aio.AioRpcError as err:
            codes[err.code().name] += 1
            slowest[0] = max(slowest[0], loop.time() - began)
            if outage and down.is_set():
                during_outage[err.code().name] += 1
            if err.code() != grpc.StatusCode.UNAVAILABLE:
                raise AssertionError(f"{err.code().name}: {err.details()}") from err
            return None
        codes["OK"] += 1
        return resp

    async def writer(worker: int) -> None:
        nonlocal retried
        n = 0
        while not done.is_set():
            n += 1
            request = ingest_pb.UpsertLeadRequest(
                lead=ingest_pb.Lead(
                    location_id=location,
                    first_name=f"Rae{worker}-{n}",
                    email=f"pgr-{uuid.uuid4().hex[:12]}@example.com",
                ),
                request_id=str(uuid.uuid4()),
            )
            # The same request (so the same request_id) again until a server says OK.
            while (
                resp := await answered(lambda r=request: ingest.UpsertLead(r, timeout=CALL_DEADLINE_S))
            ) is None:
                retried += 1
                await asyncio.sleep(PACE_S)
            answered_ok[request.request_id] = resp.lead.lead_id
            await asyncio.sleep(PACE_S)

    async def reader() -> None:
        # Reads of both kinds of service, on their own, so they meet the outages too.
        while not done.is_set():
            if answered_ok:
                lead_id = next(reversed(answered_ok.values()))
                await answered(
                    lambda lead_id=lead_id: ingest.GetLead(
                        ingest_pb.GetLeadRequest(lead_id=lead_id, location_id=location),
                        timeout=CALL_DEADLINE_S,
                    )
                )
            await answered(
                lambda: routing.ListAgents(
                    routing_pb.ListAgentsRequest(location_id=location), timeout=CALL_DEADLINE_S
                )
            )
            await asyncio.sleep(PACE_S)

    workers = [asyncio.create_task(writer(w)) for w in range(WORKERS)]
    workers += [asyncio.create_task(reader()) for _ in range(READERS)]
    try:
        for _ in range(RESTARTS):
            await asyncio.sleep(UP_S)
            down.set()
            await server.stop()
            await asyncio.sleep(DOWN_S)
            await server.start()
            down.clear()
        await asyncio.sleep(UP_S)
        done.set()
        await asyncio.gather(*workers)
    finally:
        done.set()
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for channel in channels.values():
            await channel.close()
    return codes, during_outage, answered_ok, retried, round(slowest[0], 2)


async def first_touches_of(mesh: ProcessMesh, location: str, lead_ids: list[str]) -> dict[str, list[Any]]:
    """Every lead's settled first touch: its outbox row survived the restarts with it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_S
    touches: dict[str, list[Any]] = {}
    while len(touches) < len(lead_ids):
        for lead_id in lead_ids:
            if lead_id not in touches and (got := await settled(mesh, location, lead_id)) is not None:
                touches[lead_id] = got
        assert loop.time() < deadline, f"{len(lead_ids) - len(touches)} leads have no settled first touch"
        await asyncio.sleep(0.2)
    return touches
