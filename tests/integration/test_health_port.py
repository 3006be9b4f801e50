"""The plaintext health port: under mutual TLS the kubelet's gRPC probe cannot present a
certificate, so a service can also serve grpc.health.v1 (and nothing else) on <SVC>_HEALTH_PORT."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.ingest.v1 import ingest_service_pb2_grpc as ingest_grpc

from services.ingest.app import create_app
from shared import callers, channels, db
from shared.clients import Peers
from shared.config import ServerSettings
from shared.main import DEPENDENCIES
from tests.faults.processes import free_port
from tests.pki import Authority
from tests.support import running, service_config

INGEST = ingest_pb.DESCRIPTOR.services_by_name["IngestService"].full_name
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


async def check(address: str, service: str = "") -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        resp = await channels.health_client(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5
        )
    return int(resp.status)


async def test_under_mutual_tls_probes_get_health_in_plaintext_and_nothing_else(migrated_dsn: str) -> None:
    health_port = free_port()
    settings = ServerSettings(port=0, drain_s=5.0, grace_s=1.0, health_port=health_port)
    pool = await db.create_pool(migrated_dsn, schema="ingest", service="ingest", max_size=2)
    try:
        app = create_app(db.Database(pool), Peers(), service_config("ingest", migrated_dsn))
        tls = Authority.create().issue("ingest")
        policy = callers.from_dependencies(DEPENDENCIES)
        async with running(app, settings, tls=tls, callers=policy) as (addr, stop):
            probe = f"127.0.0.1:{health_port}"
            assert await check(probe) == SERVING
            assert await check(probe, INGEST) == SERVING
            # The main port still speaks mutual TLS only.
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await check(addr)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            # The health port serves no service method.
            async with grpc.aio.insecure_channel(probe) as channel:
                with pytest.raises(grpc.aio.AioRpcError) as unknown:
                    await ingest_grpc.IngestServiceStub(channel).GetLead(
                        ingest_pb.GetLeadRequest(lead_id=str(uuid.uuid4()), location_id="loc-never-stored"),
                        timeout=5,
                    )
            assert unknown.value.code() == grpc.StatusCode.UNIMPLEMENTED
            # SIGTERM: the drain's NOT_SERVING reaches the probe, so endpoints drop the pod.
            stop.set()
            seen = SERVING
            for _ in range(100):  # until the drain begins (well inside its 5 s)
                if (seen := await check(probe)) == NOT_SERVING:
                    break
                await asyncio.sleep(0.02)
            assert seen == NOT_SERVING
    finally:
        await pool.close()
