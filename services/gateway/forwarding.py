"""Forwarding one provider webhook to ingest: its bounded body, its hand-off, and how it is answered.

The gateway is thin: every webhook route verifies, extracts ids, and hands the
events to IngestService.RecordWebhook. What this module owns is the HTTP side
of that: a body never larger than configured, a 2xx only after ingest
committed, and for every other answer a log line and a counter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from leadengine.ingest.v1 import ingest_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2_grpc as pb_grpc
from prometheus_client import Counter, Histogram
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from services.gateway.config import Config
from shared import tracing
from shared.errors import error_reason

log = logging.getLogger(__name__)

WEBHOOKS = Counter(
    "gateway_webhooks_total",
    "Webhook deliveries answered, by provider and outcome.",
    ["provider", "outcome"],
)
LATENCY = Histogram(
    "gateway_webhook_seconds",
    "Time from a webhook request's arrival to its answer.",
    ["provider"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# HighLevel retries about every 10 minutes whatever we say; the header documents intent.
RETRY_AFTER_S = 60


@dataclass(frozen=True)
class Provider:
    label: str  # metrics and log label
    proto: pb.Provider.ValueType
    # What makes this provider deliver the same event again when ingest could not commit.
    retry_status: int
    retry_headers: dict[str, str] = field(default_factory=dict)


GHL = Provider("ghl", pb.PROVIDER_GHL, 429, {"Retry-After": str(RETRY_AFTER_S)})  # 5xx = lost for good
TWILIO = Provider("twilio", pb.PROVIDER_TWILIO, 503)  # inbound: Twilio calls the fallback URL
SENDGRID = Provider("sendgrid", pb.PROVIDER_SENDGRID, 503)  # retried for 24 h


class Rejected(Exception):
    """Answer the delivery with status and a JSON reason; nothing was stored."""

    def __init__(
        self,
        status: int,
        reason: str,
        detail: str,
        *,
        outcome: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.outcome = outcome
        self.headers = headers or {}


def unauthorized(reason: str, detail: str) -> Rejected:
    return Rejected(401, reason, detail, outcome="unauthorized")


def malformed(reason: str, detail: str) -> Rejected:
    return Rejected(400, reason, detail, outcome="malformed")


@dataclass(frozen=True)
class Accepted:
    response: Response
    duplicate: bool  # every event had been stored before


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than limit bytes: by Content-Length before reading any,
    and by counting for chunked bodies, so an oversized body is never held in memory."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise malformed("BAD_CONTENT_LENGTH", "Content-Length is not a number")
        if int(declared) > limit:
            raise _too_large(limit, unread=True)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise _too_large(limit, unread=False)
    except ClientDisconnect:
        raise Rejected(400, "CLIENT_DISCONNECTED", "the body ended early", outcome="disconnected") from None
    return bytes(body)


def _too_large(limit: int, *, unread: bool) -> Rejected:
    # Declared too large: close, so the server never reads the rest. Found too large while
    # streaming: keep the connection, so that the server discards the rest and the client,
    # which writes its whole body before it reads, gets the 413 instead of a reset.
    return Rejected(
        413,
        "BODY_TOO_LARGE",
        f"the body exceeds {limit} bytes",
        outcome="too_large",
        headers={"Connection": "close"} if unread else {},
    )


def event(
    provider: Provider, event_id: str, event_type: str, payload: bytes, location_id: str = ""
) -> pb.WebhookEvent:
    return pb.WebhookEvent(
        provider=provider.proto,
        provider_event_id=event_id,
        event_type=event_type,
        payload=payload,
        location_id=location_id,
    )


async def record(
    ingest: pb_grpc.IngestServiceAsyncStub,
    provider: Provider,
    events: Sequence[pb.WebhookEvent],
    timeout_s: float,
) -> bool:
    """Hand the delivery's events to ingest; returns True when every one was a duplicate.
    Returns only once ingest answered OK, i.e. committed."""
    now = Timestamp()
    now.GetCurrentTime()
    try:
        resp = await ingest.RecordWebhook(
            pb.RecordWebhookRequest(events=events, receive_time=now), timeout=timeout_s
        )
    except grpc.aio.AioRpcError as err:
        if err.code() == grpc.StatusCode.INVALID_ARGUMENT:
            raise Rejected(
                400,
                error_reason(err) or err.code().name,
                "ingest refused the event envelope",
                outcome="ingest_rejected",
            ) from None
        raise Rejected(
            provider.retry_status,
            "INGEST_UNAVAILABLE",
            f"the event was not stored ({err.code().name}); deliver it again",
            outcome="ingest_failed",
            headers=provider.retry_headers,
        ) from None
    return bool(resp.results) and all(r.duplicate for r in resp.results)


# A string: the async stub exists only for type checkers.
Handler = Callable[[Request, Config, "pb_grpc.IngestServiceAsyncStub"], Awaitable[Accepted]]


def endpoint(provider: Provider, handle: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint around handle: answers rejections, logs and counts every delivery."""

    async def run(request: Request) -> Response:
        # Continue the caller's W3C trace when it sent one; ForwardTrace carries it to ingest.
        path = request.url.path
        attributes = {
            "http.request.method": request.method,
            "url.path": path,
            "leadengine.provider": provider.label,
        }
        with tracing.start(f"{request.method} {path}", request.headers, attributes=attributes) as span:
            response = await respond(request)
            if span is not None:
                span.set_attribute("http.response.status_code", response.status_code)
            return response

    async def respond(request: Request) -> Response:
        started = time.perf_counter()
        cfg: Config = request.app.state.config
        try:
            accepted = await handle(request, cfg, request.app.state.ingest)
        except Rejected as rej:
            # Never the body or its fields: they carry names, numbers and addresses.
            log.warning(
                "webhook rejected",
                extra={
                    "provider": provider.label,
                    "path": request.url.path,
                    "status": rej.status,
                    "reason": rej.reason,
                    "detail": rej.detail,
                },
            )
            WEBHOOKS.labels(provider.label, rej.outcome).inc()
            LATENCY.labels(provider.label).observe(time.perf_counter() - started)
            return JSONResponse(
                {"error": rej.detail, "reason": rej.reason}, status_code=rej.status, headers=rej.headers
            )
        except Exception:
            # A bug of ours must not cost the event: answer what makes the provider
            # deliver it again (for HighLevel a 500 would be final).
            log.exception("webhook failed", extra={"provider": provider.label, "path": request.url.path})
            WEBHOOKS.labels(provider.label, "internal_error").inc()
            LATENCY.labels(provider.label).observe(time.perf_counter() - started)
            return JSONResponse(
                {"error": "internal error; deliver again", "reason": "INTERNAL"},
                status_code=provider.retry_status,
                headers=provider.retry_headers,
            )
        WEBHOOKS.labels(provider.label, "duplicate" if accepted.duplicate else "accepted").inc()
        LATENCY.labels(provider.label).observe(time.perf_counter() - started)
        return accepted.response

    return run
