"""Mutual TLS between services: only certificates of our CA get in, and each caller only
reaches what the call graph gives it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.ingest.app import create_app
from shared import callers, channels, db
from shared.clients import Peers
from shared.main import DEPENDENCIES
from shared.transport import MutualTls
from tests.pki import Authority
from tests.support import error_reason, running, service_config


@pytest.fixture(scope="module")
def ca() -> Authority:
    return Authority.create()


@pytest.fixture(scope="module")
async def ingest_addr(migrated_dsn: str, ca: Authority) -> AsyncIterator[str]:
    pool = await db.create_pool(migrated_dsn, schema="ingest", service="ingest", max_size=2)
    try:
        app = create_app(db.Database(pool), Peers(), service_config("ingest", migrated_dsn))
        policy = callers.from_dependencies(DEPENDENCIES)
        async with running(app, tls=ca.issue("ingest"), callers=policy) as (addr, _):
            yield addr
    finally:
        await pool.close()


async def get_lead(addr: str, tls: MutualTls | None) -> grpc.aio.AioRpcError:
    """GetLead of an id nobody has: NOT_FOUND means the call got through to the handler."""
    peers = Peers({"ingest": addr}, tls=tls)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await peers.ingest.GetLead(
                ingest_pb.GetLeadRequest(lead_id=str(uuid.uuid4()), location_id="loc-never-stored"), timeout=5
            )
        return failed.value
    finally:
        await peers.close()


async def test_a_service_the_call_graph_allows_gets_through(ingest_addr: str, ca: Authority) -> None:
    err = await get_lead(ingest_addr, ca.issue("coordinator"))
    assert err.code() == grpc.StatusCode.NOT_FOUND


async def test_a_service_outside_the_call_graph_is_refused(ingest_addr: str, ca: Authority) -> None:
    err = await get_lead(ingest_addr, ca.issue("content"))  # content calls nobody
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(err) == "CALLER_NOT_ALLOWED"
    assert "'content'" in (err.details() or "")


async def test_the_gateway_reaches_lead_rpcs_but_not_the_rest(ingest_addr: str, ca: Authority) -> None:
    gateway = ca.issue("gateway")
    assert (await get_lead(ingest_addr, gateway)).code() == grpc.StatusCode.NOT_FOUND
    peers = Peers({"ingest": ingest_addr}, tls=gateway)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await peers.ingest.DeleteLead(
                ingest_pb.DeleteLeadRequest(
                    lead_id=str(uuid.uuid4()), location_id="loc-mtls", request_id=str(uuid.uuid4())
                ),
                timeout=5,
            )
        assert failed.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await peers.close()


async def test_no_certificate_or_a_foreign_ca_never_reaches_a_handler(ingest_addr: str) -> None:
    assert (await get_lead(ingest_addr, None)).code() == grpc.StatusCode.UNAVAILABLE
    rogue = Authority.create("someone-else").issue("coordinator")
    assert (await get_lead(ingest_addr, rogue)).code() == grpc.StatusCode.UNAVAILABLE


async def test_health_answers_any_certified_caller(ingest_addr: str, ca: Authority) -> None:
    channel = channels.open_channel(ingest_addr, "{}", tls=ca.issue("operator"), peer="ingest")
    try:
        got = await channels.health_client(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert got.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await channel.close()


async def test_a_certificate_for_another_service_name_is_not_trusted_as_ingest(
    ingest_addr: str, ca: Authority
) -> None:
    """The client checks the server's name: a routing certificate cannot pose as ingest."""
    channel = channels.open_channel(ingest_addr, "{}", tls=ca.issue("coordinator"), peer="routing")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await channels.health_client(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await channel.close()
