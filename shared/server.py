"""Run a grpc.aio server with health, reflection, metrics and graceful shutdown.

Every service's __main__ ends in serve(); tests call the same function on
port 0 with their own stop event, so what they exercise is what ships.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

from shared import transport
from shared.callers import CallerPolicy
from shared.config import ServerSettings
from shared.interceptors import ServiceInterceptor

log = logging.getLogger(__name__)

HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name


@dataclass(frozen=True)
class Registration:
    full_name: str  # e.g. pb.DESCRIPTOR.services_by_name["IngestService"].full_name
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    servicer: Any


@dataclass
class ServiceApp:
    """What a service contributes to serve(): handlers, loops, and what to close."""

    registrations: list[Registration]
    error_domain: str  # ErrorInfo.domain, e.g. "ingest.leadengine"
    # Long-running loops (outbox relay, scheduler). Cancelled before the drain.
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Closed last, after in-flight RPCs finished: channels, pools.
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


async def serve(
    app: ServiceApp,
    settings: ServerSettings,
    *,
    stop: asyncio.Event | None = None,
    started: Callable[[int], None] | None = None,
    tls: transport.MutualTls | None = None,
    callers: CallerPolicy | None = None,
) -> None:
    if tls is not None and callers is None:
        raise ValueError("mutual TLS without a caller policy would let any certified workload call anything")
    server = grpc.aio.server(
        interceptors=[ServiceInterceptor(app.error_domain, callers if tls is not None else None)],
        options=[
            # Without this, two servers can share one port and split its traffic.
            ("grpc.so_reuseport", 0),
            # Our channels ping every 30 s (shared/channels.py); without accepting that, a server
            # answers a call longer than about a minute (ScoreLocation, ImportLeads) with GOAWAY
            # "too_many_pings" and the call fails.
            ("grpc.http2.min_ping_interval_without_data_ms", 20_000),
            ("grpc.keepalive_permit_without_calls", 1),
        ],
    )
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    for reg in app.registrations:
        reg.add_to_server(reg.servicer, server)
    names = [r.full_name for r in app.registrations]
    reflection.enable_server_reflection([*names, HEALTH_SERVICE, reflection.SERVICE_NAME], server)
    address = f"[::]:{settings.port}"
    if tls is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, tls.server_credentials())
    if port == 0:
        raise OSError(f"could not bind gRPC port {settings.port}; is another process using it?")
    if settings.metrics_port:
        start_http_server(settings.metrics_port)
    probes = _health_server(health, settings.health_port) if settings.health_port else None
    await server.start()
    if probes is not None:
        await probes.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    for name in names:
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    tasks = [asyncio.create_task(_supervised(loop)) for loop in app.background]
    log.info(
        "listening",
        extra={
            "port": port,
            "health_port": settings.health_port or None,
            "services": names,
            "transport": transport.describe(tls),
        },
    )
    if started:
        started(port)

    if stop is None:  # production: SIGTERM from the kubelet, SIGINT from a terminal
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    log.info("draining", extra={"drain_s": settings.drain_s, "grace_s": settings.grace_s})
    await health.enter_graceful_shutdown()  # every service -> NOT_SERVING
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await asyncio.sleep(settings.drain_s)
    await server.stop(settings.grace_s)  # refuse new RPCs, let in-flight ones finish
    if probes is not None:
        await probes.stop(0)
    for close in app.on_stop:  # pools and channels last: in-flight RPCs needed them
        await close()
    log.info("stopped")


def _health_server(health: health_aio.HealthServicer, port: int) -> grpc.aio.Server:
    """grpc.health.v1 alone, in plaintext: the kubelet's gRPC probe cannot present a client
    certificate. It shares the main server's HealthServicer, so the drain's NOT_SERVING shows
    here too, and it answers nothing but health (no reflection, no service methods)."""
    probes = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(health, probes)
    if probes.add_insecure_port(f"[::]:{port}") == 0:
        raise OSError(f"could not bind the health port {port}; is another process using it?")
    return probes


async def _supervised(loop: Callable[[], Awaitable[None]]) -> None:
    """Restart a background loop that crashed, after logging why; never silently stop it."""
    while True:
        try:
            await loop()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background loop crashed; restarting in 1s", extra={"loop": repr(loop)})
            await asyncio.sleep(1.0)
