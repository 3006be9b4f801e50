"""The gateway's HTTP app: provider webhooks, health, readiness and metrics.

One gRPC channel to ingest is opened when the app starts (lifespan) and
closed when it stops; requests never open their own. It carries the mesh's
retry policy (RecordWebhook is retried on UNAVAILABLE: it is idempotent on
provider event ids) and forwards the trace id.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
from grpc_health.v1 import health_pb2
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.ingest.v1 import ingest_service_pb2_grpc as ingest_grpc
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from services.gateway import forwarding, oauth, unsubscribe, webhooks
from services.gateway.config import Config
from shared import channels, transport
from shared.clients import PEERS, Peers

log = logging.getLogger(__name__)

INGEST_SERVICE = ingest_pb.DESCRIPTOR.services_by_name["IngestService"].full_name


async def healthz(request: Request) -> Response:
    # Liveness: the process answers. Dependencies belong to /readyz, or one
    # slow ingest would get every gateway pod restarted.
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    cfg: Config = request.app.state.config
    health: channels.HealthClient = request.app.state.ingest_health
    try:
        resp = await health.Check(
            health_pb2.HealthCheckRequest(service=INGEST_SERVICE), timeout=cfg.ready_timeout_s
        )
    except grpc.aio.AioRpcError as err:
        reason = "INGEST_TIMEOUT" if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED else "INGEST_UNREACHABLE"
        return JSONResponse(
            {
                "status": "not ready",
                "reason": reason,
                "detail": f"ingest at {cfg.ingest_addr}: {err.code().name}",
            },
            status_code=503,
        )
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
    if resp.status != health_pb2.HealthCheckResponse.SERVING:
        return JSONResponse(
            {"status": "not ready", "reason": "INGEST_NOT_SERVING", "detail": f"ingest reports {status}"},
            status_code=503,
        )
    return JSONResponse({"status": "ready", "ingest": status})


async def metrics(request: Request) -> Response:
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_app(cfg: Config) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        peer = PEERS["ingest"]
        channel = channels.open_channel(
            cfg.ingest_addr,
            channels.service_config(
                peer.descriptor.full_name,
                idempotent_methods=peer.retryable,
                default_timeout_s=cfg.ingest_timeout_s,
            ),
            tls=cfg.tls,
            peer="ingest",
        )
        app.state.ingest_health = channels.health_client(channel)
        app.state.ingest = ingest_grpc.IngestServiceStub(channel)
        # One-click unsubscribes and HighLevel app installs go to the coordinator, which
        # owns opt-outs and provider tokens.
        coordinator = Peers({"coordinator": cfg.coordinator_addr}, tls=cfg.tls)
        app.state.coordinator = coordinator.coordinator
        log.info(
            "gateway started",
            extra={"ingest_addr": cfg.ingest_addr, "transport": transport.describe(cfg.tls)},
        )
        try:
            yield
        finally:
            await channel.close()
            await coordinator.close()
            log.info("gateway stopped")

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/unsubscribe/{token}", unsubscribe.unsubscribe_page, methods=["GET"]),
            Route("/unsubscribe/{token}", unsubscribe.unsubscribe, methods=["POST"]),
            Route("/oauth/highlevel/callback", oauth.highlevel_callback, methods=["GET"]),
            Route("/oauth/highlevel/start", oauth.highlevel_start, methods=["GET"]),
            Route("/webhooks/ghl", forwarding.endpoint(forwarding.GHL, webhooks.ghl), methods=["POST"]),
            Route(
                "/webhooks/twilio/sms",
                forwarding.endpoint(forwarding.TWILIO, webhooks.twilio_sms),
                methods=["POST"],
            ),
            Route(
                "/webhooks/twilio/status",
                forwarding.endpoint(forwarding.TWILIO, webhooks.twilio_status),
                methods=["POST"],
            ),
            Route(
                "/webhooks/sendgrid",
                forwarding.endpoint(forwarding.SENDGRID, webhooks.sendgrid),
                methods=["POST"],
            ),
        ],
        lifespan=lifespan,
    )
    app.state.config = cfg
    return app
