"""What every service gets from shared/: health, reflection, errors, deadlines, shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from leadengine.routing.v1 import routing_service_pb2 as pb
from leadengine.routing.v1 import routing_service_pb2_grpc as pb_grpc

from shared import deadlines
from shared.clients import Peers
from shared.config import ServerSettings
from shared.server import Registration, ServiceApp
from tests.support import ROOT, error_reason, mesh, running

ROUTING = pb.DESCRIPTOR.services_by_name["RoutingService"].full_name


class FaultyRouting(pb_grpc.RoutingServiceServicer):
    """Fault injection for shared/ behaviour (slow, crashing, relaying); service tests use the real one."""

    def __init__(self, delay_s: float = 0.0, downstream: Peers | None = None) -> None:
        self.delay_s = delay_s
        self.downstream = downstream
        self.seen_remaining: list[float | None] = []

    async def GetAgent(self, request, context):
        self.seen_remaining.append(context.time_remaining())
        if request.agent_id == "crash":
            raise RuntimeError("secret internals")
        if self.downstream is not None:  # one hop further, with our remaining budget
            return await self.downstream.routing.GetAgent(request, timeout=deadlines.timeout(5.0))
        await asyncio.sleep(self.delay_s)
        return pb.GetAgentResponse(agent=pb.Agent(agent_id=request.agent_id, name="slow"))


def faulty_app(servicer: FaultyRouting) -> ServiceApp:
    return ServiceApp(
        [Registration(ROUTING, pb_grpc.add_RoutingServiceServicer_to_server, servicer)],
        error_domain="routing.leadengine",
    )


async def test_health_reports_overall_and_service_name_and_reflection_lists_it(migrated_dsn) -> None:
    async with mesh(migrated_dsn, only=("routing",)) as m:
        async with grpc.aio.insecure_channel(m.addr["routing"]) as ch:
            health = health_pb2_grpc.HealthStub(ch)
            for name in ("", ROUTING):
                resp = await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=2)
                assert resp.status == health_pb2.HealthCheckResponse.SERVING
            refl = reflection_pb2_grpc.ServerReflectionStub(ch)
            req = reflection_pb2.ServerReflectionRequest(list_services="")
            async for resp in refl.ServerReflectionInfo(iter([req]), timeout=2):
                names = {s.name for s in resp.list_services_response.service}
    assert {ROUTING, "grpc.health.v1.Health"} <= names


async def test_domain_errors_carry_reason_and_field(migrated_dsn) -> None:
    async with mesh(migrated_dsn, only=("routing",)) as m:
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await m.clients.routing.GetAgent(pb.GetAgentRequest(agent_id="nope"), timeout=2)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(exc.value) == "INVALID_ID"


async def test_unexpected_errors_are_internal_without_leaking() -> None:
    async with running(faulty_app(FaultyRouting())) as (addr, _):
        async with grpc.aio.insecure_channel(addr) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await pb_grpc.RoutingServiceStub(ch).GetAgent(pb.GetAgentRequest(agent_id="crash"), timeout=2)
    assert exc.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (exc.value.details() or "")
    assert "request_id" in (exc.value.details() or "")


async def test_deadline_is_propagated_across_a_hop() -> None:
    slow = FaultyRouting(delay_s=2.0)
    async with running(faulty_app(slow)) as (slow_addr, _):
        relay = FaultyRouting(downstream=Peers({"routing": slow_addr}))
        async with running(faulty_app(relay)) as (relay_addr, _):
            async with grpc.aio.insecure_channel(relay_addr) as ch:
                started = time.monotonic()
                with pytest.raises(grpc.aio.AioRpcError) as exc:
                    await pb_grpc.RoutingServiceStub(ch).GetAgent(
                        pb.GetAgentRequest(agent_id="a"), timeout=0.3
                    )
                elapsed = time.monotonic() - started
        await relay.downstream.close()
    assert exc.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert elapsed < 1.5  # bounded by the caller's 0.3 s, not the 5 s default of the hop
    assert slow.seen_remaining[0] is not None
    assert slow.seen_remaining[0] < 0.3


async def test_graceful_shutdown_finishes_in_flight_rpcs() -> None:
    slow = FaultyRouting(delay_s=0.5)
    settings = ServerSettings(port=0, drain_s=0.3, grace_s=2)
    async with running(faulty_app(slow), settings) as (addr, stop):
        async with grpc.aio.insecure_channel(addr) as ch:
            in_flight = asyncio.ensure_future(
                pb_grpc.RoutingServiceStub(ch).GetAgent(pb.GetAgentRequest(agent_id="a"), timeout=3)
            )
            await asyncio.sleep(0.1)
            stop.set()  # what SIGTERM does in production
            await asyncio.sleep(0.1)
            health = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1)
            assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING
            assert (await in_flight).agent.name == "slow"


def _env(migrated_dsn: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'gen'}:{ROOT}",
        "DATABASE_URL": migrated_dsn,
        "ROUTING_GRPC_PORT": "0",
        "ROUTING_DRAIN_S": "0.5",
        "ROUTING_GRACE_S": "1",
        **extra,
    }


async def test_sigterm_drains_and_exits_zero(migrated_dsn) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.routing",
        cwd=ROOT,
        env=_env(migrated_dsn),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    line = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
    assert line["message"] == "listening"
    async with grpc.aio.insecure_channel(f"127.0.0.1:{line['port']}") as ch:
        listed = await pb_grpc.RoutingServiceStub(ch).ListAgents(
            pb.ListAgentsRequest(location_id="nowhere"), timeout=2
        )
        assert list(listed.agents) == []
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.2)  # inside the 0.5 s drain window
        health = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1)
        assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert await asyncio.wait_for(proc.wait(), 10) == 0
    rest = [json.loads(raw) for raw in (await proc.stdout.read()).decode().splitlines()]
    assert rest[-1]["message"] == "stopped"


async def test_bad_config_stops_with_one_clear_line(migrated_dsn) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.routing",
        cwd=ROOT,
        env=_env(migrated_dsn, ROUTING_GRPC_PORT="abc"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode != 0
    assert err.decode().strip().splitlines() == [
        "routing: configuration error: ROUTING_GRPC_PORT='abc' is not a whole number"
    ]
