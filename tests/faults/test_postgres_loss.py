"""PostgreSQL connections lost under load (pg_terminate_backend on every backend of the
services, again and again, real processes): calls fail fast with UNAVAILABLE and nothing else,
nothing that answered OK is missing, a write retried with its request_id is stored once, and
the pools recover by themselves."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import grpc
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.ingest.v1 import ingest_service_pb2_grpc as ingest_grpc
from leadengine.routing.v1 import routing_service_pb2 as routing_pb
from leadengine.routing.v1 import routing_service_pb2_grpc as routing_grpc

from tests.databases import own_database
from tests.faults.processes import ProcessMesh, process_mesh

WORKERS = 4
TERMINATIONS = 8
PAUSE_S = 0.4  # between terminations: each round hits connections the pools made anew
VICTIMS = ["ingest", "routing"]


async def terminate(admin: asyncpg.Connection) -> int:
    """Terminate every backend of the services in this test's own database."""
    return int(
        await admin.fetchval(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = ANY($1::text[])"
            " AND pid <> pg_backend_pid()) AS t",
            VICTIMS,
        )
    )


async def test_lost_database_connections_fail_fast_as_unavailable_and_the_pools_recover(
    postgres_url: str, tmp_path: Path, fault_report: dict[str, Any]
) -> None:
    location = f"loc-pg-{uuid.uuid4().hex[:8]}"
    async with (
        own_database(postgres_url) as dsn,
        process_mesh(dsn, ("ingest", "routing"), tmp_path / "logs") as mesh,
    ):
        codes: Counter[str] = Counter()
        answered_ok: dict[str, str] = {}  # request_id -> lead_id
        refused: list[ingest_pb.UpsertLeadRequest] = []
        done = asyncio.Event()
        stubs: dict[str, Any] = {}

        async def load(worker: int) -> None:
            n = 0
            while not done.is_set():
                n += 1
                request = ingest_pb.UpsertLeadRequest(
                    lead=ingest_pb.Lead(location_id=location, first_name=f"Pia{worker}-{n}"),
                    request_id=str(uuid.uuid4()),
                )
                await call(stubs["ingest"], request, codes, answered_ok, refused)
                try:
                    await stubs["routing"].ListAgents(
                        routing_pb.ListAgentsRequest(location_id=location), timeout=30
                    )
                    codes["OK"] += 1
                except grpc.aio.AioRpcError as err:
                    codes[err.code().name] += 1

        admin = await asyncpg.connect(dsn)
        try:
            # Channels without the mesh's retry policy: the test sees each answer the server gave.
            raw = {n: grpc.aio.insecure_channel(mesh.children[n].address) for n in VICTIMS}
            stubs.update(
                ingest=ingest_grpc.IngestServiceStub(raw["ingest"]),
                routing=routing_grpc.RoutingServiceStub(raw["routing"]),
            )
            workers = [asyncio.create_task(load(w)) for w in range(WORKERS)]
            terminated = 0
            for _ in range(TERMINATIONS):
                await asyncio.sleep(PAUSE_S)
                terminated += await terminate(admin)
            done.set()
            await asyncio.gather(*workers)
        finally:
            await admin.close()
            for channel in raw.values():
                await channel.close()

        assert codes.keys() <= {"OK", "UNAVAILABLE"}, f"a lost connection surfaced as {dict(codes)}"
        assert codes["UNAVAILABLE"] > 0, "no call noticed the lost connections: nothing was proved"
        # Recovery: every refused write, retried with its request_id, is stored now.
        for request in refused:
            resp = await mesh.clients.ingest.UpsertLead(request, timeout=30)
            answered_ok[request.request_id] = resp.lead.lead_id
        stored = await leads_of(mesh, location)

    # No silent success and no partial or double write: one lead per request, every one there.
    assert sorted(stored) == sorted(answered_ok.values())
    fault_report.update(
        terminations=TERMINATIONS,
        backends_terminated=terminated,
        calls=sum(codes.values()),
        unavailable=codes["UNAVAILABLE"],
        other_errors=sum(n for c, n in codes.items() if c not in ("OK", "UNAVAILABLE")),
        writes=len(answered_ok),
        retried_writes=len(refused),
        stored=len(stored),
        losses=len(set(answered_ok.values()) - set(stored)),
        duplicates=len(stored) - len(set(stored)),
    )


async def call(
    ingest: Any,
    request: ingest_pb.UpsertLeadRequest,
    codes: Counter[str],
    answered_ok: dict[str, str],
    refused: list[ingest_pb.UpsertLeadRequest],
) -> None:
    try:
        resp = await ingest.UpsertLead(request, timeout=30)
    except grpc.aio.AioRpcError as err:
        codes[err.code().name] += 1
        refused.append(request)
        return
    codes["OK"] += 1
    answered_ok[request.request_id] = resp.lead.lead_id


async def leads_of(mesh: ProcessMesh, location: str) -> list[str]:
    found: list[str] = []
    token = ""
    while True:
        page = await mesh.clients.ingest.ListLeads(
            ingest_pb.ListLeadsRequest(location_id=location, page_size=500, page_token=token), timeout=10
        )
        found += [lead.lead_id for lead in page.leads]
        if not (token := page.next_page_token):
            return found
